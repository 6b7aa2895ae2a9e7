package config

import (
	"fmt"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
)

// EnvironmentsDir is the folder of a config repository that holds the
// environments; CommonEnv is the environment merged into every other.
const (
	EnvironmentsDir = "environments"
	CommonEnv       = "common"
)

// fileRole says what a file of an environment folder holds.
type fileRole int

const (
	roleIgnored  fileRole = iota
	roleDocument          // a part of the metadata document: catalog, folders, services, ...
	roleObject            // one object per file (layers/, styles/, rasters/)
	roleStray             // a YAML file where nothing is read: reported
)

var objectDirs = map[string]Kind{"layers": KindLayer, "styles": KindStyle, "rasters": KindRaster, "rasterDatasets": KindRaster}

func isConfigExt(p string) bool {
	switch strings.ToLower(path.Ext(p)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// classify tells which environment a repository path belongs to and what it
// holds. env is "" for paths outside environments/.
func classify(p string) (env string, role fileRole, kind Kind) {
	rest, ok := strings.CutPrefix(p, EnvironmentsDir+"/")
	if !ok {
		return "", roleIgnored, ""
	}
	env, rest, ok = strings.Cut(rest, "/")
	if !ok || env == "" {
		return "", roleIgnored, ""
	}
	if !isConfigExt(p) {
		return env, roleIgnored, ""
	}
	dir, _, nested := strings.Cut(rest, "/")
	if !nested {
		return env, roleDocument, ""
	}
	if k, ok := objectDirs[dir]; ok {
		return env, roleObject, k
	}
	return env, roleStray, ""
}

// parsedFile is what one file contributes, before environments are merged.
// It depends only on the file's path and content, so it is cached by both.
type parsedFile struct {
	objects []*Object
	extra   map[string]extraValue
	diags   []Diagnostic
	// values is what the file expands to, aliases followed (measured
	// before it is decoded), for the repository's budget (MaxValues).
	values int64
	// overBudget marks a file that was not read because the files before
	// it spent the repository's budget; such a result depends on the other
	// files and is never cached.
	overBudget bool
}

type extraValue struct {
	value any
	pos   Position
}

// parseFile parses and checks one config file on its own. Before the file
// is decoded, what it expands to is measured and offered to admit (nil
// admits everything): when admit refuses, the repository's budget of values
// is spent and the file is not decoded.
func parseFile(p string, data []byte, lim Limits, admit func(values int64) bool) *parsedFile {
	env, role, kind := classify(p)
	pf := &parsedFile{}
	root, diags := parseYAML(p, data, lim)
	// A file of the original design (kind: ServiceCollection or
	// DatasourceConfiguration) is read wherever it is; any other file
	// outside the folders that hold objects is not read at all.
	origKind := originalKind(root)
	if role == roleStray && origKind == "" && (root != nil || !originalHeaderRe.Match(data)) {
		pf.diags = append(pf.diags, warningAt(Position{File: p, Line: 1, Column: 1}, "stray-file",
			"file is not read: put layers in %s/%s/layers/, styles in styles/, and catalog, folders, services and data sources in a YAML file directly in %s/%s/ (or give it the original design's header, kind: ServiceCollection or DatasourceConfiguration)",
			EnvironmentsDir, env, EnvironmentsDir, env))
		return pf
	}
	pf.diags = append(pf.diags, diags...)
	if root == nil {
		return pf
	}
	var e expansion
	pf.values = min(e.measure(root).count, int64(lim.MaxNodes)+1)
	if admit != nil && !admit(pf.values) {
		return &parsedFile{values: pf.values, overBudget: true}
	}
	d := &decoder{file: p, lim: lim}
	switch {
	case origKind != "":
		pf.original(d, root, env, origKind)
	case role == roleObject:
		if root.Kind != yaml.MappingNode {
			pf.diags = append(pf.diags, errorAt(d.pos(root), "file-shape",
				"a %s file holds one %s as a mapping (id: ..., ...), not %s", kind, kind, nodeKindName(root)))
			break
		}
		if o := d.object(kind, root, env); o != nil {
			pf.objects = append(pf.objects, o)
		}
	case role == roleDocument:
		pf.document(d, root, env)
	}
	pf.diags = append(pf.diags, d.diags...)
	for _, o := range pf.objects {
		pf.diags = append(pf.diags, checkObject(o)...)
	}
	SortDiagnostics(pf.diags)
	return pf
}

// document reads a file that holds parts of the metadata document.
func (pf *parsedFile) document(d *decoder, root *yaml.Node, env string) {
	if root.Kind != yaml.MappingNode {
		pf.diags = append(pf.diags, errorAt(d.pos(root), "file-shape",
			"this file holds parts of the metadata document as a mapping (catalog:, folders:, services:, dataSources:, ...), not %s", nodeKindName(root)))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := k.Value
		if line, dup := seen[key]; dup {
			pf.diags = append(pf.diags, errorAt(d.pos(k), "duplicate-key",
				"key %q is already defined at line %d: remove one of the two", key, line))
			continue
		}
		seen[key] = k.Line
		for v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		kind, isKind := kindOfDocumentKey(key)
		switch {
		case key == "catalog":
			if v.Kind != yaml.MappingNode {
				pf.diags = append(pf.diags, errorAt(d.pos(v), "file-shape", "catalog must be a mapping (id: ..., title: ...)"))
				continue
			}
			if o := d.object(KindCatalog, v, env); o != nil {
				pf.objects = append(pf.objects, o)
			}
		case isKind:
			if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
				continue
			}
			if v.Kind != yaml.SequenceNode {
				pf.diags = append(pf.diags, errorAt(d.pos(v), "file-shape", "%s must be a list (- id: ...)", key))
				continue
			}
			for _, item := range v.Content {
				for item.Kind == yaml.AliasNode && item.Alias != nil {
					item = item.Alias
				}
				if item.Kind != yaml.MappingNode {
					pf.diags = append(pf.diags, errorAt(d.pos(item), "file-shape", "each entry of %s must be a mapping (id: ...)", key))
					continue
				}
				if o := d.object(kind, item, env); o != nil {
					pf.objects = append(pf.objects, o)
				}
			}
		default:
			if key != "server" {
				msg := fmt.Sprintf("unknown top-level key %s", key)
				if s := suggest(key, documentKeys); s != "" {
					msg += fmt.Sprintf(" (did you mean %s?)", s)
				}
				pf.diags = append(pf.diags, warningAt(d.pos(k), "unknown-field", "%s; it is passed to the server unchanged", msg))
			}
			d.record = false
			val := d.value(v, fieldPath{}, 1)
			if !d.failed {
				pf.diags = append(pf.diags, checkExtraSecrets(key, val, d.pos(k))...)
			}
			if pf.extra == nil {
				pf.extra = map[string]extraValue{}
			}
			pf.extra[key] = extraValue{value: val, pos: d.pos(k)}
		}
	}
}

// object converts a mapping node into an object of kind k.
func (d *decoder) object(k Kind, n *yaml.Node, origin string) *Object {
	d.record, d.paths = true, d.paths[:0]
	v, _ := d.value(n, fieldPath{}, 1).(map[string]any)
	d.record = false
	if d.failed || v == nil {
		return nil
	}
	id, _ := v["id"].(string)
	if id == "" {
		// The required-field check names the missing id; keep the object so
		// that its other problems are reported too, under a placeholder id
		// that cannot collide with a real one.
		id = fmt.Sprintf("(no id, %s:%d)", d.file, n.Line)
	}
	o := newObject(k, id, d.pos(n), v, d.paths.seal())
	o.Origin = origin
	return o
}

func nodeKindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("a single value (%q)", n.Value)
	}
	return "this"
}
