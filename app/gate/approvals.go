package gate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/honua-io/honua-gitops/policy"
)

// DigestLookup gives the plan digest of environment env at commit sha, as
// the App's own plan check run for that commit recorded it; ok is false
// when it is not known.
type DigestLookup func(sha, env string) (digest string, ok bool)

// Stale is an approval that was given but does not count now, and why.
type Stale struct {
	Approval policy.Approval
	// Reason is a sentence for the pull request: "approval by kalani no
	// longer applies: the plan changed".
	Reason string
}

// Approvals returns the approvals of environment env that count, with
// Teams filled in from people, ready for policy.JudgeOptions.Approvals[env];
// and the ones that no longer apply because what was approved changed.
//
// Approvals come from two places. From reviews: each person's latest
// review that takes a position (APPROVED, CHANGES_REQUESTED, DISMISSED;
// COMMENTED does not) decides; only an APPROVED one approves, bound to the
// plan digest of env at the review's commit (digests). And from records:
// the App's recorded button, comment and rollback approvals of env, bound
// to the digest their giver saw. A person's CHANGES_REQUESTED review, or a
// rejection of env they recorded, withdraws their approvals given before
// it.
//
// An approval counts when its digest is currentDigest, the plan digest of
// env at the commit to deploy; one whose review commit has no known digest
// counts only when it is on the pull request's head commit, bound to that
// commit (as the policy then binds it). Others go to stale. An empty
// currentDigest (the plan is not known yet) makes every digest-bound
// approval stale. Approvals by people without write access (or not in
// people) and by bots never count, and are not reported: GitHub shows
// their reviews as not counting too. One approval per person is returned,
// the latest that counts, sorted by login.
//
// Who may approve env (eligibility, self-approval) is the policy's and
// MayApprove's business; see also WithoutSelf.
func Approvals(p Pull, env, currentDigest string, digests DigestLookup, records []Record, people map[string]Person) (valid []policy.Approval, stale []Stale) {
	type event struct {
		at       time.Time
		order    int64 // review id, for reviews submitted in the same instant
		withdraw bool
		a        policy.Approval
	}
	byLogin := map[string][]event{}
	logins := map[string]string{} // lowercase → as first seen
	add := func(login string, e event) {
		k := lowerASCII(login)
		if _, ok := logins[k]; !ok {
			logins[k] = login
		}
		byLogin[k] = append(byLogin[k], e)
	}
	for _, r := range p.Reviews {
		if r.Login == "" {
			continue
		}
		switch strings.ToUpper(r.State) {
		case ReviewApproved:
			a := policy.Approval{Login: r.Login, Commit: r.CommitID, SubmittedAt: r.SubmittedAt, Via: ViaReview}
			if d, ok := lookup(digests, r.CommitID, env); ok {
				a.PlanDigest = d
			}
			add(r.Login, event{at: r.SubmittedAt, order: r.ID, a: a})
		case ReviewChangesRequested, ReviewDismissed:
			add(r.Login, event{at: r.SubmittedAt, order: r.ID, withdraw: true})
		}
	}
	for _, r := range records {
		if r.Login == "" || !equalLogin(r.Env, env) {
			continue
		}
		switch r.Kind {
		case KindApprove:
			via := r.Via
			if via == "" {
				via = ViaComment
			}
			add(r.Login, event{at: r.At, a: policy.Approval{Login: r.Login, Commit: r.SHA, SubmittedAt: r.At, PlanDigest: r.PlanDigest, Via: via}})
		case KindReject:
			add(r.Login, event{at: r.At, withdraw: true})
		}
	}
	keys := make([]string, 0, len(byLogin))
	for k := range byLogin {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		who, ok := person(people, logins[k])
		if !ok || isBot(who) || !canWrite(who.Permission) {
			continue
		}
		events := byLogin[k]
		// In time order; at the same instant a withdrawal comes last, so
		// that it wins.
		slices.SortStableFunc(events, func(x, y event) int {
			if c := x.at.Compare(y.at); c != 0 {
				return c
			}
			if x.withdraw != y.withdraw {
				if x.withdraw {
					return 1
				}
				return -1
			}
			return cmp.Compare(x.order, y.order)
		})
		var best, last *policy.Approval
		var why string
		for i := range events {
			e := &events[i]
			if e.withdraw {
				best, last = nil, nil
				continue
			}
			last = &e.a
			if ok, reason := applies(e.a, p, currentDigest); ok {
				best = &e.a
			} else {
				why = reason
			}
		}
		switch {
		case best != nil:
			a := *best
			a.Teams = slices.Clone(who.Teams)
			valid = append(valid, a)
		case last != nil:
			stale = append(stale, Stale{Approval: *last, Reason: fmt.Sprintf("approval by %s no longer applies: %s", last.Login, why)})
		}
	}
	return valid, stale
}

// applies reports whether an approval binds to the plan being deployed,
// and if not, why.
func applies(a policy.Approval, p Pull, currentDigest string) (bool, string) {
	switch {
	case a.PlanDigest == "" && a.Commit != "" && a.Commit == p.HeadSHA:
		return true, ""
	case a.PlanDigest == "":
		return false, fmt.Sprintf("it was given on %s, whose plan is not known", short(a.Commit))
	case currentDigest == "":
		return false, "the current plan is not known yet"
	case a.PlanDigest != currentDigest:
		return false, "the plan changed"
	}
	return true, ""
}

func lookup(digests DigestLookup, sha, env string) (string, bool) {
	if digests == nil || sha == "" {
		return "", false
	}
	d, ok := digests(sha, env)
	return d, ok && d != ""
}

// WithoutSelf removes the approvals of the pull request's author and of
// its merger when the environment forbids approving one's own change
// (GitHub's prevent_self_review, the policy's preventSelfApproval): the
// policy knows only the author, and the merger is the one who triggered
// the deployment. A rollback approval is kept: the policy lets a rollback's
// requester approve it, since a rollback puts back what was approved before.
func WithoutSelf(approvals []policy.Approval, p Pull, env Environment, pol policy.EnvPolicy) (kept []policy.Approval, dropped []Stale) {
	if !env.PreventSelfReview && !pol.PreventSelfApproval {
		return approvals, nil
	}
	name := envName(env, pol)
	for _, a := range approvals {
		role := selfRole(a.Login, p)
		if role == "" || a.Via == ViaRollback {
			kept = append(kept, a)
			continue
		}
		dropped = append(dropped, Stale{Approval: a, Reason: fmt.Sprintf("approval by %s does not count: they %s this pull request, and %s does not allow approving one's own change", a.Login, role, name)})
	}
	return kept, dropped
}

// selfRole says how login took part in the pull request: "opened",
// "merged" or "".
func selfRole(login string, p Pull) string {
	switch {
	case login == "":
		return ""
	case equalLogin(login, p.Author):
		return "opened"
	case equalLogin(login, p.Merger):
		return "merged"
	}
	return ""
}

// LastApproval is when the latest of the approvals was given (zero for
// none): where DeployState counts an environment's wait timer from.
func LastApproval(approvals []policy.Approval) time.Time {
	var t time.Time
	for _, a := range approvals {
		if a.SubmittedAt.After(t) {
			t = a.SubmittedAt
		}
	}
	return t
}
