package plan

import (
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

const wj = "\u2060" // the word joiner MarkdownText writes

// hostile are strings a config may hold that try to change what a plan
// shows: markup, mentions, references, autolinks, line breaks, terminal
// escapes and bidi overrides.
var hostile = []string{
	"[click](https://evil.example)",
	"![img](http://evil.example/x.png)",
	"<details><summary>ok</summary>hidden</details>",
	"<!-- hidden -->",
	"<img src=x onerror=alert(1)>",
	"@org/team @someone",
	"fixes #1 and GH-2 and org/repo#3",
	"see https://evil.example and ftp://x.y",
	"www.evil.example and WWW.EVIL.EXAMPLE",
	"mail a@b.c",
	"a|b||c",
	"`code` ``two``",
	"line\n\nPlan: 0 to add, 0 to change, 0 to remove.\n",
	"\x1b[8mhidden\x1b[0m\x1b]8;;https://evil\x07link",
	"abc\u202edcba\u2066x\u2069",
	"zero\u200bwidth\ufeff",
	"c1 \u009b31m",
	"- item",
	"1. item",
	"# heading",
	"> quote",
	"    indented",
	"*bold* _it_ ~~gone~~ $x^2$",
	"&lt;b&gt; &#60;",
	"`[click](https://evil)`",
	"\xff\xfe invalid",
	"",
}

func TestVisible(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "gis.parcels", "gis.parcels"},
		{"non-ASCII letters stay", "Oʻahu – Kailua ✓", "Oʻahu – Kailua ✓"},
		{"backslashes stay", `C:\data\n`, `C:\data\n`},
		{"newline, return, tab", "a\nb\r\nc\td", `a\nb\r\nc\td`},
		{"ESC and BEL", "\x1b[8m\x07", `\x1b[8m\x07`},
		{"DEL", "a\x7fb", `a\x7fb`},
		{"C1 CSI", "\u009b31m", `\u009b31m`},
		{"bidi override and isolates", "a\u202eb\u2066c\u2069", `a\u202eb\u2066c\u2069`},
		{"zero width and BOM", "a\u200bb\u200dc\ufeff", `a\u200bb\u200dc\ufeff`},
		{"line and paragraph separators", "a\u2028b\u2029", `a\u2028b\u2029`},
		{"tag characters", "a\U000e0041", `a\U000e0041`},
		{"invalid UTF-8", "a\xffb", `a\xffb`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := visible(tt.in)
			if got != tt.want {
				t.Errorf("visible(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := visible(got); again != got {
				t.Errorf("visible is not idempotent: %q, then %q", got, again)
			}
		})
	}
}

func TestMarkdownText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "geometryType Polygon → MultiPolygon", "geometryType Polygon → MultiPolygon"},
		{"link", "[click](https://evil.example)", `\[click\](https:` + wj + `//evil.example)`},
		{"image", "![i](http://x/y.png)", `!\[i\](http:` + wj + `//x/y.png)`},
		{"details block", "<details><summary>x</summary>", "&lt;details&gt;&lt;summary&gt;x&lt;/summary&gt;"},
		{"comment", "<!-- hidden -->", "&lt;!-- hidden --&gt;"},
		{"mention and team", "@org/team and @me", "@" + wj + "org/team and @" + wj + "me"},
		{"issue references", "#1 GH-2 org/repo#3 #x", `\#` + wj + `1 GH-` + wj + `2 org/repo\#` + wj + `3 \#x`},
		{"URL autolink", "see https://x.y", "see https:" + wj + "//x.y"},
		{"www autolink", "www.x.y WWW.X.Y", "www" + wj + `.x.y WWW` + wj + ".X.Y"},
		{"email autolink", "a@b.c", "a@" + wj + "b.c"},
		{"table pipes", "a|b", `a\|b`},
		{"backticks", "`code`", "\\`code\\`"},
		{"newlines shown, not kept", "a\nb", `a\\nb`},
		{"ESC shown", "\x1b[31m", `\\x1b\[31m`},
		{"bidi override shown", "a\u202eb", `a\\u202eb`},
		{"emphasis, strikethrough, math", "*b* _i_ ~s~ $x$", `\*b\* \_i\_ \~s\~ \$x\$`},
		{"list item", "- item", `\- item`},
		{"ordered list item", "12. item", `12\. item`},
		{"setext underline", "===", `\===`},
		{"heading", "# h", `\# h`},
		{"quote", "> q", "&gt; q"},
		{"indented code", "    code", "&#32;   code"},
		{"entities, and '#' before a digit", "&lt; &#60;", `&amp;lt; &amp;\#` + wj + "60;"},
		{"hyphens and dots mid-line stay", "bike-lanes 1.5 a::b", "bike-lanes 1.5 a::b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MarkdownText(tt.in); got != tt.want {
				t.Errorf("MarkdownText(%q) =\n  %q, want\n  %q", tt.in, got, tt.want)
			}
		})
	}
	for _, s := range hostile {
		md := MarkdownText(s)
		checkInlineMarkdown(t, "MarkdownText", s, md)
		if strings.Contains(md, "\n") {
			t.Errorf("MarkdownText(%q) = %q: a line break", s, md)
		}
	}
}

