package config

import (
	"bytes"
	"errors"
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

// parserErrRe matches yaml.v3's parser (not scanner) errors, whose line
// numbers it reports 0-based.
var parserErrRe = regexp.MustCompile(`did not find expected (',' or|key|node content|'-' indicator|<document|<stream)`)

func yamlError(file string, data []byte, err error) Diagnostic {
	msg := err.Error()
	line := 1
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if parserErrRe.MatchString(msg) {
			line++
		}
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	fix := "fix the YAML syntax"
	lines := bytes.Split(data, []byte("\n"))
	if strings.Contains(msg, "tab") || (line-1 < len(lines) && line >= 1 && bytes.HasPrefix(bytes.TrimLeft(lines[line-1], " "), []byte("\t"))) {
		fix = "indent with spaces, not tabs"
	}
	return errorAt(Position{File: file, Line: line, Column: 1}, "yaml-syntax", "invalid YAML: %s: %s", msg, fix)
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
	paths map[string]lineCol
	// failed is set once a limit stops decoding; the value is then unusable.
	failed bool
}

func (d *decoder) pos(n *yaml.Node) Position {
	return Position{File: d.file, Line: n.Line, Column: n.Column}
}

// value converts n (at path, nesting depth depth) to a generic value.
func (d *decoder) value(n *yaml.Node, path string, depth int) any {
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
	if d.paths != nil && path != "" {
		if _, ok := d.paths[path]; !ok {
			d.paths[path] = lineCol{int32(n.Line), int32(n.Column)}
		}
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
			m[k.Value] = d.value(v, joinPath(path, k.Value), depth+1)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = d.value(c, path+"["+strconv.Itoa(i)+"]", depth+1)
		}
		return s
	case yaml.ScalarNode:
		return d.scalar(n)
	}
	return nil
}

// merge applies a YAML merge key ("<<") to m.
func (d *decoder) merge(m map[string]any, seen map[string]*yaml.Node, v *yaml.Node, path string, depth int) {
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
		mv, ok := d.value(mn, "", depth+1).(map[string]any)
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

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// scalar resolves a scalar the way YAML 1.2's core schema (and JSON) do.
func (d *decoder) scalar(n *yaml.Node) any {
	switch n.ShortTag() {
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
		if i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
			return i
		}
		var f float64
		if err := n.Decode(&f); err == nil {
			return f
		}
	case "!!float":
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
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
