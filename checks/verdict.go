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
	lines := verdictLines(v, text, code, func(t time.Time) string { return t.UTC().Format(time.RFC3339) })
	for _, l := range lines {
		if markdown {
			fmt.Fprintf(b, "- %s %s\n", l.mark, l.text)
		} else {
			fmt.Fprintf(b, "    %s %s\n", l.mark, l.text)
		}
	}
	if markdown {
		b.WriteString("\n")
	}
}

// A verdictLine is one line of a verdict for people: a mark and escaped
// text. kind says what it is (a deny of the change, a gate, ...), for a
// renderer that must leave lines out.
type verdictLine struct {
	mark, text, kind string
}

// The kinds of verdict lines.
const (
	lineDeny     = "deny"
	lineGate     = "gate"
	lineWarn     = "warning"
	lineApproval = "approval"
	lineWindow   = "window"
	lineError    = "error"
	linePrint    = "print"
)

// verdictLines are the lines of a verdict, in the order people read them:
// denies of the change, gates of time, warnings, approvals, the next
// window, policy errors, print() output. text and code escape what comes
// from the policy, the config or the pull request; when formats times.
func verdictLines(v policy.Verdict, text, code func(string) string, when func(time.Time) string) []verdictLine {
	var out []verdictLine
	line := func(kind, mark, format string, args ...any) {
		out = append(out, verdictLine{mark: mark, text: fmt.Sprintf(format, args...), kind: kind})
	}
	list := func(ss []string) string {
		codes := make([]string, len(ss))
		for i, s := range ss {
			codes[i] = code(s)
		}
		return strings.Join(codes, ", ")
	}
	for _, d := range v.ChangeDenies() {
		line(lineDeny, "✗", "%s: %s", code(d.Rule), text(d.Message))
	}
	for _, d := range v.Gates() {
		line(lineGate, "⏱", "%s: %s", code(d.Rule), text(d.Message))
	}
	for _, d := range v.Warn {
		line(lineWarn, "!", "%s: %s", code(d.Rule), text(d.Message))
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
			line(lineApproval, mark, "approval: %d of %s (%s)", r.Min, rf, text(strings.Join(r.Reasons, "; ")))
		}
		line(lineApproval, "·", "approvals: %s", status)
	}
	if v.NextWindow != nil {
		line(lineWindow, "⏱", "next deployment window: %s", when(*v.NextWindow))
	}
	for _, e := range v.Errors {
		line(lineError, "✗", "policy error: %s", text(e.String()))
	}
	for _, p := range v.Prints {
		line(linePrint, "·", "print: %s", text(p))
	}
	return out
}

// ShortDigest shortens a digest for people ("sha256:0123456789ab").
func ShortDigest(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}
