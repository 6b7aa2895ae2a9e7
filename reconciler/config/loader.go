package config

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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
	// lastLayer is the latest merge of each folder, the parent of the next.
	lastLayer map[string]*objectLayer
	envs      map[string]*Environment
	states    map[string]*State
	// derived counts merges derived from a parent, for tests.
	derived atomic.Int64
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
//
// A cancelled ctx is an error, never a state.
func (l *Loader) Load(ctx context.Context, src Source) (*State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	lim := l.Limits.orDefault()
	files, err := src.List(ctx)
	var problems []Diagnostic
	if err != nil {
		var te *TreeError
		if !errors.As(err, &te) {
			return nil, fmt.Errorf("listing %s: %w", src.Name(), err)
		}
		problems = te.Problems
	}
	// A revision whose files were all seen together before is that state.
	stateFP := fingerprint(files)
	if len(problems) == 0 {
		l.mu.Lock()
		cached := l.states[stateFP]
		l.mu.Unlock()
		if cached != nil {
			st := *cached
			st.Source = src.Name()
			return &st, nil
		}
	}

	st := &State{Source: src.Name(), Environments: map[string]*Environment{}, Diagnostics: problems}
	if !sort.SliceIsSorted(files, func(i, j int) bool { return files[i].Path < files[j].Path }) {
		files = slices.Clone(files) // the Source broke its contract; do not rely on it
		sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	}
	byEnv := groupByEnvironment(files)
	parsed, err := l.parseAll(ctx, src, files, lim)
	if err != nil {
		return nil, err
	}
	if len(byEnv) == 0 || (len(byEnv) == 1 && byEnv[CommonEnv] != nil) {
		st.Diagnostics = append(st.Diagnostics, errorAt(Position{File: EnvironmentsDir}, "no-environments",
			"%s has no environments: create %s/<name>/ folders (development, staging, production) with a metadata.yaml each", src.Name(), EnvironmentsDir))
	}
	for name := range byEnv {
		if r, bad := badIDRune(name); bad {
			st.Diagnostics = append(st.Diagnostics, errorAt(Position{File: EnvironmentsDir + "/" + name}, "environment-name",
				"the environment folder %q holds the control or invisible character %U: rename the folder", name, r))
		}
	}
	commonFP := fingerprint(byEnv[CommonEnv])
	common := l.layer(CommonEnv, commonFP, byEnv[CommonEnv], parsed)
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
			env = assemble(name, common, l.layer(name, ownFP, own, parsed))
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
	if len(problems) == 0 {
		l.mu.Lock()
		if l.states == nil || len(l.states) >= maxBuiltEntries {
			l.states = map[string]*State{}
		}
		l.states[stateFP] = st
		l.mu.Unlock()
	}
	return st, nil
}

// groupByEnvironment splits the files of environment folders by folder.
// Files are sorted by path, so each folder's files are one run of the list:
// the groups are sub-slices, nothing is copied.
func groupByEnvironment(files []File) map[string][]File {
	groups := map[string][]File{}
	for i := 0; i < len(files); {
		env, _, _ := classify(files[i].Path)
		if env == "" {
			i++
			continue
		}
		prefix := EnvironmentsDir + "/" + env + "/"
		j := i + 1
		for j < len(files) && strings.HasPrefix(files[j].Path, prefix) {
			j++
		}
		groups[env] = files[i:j:j]
		i = j
	}
	return groups
}

// fingerprint identifies a set of files by their paths and content hashes,
// for the loader's in-memory caches: 128 bits of two independently seeded
// maphashes, many times cheaper than a cryptographic hash over 10,000
// paths, with collisions as unlikely as a content hash's.
func fingerprint(files []File) string {
	var a, b maphash.Hash
	a.SetSeed(fpSeeds[0])
	b.SetSeed(fpSeeds[1])
	for _, f := range files {
		for _, h := range []*maphash.Hash{&a, &b} {
			h.WriteString(f.Path)
			h.WriteByte(0)
			h.WriteString(f.Hash)
			h.WriteByte(0)
		}
	}
	return fmt.Sprintf("%016x%016x", a.Sum64(), b.Sum64())
}

var fpSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// parseAll parses the config files of files, from the cache where it can,
// with one worker per CPU for the rest.
//
// The files of a repository share one budget of values (lim.MaxValues),
// spent in path order, so that which files are read never depends on which
// worker was faster. Each file is measured before it is decoded, and a
// worker decodes it only while the files measured so far (in any order)
// stay within the budget, which bounds what a load decodes to twice the
// budget at most (the second half: files decoded first whose values the
// path order then discards, and the files it keeps that were skipped). When
// the repository is over budget, applyBudget decides in path order which
// files count as read, and a file that decision keeps but a worker skipped
// is decoded then.
func (l *Loader) parseAll(ctx context.Context, src Source, files []File, lim Limits) (map[string]*parsedFile, error) {
	out := make(map[string]*parsedFile, len(files))
	var todo []File
	var cached int64
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
			cached = add(cached, pf.values)
			continue
		}
		todo = append(todo, f)
	}
	l.mu.Unlock()
	total := cached
	if len(todo) > 0 {
		results, err := l.parseNew(ctx, src, todo, cached, lim)
		if err != nil {
			return nil, err
		}
		for i, f := range todo {
			out[f.Path] = results[i]
			total = add(total, results[i].values)
		}
		l.cacheFiles(todo, results)
	}
	if total <= int64(lim.MaxValues) {
		return out, nil
	}
	for _, f := range applyBudget(files, out, lim) {
		pf, err := readFile(ctx, src, f, lim, nil)
		if err != nil {
			return nil, err
		}
		out[f.Path] = pf
		l.cacheFiles([]File{f}, []*parsedFile{pf})
	}
	return out, nil
}

// cacheFiles remembers what files hold, except files that were not read
// for the budget (what they hold depends on the other files).
func (l *Loader) cacheFiles(files []File, pfs []*parsedFile) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.cache)+len(files) > maxCacheEntries {
		l.cache = map[fileKey]*parsedFile{}
	}
	for i, f := range files {
		if !pfs[i].overBudget {
			l.cache[cacheKey(f)] = pfs[i]
		}
	}
}

// parseNew parses the files of todo on one worker per CPU. A file is
// decoded only while what the files measured so far expand to, with spent
// (the cached files), stays within the budget.
func (l *Loader) parseNew(ctx context.Context, src Source, todo []File, spent int64, lim Limits) ([]*parsedFile, error) {
	var measured atomic.Int64
	measured.Store(spent)
	admit := func(values int64) bool { return measured.Add(values) <= int64(lim.MaxValues) }
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
				results[i], errs[i] = readFile(ctx, src, todo[i], lim, admit)
			}
		}()
	}
	for i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return results, nil
}

// readFile reads and parses one file of src; the error is for a file that
// cannot be read at all.
func readFile(ctx context.Context, src Source, f File, lim Limits, admit func(int64) bool) (*parsedFile, error) {
	if err := ctx.Err(); err != nil {
		return &parsedFile{}, err
	}
	if f.Size > lim.MaxFileSize {
		return &parsedFile{diags: []Diagnostic{errorAt(Position{File: f.Path, Line: 1, Column: 1}, "file-too-large",
			"file is %d bytes, over the limit of %d bytes: split it (one layer or style per file) or raise --max-file-size", f.Size, lim.MaxFileSize)}}, nil
	}
	data, err := src.Read(ctx, f.Path)
	if errors.Is(err, ErrFileTooLarge) {
		return &parsedFile{diags: []Diagnostic{errorAt(Position{File: f.Path, Line: 1, Column: 1}, "file-too-large",
			"file is over the limit of %d bytes: split it (one layer or style per file) or raise --max-file-size", lim.MaxFileSize)}}, nil
	}
	if err != nil {
		return &parsedFile{}, fmt.Errorf("reading %s: %w", f.Path, err)
	}
	return parseFile(f.Path, data, lim, admit), nil
}

// applyBudget spends the repository's budget of values over the config
// files of files (those in parsed) in path order and replaces what each
// file over it holds with an error saying why it was not read: the first
// such file names the budget and the files that spent most of it. A cached
// file may be over the budget of this repository although it was read in
// another. It returns the files within the budget that a worker did not
// decode, which must be read now.
func applyBudget(files []File, parsed map[string]*parsedFile, lim Limits) []File {
	var sum int64
	var first string
	var unread []File
	for i, f := range files {
		pf := parsed[f.Path]
		if pf == nil {
			continue
		}
		sum = add(sum, pf.values)
		if sum <= int64(lim.MaxValues) {
			if pf.overBudget {
				unread = append(unread, f)
			}
			continue
		}
		over := &parsedFile{values: pf.values, overBudget: true}
		if first == "" {
			first = f.Path
			over.diags = []Diagnostic{errorAt(Position{File: f.Path, Line: 1, Column: 1}, "too-many-values",
				"not read: the config files up to this one expand to more than %d values together (%s): remove YAML aliases that repeat large parts, split the repository, or raise --max-values",
				lim.MaxValues, largestFiles(files[:i+1], parsed))}
		} else {
			over.diags = []Diagnostic{errorAt(Position{File: f.Path, Line: 1, Column: 1}, "too-many-values",
				"not read: the repository's budget of %d values was spent before this file (see %s)", lim.MaxValues, first)}
		}
		parsed[f.Path] = over
	}
	return unread
}