func TestMarkdownCode(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "gis.parcels", "`gis.parcels`"},
		{"markup is inert in a code span", "<b>[x](https://y) @me #1 www.x.y", "`<b>[x](https://y) @me #1 www.x.y`"},
		{"pipe", "a|b", "<code>a&#124;b</code>"},
		{"backtick and link", "`[click](https://evil)`", "<code>&#96;&#91;click&#93;&#40;https&#58;&#47;&#47;evil&#41;&#96;</code>"},
		{"backtick, HTML and mention", "a`<i>@b", "<code>a&#96;&#60;i&#62;&#64;b</code>"},
		{"empty", "", "<code></code>"},
		{"newline shown", "a\nb", "`a\\nb`"},
		{"ESC and bidi override shown", "\x1b[8m\u202e", "`\\x1b[8m\\u202e`"},
		{"newline with a pipe", "a|\nb", "<code>a&#124;&#92;nb</code>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MarkdownCode(tt.in); got != tt.want {
				t.Errorf("MarkdownCode(%q) =\n  %q, want\n  %q", tt.in, got, tt.want)
			}
		})
	}
	for _, s := range hostile {
		md := MarkdownCode(s)
		checkInlineMarkdown(t, "MarkdownCode", s, md)
		if strings.Contains(md, "\n") {
			t.Errorf("MarkdownCode(%q) = %q: a line break", s, md)
		}
	}
}

var (
	codeElement = regexp.MustCompile("<code>(.*?)</code>")
	numericRef  = regexp.MustCompile("&#[0-9]+;")
	ourTags     = regexp.MustCompile("</?(details|summary)>")
	digitAfter  = regexp.MustCompile(`#[0-9]|(?i)gh-[0-9]`)
)

// checkInlineMarkdown checks that md, the markdown of the user string s
// (or a document holding such strings), can form nothing but text and
// code: outside code, no raw HTML, no unescaped link or image brackets, no
// mention, reference or autolink GitHub would find, no line break or
// invisible character but the word joiner.
func checkInlineMarkdown(t *testing.T, what, s, md string) {
	t.Helper()
	fail := func(why string) { t.Errorf("%s(%q) = %q: %s", what, s, md, why) }
	for _, line := range strings.Split(md, "\n") {
		for _, m := range codeElement.FindAllStringSubmatch(line, -1) {
			if rest := numericRef.ReplaceAllString(m[1], ""); strings.ContainsFunc(rest, asciiPunct) {
				fail("a <code> element holds raw punctuation, which GitHub parses as markdown")
			}
		}
		// GitHub's filters read the text after character references are
		// decoded: ours (&#32;) are spaces there.
		text := numericRef.ReplaceAllString(outsideCode(codeElement.ReplaceAllString(line, " ")), " ")
		if strings.HasPrefix(line, "  | ") && strings.Count(unescaped(line, '|'), "|") != 4 {
			fail("a table row has another number of cells")
		}
		text = ourTags.ReplaceAllString(text, "")
		switch {
		case strings.Contains(text, "<"):
			fail("raw '<' outside code")
		case strings.ContainsAny(unescaped(text, '['), "[") || strings.ContainsAny(unescaped(text, ']'), "]"):
			fail("an unescaped bracket can make a link or image")
		case strings.Contains(strings.ReplaceAll(text, "@"+wj, ""), "@"):
			fail("a mention or email autolink")
		case digitAfter.MatchString(text):
			fail("an issue reference")
		case strings.Contains(text, "://"), strings.Contains(strings.ToLower(text), "www."):
			fail("an autolink")
		}
	}
	if strings.ContainsFunc(strings.ReplaceAll(md, wj, ""), func(r rune) bool {
		return r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029')
	}) {
		fail("a raw control or format character")
	}
}

// outsideCode returns line without its code spans (backticks not escaped
// with a backslash open and close them).
func outsideCode(line string) string {
	var sb strings.Builder
	in := false
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && !in:
			sb.WriteString(line[i : i+2])
			i++
		case line[i] == '`':
			in = !in
			sb.WriteByte(' ')
		case !in:
			sb.WriteByte(line[i])
		}
	}
	return sb.String()
}

