// Package notify tells people about deployments: the notifications block of
// an environment in .gitops/deployment-policy.yaml names, per event, the
// targets to tell (email, Slack, PagerDuty, signed webhooks), and a Notifier
// delivers each event once per target, in the background, retrying a target
// that fails for a bounded time without ever holding up a deployment.
//
// Secrets in the block are ${NAME} references, filled when a message is
// sent from what the operator gave the sender (Options.Secrets); their
// values never appear in logs, errors, metrics or Failures.
package notify

import (
	"strings"
	"time"
)

// Kind is what happened: the event a notification is about.
type Kind string

// The kinds of events.
const (
	KindApprovalRequired Kind = "approval-required"
	KindCompleted        Kind = "completed"
	KindFailed           Kind = "failed"
	KindRolledBack       Kind = "rolled-back"
	KindDriftDetected    Kind = "drift-detected"
)

// Kinds are every kind, in the order of the policy file's keys.
var Kinds = []Kind{KindApprovalRequired, KindCompleted, KindFailed, KindRolledBack, KindDriftDetected}

// policyKeys are the notifications block's keys, by kind.
var policyKeys = map[Kind]string{
	KindApprovalRequired: "onApprovalRequired",
	KindCompleted:        "onDeploymentCompleted",
	KindFailed:           "onDeploymentFailed",
	KindRolledBack:       "onRolledBack",
	KindDriftDetected:    "onDriftDetected",
}

// PolicyKey returns the key of the notifications block that lists the
// targets of k ("onDeploymentFailed"), or "" for an unknown kind.
func (k Kind) PolicyKey() string { return policyKeys[k] }

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return policyKeys[k] != "" }

// ParseKind reads a kind from its name ("failed") or its policy key
// ("onDeploymentFailed"), for a command's --event flag.
func ParseKind(s string) (Kind, bool) {
	for _, k := range Kinds {
		if s == string(k) || strings.EqualFold(s, policyKeys[k]) {
			return k, true
		}
	}
	return "", false
}

// Event is something to tell people about a deployment to an environment.
type Event struct {
	Kind         Kind
	Repo         string // owner/name or the repository's URL
	Env          string
	SHA          string
	DeploymentID string
	PR           int
	PRURL        string
	// URL is a link to follow: the run, the check, the environment.
	URL string
	// Who merged, approved or requested the deployment.
	Who string
	// Summary is the plan's summary line ("2 to add, 1 to change (1 breaking)").
	Summary string
	// Cause is why a deployment failed, for KindFailed.
	Cause string
	// RolledBack is true when the failed deployment was rolled back.
	RolledBack bool
	// ApproveHow tells approvers what to do: "comment /approve production
	// on PR #12", "honua-gitops deployment approve ID".
	ApproveHow string
	Approvers  []string
	At         time.Time
}

// Key returns the event's idempotency key: the deployment and the kind,
// the same for every redelivery of the event and on every replica. An
// event without a deployment id (drift) is keyed by repository,
// environment and commit.
func (e Event) Key() string {
	id := e.DeploymentID
	if id == "" {
		id = e.Repo + "@" + e.Env + "@" + e.SHA
	}
	return keySafe(id) + "/" + string(e.Kind)
}

// keySafe keeps a key to printable ASCII, so that it can be a header value.
func keySafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r >= 0x7f {
			return '_'
		}
		return r
	}, s)
}

// title is the one-line description of an event, the subject of an email
// and the header of a Slack message ("production: deployment failed
// (rolled back)").
func (e Event) title() string {
	env := oneLine(e.Env)
	switch e.Kind {
	case KindApprovalRequired:
		return env + ": approval required"
	case KindCompleted:
		return env + ": deployment completed"
	case KindFailed:
		if e.RolledBack {
			return env + ": deployment failed (rolled back)"
		}
		return env + ": deployment failed"
	case KindRolledBack:
		return env + ": rollback completed"
	case KindDriftDetected:
		return env + ": drift detected"
	}
	return env + ": " + oneLine(string(e.Kind))
}

// shortSHA is the first 12 characters of the commit.
func (e Event) shortSHA() string {
	if len(e.SHA) > 12 {
		return e.SHA[:12]
	}
	return e.SHA
}

// link is where a message's button points: the event's URL, else the PR.
func (e Event) link() string {
	for _, u := range []string{e.URL, e.PRURL} {
		if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
			return u
		}
	}
	return ""
}

// oneLine replaces control characters (a newline in a header would start
// another header) with spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// truncate cuts s to at most n bytes at a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
