package plan

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// ANSI escapes of the text renderer.
const (
	ansiReset   = "\x1b[0m"
	ansiBold    = "\x1b[1m"
	ansiRed     = "\x1b[31m"
	ansiGreen   = "\x1b[32m"
	ansiYellow  = "\x1b[33m"
	ansiBoldRed = "\x1b[1;31m"
)

// maxCollectionsShown bounds the collections listed on one change line.
const maxCollectionsShown = 3

// WriteText writes the plan for a terminal, the way `terraform plan` reads:
// per environment a header, one line per change ("+" add, "~" modify, "-"
// remove) with its field details and breaking reasons below it, the
// environment's errors and warnings as file:line:col lines, and a summary
// line. color adds ANSI colours: green +, yellow ~, red -, bold red
// BREAKING.
func (p *Plan) WriteText(w io.Writer, color bool) error {
	t := textWriter{color: color}
	if len(p.Environments) == 0 {
		t.line("No environments to plan.")
		for _, d := range p.Errors {
			t.diagnostic("", d, config.SeverityError)
		}
		for _, d := range p.Warnings {
			t.diagnostic("", d, config.SeverityWarning)
		}
	}
	for i := range p.Environments {
		if i > 0 {
			t.line("")
		}
		t.environment(&p.Environments[i])
	}
	if _, err := io.WriteString(w, t.sb.String()); err != nil {
		return fmt.Errorf("writing plan as text: %w", err)
	}
	return nil
}

type textWriter struct {
	sb    strings.Builder
	color bool
}

func (t *textWriter) paint(code, s string) string {
	if !t.color {
		return s
	}
	return code + s + ansiReset
}

func (t *textWriter) line(s string) {
	t.sb.WriteString(s)
	t.sb.WriteByte('\n')
}

func (t *textWriter) environment(e *Environment) {
	t.line(t.paint(ansiBold, "Environment "+visible(e.Name)) + " (risk: " + visible(string(riskOr(e.Risk))) + ")")
	t.line("")
	for i := range e.Changes {
		t.change(&e.Changes[i])
	}
	if len(e.Changes) > 0 && len(e.Errors)+len(e.Warnings) > 0 {
		t.line("")
	}
	for _, d := range e.Errors {
		t.diagnostic("  ", d, config.SeverityError)
	}
	for _, d := range e.Warnings {
		t.diagnostic("  ", d, config.SeverityWarning)
	}
	if len(e.Changes)+len(e.Errors)+len(e.Warnings) > 0 {
		t.line("")
	}
	t.line(summaryLine(e))
	if n := len(e.Errors); n > 0 {
		t.line(t.paint(ansiRed, fmt.Sprintf("%s: Honua would reject this environment.", plural(n, "error", "errors"))))
	}
}

func (t *textWriter) change(c *Change) {
	sign, code := actionSign(c.Action)
	head := "  " + t.paint(code, sign) + " " + visible(string(c.Kind)) + " " + visible(c.ID)
	if len(c.Collections) > 0 {
		head += " (" + visible(listSome(c.Collections, maxCollectionsShown)) + ")"
	}
	if c.Breaking {
		head += "  " + t.paint(ansiBoldRed, "[BREAKING]")
	}
	t.line(head)
	for _, d := range c.Details {
		t.line("      " + visible(d.Path) + ": " + formatValue(d.From) + " → " + formatValue(d.To))
	}
	for _, r := range c.Reasons {
		t.line("      " + t.paint(ansiRed, "! "+visible(r)))
	}
	for _, r := range c.SecretRefs {
		t.line("      " + t.paint(ansiYellow, "secret "+visible(secretRefLine(r))))
	}
}

// secretRefLine says what a change does with a secret reference, by name
// and place: "${PG_PASSWORD} added to connectionString (password)".
func secretRefLine(r SecretRef) string {
	verb := "added to"
	if r.Action == ActionRemove {
		verb = "removed from"
	}
	s := "${" + r.Name + "} " + verb + " " + r.Path
	if r.Part != "" {
		s += " (" + r.Part + ")"
	}
	return s
}

func (t *textWriter) diagnostic(indent string, d config.Diagnostic, s config.Severity) {
	code := ansiRed
	if s == config.SeverityWarning {
		code = ansiYellow
	}
	t.line(indent + visible(d.Pos().String()) + ": " + t.paint(code, s.String()) + ": " + visible(d.Message))
}

// VisibleText returns s safe to print on a terminal as one line of text:
// control and invisible formatting characters written as visible escapes
// (see visible). The App and the CLI use it for any text from a config or
// a pull request, such as a policy's messages that quote ids.
func VisibleText(s string) string { return visible(s) }

// visible returns s with every character that could change how a terminal
// or an editor shows the text around it written as a visible escape: C0
// controls ("\n", "\r", "\t", "\x1b" ...), DEL, C1 controls ("\u009b",
// which some terminals read as ESC [), line and paragraph separators,
// Unicode format characters (category Cf: bidi overrides and isolates such
// as "\u202e", zero-width characters, tags) and bytes that are not UTF-8
// ("\xff"). A config value is then one line that shows what it holds: it
// cannot end the line, draw a fake summary, hide what follows or reorder
// it on screen.
//
// Backslashes stay as they are, so visible is idempotent: a reason built
// from escaped values reads the same when the writer escapes it again.
func visible(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, needsEscape) {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&sb, "\\x%02x", s[i])
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&sb, "\\x%02x", r)
		case needsEscape(r) && r > 0xffff:
			fmt.Fprintf(&sb, "\\U%08x", r)
		case needsEscape(r):
			fmt.Fprintf(&sb, "\\u%04x", r)
		default:
			sb.WriteString(s[i : i+size])
		}
		i += size
	}
	return sb.String()
}

// needsEscape reports whether visible escapes r.
func needsEscape(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f, r == '\u2028', r == '\u2029':
		return true
	case r < 0x80:
		return false
	}
	return unicode.Is(unicode.Cf, r)
}

func actionSign(a Action) (sign, code string) {
	switch a {
	case ActionAdd:
		return "+", ansiGreen
	case ActionRemove:
		return "-", ansiRed
	}
	return "~", ansiYellow
}

// SummaryLine is the one-line summary of an environment: "Plan: 1 to add,
// 1 to change, 0 to remove (1 breaking)." or "No changes.".
func (e *Environment) SummaryLine() string { return summaryLine(e) }

func summaryLine(e *Environment) string {
	s := e.Summary
	if s.Added+s.Modified+s.Removed == 0 {
		return "No changes."
	}
	line := fmt.Sprintf("Plan: %d to add, %d to change, %d to remove", s.Added, s.Modified, s.Removed)
	if s.Breaking > 0 {
		line += fmt.Sprintf(" (%d breaking)", s.Breaking)
	}
	return line + "."
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func riskOr(r Risk) Risk {
	if r == "" {
		return RiskLow
	}
	return r
}
