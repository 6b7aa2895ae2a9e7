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

// Digest is the hex SHA-256 of the plan's canonical JSON without the
// policy verdicts, so that a deploy order can name the exact plan it was
// approved for whatever policy said about it.
func (p *Plan) Digest() string {
	n := p.normalized()
	for i := range n.Environments {
		n.Environments[i].Verdict = nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(n); err != nil {
		// Plans hold only JSON values; a verdict, the one value of unknown
		// type, is left out above.
		panic(fmt.Sprintf("plan: encoding plan for its digest: %v", err))
	}
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:])
}

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
