package checks

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// Format is how verdicts are written: for a terminal or for GitHub.
type Format int

// The formats.
const (
	Text Format = iota
	Markdown
)

// WriteVerdicts writes the verdicts of every environment of r, in promotion
// order, after a plan: the policy section of `plan --policy` in text or
// markdown (JSON carries the verdicts in the plan itself).
func WriteVerdicts(w io.Writer, r *policy.Report, f Format) error {
	if r == nil || len(r.Verdicts) == 0 {
		return nil
	}
	var b strings.Builder
	if f == Markdown {
		fmt.Fprintf(&b, "\n### Policy\n\n<sub>policy %s</sub>\n\n", ShortDigest(r.PolicyDigest))
	} else {
		fmt.Fprintf(&b, "\nPolicy (%s)\n", ShortDigest(r.PolicyDigest))
	}
	for _, e := range r.Environments() {
		if v, ok := r.Verdict(e.Name); ok {
			writeVerdict(&b, v, f)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteVerdict writes one environment's verdict for people.
func WriteVerdict(w io.Writer, v policy.Verdict, f Format) error {
	var b strings.Builder
	writeVerdict(&b, v, f)
	_, err := io.WriteString(w, b.String())
	return err
}

// VerdictState is a verdict in a few words: "DENIED", "waits: window, promotion",
// "allowed, needs approval" or "allowed".
func VerdictState(v policy.Verdict) string {
	switch {
	case len(v.ChangeDenies()) > 0:
		return "DENIED"
	case v.Gated():
		var gates []string
		for _, d := range v.Gates() {
			if !slices.Contains(gates, string(d.Gate)) {
				gates = append(gates, string(d.Gate))
			}
		}
		return "waits: " + strings.Join(gates, ", ")
	case v.Approval.Required && !v.Approval.Satisfied:
		return "allowed, needs approval"
	}
	return "allowed"
}

func writeVerdict(b *strings.Builder, v policy.Verdict, f Format) {
	state := VerdictState(v)
	// Everything but the marks comes from the policy, the config or the
	// pull request: escaped for the terminal or for GitHub's markdown.
	text, code := plan.VisibleText, plan.VisibleText
	markdown := f == Markdown
	if markdown {
		text, code = plan.MarkdownText, plan.MarkdownCode
		fmt.Fprintf(b, "#### %s: %s\n\n", code(v.Environment), state)
	} else {
		fmt.Fprintf(b, "  %s: %s\n", text(v.Environment), state)
	}
	line := func(mark, format string, args ...any) {
		if markdown {
			fmt.Fprintf(b, "- %s %s\n", mark, fmt.Sprintf(format, args...))
		} else {
			fmt.Fprintf(b, "    %s %s\n", mark, fmt.Sprintf(format, args...))
		}
	}
	list := func(ss []string) string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = code(s)
		}
		return strings.Join(out, ", ")
	}
	for _, d := range v.ChangeDenies() {
		line("✗", "%s: %s", code(d.Rule), text(d.Message))
	}
	for _, d := range v.Gates() {
		line("⏱", "%s: %s", code(d.Rule), text(d.Message))
	}
	for _, d := range v.Warn {
		line("!", "%s: %s", code(d.Rule), text(d.Message))
	}
	if a := v.Approval; a.Required {
		status := "missing"
		if a.Satisfied {
			status = "given by " + list(a.ApprovedBy)
		} else if len(a.ApprovedBy) > 0 {
			status = "so far " + list(a.ApprovedBy)
		}
		for _, r := range a.Requirements {
			rf := "anyone with write access"
			if len(r.From) > 0 {
				rf = list(r.From)
			}
			mark := "○"
			if r.Satisfied {
				mark = "✓"
			}
			line(mark, "approval: %d of %s (%s)", r.Min, rf, text(strings.Join(r.Reasons, "; ")))
		}
		line("·", "approvals: %s", status)
	}
	if v.NextWindow != nil {
		line("⏱", "next deployment window: %s", v.NextWindow.UTC().Format(time.RFC3339))
	}
	for _, e := range v.Errors {
		line("✗", "policy error: %s", text(e.String()))
	}
	for _, p := range v.Prints {
		line("·", "print: %s", text(p))
	}
	if markdown {
		b.WriteString("\n")
	}
}

// ShortDigest shortens a digest for people ("sha256:0123456789ab").
func ShortDigest(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}
