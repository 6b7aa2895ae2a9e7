package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// TreeError lists the problems found while listing a source's files: symlinks,
// paths that escape the root, too many files. A Source returns it together
// with the files it could list; the loader reports each problem as an error
// of the repository.
type TreeError struct {
	Problems []Diagnostic
}

func (e *TreeError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0].String()
	}
	return fmt.Sprintf("%s (and %d more problems)", e.Problems[0], len(e.Problems)-1)
}

// ErrFileTooLarge is returned by a Source's Read for a file over the size
// limit.
var ErrFileTooLarge = errors.New("file too large")

// Loader reads config repositories into States. It caches what it built by
// content: parsed files by path and content hash, the merged objects of an
// environment folder by the fingerprint of its files, and whole environments
// by the fingerprints of common and their own folder. Loading a revision that
// shares most files with one loaded before costs only the changed files and
// the checks between objects. States share what they have in common, so they
// must be treated as read-only. A Loader is safe for concurrent use.
type Loader struct {
	Limits Limits

	mu     sync.Mutex
	cache  map[fileKey]*parsedFile
	layers map[string]*objectLayer
	envs   map[string]*Environment
}

// maxCacheEntries bounds the parse cache, maxBuiltEntries the caches of
// folders and environments; past the bound a cache starts over.
const (
	maxCacheEntries = 500_000
	maxBuiltEntries = 64
)

// NewLoader returns a loader with the given limits (zero fields take
// DefaultLimits).
func NewLoader(lim Limits) *Loader {
	return &Loader{Limits: lim.orDefault()}
}

// Load reads every environment of src, merges common into each, and
// validates them. Problems with the content are diagnostics in the State;
// the error is for a source that cannot be read at all.
func (l *Loader) Load(src Source) (*State, error) {
	lim := l.Limits.orDefault()
	files, err := src.List()
	st := &State{Source: src.Name(), Environments: map[string]*Environment{}}
	if err != nil {
		var te *TreeError
		if !errors.As(err, &te) {
			return nil, fmt.Errorf("listing %s: %w", src.Name(), err)
		}
		st.Diagnostics = append(st.Diagnostics, te.Problems...)
	}

	// Which files belong to which environment folder.
	byEnv := map[string][]File{}
	for _, f := range files {
		env, role, _ := classify(f.Path)
		if env == "" || role == roleIgnored {
			continue
		}
		byEnv[env] = append(byEnv[env], f)
	}
	parsed, err := l.parseAll(src, files, lim)
	if err != nil {
		return nil, err
	}

	if len(byEnv) == 0 || (len(byEnv) == 1 && byEnv[CommonEnv] != nil) {
		st.Diagnostics = append(st.Diagnostics, errorAt(Position{File: EnvironmentsDir}, "no-environments",
			"%s has no environments: create %s/<name>/ folders (development, staging, production) with a metadata.yaml each", src.Name(), EnvironmentsDir))
	}
	commonFP := fingerprint(byEnv[CommonEnv])
	common := l.layer(commonFP, byEnv[CommonEnv], parsed)
	for name, own := range byEnv {
		if name == CommonEnv {
			continue
		}
		ownFP := fingerprint(own)
		envFP := name + "\x00" + commonFP + "\x00" + ownFP
		l.mu.Lock()
		env := l.envs[envFP]
		l.mu.Unlock()
		if env == nil {
			env = assemble(name, common, l.layer(ownFP, own, parsed))
			l.mu.Lock()
			if l.envs == nil || len(l.envs) >= maxBuiltEntries {
				l.envs = map[string]*Environment{}
			}
			l.envs[envFP] = env
			l.mu.Unlock()
		}
		st.Environments[name] = env
	}
	SortDiagnostics(st.Diagnostics)
	return st, nil
}

