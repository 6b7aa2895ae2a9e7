package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// yamlLineRe finds the line yaml.v3 names in its error messages.
var yamlLineRe = regexp.MustCompile(`(?:yaml: )?line (\d+): (.*)`)

// parseYAML parses one YAML (or JSON) document into a node tree, checking the
// limits that the YAML library does not: UTF-8, size, and empty input. The
// returned diagnostics name file and line; the node is nil when parsing
// failed.
func parseYAML(file string, data []byte, lim Limits) (*yaml.Node, []Diagnostic) {
	if int64(len(data)) > lim.MaxFileSize {
		return nil, []Diagnostic{errorAt(Position{File: file, Line: 1, Column: 1}, "file-too-large",
			"file is %d bytes, over the limit of %d bytes: split it (one layer or style per file) or raise --max-file-size", len(data), lim.MaxFileSize)}
	}
	if !utf8.Valid(data) {
		line, col := invalidUTF8At(data)
		return nil, []Diagnostic{errorAt(Position{File: file, Line: line, Column: col}, "invalid-utf8",
			"file is not valid UTF-8: save it as UTF-8")}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file holds nothing
		}
		return nil, []Diagnostic{yamlError(file, data, err)}
	}
	// A second document in the same file is almost always a mistake.
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, []Diagnostic{errorAt(Position{File: file, Line: extra.Line, Column: extra.Column}, "multiple-documents",
			"file holds more than one YAML document: keep one document per file (remove the '---' separator)")}
	} else if !errors.Is(err, io.EOF) {
		return nil, []Diagnostic{yamlError(file, data, err)}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// ParseYAML parses one YAML (or JSON) document of outside input within the
// limits, for readers that walk the node tree themselves (the deployment
// policy): size, UTF-8, one document per file, and what the tree expands to
// when aliases are followed (at most lim.MaxNodes values, lim.MaxDepth
// levels). Every problem is a diagnostic naming file, line and column; the
// node is nil when there is one.
func ParseYAML(file string, data []byte, lim Limits) (*yaml.Node, []Diagnostic) {
	lim = lim.orDefault()
	root, diags := parseYAML(file, data, lim)
	if root == nil || len(diags) > 0 {
		return nil, diags
	}
	var e expansion
	m := e.measure(root)
	if m.count > int64(lim.MaxNodes) {
		at := root
		if e.biggest != nil {
			at = e.biggest
		}
		return nil, []Diagnostic{errorAt(Position{File: file, Line: at.Line, Column: at.Column}, "too-many-nodes",
			"file expands to more than %d values (an alias bomb?): remove the repeated aliases", lim.MaxNodes)}
	}
	if m.height > int64(lim.MaxDepth) {
		at := e.deepest(root, lim.MaxDepth+1)
		return nil, []Diagnostic{errorAt(Position{File: file, Line: at.Line, Column: at.Column}, "too-deep",
			"nesting deeper than %d levels: flatten the structure", lim.MaxDepth)}
	}
	return root, nil
}

// DecodeYAML converts a node of a tree read with ParseYAML into a
// JSON-compatible value (map[string]any, []any, string, int64, float64,
// bool, nil) the way config files are read: YAML 1.2 scalars, merge keys,
// duplicate keys refused. Problems are diagnostics naming file and line.
func DecodeYAML(file string, n *yaml.Node, lim Limits) (any, []Diagnostic) {
	d := &decoder{file: file, lim: lim.orDefault()}
	v := d.value(n, fieldPath{}, 1)
	if d.failed {
		v = nil
	}
	return v, d.diags
}

// parserErrRe matches yaml.v3's parser (not scanner) errors, whose line
// numbers it reports 0-based.
var parserErrRe = regexp.MustCompile(`did not find expected (',' or|key|node content|'-' indicator|<document|<stream)`)

// unknownAnchorRe matches yaml.v3's error for an alias without an anchor,
// which carries no line.
var unknownAnchorRe = regexp.MustCompile(`unknown anchor '(.*)' referenced`)

func yamlError(file string, data []byte, err error) Diagnostic {
	msg := err.Error()
	line, col := 1, 1
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if parserErrRe.MatchString(msg) {
			line++
		}
		if parserErrRe.MatchString(msg) || strings.Contains(msg, "tab character") {
			line = max(line, problemLine(data, err.Error(), line))
		}
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	fix := "fix the YAML syntax"
	// Two of yaml.v3's errors name no line: find the place ourselves.
	switch m := unknownAnchorRe.FindStringSubmatch(msg); {
	case strings.Contains(msg, "control characters are not allowed"):
		if l, c, r, ok := controlCharAt(data); ok {
			line, col = l, c
			msg = fmt.Sprintf("control character %U is not allowed", r)
			fix = "remove it (write it as an escape such as \\t inside a double-quoted string if it is meant)"
		}
	case m != nil:
		if l, c, ok := aliasAt(data, m[1]); ok {
			line, col = l, c
		}
		fix = fmt.Sprintf("define the anchor &%s before this alias, or remove the alias", m[1])
		return errorAt(Position{File: file, Line: line, Column: col}, "yaml-syntax", "invalid YAML: alias *%s has no anchor: %s", m[1], fix)
	}
	lines := bytes.Split(data, []byte("\n"))
	if strings.Contains(msg, "tab") || (line-1 < len(lines) && line >= 1 && bytes.HasPrefix(bytes.TrimLeft(lines[line-1], " "), []byte("\t"))) {
		fix = "indent with spaces, not tabs"
	}
	return errorAt(Position{File: file, Line: line, Column: col}, "yaml-syntax", "invalid YAML: %s: %s", msg, fix)
}

// problemLine finds the line a parser error is about. yaml.v3 names the
// line where the enclosing block starts (a mis-indented key on line 7 of a
// mapping begun on line 3 is "line 3"); parsing ever longer prefixes of the
// file, the first prefix that fails with the same error ends at the line
// that causes it. The prefixes are searched by halves: a handful of parses,
// only for a file that does not parse anyway. It returns 0 when no prefix
// from line from on fails the same way.
func problemLine(data []byte, full string, from int) int {
	ends := []int{} // ends[k-1] is the end of the first k lines
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	same := func(k int) bool {
		var n yaml.Node
		err := yaml.Unmarshal(data[:ends[k-1]], &n)
		return err != nil && err.Error() == full
	}
	lo, hi := max(from, 1), len(ends)
	if lo > hi || !same(hi) {
		return 0
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if same(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// controlCharAt finds the first character YAML does not allow in a stream
// (C0 controls other than tab, line feed and carriage return; DEL; C1
// controls other than NEL; U+FFFE and U+FFFF), with its line and column.
func controlCharAt(data []byte) (line, col int, r rune, ok bool) {
	line, col = 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == '\n':
			line++
			col = 0
		case r == '\t' || r == '\r' || r == 0x85:
		case r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0xfffe || r == 0xffff:
			return line, col, r, true
		}
		col++
		i += size
	}
	return 0, 0, 0, false
}

// aliasAt finds the first alias *name in data: "*name" not followed by
// another character of an anchor name.
func aliasAt(data []byte, name string) (line, col int, ok bool) {
	re, err := regexp.Compile(`\*` + regexp.QuoteMeta(name) + `(?:[\s,\[\]{}]|$)`)
	if err != nil {
		return 0, 0, false
	}
	loc := re.FindIndex(data)
	if loc == nil {
		return 0, 0, false
	}
	before := data[:loc[0]]
	line = bytes.Count(before, []byte("\n")) + 1
	col = utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
	return line, col, true
}

func invalidUTF8At(data []byte) (line, col int) {
	line, col = 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return line, col
		}
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
		i += size
	}
	return line, col
}

