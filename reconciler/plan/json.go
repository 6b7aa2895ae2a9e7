package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
)

// WriteJSON writes the plan as indented JSON. The output is stable: fields
// in declaration order, map keys sorted, empty lists as [] rather than null.
func (p *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p.normalized()); err != nil {
		return fmt.Errorf("writing plan as JSON: %w", err)
	}
	return nil
}

// Digest is the hex SHA-256 of the plan's canonical JSON, so that a deploy
// order can name the exact plan it was approved for.
func (p *Plan) Digest() string { return jsonDigest(p.normalized()) }

// Digest is the hex SHA-256 of the environment's canonical JSON: its name,
// summary, changes (field by field, with before and after values) and
// diagnostics. Approvals bind to it: two plans of an environment have the
// same digest exactly when they make the same change, whatever commits they
// were computed between.
func (e *Environment) Digest() string {
	n := (&Plan{Environments: []Environment{*e}}).normalized()
	return jsonDigest(&n.Environments[0])
}

func jsonDigest(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Plans hold only JSON values.
		panic(fmt.Sprintf("plan: encoding plan for its digest: %v", err))
	}
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:])
}

// Normalized returns a copy of the plan whose nil lists are empty, as
// WriteJSON writes it: for callers that embed the plan in JSON of their own.
func (p *Plan) Normalized() *Plan { return p.normalized() }

// normalized returns a copy of the plan whose nil lists are empty, so a plan
// built by hand encodes (and digests) like one from Compute.
func (p *Plan) normalized() *Plan {
	n := *p
	if n.Version == 0 {
		n.Version = Version
	}
	n.Errors = nonNil(n.Errors)
	n.Warnings = nonNil(n.Warnings)
	n.Environments = make([]Environment, len(p.Environments))
	for i, e := range p.Environments {
		e.Errors = nonNil(e.Errors)
		e.Warnings = nonNil(e.Warnings)
		if e.Risk == "" {
			e.Risk = RiskLow
		}
		changes := make([]Change, len(e.Changes))
		for j, c := range e.Changes {
			c.Reasons = nonNil(c.Reasons)
			c.Collections = nonNil(c.Collections)
			c.Details = nonNil(c.Details)
			if c.Risk == "" {
				c.Risk = RiskLow
			}
			changes[j] = c
		}
		e.Changes = changes
		n.Environments[i] = e
	}
	return &n
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
