package checks

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// DeployState is where a deployment to one environment stands, as its
// check run shows it.
type DeployState string

// The states of a deployment.
const (
	// DeployWaitingApproval: the policy allows it, approval is missing.
	DeployWaitingApproval DeployState = "waiting-approval"
	// DeployBlocked: gates of time (a window, a blackout, promotion) hold
	// it back; the App queues it when they open.
	DeployBlocked DeployState = "blocked"
	// DeployQueued: approved and allowed, waiting for the runner.
	DeployQueued DeployState = "queued"
	// DeployInProgress: the runner is applying it.
	DeployInProgress DeployState = "in-progress"
	// DeploySuccess: applied and healthy.
	DeploySuccess DeployState = "success"
	// DeployFailure: it failed, and the runner restored the backup.
	DeployFailure DeployState = "failure"
	// DeployError: it failed and could not be rolled back; someone must
	// step in.
	DeployError DeployState = "error"
	// DeployRejected: an approver rejected it.
	DeployRejected DeployState = "rejected"
	// DeployInactive: a later deployment superseded it.
	DeployInactive DeployState = "inactive"
)

// How an approval was given (ApprovalRecord.Via).
const (
	ViaReview   = "review"
	ViaButton   = "button"
	ViaComment  = "comment"
	ViaRollback = "rollback"
	// ViaGitHubEnvironment: in GitHub's "Review deployments" dialog of
	// a gate workflow run (approvals: github-environment).
	ViaGitHubEnvironment = "github-environment"
)

// ApprovalRecord is one approval or rejection of a deployment, as the App
// records it in a comment's marker (see ApprovalRecordComment) and shows it.
type ApprovalRecord struct {
	// Env is the environment approved.
	Env string `json:"env"`
	// Login is who approved or rejected.
	Login string `json:"login"`
	// Via is ViaReview, ViaButton, ViaComment or ViaRollback.
	Via string `json:"via"`
	// At is when.
	At time.Time `json:"at"`
	// SHA is the commit approved, PlanDigest the environment's plan digest
	// the approver saw (plan.Environment.Digest); an approval binds to the
	// digest when it is set (see policy.Approval).
	SHA        string `json:"sha,omitempty"`
	PlanDigest string `json:"plan_digest,omitempty"`
	// Reason is why, for a rejection.
	Reason string `json:"reason,omitempty"`
}

// Deploy is a deployment of a merge commit to one environment: what the
// check run honua/deploy (<env>) shows.
type Deploy struct {
	Env string
	// SHA is the commit deployed.
	SHA   string
	State DeployState
	// Verdict is the policy's verdict for the deployment, when judged: who
	// must approve, which gates hold it back, the environment's time zone.
	Verdict *policy.Verdict
	// Description is the runner's or the App's own words on the state
	// ("rolled back: collection parcels failed its health check").
	Description string
	// Approvals are the approvals given so far.
	Approvals []ApprovalRecord
	// Rejection is the rejection, with its Reason, when State is rejected.
	Rejection *ApprovalRecord
	// LogURL and EnvironmentURL are the deployment's log and the deployed
	// server, shown as links when they are http(s) URLs.
	LogURL, EnvironmentURL string
	// Until is when a blocked deployment is expected to be queued.
	Until *time.Time
	// Rollback marks a rollback; RollbackOf is the commit it rolls back.
	Rollback   bool
	RollbackOf string
	// Timezone is the environment's time zone (IANA), for the times shown
	// when there is no Verdict to tell it; UTC when empty.
	Timezone string
	// ReviewInGitHub marks an environment approved in GitHub's own
	// "Review deployments" dialog of a gate workflow run (approvals:
	// github-environment): a deployment waiting for approval has no
	// buttons, and says where to review it; ReviewURL is the gate run,
	// once known.
	ReviewInGitHub bool
	ReviewURL      string
}

// timezone is the zone times are shown in: the verdict's, else d's own.
func (d Deploy) timezone() string {
	if d.Verdict != nil && d.Verdict.Timezone != "" {
		return d.Verdict.Timezone
	}
	return d.Timezone
}

// maxStatusDescription is the most characters of a deployment status's
// description.
const maxStatusDescription = 140

// DeployRun renders the check run honua/deploy (<env>) on the merge
// commit. The states map to:
//
//   - waiting-approval: action_required, with the buttons Approve
//     (identifier "approve") and Reject ("reject"), naming who may approve;
//   - blocked: neutral, saying when it will be queued ("queued when the
//     deployment window opens at Tue 10 Mar 09:00 HST");
//   - queued and in-progress: no conclusion yet (Status queued or
//     in_progress);
//   - success: success; failure and error: failure (error: the rollback
//     failed too, someone must step in); rejected: failure, with who and
//     why; inactive: neutral (superseded).
//
// The summary lists the approvals so far and the links; the text is the
// verdict.
func DeployRun(d Deploy) CheckRun {
	return deployRun(d, MaxOutput)
}

