package checks

import (
	"fmt"
	"strings"
	"time"

	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// The App answers a command once, in a short comment. Comments it must
// read back later end with a marker (see Marker); everything quoted in them
// is escaped, so that they mention nobody and link nowhere.

// HelpText is the answer to /help: the commands and who may use them.
func HelpText() string {
	return `### honua-gitops commands

Comment on the pull request, one command at the start of a line:

| Command | What it does |
|---|---|
| ` + "`/plan`" + ` | plans again and updates the ` + "`honua/plan` and `honua/policy`" + ` checks |
| ` + "`/approve [env]`" + ` | approves deploying this pull request's plan to ` + "`env`" + ` (without ` + "`env`" + `: to every environment you may approve) |
| ` + "`/reject [env] reason`" + ` | rejects deploying to ` + "`env`" + `, saying why |
| ` + "`/rollback [env] [--to SHA]`" + ` | deploys ` + "`env`" + `'s last good commit again (or ` + "`SHA`" + `), after a merge |
| ` + "`/help`" + ` | shows this help |

Only people with write access to the repository can use them; comments of bots are ignored. An approval counts when its author is an approver of the environment (the policy's ` + "`approvers`" + ` or the GitHub environment's required reviewers) and binds to the plan approved: a push that changes the environment's plan drops it. A review that approves the last commit, and the **Approve** button of the ` + "`honua/deploy (env)`" + ` check, approve too.
`
}

// ApprovalRecordComment is the App's answer to an approval given by a
// comment or a button, with the record as a marker (MarkerApproval),
// so that a later run of the App counts it. v, when not nil, is the
// environment's verdict with the approval counted: the comment then says
// whether approval is complete or what is still needed.
func ApprovalRecordComment(a ApprovalRecord, v *policy.Verdict) string {
	var b strings.Builder
	fmt.Fprintf(&b, ":white_check_mark: %s approved deploying %s to %s", mention(a.Login), plan.MarkdownCode(shortSHA(a.SHA)), plan.MarkdownCode(cutRunes(a.Env, maxIDShown)))
	if a.PlanDigest != "" {
		fmt.Fprintf(&b, " (plan %s)", plan.MarkdownCode(shortSHA(a.PlanDigest)))
	}
	b.WriteString(".")
	if v != nil {
		switch {
		case !v.Approval.Required || v.Approval.Satisfied:
			b.WriteString(" Approval is complete.")
			if gates := v.Gates(); len(gates) > 0 {
				var when []string
				for _, g := range gates {
					when = append(when, gateText(g, v.Timezone, plan.MarkdownText))
				}
				b.WriteString(" It waits for its gates of time: " + strings.Join(when, "; ") + ".")
			}
		default:
			b.WriteString(" Still needed: " + requirements(v.Approval) + ".")
		}
	}
	b.WriteString("\n")
	return withMarker(b.String(), MarkerApproval, boundedRecord(a))
}

// RejectionComment is the App's answer to a rejection (a /reject comment
// or the Reject button), with the record as a marker (MarkerRejection).
func RejectionComment(r ApprovalRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, ":no_entry: %s rejected deploying %s to %s", mention(r.Login), plan.MarkdownCode(shortSHA(r.SHA)), plan.MarkdownCode(cutRunes(r.Env, maxIDShown)))
	if r.Reason != "" {
		b.WriteString(": " + plan.MarkdownText(cutRunes(r.Reason, maxMessageShown)))
	}
	b.WriteString(". It will not deploy.\n")
	return withMarker(b.String(), MarkerRejection, boundedRecord(r))
}

// DeployResult is the marker of DeployResultComment: which deployment
// ended, and how.
type DeployResult struct {
	Env   string      `json:"env"`
	SHA   string      `json:"sha"`
	State DeployState `json:"state"`
}