// unescaped returns s without the occurrences of c escaped by a backslash.
func unescaped(s string, c byte) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `\\`, ""), `\`+string(c), "")
}

// hostilePlan plans, with Compute, a layer whose storage.table becomes a
// string that draws a fake summary line and hides what follows, in an
// environment whose name, ids and diagnostics are hostile too.
func hostilePlan() *Plan {
	const table = "t\n\nPlan: 0 to add, 0 to change, 0 to remove.\n\x1b[8m"
	const env = "prod\x1b[2J\u202e"
	svc := "planning\n@org/team"
	base := baseObjects()
	base = append(base, object(config.KindLayer, "evil\nPlan: 0 to add.", "layers/evil.yaml", layerValue("evil\nPlan: 0 to add.", svc)))
	head := mutated(base, parcels, func(v map[string]any) {
		sub(v, "storage")["table"] = table
		v["title"] = "[click](https://evil.example) <details><summary>x</summary>"
	})
	head = mutated(head, config.KeyOf(config.KindLayer, "evil\nPlan: 0 to add."), func(v map[string]any) {
		sub(v, "storage")["table"] = "x|y`z\u202e#1"
		fieldOf(v, "owner")["type"] = "<img src=x>"
	})
	e := newEnv(env, head...)
	e.Diagnostics = []config.Diagnostic{{
		Severity: config.SeverityError, File: "layers/x\n\x1b[8m.yaml", Line: 1, Column: 1, Rule: "reference",
		Message: "layer x: serviceId @org/team #1 www.evil.example is not a service\nPlan: 0 to add, 0 to change, 0 to remove.",
	}}
	return Compute(newState(newEnv(env, base...)), newState(e), nil)
}

// TestTextCannotBeSpoofed: whatever the config holds, the text plan has
// one summary line per environment, no escape sequence but its own colours
// and no bidi override.
func TestTextCannotBeSpoofed(t *testing.T) {
	p := hostilePlan()
	if len(p.Environments) != 1 || len(p.Environments[0].Changes) != 2 {
		t.Fatalf("the hostile plan has %d environments, want 1 with 2 changes", len(p.Environments))
	}
	ours := regexp.MustCompile(`\x1b\[(0|1|31|32|33|1;31)m`)
	for _, color := range []bool{false, true} {
		var sb strings.Builder
		if err := p.WriteText(&sb, color); err != nil {
			t.Fatal(err)
		}
		out := sb.String()
		summaries := 0
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(ours.ReplaceAllString(line, ""), "Plan:") {
				summaries++
			}
		}
		if summaries != 1 {
			t.Errorf("color=%v: %d lines start with Plan:, want 1:\n%s", color, summaries, out)
		}
		if rest := ours.ReplaceAllString(out, ""); strings.ContainsAny(rest, "\x1b\u009b\u202e\u2066\u200b") {
			t.Errorf("color=%v: the text holds an escape or format character of its input:\n%q", color, out)
		}
		for _, want := range []string{`storage.table gis.parcels → t\n\nPlan: 0 to add, 0 to change, 0 to remove.\n\x1b[8m switches`, `Environment prod\x1b[2J\u202e`} {
			if !strings.Contains(ours.ReplaceAllString(out, ""), want) {
				t.Errorf("color=%v: the text does not show %q visibly:\n%s", color, want, out)
			}
		}
	}
}

// TestMarkdownCannotBeHijacked: whatever the config holds, the markdown
// plan forms no link, image, mention, reference, HTML or table break.
func TestMarkdownCannotBeHijacked(t *testing.T) {
	p := hostilePlan()
	// And every field a renderer shows, by hand.
	for _, s := range hostile {
		p.Environments = append(p.Environments, Environment{
			Name: s,
			Changes: []Change{{
				Kind: config.Kind(s), ID: s, Action: ActionModify, Breaking: true, Risk: Risk(s),
				Reasons: []string{s}, Collections: []string{s, s + "::" + s},
				Details: []Detail{{Path: s, From: s, To: map[string]any{s: s}}},
			}},
			Errors: []config.Diagnostic{{File: s, Line: 1, Message: s}},
		})
	}
	md := p.Markdown(0)
	checkInlineMarkdown(t, "Markdown", "(a hostile plan)", md)
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| ") && strings.Count(unescaped(line, '|'), "|") != 9 {
			t.Errorf("summary table row with another number of cells: %q", line)
		}
	}
}
