package plan

import (
	"fmt"
	"html"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// CheckRunLimit is the most characters GitHub accepts in a check run's
// output summary or text.
const CheckRunLimit = 65535

// WriteMarkdown writes the plan as GitHub-flavoured markdown: a summary
// table of every environment, then per environment its errors and warnings
// and its changes, breaking ones first and marked, each with its field
// details in a <details> block.
func (p *Plan) WriteMarkdown(w io.Writer) error {
	if _, err := io.WriteString(w, p.Markdown(0)); err != nil {
		return fmt.Errorf("writing plan as markdown: %w", err)
	}
	return nil
}

// Markdown returns the markdown of WriteMarkdown in at most limit bytes
// (and so at most limit characters); limit <= 0 means no limit. When the
// whole plan does not fit, it keeps, in this order of preference, the summary
// table and every environment's summary, errors, breaking changes with their
// reasons, warnings, the other changes, and then the field details of the
// changes kept, and ends with "… N more changes not shown.". Kept items stay
// in document order.
func (p *Plan) Markdown(limit int) string {
	blocks := p.markdownBlocks()
	var full strings.Builder
	for _, b := range blocks {
		full.WriteString(b.full())
	}
	if limit <= 0 || full.Len() <= limit {
		return full.String()
	}
	return fit(blocks, limit)
}

// A block is one piece of the markdown: the title and table, an
// environment's header, one diagnostic or one change.
type block struct {
	text    string // what is always shown when the block is kept
	details string // the change's details, shown when there is room
	prio    int
	change  bool
	diag    bool
	// keep and expand are set by fit.
	keep, expand bool
}

func (b *block) full() string { return b.text + b.details }

// The priorities of blocks when the markdown must be cut, most wanted first.
const (
	prioSummary = iota
	prioError
	prioBreaking
	prioWarning
	prioChange
)

func (p *Plan) markdownBlocks() []*block {
	var bs []*block
	var sb strings.Builder
	sb.WriteString("## Honua plan\n\n")
	if len(p.Environments) == 0 {
		sb.WriteString("No environments to plan.\n\n")
	} else {
		sb.WriteString("| Environment | Add | Change | Remove | Breaking | Risk | Errors | Warnings |\n")
		sb.WriteString("|---|---:|---:|---:|---:|---|---:|---:|\n")
		for _, e := range p.Environments {
			s := e.Summary
			breaking := fmt.Sprint(s.Breaking)
			if s.Breaking > 0 {
				breaking = "**" + breaking + "**"
			}
			fmt.Fprintf(&sb, "| %s | %d | %d | %d | %s | %s | %d | %d |\n",
				mdCode(e.Name), s.Added, s.Modified, s.Removed, breaking, riskOr(e.Risk), len(e.Errors), len(e.Warnings))
		}
		sb.WriteString("\n")
	}
	bs = append(bs, &block{text: sb.String(), prio: prioSummary})
	if len(p.Environments) == 0 {
		bs = append(bs, diagBlocks(p.Errors, config.SeverityError)...)
		bs = append(bs, diagBlocks(p.Warnings, config.SeverityWarning)...)
	}
	for i := range p.Environments {
		e := &p.Environments[i]
		head := fmt.Sprintf("### %s\n\n**%s** Risk: %s.\n\n", mdCode(e.Name), summaryLine(e), riskOr(e.Risk))
		bs = append(bs, &block{text: head, prio: prioSummary})
		bs = append(bs, diagBlocks(e.Errors, config.SeverityError)...)
		bs = append(bs, diagBlocks(e.Warnings, config.SeverityWarning)...)
		changes := make([]*Change, len(e.Changes))
		for j := range e.Changes {
			changes[j] = &e.Changes[j]
		}
		sort.SliceStable(changes, func(a, b int) bool { return changes[a].Breaking && !changes[b].Breaking })
		for _, c := range changes {
			bs = append(bs, changeBlock(c))
		}
		// End the environment's list.
		bs = append(bs, &block{text: "\n", prio: prioSummary})
	}
	return bs
}

func diagBlocks(ds []config.Diagnostic, s config.Severity) []*block {
	out := make([]*block, 0, len(ds))
	for _, d := range ds {
		b := &block{diag: true, prio: prioError}
		label := ":x: **error**"
		if s == config.SeverityWarning {
			b.prio = prioWarning
			label = ":warning: warning"
		}
		b.text = fmt.Sprintf("- %s %s: %s\n", label, mdCode(d.Pos().String()), mdText(d.Message))
		out = append(out, b)
	}
	return out
}

func changeBlock(c *Change) *block {
	b := &block{change: true, prio: prioChange}
	sign, _ := actionSign(c.Action)
	var sb strings.Builder
	sb.WriteString("- ")
	if c.Breaking {
		b.prio = prioBreaking
		sb.WriteString(":warning: **BREAKING** ")
	}
	fmt.Fprintf(&sb, "`%s` %s %s", sign, c.Kind, mdCode(c.ID))
	if len(c.Collections) > 0 {
		shown := c.Collections
		if len(shown) > maxCollectionsShown {
			shown = shown[:maxCollectionsShown]
		}
		codes := make([]string, len(shown))
		for i, s := range shown {
			codes[i] = mdCode(s)
		}
		list := strings.Join(codes, ", ")
		if n := len(c.Collections) - len(shown); n > 0 {
			list += fmt.Sprintf(" and %d more", n)
		}
		sb.WriteString(" (" + list + ")")
	}
	sb.WriteString("\n")
	for _, r := range c.Reasons {
		sb.WriteString("  - " + mdText(r) + "\n")
	}
	b.text = sb.String()
	if len(c.Details) > 0 {
		var d strings.Builder
		fmt.Fprintf(&d, "  <details><summary>%s</summary>\n\n", plural(len(c.Details), "changed field", "changed fields"))
		d.WriteString("  | Field | From | To |\n  |---|---|---|\n")
		for _, det := range c.Details {
			fmt.Fprintf(&d, "  | %s | %s | %s |\n", mdCode(det.Path), mdCode(formatValue(det.From)), mdCode(formatValue(det.To)))
		}
		d.WriteString("\n  </details>\n\n")
		b.details = d.String()
	}
	return b
}

// fit keeps the most wanted blocks that fit in limit bytes with the footer.
func fit(blocks []*block, limit int) string {
	changes, diags := 0, 0
	for _, b := range blocks {
		if b.change {
			changes++
		}
		if b.diag {
			diags++
		}
	}
	// Reserve room for the longest footer there can be.
	budget := limit - len(footer(changes, diags))
	used := 0
	for prio := prioSummary; prio <= prioChange; prio++ {
		complete := true
		for _, b := range blocks {
			if b.prio != prio {
				continue
			}
			if used+len(b.text) > budget {
				complete = false
				break // keep what is kept a prefix, in document order
			}
			b.keep = true
			used += len(b.text)
		}
		if !complete && prio == prioSummary {
			// Not even the summaries fit: an item without its
			// environment's header would mislead; cut below instead.
			break
		}
	}
	for prio := prioBreaking; prio <= prioChange; prio++ {
		for _, b := range blocks {
			if b.prio != prio || !b.keep || b.details == "" {
				continue
			}
			if used+len(b.details) > budget {
				break
			}
			b.expand = true
			used += len(b.details)
		}
	}
	var sb strings.Builder
	omittedChanges, omittedDiags := 0, 0
	for _, b := range blocks {
		switch {
		case b.keep && b.expand:
			sb.WriteString(b.full())
		case b.keep:
			sb.WriteString(b.text)
		case b.change:
			omittedChanges++
		case b.diag:
			omittedDiags++
		}
	}
	sb.WriteString(footer(omittedChanges, omittedDiags))
	return cut(sb.String(), limit)
}

// footer says what was left out: the "… N more changes not shown." line
// comes last.
func footer(changes, diags int) string {
	var sb strings.Builder
	sb.WriteString("\n")
	if diags > 0 {
		fmt.Fprintf(&sb, "… %d more errors and warnings not shown.\n", diags)
	}
	fmt.Fprintf(&sb, "… %d more changes not shown.\n", changes)
	return sb.String()
}

// cut is the last guard of the limit, for a plan whose summaries alone do
// not fit: it cuts at a rune boundary and says so.
func cut(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	const mark = "\n…\n"
	if limit < len(mark) {
		return ""
	}
	n := limit - len(mark)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + mark
}

// mdCode shows s as code: in backticks when it can be, else as an HTML
// <code> element, which also holds table pipes and backticks safely.
func mdCode(s string) string {
	if s != "" && !strings.ContainsAny(s, "`|\n\r") {
		return "`" + s + "`"
	}
	r := strings.NewReplacer("|", "&#124;", "\n", " ", "\r", " ", "`", "&#96;")
	return "<code>" + r.Replace(html.EscapeString(s)) + "</code>"
}

// mdText escapes prose (a reason, a diagnostic message) so that text from
// the config cannot turn into markup, links or HTML.
var mdTextEscaper = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;",
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "|", `\|`, "~", `\~`, "#", `\#`,
	"\n", " ", "\r", " ",
)

func mdText(s string) string { return mdTextEscaper.Replace(s) }
