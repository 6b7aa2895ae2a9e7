package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestNumbersFollowYAML12 reads plain scalars by YAML 1.2's core schema and
// refuses the forms YAML 1.1 reads differently (04326 was the octal 2262).
func TestNumbersFollowYAML12(t *testing.T) {
	tests := []struct {
		in      string
		want    any    // the value, when accepted
		refused string // part of the error, when refused
	}{
		{in: "4326", want: int64(4326)},
		{in: "-12", want: int64(-12)},
		{in: "+12", want: int64(12)},
		{in: "0", want: int64(0)},
		{in: "-0", want: int64(0)},
		{in: "0o17", want: int64(15)},
		{in: "0x1F", want: int64(31)},
		{in: "1.5", want: 1.5},
		{in: ".5", want: 0.5},
		{in: "01.5", want: 1.5},
		{in: "1e3", want: float64(1000)},
		{in: "1E+3", want: float64(1000)},
		{in: "12345678901234567890", want: 12345678901234567890.0},
		{in: "'04326'", want: "04326"},
		{in: "2024-01-05", want: "2024-01-05"},
		{in: "yes", want: "yes"},
		{in: "04326", refused: "04326 has a leading zero, which YAML 1.1 tools read as the octal number 2262 and YAML 1.2 as 4326: write 4326, or quote it (\"04326\")"},
		{in: "05000", refused: "YAML 1.1 tools read as the octal number 2560 and YAML 1.2 as 5000: write 5000"},
		{in: "09", refused: "09 has a leading zero, which YAML 1.1 tools read as not a number and YAML 1.2 as 9: write 9"},
		{in: "-007", refused: "YAML 1.2 as -7: write -7"},
		{in: "00", refused: "write 0,"},
		{in: "1_000", refused: "1_000 is the number 1000 in YAML 1.1 but text in YAML 1.2: write 1000"},
		{in: "0b101", refused: "0b101 is the number 5 in YAML 1.1 but text in YAML 1.2: write 5"},
		{in: "-0x1F", refused: "-0x1F is the number -31 in YAML 1.1 but text in YAML 1.2"},
		{in: "0O17", refused: "text in YAML 1.2"},
		{in: ".inf", refused: "not a finite number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			root, diags := ParseYAML("x.yaml", []byte("v: "+tt.in+"\n"), Limits{})
			if len(diags) > 0 {
				t.Fatal(diags)
			}
			v, diags := DecodeYAML("x.yaml", root, Limits{})
			got := v.(map[string]any)["v"]
			if tt.refused != "" {
				if len(diags) != 1 || !strings.Contains(diags[0].Message, tt.refused) {
					t.Fatalf("got %v %v, want an error containing %q", got, diags, tt.refused)
				}
				if d := diags[0]; d.Line != 1 || d.Column != 4 {
					t.Errorf("error at %d:%d, want 1:4", d.Line, d.Column)
				}
				return
			}
			if len(diags) > 0 || fmt.Sprintf("%T %v", got, got) != fmt.Sprintf("%T %v", tt.want, tt.want) {
				t.Fatalf("got %T %v %v, want %T %v", got, got, diags, tt.want, tt.want)
			}
		})
	}
}

// TestLeadingZeroInLayer is the case from the field: srid 04326 became 2262.
func TestLeadingZeroInLayer(t *testing.T) {
	files := minimal()
	files["environments/common/layers/streets.yaml"] = strings.Replace(files["environments/common/layers/streets.yaml"], "srid: 4326", "srid: 04326", 1)
	st := loadTree(t, files)
	d, ok := findDiagnostic(st, "04326 has a leading zero")
	if !ok || !strings.HasPrefix(d, "environments/common/layers/streets.yaml:") {
		t.Fatalf("leading zero not refused:\n%s", strings.Join(allDiagnostics(st), "\n"))
	}
}

