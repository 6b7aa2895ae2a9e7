package checks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// The plan's text in a check run reads like plan.Plan.Markdown (the same
// change lines, marks and detail tables), but is built here: it follows the
// promotion order rather than the plan's, leaves the summary table to the
// run's summary, and, when it must be cut, leaves out the least important
// first and says so, with the command that shows it all.

// Bounds on what one item shows of what a pull request wrote, before it is
// escaped: one hostile value cannot crowd out the rest.
const (
	maxIDShown      = 200
	maxMessageShown = 2000
	maxReasons      = 20
	maxDetailRows   = 50
	maxValueShown   = 120 // as plan shows a detail value
)

// Ranks of the plan's items: the highest is left out first. Breaking
// changes and errors go last.
const (
	rankError           = 1
	rankBreaking        = 2
	rankBreakingDetails = 3
	rankWarning         = 4
	rankHigh            = 5
	rankHighDetails     = 6
	rankMedium          = 7
	rankLow             = 8
	rankMediumDetails   = 9
	rankLowDetails      = 10
)

// Kinds of the plan's items, as the notes count them.
const (
	kindChange  = "change"
	kindDetails = "details"
	kindError   = "error"
	kindWarning = "warning"
)

var planOmissions = []omissionKind{
	nouns(kindError, "error", "errors"),
	nouns(kindWarning, "warning", "warnings"),
	nouns(kindChange, "change", "changes"),
	{key: kindDetails, phrase: func(n int) string { return "the field details of " + countOf(n, "change", "changes") }},
}

// planDoc builds the text of the plan run: a section per environment, in
// the order given.
func planDoc(p *plan.Plan, envs []*plan.Environment, command string) *doc {
	d := &doc{
		line: func(c omitted) string {
			return "- _Not shown here: " + describe(c, planOmissions) + "._\n"
		},
		note: func(c omitted, sections int) string {
			what := describe(c, planOmissions)
			if sections > 0 {
				envs := countOf(sections, "more environment", "more environments")
				if what == "" {
					what = envs
				} else {
					what += ", and " + envs
				}
			}
			return fmt.Sprintf("\n**The plan is cut to fit in a check run** (GitHub shows at most %s characters): %s not shown. %s\n",
				thousands(MaxOutput), what, seeAll(command))
		},
	}
	if len(envs) == 0 {
		s := &section{head: "### Repository\n\n", tail: "\n"}
		if len(p.Errors)+len(p.Warnings) == 0 {
			s.head += "No environments to plan.\n\n"
		}
		s.items = append(s.items, diagItems(p.Errors, config.SeverityError)...)
		s.items = append(s.items, diagItems(p.Warnings, config.SeverityWarning)...)
		d.sections = append(d.sections, s)
		return d
	}
	for _, e := range envs {
		s := &section{
			head: fmt.Sprintf("### %s\n\n**%s** Risk: %s.\n\n", plan.MarkdownCode(cutRunes(e.Name, maxIDShown)), e.SummaryLine(), plan.MarkdownText(string(riskOf(e.Risk)))),
			tail: "\n",
		}
		s.items = append(s.items, diagItems(e.Errors, config.SeverityError)...)
		s.items = append(s.items, diagItems(e.Warnings, config.SeverityWarning)...)
		changes := make([]*plan.Change, len(e.Changes))
		for i := range e.Changes {
			changes[i] = &e.Changes[i]
		}
		slices.SortStableFunc(changes, func(a, b *plan.Change) int {
			switch {
			case a.Breaking == b.Breaking:
				return 0
			case a.Breaking:
				return -1
			}
			return 1
		})
		for _, c := range changes {
			s.items = append(s.items, changeItem(c))
		}
		d.sections = append(d.sections, s)
	}
	return d
}

// seeAll says how to see the whole plan.
func seeAll(command string) string {
	if command == "" {
		return "Run `honua-gitops plan` on the two commits to see it all."
	}
	return "See it all with " + plan.MarkdownCode(command) + "."
}

func diagItems(ds []config.Diagnostic, s config.Severity) []*item {
	out := make([]*item, 0, len(ds))
	for _, d := range ds {
		it := &item{rank: rankError, kind: kindError}
		label := ":x: **error**"
		if s == config.SeverityWarning {
			it.rank, it.kind = rankWarning, kindWarning
			label = ":warning: warning"
		}
		it.render = func() string {
			return fmt.Sprintf("- %s %s: %s\n", label, plan.MarkdownCode(cutRunes(d.Pos().String(), maxIDShown)), plan.MarkdownText(cutRunes(d.Message, maxMessageShown)))
		}
		out = append(out, it)
	}
	return out
}