// fingerprint identifies a set of files by their paths and content hashes.
func fingerprint(files []File) string {
	h := sha256.New()
	for _, f := range files {
		h.Write([]byte(f.Path))
		h.Write([]byte{0})
		h.Write([]byte(f.Hash))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// parseAll parses the config files of files, from the cache where it can,
// with one worker per CPU for the rest.
func (l *Loader) parseAll(src Source, files []File, lim Limits) (map[string]*parsedFile, error) {
	out := make(map[string]*parsedFile, len(files))
	var todo []File
	l.mu.Lock()
	if l.cache == nil {
		l.cache = map[fileKey]*parsedFile{}
	}
	for _, f := range files {
		env, role, _ := classify(f.Path)
		if env == "" || role == roleIgnored {
			continue
		}
		if pf, ok := l.cache[cacheKey(f)]; ok {
			out[f.Path] = pf
			continue
		}
		todo = append(todo, f)
	}
	l.mu.Unlock()
	if len(todo) == 0 {
		return out, nil
	}

	results := make([]*parsedFile, len(todo))
	errs := make([]error, len(todo))
	workers := min(runtime.GOMAXPROCS(0), len(todo))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f := todo[i]
				if f.Size > lim.MaxFileSize {
					results[i] = &parsedFile{diags: []Diagnostic{errorAt(Position{File: f.Path, Line: 1, Column: 1}, "file-too-large",
						"file is %d bytes, over the limit of %d bytes: split it (one layer or style per file) or raise --max-file-size", f.Size, lim.MaxFileSize)}}
					continue
				}
				data, err := src.Read(f.Path)
				if errors.Is(err, ErrFileTooLarge) {
					results[i] = &parsedFile{diags: []Diagnostic{errorAt(Position{File: f.Path, Line: 1, Column: 1}, "file-too-large",
						"file is over the limit of %d bytes: split it (one layer or style per file) or raise --max-file-size", lim.MaxFileSize)}}
					continue
				}
				if err != nil {
					errs[i] = fmt.Errorf("reading %s: %w", f.Path, err)
					continue
				}
				results[i] = parseFile(f.Path, data, lim)
			}
		}()
	}
	for i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.cache)+len(todo) > maxCacheEntries {
		l.cache = map[fileKey]*parsedFile{}
	}
	for i, f := range todo {
		out[f.Path] = results[i]
		l.cache[cacheKey(f)] = results[i]
	}
	return out, nil
}

// fileKey identifies a parsed file: the same content at another path parses
// to other positions.
type fileKey struct{ path, hash string }

func cacheKey(f File) fileKey { return fileKey{f.Path, f.Hash} }

// objectLayer is what one environment folder defines: its objects by key,
// its pass-through document keys, and the findings of its files.
type objectLayer struct {
	objects map[Key]*Object
	extra   map[string]any
	diags   []Diagnostic
}

// layer returns the merged objects of the files of one environment folder,
// from the cache when the same files were merged before.
func (l *Loader) layer(fp string, files []File, parsed map[string]*parsedFile) *objectLayer {
	l.mu.Lock()
	ol := l.layers[fp]
	l.mu.Unlock()
	if ol != nil {
		return ol
	}
	ol = buildLayer(files, parsed)
	l.mu.Lock()
	if l.layers == nil || len(l.layers) >= maxBuiltEntries {
		l.layers = map[string]*objectLayer{}
	}
	l.layers[fp] = ol
	l.mu.Unlock()
	return ol
}

// buildLayer merges the objects of one folder's files; two objects of the
// same kind and id (ignoring case) in one folder are an error.
func buildLayer(files []File, parsed map[string]*parsedFile) *objectLayer {
	n := 0
	for _, f := range files {
		if pf := parsed[f.Path]; pf != nil {
			n += len(pf.objects)
		}
	}
	ol := &objectLayer{objects: make(map[Key]*Object, n)}
	for _, f := range files {
		pf := parsed[f.Path]
		if pf == nil {
			continue
		}
		ol.diags = append(ol.diags, pf.diags...)
		for _, o := range pf.objects {
			if id, _ := o.Value["id"].(string); id == "" {
				continue // reported as a missing required field
			}
			k := o.Key()
			if prev, dup := ol.objects[k]; dup {
				if o.Kind == KindCatalog {
					ol.diags = append(ol.diags, errorAt(o.Pos, "duplicate-id",
						"a second catalog: the environment already has catalog %q at %s: keep one catalog per environment folder", prev.ID, prev.Pos))
				} else {
					ol.diags = append(ol.diags, errorAt(o.PosOf("id"), "duplicate-id",
						"%s %q is defined twice (ids ignore case): the other is %q at %s: rename or remove one", o.Kind, o.ID, prev.ID, prev.Pos))
				}
				continue
			}
			ol.objects[k] = o
		}
		for key, ev := range pf.extra {
			if ol.extra == nil {
				ol.extra = map[string]any{}
			}
			ol.extra[key] = ev.value
		}
	}
	return ol
}

