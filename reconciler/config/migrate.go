package config

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// MigrateOptions tune Migrate.
type MigrateOptions struct {
	// DryRun plans the migration and checks it, and writes nothing.
	DryRun bool
	Limits Limits
}

// MigrateAction is one change Migrate makes (or, dry, would make).
type MigrateAction struct {
	// Op is "write" (a new or replaced file), "unchanged" (the file
	// exists with this content) or "remove" (an original-format file).
	Op   string
	Path string
	// From is the original-format file the content comes from.
	From string
}

func (a MigrateAction) String() string {
	if a.Op == "remove" {
		return fmt.Sprintf("remove    %s", a.Path)
	}
	return fmt.Sprintf("%-9s %s (from %s)", a.Op, a.Path, a.From)
}

// MigrateResult is what Migrate did.
type MigrateResult struct {
	// Originals are the original-format files found, sorted.
	Originals []string
	// Actions are the changes in the order they are made: every file is
	// written before any original is removed.
	Actions []MigrateAction
	// Environments are the environments whose rendered documents were
	// compared before and after.
	Environments []string
}

// MigrateError is a migration refused: the problems say why (errors of
// the repository, or files that would be overwritten). Nothing was written.
type MigrateError struct {
	Problems []Diagnostic
}

func (e *MigrateError) Error() string {
	var b strings.Builder
	b.WriteString("nothing migrated:")
	for _, d := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(d.String())
	}
	return b.String()
}

// migrationSecrets fills every ${NAME} with a fixed stand-in, so that
// documents can be compared without the real secrets.
func migrationSecrets(name string) (string, bool) { return "<secret " + name + ">", true }

