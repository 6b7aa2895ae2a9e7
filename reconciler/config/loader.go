package config

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
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

// Loader reads config repositories into States. It caches parsed files by
// path and content hash, so loading a revision that shares most files with
// one loaded before costs only the changed files. A Loader is safe for
// concurrent use.
type Loader struct {
	Limits Limits

	mu    sync.Mutex
	cache map[string]*parsedFile
}

// maxCacheEntries bounds the parse cache; past it the cache starts over.
const maxCacheEntries = 500_000

// NewLoader returns a loader with the given limits (zero fields take
// DefaultLimits).
func NewLoader(lim Limits) *Loader {
	return &Loader{Limits: lim.orDefault(), cache: map[string]*parsedFile{}}
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
		if env == "" || (role == roleIgnored && !isConfigExt(f.Path)) {
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
	common := byEnv[CommonEnv]
	for env, own := range byEnv {
		if env == CommonEnv {
			continue
		}
		st.Environments[env] = assemble(env, common, own, parsed)
	}
	SortDiagnostics(st.Diagnostics)
	return st, nil
}

// parseAll parses the config files of files, from the cache where it can,
// with one worker per CPU for the rest.
func (l *Loader) parseAll(src Source, files []File, lim Limits) (map[string]*parsedFile, error) {
	out := make(map[string]*parsedFile, len(files))
	var todo []File
	l.mu.Lock()
	if l.cache == nil {
		l.cache = map[string]*parsedFile{}
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
		l.cache = map[string]*parsedFile{}
	}
	for i, f := range todo {
		out[f.Path] = results[i]
		l.cache[cacheKey(f)] = results[i]
	}
	return out, nil
}

func cacheKey(f File) string { return f.Path + "\x00" + f.Hash }

// assemble merges common's objects and the environment's own into one
// environment and checks the rules that span objects.
func assemble(name string, common, own []File, parsed map[string]*parsedFile) *Environment {
	env := &Environment{Name: name, Objects: map[Key]*Object{}}
	var diags []Diagnostic
	for _, layer := range [][]File{common, own} {
		inLayer := map[Key]*Object{}
		for _, f := range layer {
			pf := parsed[f.Path]
			if pf == nil {
				continue
			}
			diags = append(diags, pf.diags...)
			for _, o := range pf.objects {
				if id, _ := o.Value["id"].(string); id == "" {
					continue // reported as a missing required field
				}
				k := o.Key()
				if prev, dup := inLayer[k]; dup {
					what := fmt.Sprintf("%s %q", o.Kind, o.ID)
					if o.Kind == KindCatalog {
						diags = append(diags, errorAt(o.Pos, "duplicate-id",
							"a second catalog: the environment already has catalog %q at %s: keep one catalog per environment folder", prev.ID, prev.Pos))
					} else {
						diags = append(diags, errorAt(o.PosOf("id"), "duplicate-id",
							"%s is defined twice (ids ignore case): the other is %q at %s: rename or remove one", what, prev.ID, prev.Pos))
					}
					continue
				}
				inLayer[k] = o
				env.Objects[k] = o // the environment's own replaces common's
			}
			for key, ev := range pf.extra {
				if env.Extra == nil {
					env.Extra = map[string]any{}
				}
				env.Extra[key] = ev.value
			}
		}
	}
	diags = append(diags, crossCheck(env)...)
	env.Diagnostics = dedupe(diags)
	SortDiagnostics(env.Diagnostics)
	return env
}

func dedupe(ds []Diagnostic) []Diagnostic {
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
	ref := func(o *Object, path string, target Kind) {
		v, _ := Lookup(o.Value, path).(string)
		if v == "" {
			return
		}
		if env.Objects[KeyOf(target, v)] != nil {
			return
		}
		msg := fmt.Sprintf("%s %q: %s %q does not exist in environment %s", o.Kind, o.ID, path, v, env.Name)
		if s := suggest(v, ids(target)); s != "" {
			msg += fmt.Sprintf(": did you mean %q?", s)
		} else {
			msg += fmt.Sprintf(": add a %s with id %q or point %s at an existing one", target, v, path)
		}
		ds = append(ds, errorAt(o.PosOf(path), "reference", "%s", msg))
	}
	for _, o := range env.Objects {
		switch o.Kind {
		case KindService:
			ref(o, "folderId", KindFolder)
			ref(o, "dataSourceId", KindDataSource)
		case KindLayer:
			ref(o, "serviceId", KindService)
			ref(o, "styles.defaultStyleId", KindStyle)
			styles, _ := o.Value["styles"].(map[string]any)
			list, _ := styles["styleIds"].([]any)
			for i, s := range list {
				id, _ := s.(string)
				if id == "" || env.Objects[KeyOf(KindStyle, id)] != nil {
					continue
				}
				p := fmt.Sprintf("styles.styleIds[%d]", i)
				msg := fmt.Sprintf("layer %q: style %q in styles.styleIds does not exist in environment %s", o.ID, id, env.Name)
				if sg := suggest(id, ids(KindStyle)); sg != "" {
					msg += fmt.Sprintf(": did you mean %q?", sg)
				} else {
					msg += fmt.Sprintf(": add styles/%s.yaml or remove it from the list", id)
				}
				ds = append(ds, errorAt(o.PosOf(p), "reference", "%s", msg))
			}
		case KindRaster:
			ref(o, "serviceId", KindService)
			ref(o, "layerId", KindLayer)
		}
	}
	return ds
}