// decoded is a YAML node converted to a JSON-compatible value, with the
// positions of every field.
type decoder struct {
	file  string
	lim   Limits
	nodes int
	diags []Diagnostic
	// paths collects the positions of an object's fields in document order
	// while record is set.
	paths  positions
	record bool
	// failed is set once a limit stops decoding; the value is then unusable.
	failed bool
}

func (d *decoder) pos(n *yaml.Node) Position {
	return Position{File: d.file, Line: n.Line, Column: n.Column}
}

// value converts n (at path, nesting depth depth) to a generic value.
func (d *decoder) value(n *yaml.Node, path fieldPath, depth int) any {
	if d.failed {
		return nil
	}
	d.nodes++
	if d.nodes > d.lim.MaxNodes {
		d.failed = true
		d.diags = append(d.diags, errorAt(d.pos(n), "too-many-nodes",
			"file expands to more than %d values (an alias bomb?): remove the repeated aliases", d.lim.MaxNodes))
		return nil
	}
	if depth > d.lim.MaxDepth {
		d.failed = true
		d.diags = append(d.diags, errorAt(d.pos(n), "too-deep",
			"nesting deeper than %d levels: flatten the structure", d.lim.MaxDepth))
		return nil
	}
	if d.record && path.set {
		d.paths = append(d.paths, posEntry{h: path.h, at: lineCol{int32(n.Line), int32(n.Column)}})
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil
		}
		return d.value(n.Alias, path, depth+1)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return d.value(n.Content[0], path, depth)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		seen := make(map[string]*yaml.Node, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				// "<<: *base" merges the aliased mapping's keys that are not set here.
				d.merge(m, seen, v, path, depth)
				continue
			}
			if k.Kind != yaml.ScalarNode {
				d.diags = append(d.diags, errorAt(d.pos(k), "complex-key", "mapping keys must be plain strings"))
				continue
			}
			if prev, dup := seen[k.Value]; dup && prev != nil {
				d.diags = append(d.diags, errorAt(d.pos(k), "duplicate-key",
					"key %q is already defined at line %d: remove one of the two", k.Value, prev.Line))
				continue
			}
			seen[k.Value] = k
			m[k.Value] = d.value(v, path.key(k.Value), depth+1)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = d.value(c, path.index(i), depth+1)
		}
		return s
	case yaml.ScalarNode:
		return d.scalar(n)
	}
	return nil
}