// TestYAMLErrorPositions checks that errors yaml.v3 reports without a line
// are placed where they are.
func TestYAMLErrorPositions(t *testing.T) {
	lines := "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\n"
	tests := []struct {
		name, in  string
		line, col int
		want      string
	}{
		{"control character", lines + "g: x\x01y\n", 7, 5, "control character U+0001 is not allowed"},
		{"escape in a quoted string", lines + "g: '\x1b[8m'\n", 7, 5, "control character U+001B"},
		{"unknown anchor", lines + "g: [1, *nope]\n", 7, 8, "alias *nope has no anchor: define the anchor &nope before this alias"},
		{"unknown anchor after a longer one", lines + "h: *nopeX\n", 7, 4, "alias *nopeX has no anchor"},
		{"non-ASCII before the control character", "é: ü\x02\n", 1, 5, "control character U+0002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := ParseYAML("p.yaml", []byte(tt.in), Limits{})
			if len(diags) != 1 {
				t.Fatalf("diagnostics %v", diags)
			}
			d := diags[0]
			if d.Line != tt.line || d.Column != tt.col || !strings.Contains(d.Message, tt.want) {
				t.Errorf("got %s, want %d:%d %q", d, tt.line, tt.col, tt.want)
			}
		})
	}
}

// TestParseYAMLLimits checks the limits ParseYAML applies to a tree its
// caller walks itself: expansion through aliases and depth, with the place.
func TestParseYAMLLimits(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := 0; i < 8; i++ {
		name := fmt.Sprintf("l%d", i)
		bomb += fmt.Sprintf("%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	_, diags := ParseYAML("bomb.yaml", []byte(bomb), Limits{})
	if len(diags) != 1 || diags[0].Rule != "too-many-nodes" || diags[0].Line != 9 {
		t.Fatalf("alias bomb: %v, want too-many-nodes on line 9 (the biggest alias)", diags)
	}
	_, diags = ParseYAML("cycle.yaml", []byte("a: &a [1, *a]\n"), Limits{})
	if len(diags) != 1 || diags[0].Rule != "too-many-nodes" {
		t.Fatalf("an alias inside its own anchor: %v", diags)
	}
	deep := "x:\n" + strings.Repeat(" ", 2) + "y: " + strings.Repeat("[", 30) + strings.Repeat("]", 30) + "\n"
	_, diags = ParseYAML("deep.yaml", []byte(deep), Limits{MaxDepth: 10})
	if len(diags) != 1 || diags[0].Rule != "too-deep" || diags[0].Line != 2 {
		t.Fatalf("deep: %v", diags)
	}
	root, diags := ParseYAML("ok.yaml", []byte("a: &a {x: 1}\nb:\n  <<: *a\n  y: 2\n"), Limits{})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	var e expansion
	d := &decoder{file: "ok.yaml", lim: DefaultLimits}
	d.value(root, fieldPath{}, 1)
	if got := e.measure(root).count; got != int64(d.nodes) {
		t.Errorf("measured %d values, the decoder counts %d", got, d.nodes)
	}
}

// TestParserErrorLines: yaml.v3 names the line where the enclosing block
// starts; the error is placed on the line that causes it.
func TestParserErrorLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		line int
	}{
		{"key indented less than its mapping", "a: 1\nb: 2\nc:\n  d: 1\n  e: 2\n  f: 3\n g: 4\n  h: 5\n", 7},
		{"key after list items", "a:\n  - 1\n  - 2\n  x: 3\nb: 4\n", 4},
		{"tab in a block scalar", "a: 1\nb: |\n  x\n  y\n\tz\nc: 2\n", 5},
		{"unclosed flow sequence", "a: [1, 2\nb: 3\n", 2}, // where the parser finds it still open
		{"key without a colon", "a: 1\nb: 2\nc:\n  d: 1\n  e: 2\n  f: 3\n  g 4\n  h: 5\n", 7},
		{"unclosed quote", "a: 1\nb: 2\nc: 3\nd: 4\ne: \"x\nf: 6\n", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := ParseYAML("p.yaml", []byte(tt.in), Limits{})
			if len(diags) != 1 || diags[0].Line != tt.line {
				t.Errorf("got %v, want an error on line %d", diags, tt.line)
			}
		})
	}
}
