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

// Risk is how dangerous a change is to apply, in the levels Honua's own
// tooling uses.
type Risk string

// The risk levels, from least to most dangerous.
const (
	// RiskLow is a cosmetic change: titles, descriptions, keywords, colours,
	// extents, or something new that nothing uses yet.
	RiskLow Risk = "low"
	// RiskMedium is a change that reaches several collections or changes a
	// schema without breaking it (a field added, a limit raised).
	RiskMedium Risk = "medium"
	// RiskHigh is a breaking change.
	RiskHigh Risk = "high"
	// RiskCritical is a security-relevant or data-losing change: a data
	// source removed, or its connection string or provider changed.
	RiskCritical Risk = "critical"
)

func (r Risk) rank() int {
	switch r {
	case RiskMedium:
		return 1
	case RiskHigh:
		return 2
	case RiskCritical:
		return 3
	}
	return 0
}

// Max returns the more dangerous of r and o.
func (r Risk) Max(o Risk) Risk {
	if o.rank() > r.rank() {
		return o
	}
	if r == "" {
		return RiskLow
	}
	return r
}

// Plan is the difference between a base and a head state, per environment.
type Plan struct {
	Version      int           `json:"version"`
	Environments []Environment `json:"environments"`
	// Errors and Warnings are the head state's repository-level diagnostics
	// (a file outside environments/, a repository without environments).
	// They are also copied into every environment, so that an environment's
	// plan is complete on its own; they are kept here for a plan that has no
	// environment at all.
	Errors   []config.Diagnostic `json:"errors"`
	Warnings []config.Diagnostic `json:"warnings"`
}

// Environment is the plan of one environment.
type Environment struct {
	Name    string  `json:"name"`
	Summary Summary `json:"summary"`
	// Risk is the highest risk of the environment's changes (low when there
	// are none).
	Risk    Risk     `json:"risk"`
	Changes []Change `json:"changes"`
	// Errors and Warnings are the head state's diagnostics for this
	// environment.
	Errors   []config.Diagnostic `json:"errors"`
	Warnings []config.Diagnostic `json:"warnings"`
}

// Summary counts the changes of an environment.
type Summary struct {
	Added    int `json:"added"`
	Modified int `json:"modified"`
	Removed  int `json:"removed"`
	Breaking int `json:"breaking"`
	// SecretRefs counts the uses of secret references (${NAME}) that the
	// changes add or remove, so that a policy can ask for approval of a
	// change to where secrets go.
	SecretRefs int `json:"secretRefs"`
}

// Change is what happens to one object.
type Change struct {
	Kind     config.Kind `json:"kind"`
	ID       string      `json:"id"`
	Action   Action      `json:"action"`
	Breaking bool        `json:"breaking"`
	Risk     Risk        `json:"risk"`
	// Reasons say, for people, why the change is breaking.
	Reasons []string `json:"reasons"`
	// File and Line locate the object in head (in base for a removal).
	File string `json:"file"`
	Line int    `json:"line"`
	// Collections are the OGC API collection ids ("service::layer") whose
	// clients see the change.
	Collections []string `json:"collections"`
	Details     []Detail `json:"details"`
	// SecretRefs are the uses of secret references the change adds or
	// removes: by name and where they are used, never by value.
	SecretRefs []SecretRef `json:"secretRefs"`
	// Digest identifies the object as head has it, for an add or a modify:
	// a hash of its canonical value. An add lists no details, so without it
	// two different layers added under the same id would make the same
	// plan, and an approval of one would count for the other.
	Digest string `json:"digest,omitempty"`
}

// SecretRef is one use of a secret reference (${NAME}) that a change adds
// or removes. Moving a reference to another part of a connection string
// (from the password to the host, say) removes one use and adds another:
// where a secret goes matters as much as which secret it is.
type SecretRef struct {
	// Name is the reference's name, NAME in ${NAME}.
	Name string `json:"name"`
	// Path is the field that holds it ("connectionString").
	Path string `json:"path"`
	// Part is where in the value it is used: a connection-string key
	// ("password", "host"), "userinfo" or "host" of a URL, or "" for the
	// whole value.
	Part string `json:"part"`
	// Action is add or remove.
	Action Action `json:"action"`
}

// Detail is one changed field. From is null for an added field, To for a
// removed one.
type Detail struct {
	Path string `json:"path"`
	From any    `json:"from"`
	To   any    `json:"to"`
}

// Total sums the summaries of every environment.
func (p *Plan) Total() Summary {
	var t Summary
	for _, e := range p.Environments {
		t.Added += e.Summary.Added
		t.Modified += e.Summary.Modified
		t.Removed += e.Summary.Removed
		t.Breaking += e.Summary.Breaking
		t.SecretRefs += e.Summary.SecretRefs
	}
	return t
}

// HasChanges reports whether any environment has a change.
func (p *Plan) HasChanges() bool {
	t := p.Total()
	return t.Added+t.Modified+t.Removed > 0
}

// HasErrors reports whether the head state has an error in any planned
// environment or at the repository level.
func (p *Plan) HasErrors() bool {
	if len(p.Errors) > 0 {
		return true
	}
	for _, e := range p.Environments {
		if len(e.Errors) > 0 {
			return true
		}
	}
	return false
}