func deployRun(d Deploy, limit int) CheckRun {
	run := CheckRun{Name: DeployRunName(d.Env), Status: StatusCompleted}
	switch d.State {
	case DeployWaitingApproval:
		run.Conclusion = ConclusionActionRequired
		if d.ReviewInGitHub {
			break // approved in GitHub's dialog, not with buttons
		}
		run.Actions = []Action{
			{Label: "Approve", Description: "Approve deploying this commit", Identifier: ActionApprove},
			{Label: "Reject", Description: "Reject: it will not deploy", Identifier: ActionReject},
		}
	case DeployBlocked, DeployInactive:
		run.Conclusion = ConclusionNeutral
	case DeployQueued:
		run.Status = StatusQueued
	case DeployInProgress:
		run.Status = StatusInProgress
	case DeploySuccess:
		run.Conclusion = ConclusionSuccess
	case DeployFailure, DeployError, DeployRejected:
		run.Conclusion = ConclusionFailure
	default:
		run.Conclusion = ConclusionNeutral
	}
	run.Title = cutText(d.headline(plainText), MaxTitle)

	var b strings.Builder
	fmt.Fprintf(&b, "**%s**\n\n", d.headline(plan.MarkdownText))
	sha := plan.MarkdownCode(shortSHA(d.SHA))
	fmt.Fprintf(&b, "- Environment: %s\n", plan.MarkdownCode(cutRunes(d.Env, maxIDShown)))
	if d.Rollback {
		fmt.Fprintf(&b, "- Commit: %s, a rollback", sha)
		if d.RollbackOf != "" {
			fmt.Fprintf(&b, " of %s", plan.MarkdownCode(shortSHA(d.RollbackOf)))
		}
		b.WriteString("\n")
	} else {
		fmt.Fprintf(&b, "- Commit: %s\n", sha)
	}
	if d.Description != "" && d.State != DeployFailure && d.State != DeployError {
		// A failure's headline holds its description already.
		fmt.Fprintf(&b, "- Description: %s\n", plan.MarkdownText(cutRunes(d.Description, maxMessageShown)))
	}
	tz := d.timezone()
	if len(d.Approvals) > 0 {
		var as []string
		for i, a := range d.Approvals {
			if i == maxNamesListed {
				as = append(as, countOf(len(d.Approvals)-i, "more", "more"))
				break
			}
			as = append(as, fmt.Sprintf("%s (%s, %s)", mention(a.Login), plan.MarkdownText(cutRunes(a.Via, 20)), localTime(a.At, tz)))
		}
		fmt.Fprintf(&b, "- Approved by %s\n", strings.Join(as, "; "))
	}
	if r := d.Rejection; r != nil {
		fmt.Fprintf(&b, "- Rejected by %s (%s, %s)", mention(r.Login), plan.MarkdownText(cutRunes(r.Via, 20)), localTime(r.At, tz))
		if r.Reason != "" {
			b.WriteString(": " + plan.MarkdownText(cutRunes(r.Reason, maxMessageShown)))
		}
		b.WriteString("\n")
	}
	var links []string
	if l := link("Deployment log", d.LogURL); l != "" {
		links = append(links, l)
	}
	if l := link("Environment", d.EnvironmentURL); l != "" {
		links = append(links, l)
	}
	if l := link("Review in GitHub", d.ReviewURL); l != "" {
		links = append(links, l)
	}
	if len(links) > 0 {
		b.WriteString("- " + strings.Join(links, " · ") + "\n")
	}
	if d.State == DeployWaitingApproval && d.ReviewInGitHub {
		b.WriteString("\nWaiting for review in GitHub: the environment's required reviewers approve or reject it in GitHub's **Review deployments** dialog of the gate workflow run")
		if d.ReviewURL != "" {
			b.WriteString(" (" + link("open it", d.ReviewURL) + ")")
		}
		b.WriteString(". GitHub enforces who may review; the policy's approvers are checked too.\n")
	} else if d.State == DeployWaitingApproval {
		fmt.Fprintf(&b, "\nApprove with the **Approve** button above, a `/approve %s` comment on the pull request, or a review that approves its last commit. **Reject** (or `/reject %s reason`) stops it.\n",
			commandArg(d.Env), commandArg(d.Env))
	}
	run.Summary = cutText(b.String(), limit) // bounded well below the limit
	if d.Verdict != nil {
		v := *d.Verdict
		run.Text, _ = policyDoc([]*plan.Environment{{Name: d.Env}}, func(string) *policy.Verdict { return &v }, "").fit(limit, "")
	}
	return run
}

// StatusDescription is the description of the deployment's GitHub status:
// the deploy run's title, plain text in at most 140 characters.
func (d Deploy) StatusDescription() string {
	return cutText(d.headline(plainText), maxStatusDescription)
}

