// Package plan computes the typed, breaking-change-aware difference between
// two states of a Honua config repository, per environment, and renders it as
// text, markdown or JSON. It is pure: it takes states and returns values.
package plan

import (
	"github.com/honua-io/honua-gitops/reconciler/config"
)

// Version is the version of the JSON contract of Plan. It changes only when a
// field changes meaning or disappears; new fields may be added within a
// version.
const Version = 1

// Action is what a change does to an object.
type Action string

// The actions of a change.
const (
	ActionAdd    Action = "add"
	ActionModify Action = "modify"
	ActionRemove Action = "remove"
)

// Plan is the difference between a base and a head state, per environment.
type Plan struct {
	Version      int           `json:"version"`
	Environments []Environment `json:"environments"`
}

// Environment is the plan of one environment.
type Environment struct {
	Name    string   `json:"name"`
	Summary Summary  `json:"summary"`
	Changes []Change `json:"changes"`
	// Errors and Warnings are the head state's diagnostics for this
	// environment.
	Errors   []config.Diagnostic `json:"errors"`
	Warnings []config.Diagnostic `json:"warnings"`
	// Verdict is the policy verdict, attached by the caller when a policy was
	// evaluated (the plan package knows nothing of policy).
	Verdict any `json:"verdict,omitempty"`
}

// Summary counts the changes of an environment.
type Summary struct {
	Added    int `json:"added"`
	Modified int `json:"modified"`
	Removed  int `json:"removed"`
	Breaking int `json:"breaking"`
}

// Change is what happens to one object.
type Change struct {
	Kind     config.Kind `json:"kind"`
	ID       string      `json:"id"`
	Action   Action      `json:"action"`
	Breaking bool        `json:"breaking"`
	// Reasons say, for people, why the change is breaking.
	Reasons []string `json:"reasons"`
	// File and Line locate the object in head (in base for a removal).
	File string `json:"file"`
	Line int    `json:"line"`
	// Collections are the OGC API collection ids ("service::layer") whose
	// clients see the change.
	Collections []string `json:"collections"`
	Details     []Detail `json:"details"`
}

// Detail is one changed field. From is null for an added field, To for a
// removed one.
type Detail struct {
	Path string `json:"path"`
	From any    `json:"from"`
	To   any    `json:"to"`
}