// Migrate rewrites the config repository in the directory root from the
// original design's files (kind: ServiceCollection, DatasourceConfiguration)
// into this project's layout: an original file's services, data sources
// and other document keys go to one document file directly in its
// environment folder (the original's path, folders joined with "-"), each
// layer, style and raster to a file of its own (layers/<id>.yaml, ...).
// Before anything is written the migration is proven to lose nothing:
// every environment, loaded from the files as they will be, must render
// (with fixed stand-ins for secrets) exactly the document it renders now.
// An existing file with other content is never overwritten. The original
// files are removed only after every new file is written.
func Migrate(ctx context.Context, root string, opts MigrateOptions) (*MigrateResult, error) {
	lim := opts.Limits.orDefault()
	src := NewDirSource(root, lim)
	files, err := src.List(ctx)
	if err != nil {
		return nil, err
	}
	before, err := NewLoader(lim).Load(ctx, src)
	if err != nil {
		return nil, err
	}
	if problems := stateErrors(before); len(problems) > 0 {
		return nil, &MigrateError{Problems: problems}
	}
	contents := map[string][]byte{}
	var originals []string
	kinds := map[string]string{}
	for _, f := range files {
		env, role, _ := classify(f.Path)
		if env == "" {
			continue
		}
		data, err := src.Read(ctx, f.Path)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f.Path, err)
		}
		contents[f.Path] = data
		if role == roleIgnored {
			continue
		}
		if node, _ := parseYAML(f.Path, data, lim); originalKind(node) != "" {
			originals = append(originals, f.Path)
			kinds[f.Path] = originalKind(node)
		}
	}
	res := &MigrateResult{Originals: originals, Environments: before.EnvironmentNames()}
	if len(originals) == 0 {
		return res, nil
	}

	type planned struct {
		data []byte
		from string
	}
	plan := map[string]planned{}
	var problems []Diagnostic
	put := func(p string, data []byte, from string) {
		if prev, dup := plan[p]; dup {
			problems = append(problems, errorAt(Position{File: from}, "migrate-collision",
				"%s would be written from both %s and %s: rename one of the objects", p, prev.from, from))
			return
		}
		plan[p] = planned{data, from}
	}
	isOriginal := map[string]bool{}
	for _, p := range originals {
		isOriginal[p] = true
	}
	for _, p := range originals {
		data := contents[p]
		pf := parseFile(p, data, lim, nil)
		env, _, _ := classify(p)
		envDir := EnvironmentsDir + "/" + env + "/"
		rel := strings.TrimPrefix(p, envDir)
		docPath := envDir + strings.ReplaceAll(strings.TrimSuffix(rel, path.Ext(rel)), "/", "-") + ".yaml"
		doc := &yaml.Node{Kind: yaml.MappingNode}
		byKey := map[string]*yaml.Node{}
		for _, o := range pf.objects {
			switch o.Kind {
			case KindLayer, KindStyle, KindRaster:
				dir := map[Kind]string{KindLayer: "layers", KindStyle: "styles", KindRaster: "rasters"}[o.Kind]
				n := valueNode(o.Value)
				n.HeadComment = fmt.Sprintf("Migrated by honua-gitops migrate from %s.", p)
				put(envDir+dir+"/"+fileName(o.ID)+".yaml", encodeYAML(n), p)
			case KindCatalog:
				doc.Content = append(doc.Content, plainKey("catalog"), valueNode(o.Value))
			default:
				key := o.Kind.documentKey()
				list := byKey[key]
				if list == nil {
					list = &yaml.Node{Kind: yaml.SequenceNode}
					byKey[key] = list
					doc.Content = append(doc.Content, plainKey(key), list)
				}
				list.Content = append(list.Content, valueNode(o.Value))
			}
		}
		for _, key := range sortedExtraKeys(pf.extra) {
			doc.Content = append(doc.Content, plainKey(key), valueNode(pf.extra[key].value))
		}
		if len(doc.Content) > 0 {
			doc.HeadComment = originalHeader(p, kinds[p], data)
			put(docPath, encodeYAML(doc), p)
		}
	}
	after := map[string][]byte{}
	for p, data := range contents {
		if !isOriginal[p] {
			after[p] = data
		}
	}
	var writes, originalWrites []MigrateAction
	paths := make([]string, 0, len(plan))
	for p := range plan {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		pl := plan[p]
		after[p] = pl.data
		old, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		switch {
		case err == nil && isOriginal[p]:
			originalWrites = append(originalWrites, MigrateAction{Op: "write", Path: p, From: pl.from})
		case err == nil && bytes.Equal(old, pl.data):
			writes = append(writes, MigrateAction{Op: "unchanged", Path: p, From: pl.from})
		case err == nil:
			problems = append(problems, errorAt(Position{File: p}, "migrate-overwrite",
				"exists with other content; the migration of %s would overwrite it: move it away or merge it by hand, then run migrate again", pl.from))
		case errors.Is(err, fs.ErrNotExist):
			writes = append(writes, MigrateAction{Op: "write", Path: p, From: pl.from})
		default:
			return nil, err
		}
	}
	if len(problems) > 0 {
		SortDiagnostics(problems)
		return nil, &MigrateError{Problems: problems}
	}
	if err := sameDocuments(ctx, before, &memSource{name: root + " (migrated)", files: after}, lim); err != nil {
		return nil, err
	}
	res.Actions = append(append(res.Actions, writes...), originalWrites...)
	for _, p := range originals {
		if _, replaced := plan[p]; !replaced {
			res.Actions = append(res.Actions, MigrateAction{Op: "remove", Path: p})
		}
	}
	if opts.DryRun {
		return res, nil
	}
	for _, a := range res.Actions {
		full := filepath.Join(root, filepath.FromSlash(a.Path))
		switch a.Op {
		case "write":
			if err := writeFileAtomic(full, plan[a.Path].data); err != nil {
				return res, err
			}
		case "remove":
			if err := os.Remove(full); err != nil {
				return res, err
			}
			removeEmptyDirs(root, path.Dir(a.Path))
		}
	}
	return res, nil
}

// stateErrors lists the errors of a state: a repository with errors
// renders nothing, so a migration of it could not be checked.
func stateErrors(st *State) []Diagnostic {
	out := FilterSeverity(st.Diagnostics, SeverityError)
	for _, name := range st.EnvironmentNames() {
		out = append(out, st.Environments[name].Errors()...)
	}
	out = dedupe(out)
	SortDiagnostics(out)
	return out
}

