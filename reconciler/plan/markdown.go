package plan

import (
	"fmt"
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
				MarkdownCode(e.Name), s.Added, s.Modified, s.Removed, breaking, MarkdownText(string(riskOr(e.Risk))), len(e.Errors), len(e.Warnings))
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
		head := fmt.Sprintf("### %s\n\n**%s** Risk: %s.\n\n", MarkdownCode(e.Name), summaryLine(e), MarkdownText(string(riskOr(e.Risk))))
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
		b.text = fmt.Sprintf("- %s %s: %s\n", label, MarkdownCode(d.Pos().String()), MarkdownText(d.Message))
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
	fmt.Fprintf(&sb, "`%s` %s %s", sign, MarkdownText(string(c.Kind)), MarkdownCode(c.ID))
	if len(c.Collections) > 0 {
		shown := c.Collections
		if len(shown) > maxCollectionsShown {
			shown = shown[:maxCollectionsShown]
		}
		codes := make([]string, len(shown))
		for i, s := range shown {
			codes[i] = MarkdownCode(s)
		}
		list := strings.Join(codes, ", ")
		if n := len(c.Collections) - len(shown); n > 0 {
			list += fmt.Sprintf(" and %d more", n)
		}
		sb.WriteString(" (" + list + ")")
	}
	sb.WriteString("\n")
	for _, r := range c.Reasons {
		sb.WriteString("  - " + MarkdownText(r) + "\n")
	}
	// Where secrets go is never folded away with the details.
	for _, r := range c.SecretRefs {
		sb.WriteString("  - :key: " + MarkdownText(secretRefLine(r)) + "\n")
	}
	b.text = sb.String()
	if len(c.Details) > 0 {
		var d strings.Builder
		fmt.Fprintf(&d, "  <details><summary>%s</summary>\n\n", plural(len(c.Details), "changed field", "changed fields"))
		d.WriteString("  | Field | From | To |\n  |---|---|---|\n")
		for _, det := range c.Details {
			fmt.Fprintf(&d, "  | %s | %s | %s |\n", MarkdownCode(det.Path), MarkdownCode(formatValue(det.From)), MarkdownCode(formatValue(det.To)))
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

// MarkdownCode returns s as inline code for GitHub-flavoured markdown, safe
// anywhere inline, table cells included, whatever s holds: it shows s and
// can form nothing else (no link, image, mention, issue reference, HTML,
// emphasis or table cell break). Control and format characters are shown
// as escapes (see MarkdownText).
//
// s is written in backticks when it holds no backtick and no '|': inside a
// code span GitHub parses no markdown, HTML, autolink or mention. Otherwise
// it is a <code> element, inside which GitHub still parses markdown and
// autolinks; there every ASCII punctuation character is written as a
// numeric character reference (&#91; for '['), which markdown does not read
// as syntax, so nothing can form, and which the browser shows as the
// character itself.
func MarkdownCode(s string) string {
	s = visible(s)
	if s != "" && !strings.ContainsAny(s, "`|") {
		return "`" + s + "`"
	}
	var sb strings.Builder
	sb.WriteString("<code>")
	for _, r := range s {
		if asciiPunct(r) {
			fmt.Fprintf(&sb, "&#%d;", r)
			continue
		}
		sb.WriteRune(r)
	}
	sb.WriteString("</code>")
	return sb.String()
}

// wordJoiner (U+2060) is invisible and joins nothing: written after '@', in
// "#1", "://" and "www.", it keeps GitHub from seeing a mention, an issue
// reference or an autolink, which it looks for in the text of the rendered
// HTML, where backslash escapes have already been consumed.
const wordJoiner = "\u2060"

// MarkdownText escapes s, a line of prose (a reason, a diagnostic message,
// a policy verdict), for GitHub-flavoured markdown so that it shows as
// written and can form nothing else: no link, image, mention, issue or
// pull request reference, autolink, raw HTML (and so no hidden <details> or
// <!-- --> block), emphasis, strikethrough, math, table cell break, nor, at
// the start of a line, a heading, list, quote or code block.
//
//   - control and format characters are shown as escapes (\n, \x1b,
//     \u202e: see visible), so s stays on one line and cannot reorder
//     what follows;
//   - '&', '<' and '>' are written as HTML entities;
//   - the punctuation markdown reads anywhere in a line (\ ` * _ [ ] # | ~
//     and $ for math) is backslash-escaped, and so is a first character
//     that would start a block (- + = or the '.' or ')' after leading
//     digits); a leading space is written as &#32;;
//   - GitHub finds mentions (@org/team), issue references (#1, GH-1) and
//     autolinks (https://x.y, www.x.y, a@b.c) in the text of the rendered
//     HTML, after backslash escapes are gone, so those get an invisible
//     U+2060 WORD JOINER: after '@', between '#' or "GH-" and a digit,
//     between ':' and "//", and between "www" and '.'. The text reads the
//     same; copied, it holds the joiners.
func MarkdownText(s string) string {
	s = visible(s)
	var sb strings.Builder
	sb.Grow(len(s) + len(s)/4)
	lead := leadingBlockMarker(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 0 && c == ' ':
			sb.WriteString("&#32;")
		case i == lead:
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c == '&':
			sb.WriteString("&amp;")
		case c == '<':
			sb.WriteString("&lt;")
		case c == '>':
			sb.WriteString("&gt;")
		case c == '@':
			sb.WriteString("@" + wordJoiner)
		case c == '#':
			sb.WriteString(`\#`)
			if i+1 < len(s) && isDigit(s[i+1]) {
				sb.WriteString(wordJoiner)
			}
		case c == '-' && i >= 2 && strings.EqualFold(s[i-2:i], "GH") && i+1 < len(s) && isDigit(s[i+1]):
			sb.WriteString("-" + wordJoiner)
		case c == ':' && strings.HasPrefix(s[i+1:], "//"):
			sb.WriteString(":" + wordJoiner)
		case (c == 'w' || c == 'W') && len(s)-i >= 4 && strings.EqualFold(s[i:i+4], "www."):
			sb.WriteString(s[i:i+3] + wordJoiner)
			i += 2 // the '.' comes next
		case strings.IndexByte("\\`*_[]|~$", c) >= 0:
			sb.WriteByte('\\')
			sb.WriteByte(c)
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// leadingBlockMarker returns the index of the character that would make s,
// at the start of a line, a list item, a setext underline or a thematic
// break ('-', '+' or '=' first, or the '.' or ')' after leading digits), or
// -1. The other block markers ('#', '>', '*', '_', '`', '~', '|' and
// leading spaces) are escaped wherever they are.
func leadingBlockMarker(s string) int {
	if s == "" {
		return -1
	}
	if strings.IndexByte("-+=", s[0]) >= 0 {
		return 0
	}
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i > 0 && i < len(s) && (s[i] == '.' || s[i] == ')') {
		return i
	}
	return -1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// asciiPunct reports whether r is one of the 32 ASCII punctuation
// characters, the only characters markdown syntax is made of.
func asciiPunct(r rune) bool {
	return r >= '!' && r <= '/' || r >= ':' && r <= '@' || r >= '[' && r <= '`' || r >= '{' && r <= '~'
}
