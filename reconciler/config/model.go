// Package config is the model of a Honua config repository: it loads the
// environments of a repository (a directory or a git revision), validates them
// the way the Honua server will, and renders one environment into Honua's
// metadata document. It is pure: no network, no clock, no globals.
package config

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Kind is the kind of a Honua metadata object.
type Kind string

// The kinds of the Honua metadata document, in the order plans list them.
const (
	KindCatalog    Kind = "catalog"
	KindFolder     Kind = "folder"
	KindDataSource Kind = "datasource"
	KindService    Kind = "service"
	KindLayer      Kind = "layer"
	KindStyle      Kind = "style"
	KindRaster     Kind = "raster"
)

// Kinds lists every kind in plan order.
var Kinds = []Kind{KindCatalog, KindFolder, KindDataSource, KindService, KindLayer, KindStyle, KindRaster}

// Order is the position of k in Kinds, used to sort objects kind first.
func (k Kind) Order() int {
	for i, kk := range Kinds {
		if kk == k {
			return i
		}
	}
	return len(Kinds)
}

// documentKey is the top-level key of Honua's metadata document that holds
// objects of kind k.
func (k Kind) documentKey() string {
	switch k {
	case KindCatalog:
		return "catalog"
	case KindFolder:
		return "folders"
	case KindDataSource:
		return "dataSources"
	case KindService:
		return "services"
	case KindLayer:
		return "layers"
	case KindStyle:
		return "styles"
	case KindRaster:
		return "rasterDatasets"
	}
	return ""
}

// Position is a place in a config file. Line and Column are 1-based; 0 means
// unknown.
type Position struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

func (p Position) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Column == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Severity tells errors (the server would reject the document) from warnings.
type Severity int

// The severities of a Diagnostic.
const (
	SeverityError Severity = iota
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one validation finding. Message says what is wrong and how to
// fix it.
type Diagnostic struct {
	Severity Severity `json:"-"`
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Column   int      `json:"column"`
	Message  string   `json:"message"`
	// Rule is a short stable name of the check that fired ("duplicate-id",
	// "reference", ...), for tools that filter findings.
	Rule string `json:"rule,omitempty"`
}

// Pos is the position the diagnostic points at.
func (d Diagnostic) Pos() Position { return Position{File: d.File, Line: d.Line, Column: d.Column} }

func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s: %s", d.Pos(), d.Severity, d.Message)
}

func errorAt(p Position, rule, format string, args ...any) Diagnostic {
	return Diagnostic{Severity: SeverityError, File: p.File, Line: p.Line, Column: p.Column, Rule: rule, Message: fmt.Sprintf(format, args...)}
}

func warningAt(p Position, rule, format string, args ...any) Diagnostic {
	d := errorAt(p, rule, format, args...)
	d.Severity = SeverityWarning
	return d
}

// SortDiagnostics orders diagnostics by file, line, column and message.
func SortDiagnostics(ds []Diagnostic) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Message < b.Message
	})
}

// Key identifies an object within an environment: ids compare ignoring case,
// as the Honua server compares them (FoldID).
type Key struct {
	Kind Kind
	ID   string // folded by FoldID
}

// KeyOf returns the key of the object of kind k with id id.
func KeyOf(k Kind, id string) Key { return Key{Kind: k, ID: FoldID(id)} }

// Object is one Honua metadata object (a layer, a service, ...) as written in
// the config repository.
type Object struct {
	Kind Kind
	ID   string
	// Pos is where the object starts in its file.
	Pos Position
	// Value is the object as a JSON-compatible tree (map[string]any, []any,
	// string, int64, float64, bool, nil), unknown fields included, ${NAME}
	// references unexpanded.
	Value map[string]any
	// Digest identifies the object's canonical content (DigestOf): two
	// objects with the same digest are the same change-wise (key order,
	// formatting, and the order of the few lists the server reads as sets
	// do not matter; the order of every other list does).
	Digest string
	// Origin is the environment folder the object comes from ("common" or the
	// environment's own name).
	Origin string

	// paths holds the line and column of every field, in the object's file.
	paths positions
	key   Key
	// refs are the object's references to other objects, resolved once when
	// the object is made so that checking an environment costs map lookups.
	refs []objRef
}

// objRef is one reference from an object to another: the field path, the
// target kind and the target id as written.
type objRef struct {
	path string
	kind Kind
	id   string
	key  Key
}

// NewObject builds an object from a generic value; it computes the digest.
// paths may be nil; it maps field paths ("storage.table", "fields[2].type")
// to their positions.
func NewObject(kind Kind, id string, pos Position, value map[string]any, paths map[string]Position) *Object {
	compact := make(positions, 0, len(paths))
	for k, p := range paths {
		if k != "" {
			compact = append(compact, posEntry{h: hashPath(k), at: lineCol{int32(p.Line), int32(p.Column)}})
		}
	}
	return newObject(kind, id, pos, value, compact.seal())
}

func newObject(kind Kind, id string, pos Position, value map[string]any, paths positions) *Object {
	o := &Object{Kind: kind, ID: id, Pos: pos, Value: value, Digest: DigestOf(kind, value), paths: paths}
	o.key = KeyOf(kind, id)
	if kind == KindCatalog {
		o.key = Key{Kind: KindCatalog}
	}
	o.refs = referencesOf(o)
	return o
}