// assemble merges common's objects and the environment's own (which replace
// common's of the same kind and id) and checks the rules between objects.
func assemble(name string, common, own *objectLayer) *Environment {
	env := &Environment{Name: name, Objects: maps.Clone(common.objects)}
	if env.Objects == nil {
		env.Objects = make(map[Key]*Object, len(own.objects))
	}
	maps.Copy(env.Objects, own.objects)
	if len(common.extra)+len(own.extra) > 0 {
		env.Extra = maps.Clone(common.extra)
		if env.Extra == nil {
			env.Extra = map[string]any{}
		}
		maps.Copy(env.Extra, own.extra)
	}
	diags := make([]Diagnostic, 0, len(common.diags)+len(own.diags))
	diags = append(diags, common.diags...)
	diags = append(diags, own.diags...)
	diags = append(diags, crossCheck(env)...)
	env.Diagnostics = dedupe(diags)
	SortDiagnostics(env.Diagnostics)
	return env
}

func dedupe(ds []Diagnostic) []Diagnostic {
	if len(ds) < 2 {
		return ds
	}
	seen := make(map[Diagnostic]bool, len(ds))
	out := ds[:0]
	for _, d := range ds {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// crossCheck validates the rules between objects of one environment with
// indexes built once: references, and a catalog being present.
func crossCheck(env *Environment) []Diagnostic {
	var ds []Diagnostic
	if env.Objects[Key{Kind: KindCatalog}] == nil {
		ds = append(ds, errorAt(Position{File: EnvironmentsDir + "/" + env.Name}, "no-catalog",
			"environment %s has no catalog: add `catalog: {id: %s, title: ...}` to %s/%s/metadata.yaml (or to %s/%s/metadata.yaml)",
			env.Name, env.Name, EnvironmentsDir, env.Name, EnvironmentsDir, CommonEnv))
	}
	// ids by kind, for "did you mean" suggestions; built only when needed.
	var idsByKind map[Kind][]string
	ids := func(k Kind) []string {
		if idsByKind == nil {
			idsByKind = map[Kind][]string{}
			for key, o := range env.Objects {
				idsByKind[key.Kind] = append(idsByKind[key.Kind], o.ID)
			}
			for _, l := range idsByKind {
				sort.Strings(l)
			}
		}
		return idsByKind[k]
	}
	for _, o := range env.Objects {
		for _, r := range o.refs {
			if env.Objects[r.key] != nil {
				continue
			}
			ds = append(ds, unresolved(env, o, r, ids(r.kind)))
		}
	}
	return ds
}

// unresolved is the error for a reference r of o that names no object.
func unresolved(env *Environment, o *Object, r objRef, known []string) Diagnostic {
	var what string
	if strings.HasPrefix(r.path, "styles.styleIds[") {
		what = fmt.Sprintf("style %q in styles.styleIds", r.id)
	} else {
		what = fmt.Sprintf("%s %q", r.path, r.id)
	}
	msg := fmt.Sprintf("%s %q: %s does not exist in environment %s", o.Kind, o.ID, what, env.Name)
	switch s := suggest(r.id, known); {
	case s != "":
		msg += fmt.Sprintf(": did you mean %q?", s)
	case r.kind == KindStyle && strings.HasPrefix(r.path, "styles.styleIds["):
		msg += fmt.Sprintf(": add styles/%s.yaml or remove it from the list", r.id)
	default:
		msg += fmt.Sprintf(": add a %s with id %q or point %s at an existing one", r.kind, r.id, r.path)
	}
	return errorAt(o.PosOf(r.path), "reference", "%s", msg)
}