// DeployResultComment tells the pull request how a deployment ended, with
// a link to its log, and carries a DeployResult marker (MarkerDeployResult)
// so that the App says it once.
func DeployResultComment(env, sha string, state DeployState, description, logURL string) string {
	e, s := plan.MarkdownCode(cutRunes(env, maxIDShown)), plan.MarkdownCode(shortSHA(sha))
	desc := ""
	if description != "" {
		desc = ": " + plan.MarkdownText(cutRunes(description, maxMessageShown))
	}
	var b strings.Builder
	switch state {
	case DeploySuccess:
		fmt.Fprintf(&b, ":rocket: Deployed %s to %s%s.", s, e, desc)
	case DeployFailure:
		fmt.Fprintf(&b, ":x: Deploying %s to %s failed%s.", s, e, desc)
	case DeployError:
		fmt.Fprintf(&b, ":sos: Deploying %s to %s failed and could not be rolled back%s. Someone must step in.", s, e, desc)
	case DeployRejected:
		fmt.Fprintf(&b, ":no_entry: Deploying %s to %s was rejected%s.", s, e, desc)
	case DeployInactive:
		fmt.Fprintf(&b, "Deploying %s to %s was superseded by a later deployment%s.", s, e, desc)
	default:
		fmt.Fprintf(&b, "Deploying %s to %s: %s%s.", s, e, plan.MarkdownText(cutRunes(string(state), 40)), desc)
	}
	if l := link("Deployment log", logURL); l != "" {
		b.WriteString(" " + l + ".")
	}
	b.WriteString("\n")
	return withMarker(b.String(), MarkerDeployResult, DeployResult{Env: cutRunes(env, maxIDShown), SHA: cutRunes(sha, 64), State: DeployState(cutRunes(string(state), 40))})
}

// RollbackRecord is a rollback asked for with /rollback: the marker of
// RollbackComment.
type RollbackRecord struct {
	// Env is the environment rolled back.
	Env string `json:"env"`
	// To is the commit deployed again; Of the commit it replaces.
	To string `json:"to"`
	Of string `json:"of,omitempty"`
	// Login asked for it, At when.
	Login string    `json:"login"`
	At    time.Time `json:"at"`
}

// RollbackComment is the App's answer to /rollback: what it deploys again
// in place of what, with the record as a marker (MarkerRollback).
func RollbackComment(r RollbackRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, ":leftwards_arrow_with_hook: Rolling back %s to %s", plan.MarkdownCode(cutRunes(r.Env, maxIDShown)), plan.MarkdownCode(shortSHA(r.To)))
	if r.Of != "" {
		fmt.Fprintf(&b, " (from %s)", plan.MarkdownCode(shortSHA(r.Of)))
	}
	fmt.Fprintf(&b, ", as %s asked. The %s check of %s follows it.\n", mention(r.Login), plan.MarkdownCode(DeployRunName(r.Env)), plan.MarkdownCode(shortSHA(r.To)))
	r.Env, r.To, r.Of, r.Login = cutRunes(r.Env, maxIDShown), cutRunes(r.To, 64), cutRunes(r.Of, 64), cutRunes(r.Login, 100)
	return withMarker(b.String(), MarkerRollback, r)
}

// ReviewRequestedComment says that a deployment waits for review in
// GitHub's own dialog, and links the gate workflow run to review it in.
func ReviewRequestedComment(env, sha, runURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, ":hourglass: Deploying %s to %s is waiting for review in GitHub", plan.MarkdownCode(shortSHA(sha)), plan.MarkdownCode(cutRunes(env, maxIDShown)))
	if l := link("review it", runURL); l != "" {
		b.WriteString(": " + l)
	}
	b.WriteString(". The environment's required reviewers approve or reject it in GitHub's **Review deployments** dialog.\n")
	return b.String()
}

// RefusalComment is the App's answer to a command it does not carry out,
// saying why (reason may quote the command, and is escaped).
func RefusalComment(reason string) string {
	return ":no_entry_sign: Not done: " + plan.MarkdownText(cutRunes(reason, maxMessageShown)) + "\n"
}

// withMarker ends a comment with the marker of kind holding v, on a line
// of its own after a blank line.
func withMarker(body, kind string, v any) string {
	m := Marker(kind, v)
	if m == "" {
		return body
	}
	return body + "\n" + m + "\n"
}

// boundedRecord cuts what a record quotes so that its marker always fits
// (MaxMarkerJSON).
func boundedRecord(a ApprovalRecord) ApprovalRecord {
	a.Env = cutRunes(a.Env, maxIDShown)
	a.Login = cutRunes(a.Login, 100)
	a.Via = cutRunes(a.Via, 20)
	a.SHA = cutRunes(a.SHA, 64)
	a.PlanDigest = cutRunes(a.PlanDigest, 100)
	a.Reason = cutRunes(a.Reason, maxMessageShown)
	return a
}