// merge applies a YAML merge key ("<<") to m.
func (d *decoder) merge(m map[string]any, seen map[string]*yaml.Node, v *yaml.Node, path fieldPath, depth int) {
	src := v
	for src.Kind == yaml.AliasNode && src.Alias != nil {
		src = src.Alias
	}
	var maps []*yaml.Node
	switch src.Kind {
	case yaml.MappingNode:
		maps = []*yaml.Node{src}
	case yaml.SequenceNode:
		for _, c := range src.Content {
			for c.Kind == yaml.AliasNode && c.Alias != nil {
				c = c.Alias
			}
			maps = append(maps, c)
		}
	}
	for _, mn := range maps {
		mv, ok := d.value(mn, fieldPath{}, depth+1).(map[string]any)
		if !ok {
			d.diags = append(d.diags, errorAt(d.pos(v), "bad-merge", "'<<' must refer to a mapping"))
			continue
		}
		for k, val := range mv {
			if _, set := m[k]; !set {
				m[k] = val
				seen[k] = nil // merged keys may be overridden by later explicit keys
			}
		}
	}
}

// scalar resolves a scalar the way YAML 1.2's core schema (and JSON) do.
// yaml.v3 also reads some YAML 1.1 forms as numbers (04326 as the octal
// 2262, 1_000, 0b101); a plain scalar that YAML 1.1 and 1.2 read
// differently is refused with the fix, since the deployer must not guess
// which of two numbers the author meant.
func (d *decoder) scalar(n *yaml.Node) any {
	tag := n.ShortTag()
	if n.Style&yaml.TaggedStyle == 0 && (tag == "!!int" || tag == "!!float") {
		v, ok := yaml12Number(n.Value)
		if ok {
			if f, isFloat := v.(float64); isFloat && (math.IsInf(f, 0) || math.IsNaN(f)) {
				d.diags = append(d.diags, errorAt(d.pos(n), "bad-number", "%s is not a finite number: JSON cannot carry it", n.Value))
				return nil
			}
			return v
		}
		d.diags = append(d.diags, errorAt(d.pos(n), "ambiguous-number", "%s", ambiguousNumber(n.Value)))
		return nil
	}
	switch tag {
	case "!!null":
		return nil
	case "!!bool":
		switch n.Value {
		case "true", "True", "TRUE":
			return true
		case "false", "False", "FALSE":
			return false
		}
		var b bool
		if err := n.Decode(&b); err == nil {
			return b
		}
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i
		}
		var f float64
		if err := n.Decode(&f); err == nil {
			return f
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil {
			if math.IsInf(f, 0) || math.IsNaN(f) {
				d.diags = append(d.diags, errorAt(d.pos(n), "bad-number", "%s is not a finite number: JSON cannot carry it", n.Value))
				return nil
			}
			return f
		}
	case "!!binary":
		d.diags = append(d.diags, errorAt(d.pos(n), "bad-scalar", "binary values are not supported: use a string"))
		return nil
	}
	return n.Value
}