// plainText makes a string from a pull request one line of plain text.
func plainText(s string) string { return plan.VisibleText(s) }

// headline says in one line where the deployment stands; esc escapes what
// comes from outside (plain text for a title, markdown for the summary).
func (d Deploy) headline(esc func(string) string) string {
	env := esc(cutRunes(d.Env, 40))
	sha := esc(shortSHA(d.SHA))
	who := func(login string) string {
		return esc("@" + strings.TrimPrefix(cutRunes(login, 100), "@"))
	}
	tz := d.timezone()
	with := func(s string) string {
		if d.Description == "" {
			return s
		}
		return s + ": " + esc(cutRunes(d.Description, maxSummaryReason))
	}
	switch d.State {
	case DeployWaitingApproval:
		if d.Verdict != nil && d.Verdict.Approval.Required {
			return "Waiting for approval from " + plainRequirements(d.Verdict.Approval, esc)
		}
		return "Waiting for approval"
	case DeployBlocked:
		opens := "its gates open"
		if d.Verdict != nil {
			opens = gatesOpen(d.Verdict.Gates())
		}
		until := d.Until
		if until == nil && d.Verdict != nil {
			until = d.Verdict.OpensAt()
		}
		if until == nil {
			var waits []string
			if d.Verdict != nil {
				for _, g := range d.Verdict.Gates() {
					waits = append(waits, gateText(g, tz, esc))
				}
			}
			if len(waits) == 0 {
				return "Held back: queued when " + opens
			}
			return "Held back: " + strings.Join(waits, "; ")
		}
		return "Queued when " + opens + " at " + localTime(*until, tz)
	case DeployQueued:
		return "Queued: waiting for the runner to deploy " + sha + " to " + env
	case DeployInProgress:
		if d.Rollback {
			return "Rolling back " + env + " to " + sha
		}
		return "Deploying " + sha + " to " + env
	case DeploySuccess:
		if d.Rollback {
			return "Rolled back " + env + " to " + sha
		}
		return "Deployed " + sha + " to " + env
	case DeployFailure:
		return with("Deploying " + sha + " to " + env + " failed")
	case DeployError:
		return with("Someone must step in: deploying " + sha + " to " + env + " failed and could not be rolled back")
	case DeployRejected:
		if r := d.Rejection; r != nil {
			s := "Rejected by " + who(r.Login)
			if r.Reason != "" {
				s += ": " + esc(cutRunes(r.Reason, maxSummaryReason))
			}
			return s
		}
		return "Rejected"
	case DeployInactive:
		return "Superseded by a later deployment to " + env
	}
	return with("State " + esc(cutRunes(string(d.State), 40)))
}

// gatesOpen names what a blocked deployment waits for: "the deployment
// window opens", "the blackout ends", "it has soaked in staging".
func gatesOpen(gates []policy.Finding) string {
	var out []string
	for _, g := range gates {
		s := ""
		switch g.Gate {
		case policy.GateWindow:
			s = "the deployment window opens"
		case policy.GateBlackout:
			s = "the blackout ends"
		case policy.GatePromotion:
			s = "the promotion soak ends"
		default:
			s = "its gates open"
		}
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return "its gates open"
	}
	return joinAnd(out)
}

// plainRequirements is requirements written with esc: "1 of
// @kailua-gis/gis-leads, @lkeawe".
func plainRequirements(a policy.ApprovalStatus, esc func(string) string) string {
	var rs []string
	for _, r := range a.Requirements {
		if r.Satisfied || len(rs) == maxReqsListed {
			continue
		}
		who := "anyone with write access"
		if len(r.From) > 0 {
			var ns []string
			for i, f := range r.From {
				if i == maxNamesListed {
					ns = append(ns, countOf(len(r.From)-i, "more", "more"))
					break
				}
				ns = append(ns, esc("@"+strings.TrimPrefix(cutRunes(f, 100), "@")))
			}
			who = strings.Join(ns, ", ")
		}
		rs = append(rs, fmt.Sprintf("%d of %s", max(r.Min, 1), who))
	}
	if len(rs) == 0 {
		return "an approver"
	}
	return joinAnd(rs)
}

// commandArg is an environment name as it can be typed after a command,
// inside inline code: shown, never interpreted.
func commandArg(env string) string {
	s := plan.VisibleText(cutRunes(env, maxIDShown))
	if strings.ContainsAny(s, "`|") || s == "" {
		return "ENV"
	}
	return s
}

// link is a markdown link to u labelled label, when u is an absolute
// http(s) URL without credentials; "" otherwise. Every character that could
// end the link or the markdown around it is percent-encoded.
func link(label, u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.User != nil {
		return ""
	}
	var b strings.Builder
	for _, c := range []byte(p.String()) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>[]`\"'\\|*_~{}", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return "[" + label + "](" + b.String() + ")"
}
