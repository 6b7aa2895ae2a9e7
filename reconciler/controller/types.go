// Package controller is the pull controller for any Git host: it watches a
// branch of a config repository (go-git, any remote), turns each new
// commit into deployments of the environments whose document changes,
// judges them with the deployment policy (the last deployed commit's
// policy, so a commit cannot loosen the rules it is judged by), waits for
// approvals given with `honua-gitops deployment approve`, and applies them
// with the same engine as the GitHub runner (reconciler/apply: journal,
// backup, atomic write, reload, post-validation, rollback). Its state is
// the original design's file state store: one directory, a file per
// environment, safe for the controller and the CLI at once.
package controller

import (
	"encoding/json"
	"time"
)

// State is where a deployment stands: the original design's state
// machine, Pending → Validating → Planning → AwaitingApproval →
// BackingUp → Applying → PostValidating → Completed; on a failure after
// something was applied RollingBack → RolledBack; Failed when nothing was
// applied (or the rollback failed too). Superseded and Rejected end a
// deployment that never started applying.
type State string

// The states.
const (
	Pending          State = "Pending"
	Validating       State = "Validating"
	Planning         State = "Planning"
	AwaitingApproval State = "AwaitingApproval"
	BackingUp        State = "BackingUp"
	Applying         State = "Applying"
	PostValidating   State = "PostValidating"
	Completed        State = "Completed"
	RollingBack      State = "RollingBack"
	RolledBack       State = "RolledBack"
	Failed           State = "Failed"
	Superseded       State = "Superseded"
	Rejected         State = "Rejected"
)

// Final reports whether s ends a deployment.
func (s State) Final() bool {
	switch s {
	case Completed, RolledBack, Failed, Superseded, Rejected:
		return true
	}
	return false
}

// Started reports whether the deployment began changing the server (from
// BackingUp on): a newer commit no longer supersedes it.
func (s State) Started() bool {
	switch s {
	case BackingUp, Applying, PostValidating, Completed, RollingBack, RolledBack:
		return true
	}
	return false
}

// Transition is one step of a deployment, with its time and cause.
type Transition struct {
	State State     `json:"state"`
	At    time.Time `json:"at"`
	Cause string    `json:"cause,omitempty"`
}

// Decision is an approval or a rejection given with the deployment CLI.
type Decision struct {
	Kind   string    `json:"kind"` // "approve" or "reject"
	By     string    `json:"by"`   // the approver's identity (--as, or the OS user)
	Teams  []string  `json:"teams,omitempty"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
	// From is where it was given: the host and the OS user running the CLI.
	From string `json:"from"`
}

// Requirement is what the policy asked of approvers when the deployment
// was judged, kept so that the CLI can refuse a decision it would not
// count without judging the policy itself.
type Requirement struct {
	Required bool     `json:"required"`
	Min      int      `json:"min"`
	From     []string `json:"from,omitempty"` // logins and org/team entries; empty: anyone
	// PreventSelfApproval: the commit's author may not approve.
	PreventSelfApproval bool `json:"preventSelfApproval"`
}

// Deployment is one deployment of a commit to an environment.
type Deployment struct {
	// ID is the original's form: <env>-<UTC yyyyMMddHHmmss>-<sha7>.
	ID  string `json:"id"`
	Env string `json:"env"`
	SHA string `json:"sha"`
	// Base is the commit the plan and the policy were taken from: the last
	// deployed commit of the environment ("" for the first).
	Base    string    `json:"base,omitempty"`
	Author  string    `json:"author,omitempty"` // the commit's author (name <email>)
	Message string    `json:"message,omitempty"`
	Created time.Time `json:"created"`
	State   State     `json:"state"`
	// Transitions is every state it went through, oldest first.
	Transitions []Transition `json:"transitions"`
	// Plan and Verdict are the environment's plan JSON (docs/plan-json.md)
	// and the policy verdict, as last judged.
	Plan    json.RawMessage `json:"plan,omitempty"`
	Verdict json.RawMessage `json:"verdict,omitempty"`
	// Requirement is the approval the verdict asks for.
	Requirement Requirement `json:"requirement"`
	Decisions   []Decision  `json:"decisions,omitempty"`
	// Until is when a deployment blocked by a gate of time is expected to
	// go on.
	Until *time.Time `json:"until,omitempty"`
	// Rollback marks a deployment made by `deployment rollback`; RollbackOf
	// is the commit it undoes.
	Rollback   bool   `json:"rollback,omitempty"`
	RollbackOf string `json:"rollbackOf,omitempty"`
}

// Audit is one entry of an environment's audit trail: who did what to
// which deployment, when and from where.
type Audit struct {
	At           time.Time `json:"at"`
	Who          string    `json:"who"`
	From         string    `json:"from"`
	Action       string    `json:"action"` // approve, reject, rollback, supersede, apply, ...
	DeploymentID string    `json:"deploymentId"`
	Detail       string    `json:"detail,omitempty"`
}

// EnvRecord is an environment's file in the state store.
type EnvRecord struct {
	Version int    `json:"version"`
	Env     string `json:"env"`
	// Current is the deployment the server runs (its ID), LastGood the
	// newest Completed one.
	Current  string `json:"current,omitempty"`
	LastGood string `json:"lastGood,omitempty"`
	// Deployments are the open deployments and the history, newest first,
	// bounded by the store's history limit (open ones are never dropped).
	Deployments []Deployment `json:"deployments"`
	// Audit is the audit trail, newest last, bounded like the history.
	Audit []Audit `json:"audit"`
	// Health and Sync as the GitHub runner reports them (Healthy,
	// Degraded, Unhealthy; Synced, OutOfSync, Syncing), since when.
	Health      string    `json:"health,omitempty"`
	HealthSince time.Time `json:"healthSince,omitzero"`
	Sync        string    `json:"sync,omitempty"`
	SyncSince   time.Time `json:"syncSince,omitzero"`
	// Watched is the branch head the controller saw last.
	Watched string `json:"watched,omitempty"`
	// Notified are the keys of the notifications sent (event and target),
	// newest last, bounded: each is sent once however often it is asked.
	Notified []string `json:"notified,omitempty"`
}

// StoreVersion is the version of the store's files.
const StoreVersion = 1
