package gate

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/honua-io/honua-gitops/policy"
)

// State is where a deployment stands before the runner takes it.
type State string

// The states DeployState decides.
const (
	// Queued: nothing holds it back; the runner may take it.
	Queued State = "queued"
	// WaitingApproval: it needs approvals it does not have.
	WaitingApproval State = "waiting_approval"
	// Blocked: a gate of time (a deployment window, a blackout, a
	// promotion's soak) or the environment's wait timer holds it back
	// until it opens.
	Blocked State = "blocked"
	// Denied: the policy denies the change itself.
	Denied State = "denied"
)

// GitHubState is the deployment status GitHub shows for the state:
// queued for Queued, failure for Denied, pending otherwise.
func (s State) GitHubState() string {
	switch s {
	case Queued:
		return StateQueued
	case Denied:
		return StateFailure
	}
	return StatePending
}

// MaxDescription is the longest deployment status description GitHub
// takes, in characters; Decision.Description keeps within it in bytes.
const MaxDescription = 140

// Decision is the state of a deployment and what it waits for.
type Decision struct {
	State State
	// Description is for the deployment status: at most MaxDescription
	// bytes, cut on a character boundary.
	Description string
	// Until is when a gate of time or the wait timer is expected to open:
	// when to decide again. Nil when nothing waits for a time, or when the
	// time is not known.
	Until *time.Time
	// NeedFrom are the users and org/team slugs whose approval is still
	// needed (empty when anyone with write access may give it).
	NeedFrom []string
}

// DeployState decides the state of a deployment to env from the policy's
// verdict for it. In order: a deny of the change itself → Denied; missing
// approvals → WaitingApproval ("needs 1 approval from kailua-gis/gis-leads,
// lkeawe", and what time it waits for besides); gates of time → Blocked
// ("waits for the next deployment window: Tue 2026-03-10 09:00 HST", in
// the verdict's time zone); the environment's wait timer, counted from
// approvedAt, not yet run out → Blocked; else Queued.
//
// approvedAt is when the last approval that counts was given
// (LastApproval), or, when none was needed, when the deployment was
// created; the zero time skips the wait timer.
func DeployState(v policy.Verdict, env Environment, approvedAt, now time.Time) Decision {
	loc := location(v.Timezone)
	if denies := v.ChangeDenies(); len(denies) > 0 || (!v.Allow && len(v.Deny) == 0) {
		msg := "denied by the deployment policy"
		if len(denies) > 0 {
			msg += ": " + denies[0].Message
			if n := len(denies) - 1; n > 0 {
				msg += fmt.Sprintf(" (and %d more)", n)
			}
		}
		return Decision{State: Denied, Description: truncate(msg)}
	}
	gated := v.Gated()
	if a := v.Approval; a.Required && !a.Satisfied {
		need, from := needs(a)
		d := Decision{State: WaitingApproval, NeedFrom: from}
		msg := need
		if gated {
			d.Until = v.OpensAt()
			msg += "; then " + waits(v, loc)
		}
		d.Description = truncate(msg)
		return d
	}
	if gated {
		return Decision{State: Blocked, Until: v.OpensAt(), Description: truncate(waits(v, loc))}
	}
	if env.WaitTimer > 0 && !approvedAt.IsZero() {
		end := approvedAt.Add(time.Duration(env.WaitTimer) * time.Minute)
		if now.Before(end) {
			return Decision{State: Blocked, Until: &end, Description: truncate(fmt.Sprintf("waits for the %s wait timer: %s", minutes(env.WaitTimer), when(end, loc)))}
		}
	}
	msg := "queued for the runner"
	if by := v.Approval.ApprovedBy; len(by) > 0 {
		msg = "approved by " + strings.Join(by, ", ") + "; " + msg
	}
	return Decision{State: Queued, Description: truncate(msg)}
}

// needs says which approvals are missing, and from whom.
func needs(a policy.ApprovalStatus) (string, []string) {
	var parts, from []string
	addFrom := func(fs []string) {
		for _, f := range fs {
			dup := false
			for _, x := range from {
				dup = dup || equalLogin(x, f)
			}
			if !dup {
				from = append(from, f)
			}
		}
	}
	for _, r := range a.Requirements {
		if r.Satisfied {
			continue
		}
		n := max(r.Min-len(r.ApprovedBy), 1)
		parts = append(parts, fmt.Sprintf("%s from %s", approvalsN(n, len(parts) > 0), whom(r.From)))
		addFrom(r.From)
	}
	if len(parts) == 0 {
		// A verdict without requirements (made by hand, or failed closed).
		n := max(a.Min-len(a.ApprovedBy), 1)
		parts = append(parts, fmt.Sprintf("%s from %s", approvalsN(n, false), whom(a.From)))
		addFrom(a.From)
	}
	return "needs " + strings.Join(parts, " and "), from
}

// approvalsN writes "1 approval", "2 approvals", or after the first part,
// just the number.
func approvalsN(n int, later bool) string {
	switch {
	case later:
		return fmt.Sprint(n)
	case n == 1:
		return "1 approval"
	}
	return fmt.Sprintf("%d approvals", n)
}

func whom(from []string) string {
	if len(from) == 0 {
		return "anyone with write access"
	}
	return strings.Join(from, ", ")
}

// waits says what the gates of time wait for, and until when.
func waits(v policy.Verdict, loc *time.Location) string {
	var what []string
	for _, g := range v.Gates() {
		w := g.Wait
		if w == "" {
			w = string(g.Gate)
		}
		dup := false
		for _, x := range what {
			dup = dup || x == w
		}
		if !dup {
			what = append(what, w)
		}
	}
	msg := "waits for " + strings.Join(what, " and ")
	if at := v.OpensAt(); at != nil {
		msg += ": " + when(*at, loc)
	}
	return msg
}

// when writes a time as people read it, in the environment's zone: "Tue
// 2026-03-10 09:00 HST".
func when(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("Mon 2006-01-02 15:04 MST")
}

// location is the verdict's time zone; UTC when it has none or it is not
// known (the policy checked it when it loaded the file).
func location(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

func minutes(n int) string {
	if n == 1 {
		return "1-minute"
	}
	return fmt.Sprintf("%d-minute", n)
}

// truncate keeps s within MaxDescription bytes, cutting on a character
// boundary and marking the cut with "…".
func truncate(s string) string {
	if len(s) <= MaxDescription {
		return s
	}
	n := MaxDescription - len("…")
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.TrimRight(s[:n], " ") + "…"
}