// largestFiles names the three files of files that expand to the most
// values, with their counts.
func largestFiles(files []File, parsed map[string]*parsedFile) string {
	type fv struct {
		path   string
		values int64
	}
	var all []fv
	for _, f := range files {
		if pf := parsed[f.Path]; pf != nil && pf.values > 0 {
			all = append(all, fv{f.Path, pf.values})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].values > all[j].values })
	var parts []string
	for i, f := range all {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more files", len(all)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s: %d", f.path, f.values))
	}
	return "the most: " + strings.Join(parts, ", ")
}

// fileKey identifies a parsed file: the same content at another path parses
// to other positions.
type fileKey struct{ path, hash string }

func cacheKey(f File) fileKey { return fileKey{f.Path, f.Hash} }

// objectLayer is what one environment folder defines: its objects by key,
// its pass-through document keys, and the findings of its files.
type objectLayer struct {
	// files and pfs (what each file holds) are kept to derive the next
	// merge of the same folder from this one.
	files         []File
	pfs           []*parsedFile
	hasDuplicates bool

	objects map[Key]*Object
	extra   map[string]any
	diags   []Diagnostic
	// unresolved are the references of the folder's objects to objects the
	// folder itself does not define. For common, they are all an
	// environment must check again: a reference that resolves within common
	// resolves in every environment, since an environment can replace
	// common's objects but not remove them.
	unresolved []unresolvedRef
}

type unresolvedRef struct {
	o *Object
	r objRef
}

// layer returns the merged objects of the files of one environment folder,
// from the cache when the same files were merged before, or derived from
// the last merge of the same folder when few files changed since.
func (l *Loader) layer(folder, fp string, files []File, parsed map[string]*parsedFile) *objectLayer {
	l.mu.Lock()
	ol := l.layers[fp]
	parent := l.lastLayer[folder]
	l.mu.Unlock()
	if ol != nil {
		return ol
	}
	pfs := make([]*parsedFile, len(files))
	for i, f := range files {
		pfs[i] = parsed[f.Path]
	}
	if parent != nil {
		if ol = deriveLayer(parent, files, pfs); ol != nil {
			l.derived.Add(1)
		}
	}
	if ol == nil {
		ol = buildLayer(files, pfs)
	}
	l.mu.Lock()
	if l.layers == nil || len(l.layers) >= maxBuiltEntries {
		l.layers = map[string]*objectLayer{}
	}
	l.layers[fp] = ol
	if l.lastLayer == nil {
		l.lastLayer = map[string]*objectLayer{}
	}
	l.lastLayer[folder] = ol
	l.mu.Unlock()
	return ol
}