// sameDocuments loads the migrated files and requires every environment to
// render the document it rendered before.
func sameDocuments(ctx context.Context, before *State, after Source, lim Limits) error {
	st, err := NewLoader(lim).Load(ctx, after)
	if err != nil {
		return err
	}
	if problems := stateErrors(st); len(problems) > 0 {
		return fmt.Errorf("the migrated files would not load without errors; nothing written (please report this): %w", &MigrateError{Problems: problems})
	}
	if a, b := strings.Join(before.EnvironmentNames(), ","), strings.Join(st.EnvironmentNames(), ","); a != b {
		return fmt.Errorf("the migrated files would have environments %s instead of %s; nothing written (please report this)", b, a)
	}
	for _, name := range before.EnvironmentNames() {
		want, err := RenderJSON(before.Environments[name], migrationSecrets)
		if err != nil {
			return err
		}
		got, err := RenderJSON(st.Environments[name], migrationSecrets)
		if err != nil {
			return err
		}
		if !bytes.Equal(want, got) {
			return fmt.Errorf("the migrated files would render another document for environment %s; nothing written (please report this)", name)
		}
	}
	return nil
}

// originalHeader is the comment a migrated document file starts with: where
// it comes from, and the original's header, which describes the file and
// is no part of Honua's document.
func originalHeader(p, kind string, data []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Migrated by honua-gitops migrate from %s (kind: %s).", p, kind)
	var n yaml.Node
	if yaml.Unmarshal(data, &n) == nil && len(n.Content) > 0 {
		if _, md := find(n.Content[0].Content, "metadata"); md != nil && md.Kind == yaml.MappingNode {
			var out bytes.Buffer
			enc := yaml.NewEncoder(&out)
			enc.SetIndent(2)
			if enc.Encode(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{plainKey("metadata"), md}}) == nil && enc.Close() == nil {
				b.WriteString("\nThe original's header:")
				for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
					b.WriteString("\n  " + line)
				}
			}
		}
	}
	return b.String()
}

// fileName is a file name for an object id: characters other than letters,
// digits, '.', '_' and '-' become '-'.
func fileName(id string) string {
	var b strings.Builder
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.' && b.Len() > 0:
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

func plainKey(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// keyOrder puts the fields people look for first; the rest follow sorted.
var keyOrder = []string{
	"id", "name", "title", "type", "provider", "connectionString", "serviceId", "folderId", "serviceType", "dataSourceId",
	"description", "geometryType", "idField", "geometryField", "displayField", "storage", "fields",
}

func orderedKeys(m map[string]any) []string {
	rank := func(k string) int {
		for i, o := range keyOrder {
			if o == k {
				return i
			}
		}
		return len(keyOrder)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if ri, rj := rank(keys[i]), rank(keys[j]); ri != rj {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	return keys
}

// valueNode converts a JSON-compatible value to a YAML node that reads back
// as the same value.
func valueNode(v any) *yaml.Node {
	switch t := v.(type) {
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range orderedKeys(t) {
			n.Content = append(n.Content, plainKey(k), valueNode(t[k]))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		flow := len(t) > 0
		for _, e := range t {
			c := valueNode(e)
			if c.Kind != yaml.ScalarNode || strings.Contains(c.Value, "\n") {
				flow = false
			}
			n.Content = append(n.Content, c)
		}
		if flow {
			n.Style = yaml.FlowStyle
		}
		return n
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: t}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(t)}
	case int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(t, 10)}
	case float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: formatFloat(t)}
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: fmt.Sprint(v)}
}

// formatFloat writes f so that YAML reads it back as the same float.
func formatFloat(f float64) string {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	s := strconv.FormatFloat(f, format, -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

func encodeYAML(n *yaml.Node) []byte {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		// Only a node this package built is encoded; it cannot fail.
		panic(fmt.Sprintf("encoding migrated YAML: %v", err))
	}
	_ = enc.Close()
	return b.Bytes()
}

func writeFileAtomic(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".honua-migrate-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// removeEmptyDirs removes dir and its parents while they are empty, up to
// the environment folder.
func removeEmptyDirs(root, dir string) {
	for strings.Count(dir, "/") > 1 && strings.HasPrefix(dir, EnvironmentsDir+"/") {
		if os.Remove(filepath.Join(root, filepath.FromSlash(dir))) != nil {
			return
		}
		dir = path.Dir(dir)
	}
}

// memSource is a config repository held in memory.
type memSource struct {
	name  string
	files map[string][]byte
}

func (m *memSource) Name() string { return m.name }

func (m *memSource) List(ctx context.Context) ([]File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]File, 0, len(m.files))
	for p, data := range m.files {
		sum := sha256.Sum256(data)
		out = append(out, File{Path: p, Hash: hex.EncodeToString(sum[:]), Size: int64(len(data))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func (m *memSource) Read(ctx context.Context, p string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, ok := m.files[p]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return data, nil
}