// changeItem renders a change as plan.Plan.Markdown does: its line, its
// reasons and secret references, and its field details in a <details>
// block, at most maxDetailRows of them.
func changeItem(c *plan.Change) *item {
	it := &item{kind: kindChange}
	var details int
	switch {
	case c.Breaking:
		it.rank, details = rankBreaking, rankBreakingDetails
	case riskOf(c.Risk) == plan.RiskLow:
		it.rank, details = rankLow, rankLowDetails
	case riskOf(c.Risk) == plan.RiskMedium:
		it.rank, details = rankMedium, rankMediumDetails
	default:
		it.rank, details = rankHigh, rankHighDetails
	}
	it.render = func() string { return changeLines(c) }
	if len(c.Details) > 0 {
		it.details = &item{rank: details, kind: kindDetails, render: func() string { return detailsBlock(c) }}
	}
	return it
}

// changeLines is a change's line, its reasons and its secret references.
func changeLines(c *plan.Change) string {
	var sb strings.Builder
	sb.WriteString("- ")
	if c.Breaking {
		sb.WriteString(":warning: **BREAKING** ")
	}
	fmt.Fprintf(&sb, "`%s` %s %s", actionSign(c.Action), plan.MarkdownText(cutRunes(string(c.Kind), maxIDShown)), plan.MarkdownCode(cutRunes(c.ID, maxIDShown)))
	if len(c.Collections) > 0 {
		const shown = 3
		codes := make([]string, 0, shown)
		for _, col := range c.Collections[:min(shown, len(c.Collections))] {
			codes = append(codes, plan.MarkdownCode(cutRunes(col, maxIDShown)))
		}
		list := strings.Join(codes, ", ")
		if n := len(c.Collections) - len(codes); n > 0 {
			list += fmt.Sprintf(" and %d more", n)
		}
		sb.WriteString(" (" + list + ")")
	}
	sb.WriteString("\n")
	for i, r := range c.Reasons {
		if i == maxReasons {
			fmt.Fprintf(&sb, "  - … %s\n", countOf(len(c.Reasons)-i, "more reason", "more reasons"))
			break
		}
		sb.WriteString("  - " + plan.MarkdownText(cutRunes(r, maxMessageShown)) + "\n")
	}
	// Where secrets go is never folded away with the details.
	for i, r := range c.SecretRefs {
		if i == maxReasons {
			fmt.Fprintf(&sb, "  - :key: … %s\n", countOf(len(c.SecretRefs)-i, "more secret reference", "more secret references"))
			break
		}
		sb.WriteString("  - :key: " + plan.MarkdownText(cutRunes(secretRefLine(r), maxMessageShown)) + "\n")
	}
	return sb.String()
}

// detailsBlock is a change's field details in a <details> block, at most
// maxDetailRows of them.
func detailsBlock(c *plan.Change) string {
	var d strings.Builder
	fmt.Fprintf(&d, "  <details><summary>%s</summary>\n\n", countOf(len(c.Details), "changed field", "changed fields"))
	d.WriteString("  | Field | From | To |\n  |---|---|---|\n")
	for i, det := range c.Details {
		if i == maxDetailRows {
			fmt.Fprintf(&d, "  | … %s | | |\n", countOf(len(c.Details)-i, "more field", "more fields"))
			break
		}
		fmt.Fprintf(&d, "  | %s | %s | %s |\n", plan.MarkdownCode(cutRunes(det.Path, maxIDShown)), plan.MarkdownCode(detailValue(det.From)), plan.MarkdownCode(detailValue(det.To)))
	}
	d.WriteString("\n  </details>\n\n")
	return d.String()
}

// detailValue formats a detail's value as plan does: compact JSON, "(none)"
// when absent, cut to maxValueShown characters (MarkdownCode then makes it
// visible and inert).
func detailValue(v any) string {
	if v == nil {
		return "(none)"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	s := ""
	if err := enc.Encode(v); err != nil {
		s = fmt.Sprint(v)
	} else {
		s = strings.TrimSuffix(buf.String(), "\n")
	}
	if utf8.RuneCountInString(s) <= maxValueShown {
		return s
	}
	return cutRunes(s, maxValueShown-1)
}

// secretRefLine says what a change does with a secret reference, by name
// and place, as plan's renderers do: "${PG_PASSWORD} added to
// connectionString (password)".
func secretRefLine(r plan.SecretRef) string {
	verb := "added to"
	if r.Action == plan.ActionRemove {
		verb = "removed from"
	}
	s := "${" + r.Name + "} " + verb + " " + r.Path
	if r.Part != "" {
		s += " (" + r.Part + ")"
	}
	return s
}

func actionSign(a plan.Action) string {
	switch a {
	case plan.ActionAdd:
		return "+"
	case plan.ActionRemove:
		return "-"
	}
	return "~"
}

func riskOf(r plan.Risk) plan.Risk {
	if r == "" {
		return plan.RiskLow
	}
	return r
}