// yaml12Number reads s by the YAML 1.2 core schema: a decimal integer
// ([-+]?[0-9]+, without a leading zero, which YAML 1.1 reads as octal),
// 0o octal, 0x hexadecimal, or a float ([-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)
// with an optional exponent; .inf and .nan are floats). ok is false for
// a string that yaml.v3 reads as a number but YAML 1.2 does not, or
// reads differently.
func yaml12Number(s string) (v any, ok bool) {
	switch s {
	case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF":
		return math.Inf(1), true
	case "-.inf", "-.Inf", "-.INF":
		return math.Inf(-1), true
	case ".nan", ".NaN", ".NAN":
		return math.NaN(), true
	}
	if len(s) > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x') {
		base := 8
		if s[1] == 'x' {
			base = 16
		}
		i, err := strconv.ParseInt(s[2:], base, 64)
		if err == nil && !strings.ContainsAny(s[2:], "_+-") {
			return i, true
		}
		if u, err := strconv.ParseUint(s[2:], base, 64); err == nil && !strings.ContainsAny(s[2:], "_+-") {
			return float64(u), true
		}
		return nil, false
	}
	digits := strings.TrimLeft(s, "+-")
	if len(s)-len(digits) > 1 || digits == "" {
		return nil, false
	}
	if allDigits(digits) {
		if len(digits) > 1 && digits[0] == '0' {
			return nil, false // 04326: octal in YAML 1.1, decimal in 1.2
		}
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, true
		}
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil
	}
	if !isYAML12Float(digits) {
		return nil, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil || errors.Is(err, strconv.ErrRange)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isYAML12Float matches (\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?.
func isYAML12Float(s string) bool {
	mant, exp := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, exp = s[:i], s[i+1:]
		if exp = strings.TrimPrefix(strings.TrimPrefix(exp, "+"), "-"); len(s[i+1:])-len(exp) > 1 || !allDigits(exp) {
			return false
		}
	}
	ip, fp, dot := strings.Cut(mant, ".")
	switch {
	case ip == "":
		return dot && allDigits(fp)
	case !allDigits(ip):
		return false
	case dot:
		return fp == "" || allDigits(fp)
	}
	return true
}

// ambiguousNumber says what a plain scalar that YAML 1.1 and YAML 1.2
// read differently means to each, and how to write it unambiguously.
func ambiguousNumber(s string) string {
	digits := strings.TrimLeft(s, "+-")
	if allDigits(digits) && len(digits) > 1 && digits[0] == '0' {
		dec := strings.TrimLeft(digits, "0")
		if dec == "" {
			dec = "0"
		}
		if s[0] == '-' && dec != "0" {
			dec = "-" + dec
		}
		old := "not a number"
		if o, err := strconv.ParseInt(digits, 8, 64); err == nil {
			if s[0] == '-' {
				o = -o
			}
			old = "the octal number " + strconv.FormatInt(o, 10)
		}
		return fmt.Sprintf("%s has a leading zero, which YAML 1.1 tools read as %s and YAML 1.2 as %s: write %s, or quote it (%q) if it is text such as a code", s, old, dec, dec, s)
	}
	var v yaml.Node
	if err := yaml.Unmarshal([]byte(s), &v); err == nil && len(v.Content) == 1 {
		var f float64
		if v.Content[0].Decode(&f) == nil {
			n := FormatNumber(f)
			return fmt.Sprintf("%s is the number %s in YAML 1.1 but text in YAML 1.2: write %s, or quote it (%q) if it is text", s, n, n, s)
		}
	}
	return fmt.Sprintf("%s is read differently by YAML 1.1 and YAML 1.2: write a plain decimal number, or quote it (%q) if it is text", s, s)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