// referencesOf lists the references HONUA.md defines for o's kind.
func referencesOf(o *Object) []objRef {
	var refs []objRef
	add := func(path string, k Kind, v any) {
		if id, ok := v.(string); ok && id != "" {
			refs = append(refs, objRef{path: path, kind: k, id: id, key: KeyOf(k, id)})
		}
	}
	switch o.Kind {
	case KindService:
		add("folderId", KindFolder, o.Value["folderId"])
		add("dataSourceId", KindDataSource, o.Value["dataSourceId"])
	case KindLayer:
		add("serviceId", KindService, o.Value["serviceId"])
		styles, _ := o.Value["styles"].(map[string]any)
		add("styles.defaultStyleId", KindStyle, styles["defaultStyleId"])
		list, _ := styles["styleIds"].([]any)
		for i, s := range list {
			add(fmt.Sprintf("styles.styleIds[%d]", i), KindStyle, s)
		}
	case KindRaster:
		add("serviceId", KindService, o.Value["serviceId"])
		add("layerId", KindLayer, o.Value["layerId"])
	}
	return refs
}

// Key is the object's key within its environment. An environment has one
// catalog, whatever its id, so every catalog has the same key.
func (o *Object) Key() Key { return o.key }

// PosOf returns the position of the field at path, or of its nearest known
// parent, or of the object itself.
func (o *Object) PosOf(path string) Position {
	for path != "" {
		if p, ok := o.paths.find(path); ok {
			return Position{File: o.Pos.File, Line: int(p.line), Column: int(p.col)}
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return o.Pos
}

// Str returns the string at a dotted path of the object's value, or "".
func (o *Object) Str(path string) string {
	s, _ := Lookup(o.Value, path).(string)
	return s
}

// Lookup walks a dotted path ("storage.table") through nested maps.
func Lookup(v any, path string) any {
	for _, part := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	return v
}

// CollectionID is the OGC API collection id of a layer: "{serviceId}::{layerId}".
func CollectionID(serviceID, layerID string) string { return serviceID + "::" + layerID }

// Environment is one deployment target: the objects of its own folder merged
// over those of common.
type Environment struct {
	Name    string
	Objects map[Key]*Object
	// Extra holds top-level document keys that are not object lists (such
	// as server), passed through to the rendered document.
	Extra map[string]any
	// Diagnostics holds every error and warning that concerns this environment,
	// sorted by position.
	Diagnostics []Diagnostic

	refOnce   sync.Once
	referrers map[Key][]*Object
}

// Referrers returns the objects of the environment that reference the object
// with key k: the layers of a service, the services of a folder or a data
// source, the layers using a style, the rasters of a service or layer. The
// index is built on first use and kept with the environment, which the
// loader shares between the states that have it, so later plans reuse it.
func (e *Environment) Referrers(k Key) []*Object {
	e.refOnce.Do(func() {
		e.referrers = map[Key][]*Object{}
		for _, o := range e.Objects {
			for i, r := range o.refs {
				if i > 0 && o.refs[i-1].key == r.key {
					continue
				}
				if list := e.referrers[r.key]; len(list) == 0 || list[len(list)-1] != o {
					e.referrers[r.key] = append(list, o)
				}
			}
		}
	})
	return e.referrers[k]
}

// Sorted returns the objects by kind order, then id.
func (e *Environment) Sorted() []*Object {
	out := make([]*Object, 0, len(e.Objects))
	for _, o := range e.Objects {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Kind != b.Kind {
			return a.Kind.Order() < b.Kind.Order()
		}
		if fa, fb := FoldID(a.ID), FoldID(b.ID); fa != fb {
			return fa < fb
		}
		return a.ID < b.ID
	})
	return out
}

// Errors returns the error diagnostics of the environment.
func (e *Environment) Errors() []Diagnostic { return FilterSeverity(e.Diagnostics, SeverityError) }

// Warnings returns the warning diagnostics of the environment.
func (e *Environment) Warnings() []Diagnostic { return FilterSeverity(e.Diagnostics, SeverityWarning) }

// FilterSeverity returns the diagnostics of severity s, never nil (so that
// JSON shows an empty list as []).
func FilterSeverity(ds []Diagnostic, s Severity) []Diagnostic {
	out := []Diagnostic{}
	for _, d := range ds {
		if d.Severity == s {
			out = append(out, d)
		}
	}
	return out
}

// State is a whole config repository at one point in time.
type State struct {
	// Source names where the state was read from, for messages.
	Source       string
	Environments map[string]*Environment
	// Diagnostics are findings that concern no single environment (a file
	// outside environments/, a symlink, a repository without environments).
	Diagnostics []Diagnostic
}

// EnvironmentNames returns the names of the environments, sorted.
func (s *State) EnvironmentNames() []string {
	if s == nil {
		return nil
	}
	names := make([]string, 0, len(s.Environments))
	for n := range s.Environments {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// HasErrors reports whether any environment or the repository has an error.
func (s *State) HasErrors() bool {
	for _, d := range s.Diagnostics {
		if d.Severity == SeverityError {
			return true
		}
	}
	for _, e := range s.Environments {
		if len(e.Errors()) > 0 {
			return true
		}
	}
	return false
}