// buildLayer merges the objects of one folder's files (pfs[i] is what
// files[i] holds, nil for a file that holds nothing); two objects of the
// same kind and id (ignoring case) in one folder are an error.
func buildLayer(files []File, pfs []*parsedFile) *objectLayer {
	n := 0
	for _, pf := range pfs {
		if pf != nil {
			n += len(pf.objects)
		}
	}
	ol := &objectLayer{files: files, pfs: pfs, objects: make(map[Key]*Object, n)}
	var extraPos map[string]Position
	for _, pf := range pfs {
		if pf == nil {
			continue
		}
		ol.diags = append(ol.diags, pf.diags...)
		for _, o := range pf.objects {
			if !hasID(o) {
				continue // reported as a missing required field
			}
			k := o.Key()
			if prev, dup := ol.objects[k]; dup {
				ol.hasDuplicates = true
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
		for _, key := range sortedExtraKeys(pf.extra) {
			ev := pf.extra[key]
			if ol.extra == nil {
				ol.extra = map[string]any{}
				extraPos = map[string]Position{}
			}
			if prev, dup := extraPos[key]; dup {
				// The files of a folder make one document: a second
				// server: would silently replace the first.
				ol.hasDuplicates = true
				ol.diags = append(ol.diags, errorAt(ev.pos, "duplicate-key",
					"top-level key %s is also defined at %s: the files of an environment folder make one document; keep one of the two", key, prev))
				continue
			}
			extraPos[key] = ev.pos
			ol.extra[key] = ev.value
		}
	}
	for _, o := range ol.objects {
		for _, r := range o.refs {
			if ol.objects[r.key] == nil {
				ol.unresolved = append(ol.unresolved, unresolvedRef{o, r})
			}
		}
	}
	return ol
}

func hasID(o *Object) bool {
	id, _ := o.Value["id"].(string)
	return id != ""
}

// deriveLayer computes the same result as buildLayer from the last merge
// of the folder, touching only the files that differ: the cost of a plan
// follows the size of the change. It returns nil, and the caller builds from
// scratch, when the change is large or in a case the shortcut does not
// cover (duplicate ids, objects that disappear, pass-through keys).
func deriveLayer(parent *objectLayer, files []File, pfs []*parsedFile) *objectLayer {
	if parent.hasDuplicates || len(parent.extra) > 0 {
		return nil
	}
	type change struct{ old, new *parsedFile }
	var changes []change
	i, j := 0, 0
	for i < len(parent.files) || j < len(files) {
		switch {
		case j == len(files) || (i < len(parent.files) && parent.files[i].Path < files[j].Path):
			changes = append(changes, change{old: parent.pfs[i]})
			i++
		case i == len(parent.files) || files[j].Path < parent.files[i].Path:
			changes = append(changes, change{new: pfs[j]})
			j++
		default:
			if parent.files[i].Hash != files[j].Hash || parent.pfs[i] != pfs[j] {
				changes = append(changes, change{old: parent.pfs[i], new: pfs[j]})
			}
			i++
			j++
		}
		if len(changes) > 64 && len(changes) > len(files)/8 {
			return nil
		}
	}
	ol := &objectLayer{files: files, pfs: pfs, objects: maps.Clone(parent.objects)}
	if ol.objects == nil {
		ol.objects = map[Key]*Object{}
	}
	changedFiles := map[string]bool{}
	removed := map[Key]bool{}
	for _, c := range changes {
		if c.old != nil {
			if len(c.old.extra) > 0 {
				return nil
			}
			for _, o := range c.old.objects {
				if hasID(o) && ol.objects[o.Key()] == o {
					delete(ol.objects, o.Key())
					removed[o.Key()] = true
				}
			}
			for _, d := range c.old.diags {
				changedFiles[d.File] = true
			}
		}
	}
	var added []*Object
	for _, c := range changes {
		if c.new == nil {
			continue
		}
		if len(c.new.extra) > 0 {
			return nil
		}
		for _, o := range c.new.objects {
			if !hasID(o) {
				continue
			}
			if ol.objects[o.Key()] != nil {
				return nil // a duplicate: let the full merge order and report it
			}
			ol.objects[o.Key()] = o
			delete(removed, o.Key())
			added = append(added, o)
		}
	}
	if len(removed) > 0 {
		return nil // references to what disappeared must be looked for everywhere
	}
	for _, d := range parent.diags {
		if !changedFiles[d.File] {
			ol.diags = append(ol.diags, d)
		}
	}
	for _, c := range changes {
		if c.new != nil {
			ol.diags = append(ol.diags, c.new.diags...)
		}
	}
	for _, u := range parent.unresolved {
		if ol.objects[u.o.Key()] == u.o && ol.objects[u.r.key] == nil {
			ol.unresolved = append(ol.unresolved, u)
		}
	}
	for _, o := range added {
		for _, r := range o.refs {
			if ol.objects[r.key] == nil {
				ol.unresolved = append(ol.unresolved, unresolvedRef{o, r})
			}
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
	diags = append(diags, crossCheck(env, common, own)...)
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

// crossCheck validates the rules between objects of one environment:
// references, and a catalog being present. Only what common could not
// resolve on its own and the environment's own objects are looked at, so
// its cost follows the size of the environment folder, not of common.
func crossCheck(env *Environment, common, own *objectLayer) []Diagnostic {
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
	for _, u := range common.unresolved {
		if env.Objects[u.o.Key()] != u.o || env.Objects[u.r.key] != nil {
			continue // replaced by the environment's own, or resolved by it
		}
		ds = append(ds, unresolved(env, u.o, u.r, ids(u.r.kind)))
	}
	for _, o := range own.objects {
		for _, r := range o.refs {
			if env.Objects[r.key] == nil {
				ds = append(ds, unresolved(env, o, r, ids(r.kind)))
			}
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

func sortedExtraKeys(m map[string]extraValue) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
