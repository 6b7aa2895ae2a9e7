package mirror

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// ErrNotMirrored is returned (wrapped) by Source and Parents for a commit
// that is not in the mirror: Fetch it first.
var ErrNotMirrored = errors.New("commit not in the mirror (fetch it first)")

// ErrClosed is returned by a Mirror's methods after Close.
var ErrClosed = errors.New("mirror closed")

// Config configures a Mirror.
type Config struct {
	// Dir holds the mirrors, one bare repository per config repository
	// (Dir/owner/name/<n>.git, names in lower case). It is created when
	// missing. One process owns it.
	Dir string
	// GitURL gives the smart-HTTP clone URL of "owner/name", such as
	// https://github.com/owner/name.git. It must not carry credentials.
	GitURL func(repo string) string
	// Limits bound what Sources read; zero fields take config.DefaultLimits.
	Limits config.Limits
	// MaxPacks bounds the pack files of a mirror. Each incremental fetch
	// adds one, and every lookup and every new view pays for each; a fetch
	// that finds this many fetches into a fresh mirror instead (one pack,
	// the requested commits' history). Zero means 32.
	MaxPacks int
	// Logger reports mirrors found damaged and re-created, and fetches (at
	// debug level). Nil means slog.Default().
	Logger *slog.Logger
}

// Mirror keeps bare git mirrors of config repositories on disk, so that
// planning a pull request costs one incremental fetch rather than a clone,
// and nothing at all when the commits are already there.
//
// Every commit fetched gets a ref refs/honua/<sha>, which keeps it and lets
// go-git offer it as a "have" on the next fetch, so the server sends only
// what is missing.
//
// Concurrency: fetches of one repository are serialised by a lock of its
// own; different repositories fetch in parallel. Readers never share go-git
// state with a fetch: a fetch writes through a go-git repository of its own,
// and when it brings new objects the mirror opens a fresh read-only view of
// the repository for the Sources that follow. Sources already handed out
// keep reading their own view, which stays valid: a fetch only adds pack
// files (each written to a temporary file, and renamed into place after its
// index) and refs under refs/honua/, and never rewrites or deletes a pack.
// When a mirror is replaced (damaged, or MaxPacks reached), the new one is
// a new directory and the previous one stays until the next replacement.
// A view keeps at most mirrorMaxOpenPacks pack files open; an old view's
// are closed by the garbage collector once its last Source is dropped, the
// current views' by Close.
type Mirror struct {
	cfg    Config
	dir    string // absolute
	logger *slog.Logger

	mu     sync.Mutex
	repos  map[string]*mirrorRepo // by lower-case owner/name
	closed bool
}

const (
	// mirrorRefPrefix names the refs that keep fetched commits.
	mirrorRefPrefix = "refs/honua/"
	// mirrorTmpDir (under Dir) holds mirrors being created and mirrors
	// being deleted; an owner name cannot start with a dot, so it cannot
	// clash with a mirror.
	mirrorTmpDir = ".tmp"
	// mirrorMaxOpenPacks bounds the pack files a view keeps open.
	mirrorMaxOpenPacks = 16
	// mirrorLargeObject is the size above which go-git streams an object
	// from disk instead of reading it into memory (and its cache).
	mirrorLargeObject = 1 << 20
	// mirrorObjectCache bounds go-git's cache of decoded objects per
	// storage (its default is 96 MiB). The config loader keeps what it
	// parsed by content hash, so a blob is read once; the cache serves
	// trees and the bases of deltas. A runner reading 10,000 files kept
	// 11 MB of blobs there for nothing.
	mirrorObjectCache = 2 * cache.MiByte
)

// mirrorRepo is the state of one repository's mirror. On disk a mirror is
// Dir/owner/name/<n>.git: a new mirror, made when the old one is damaged or
// has too many packs, is version n+1, and version n stays until the next
// one for the Sources still reading it (go-git finds files by path).
type mirrorRepo struct {
	name string // owner/name as GitHub spells it (for the URL and messages)
	root string // absolute path of Dir/owner/name

	// sem is the fetch lock: held while fetching, or while opening or
	// (re)creating the repository on disk.
	sem chan struct{}
	// Guarded by sem:
	scanned bool // root has been read in this process
	version int  // the current version; 0 when there is none
	// checked is set once the refs of the current version have been
	// verified in this process: only a previous process can have left a
	// half-written ref behind.
	checked bool

	mu  sync.Mutex // guards gen
	gen *mirrorGen
}

// dir is the path of the current version. The caller holds r's lock.
func (r *mirrorRepo) dir() string {
	return filepath.Join(r.root, strconv.Itoa(r.version)+".git")
}

// mirrorGen is one read-only view of a mirror on disk, opened after the
// fetch that last changed it. It is never written to.
type mirrorGen struct {
	src        *config.Repository // Sources read through it (and its lock)
	srcStorage *filesystem.Storage

	mu          sync.Mutex // guards meta: go-git storage is not safe for concurrent use
	meta        *git.Repository
	metaStorage *filesystem.Storage
}

// New returns a Mirror keeping its repositories under cfg.Dir. It
// removes what an earlier process left half-created there.
func New(cfg Config) (*Mirror, error) {
	if cfg.Dir == "" {
		return nil, errors.New("mirror: no data directory given (set --data-dir)")
	}
	if cfg.GitURL == nil {
		return nil, errors.New("mirror: no GitURL function given")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("mirror: data directory %s: %w", cfg.Dir, err)
	}
	// Mirrors hold private repositories: only the owner may read them.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mirror: creating data directory: %w", err)
	}
	tmp := filepath.Join(dir, mirrorTmpDir)
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("mirror: clearing %s: %w", tmp, err)
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("mirror: creating %s: %w", tmp, err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Mirror{cfg: cfg, dir: dir, logger: logger, repos: map[string]*mirrorRepo{}}, nil
}

// Fetch makes sure the commits shas (full 40-hex SHAs) of repo ("owner/name")
// are in the mirror with their whole history, fetching only what is
// missing: when they all are there already it makes no request at all.
// token is an installation token, sent as the password of HTTP basic auth
// user x-access-token and kept nowhere ("" sends no credentials). A damaged
// mirror is re-created, and so is one that has reached MaxPacks.
func (m *Mirror) Fetch(ctx context.Context, repo, token string, shas ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	want, err := mirrorParseSHAs(shas)
	if err != nil {
		return err
	}
	r, err := m.repo(repo)
	if err != nil {
		return err
	}
	if len(want) == 0 {
		return nil
	}
	if g := r.current(); g != nil && g.hasAll(want) {
		return nil
	}
	if err := r.lock(ctx); err != nil {
		return err
	}
	defer r.unlock()
	// Another fetch may have brought them while this one waited.
	if g := r.current(); g != nil && g.hasAll(want) {
		return nil
	}
	_, err = m.fetchLocked(ctx, r, token, want, "", false)
	return err
}

// Packs is the number of pack files of repo's mirror (0 without one).
// Each incremental fetch adds one; see Compact.
func (m *Mirror) Packs(repo string) int {
	r, err := m.repo(repo)
	if err != nil {
		return 0
	}
	if err := r.lock(context.Background()); err != nil {
		return 0
	}
	defer r.unlock()
	if r.current() == nil {
		return 0
	}
	return mirrorPacks(r.dir())
}

// Version is the generation of repo's mirror on disk (0 without one): it
// changes when a fetch or Compact re-creates the mirror.
func (m *Mirror) Version(repo string) int {
	r, err := m.repo(repo)
	if err != nil {
		return 0
	}
	if err := r.lock(context.Background()); err != nil {
		return 0
	}
	defer r.unlock()
	return r.version
}

// Compact fetches the commits keep of repo into a fresh mirror (one pack)
// that replaces the current one, when the mirror has at least half MaxPacks
// pack files. A fetch that finds MaxPacks packs does the same on the
// request path, at the cost of a full fetch; the sweeper calls Compact so
// that it happens off it. It reports whether it compacted.
func (m *Mirror) Compact(ctx context.Context, repo, token string, keep ...string) (bool, error) {
	want, err := mirrorParseSHAs(keep)
	if err != nil || len(want) == 0 {
		return false, err
	}
	r, err := m.repo(repo)
	if err != nil {
		return false, err
	}
	if err := r.lock(ctx); err != nil {
		return false, err
	}
	defer r.unlock()
	if r.current() == nil || mirrorPacks(r.dir()) < max(m.maxPacks()/2, 2) {
		return false, nil
	}
	if _, err := m.fetchLocked(ctx, r, token, want, "", true); err != nil {
		return false, err
	}
	return true, nil
}

// FetchRef fetches ref of repo (a branch name such as "main", or a full
// ref such as "refs/heads/main" or "refs/pull/7/head") and returns the
// commit it points to. Unlike Fetch it always asks the server, since a ref
// moves; it still transfers only what the mirror lacks.
func (m *Mirror) FetchRef(ctx context.Context, repo, token, ref string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	full := ref
	if !strings.HasPrefix(full, "refs/") {
		full = "refs/heads/" + ref
	}
	if err := plumbing.ReferenceName(full).Validate(); err != nil || strings.ContainsAny(full, "*:") {
		return "", fmt.Errorf("fetching %s: invalid ref %q", repo, ref)
	}
	r, err := m.repo(repo)
	if err != nil {
		return "", err
	}
	if err := r.lock(ctx); err != nil {
		return "", err
	}
	defer r.unlock()
	h, err := m.fetchLocked(ctx, r, token, nil, full, false)
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

// Source returns the config source of repo at commit sha, a
// *config.GitSource reading the mirror. The commit must have been fetched
// (else the error wraps ErrNotMirrored). The source stays valid while
// later fetches add to the mirror.
func (m *Mirror) Source(ctx context.Context, repo, sha string) (config.Source, error) {
	g, h, err := m.view(ctx, repo, sha)
	if err != nil {
		return nil, err
	}
	src, err := config.NewGitSource(g.src, h.String(), "", m.cfg.Limits)
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s: %w", repo, h, err)
	}
	return src, nil
}

// Parent returns the first parent of commit sha of repo: for a merge
// commit, the base branch before the merge. It is "" for a root commit.
func (m *Mirror) Parent(ctx context.Context, repo, sha string) (string, error) {
	ps, err := m.Parents(ctx, repo, sha)
	if err != nil || len(ps) == 0 {
		return "", err
	}
	return ps[0], nil
}

// Parents returns the parents of commit sha of repo, first parent first;
// none for a root commit.
func (m *Mirror) Parents(ctx context.Context, repo, sha string) ([]string, error) {
	g, h, err := m.view(ctx, repo, sha)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	c, err := g.meta.CommitObject(h)
	if err != nil {
		return nil, fmt.Errorf("reading commit %s of %s: %w", h, repo, err)
	}
	out := make([]string, len(c.ParentHashes))
	for i, p := range c.ParentHashes {
		out[i] = p.String()
	}
	return out, nil
}

// MergeBase returns the best common ancestor of commits a and b of repo
// (both fetched): what a pull request's change is measured against, so that
// commits on the base branch the pull request does not have are not shown
// as its undoing. When there are several, the first go-git finds is used;
// when there is none (unrelated histories), the error says so.
func (m *Mirror) MergeBase(ctx context.Context, repo, a, b string) (string, error) {
	g, ha, err := m.view(ctx, repo, a)
	if err != nil {
		return "", err
	}
	_, hb, err := m.view(ctx, repo, b)
	if err != nil {
		return "", err
	}
	if ha == hb {
		return ha.String(), nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	ca, err := g.meta.CommitObject(ha)
	if err != nil {
		return "", fmt.Errorf("reading commit %s of %s: %w", ha, repo, err)
	}
	cb, err := g.meta.CommitObject(hb)
	if err != nil {
		return "", fmt.Errorf("reading commit %s of %s: %w", hb, repo, err)
	}
	bases, err := ca.MergeBase(cb)
	if err != nil {
		return "", fmt.Errorf("finding the merge base of %s and %s in %s: %w", ha, hb, repo, err)
	}
	if len(bases) == 0 {
		return "", fmt.Errorf("%s and %s of %s have no common history", ha, hb, repo)
	}
	return bases[0].Hash.String(), nil
}

// Close releases the files the mirrors hold open. Sources must no longer be
// in use; the Mirror's methods fail with ErrClosed afterwards.
func (m *Mirror) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	var errs []error
	for _, r := range m.repos {
		r.mu.Lock()
		if r.gen != nil {
			errs = append(errs, r.gen.close())
			r.gen = nil
		}
		r.mu.Unlock()
	}
	return errors.Join(errs...)
}

// view returns the current view of repo after checking that it holds sha.
func (m *Mirror) view(ctx context.Context, repo, sha string) (*mirrorGen, plumbing.Hash, error) {
	if err := ctx.Err(); err != nil {
		return nil, plumbing.ZeroHash, err
	}
	hs, err := mirrorParseSHAs([]string{sha})
	if err != nil {
		return nil, plumbing.ZeroHash, err
	}
	h := hs[0]
	r, err := m.repo(repo)
	if err != nil {
		return nil, plumbing.ZeroHash, err
	}
	g := r.current()
	if g == nil {
		// First use in this process of a mirror an earlier one fetched.
		if err := r.lock(ctx); err != nil {
			return nil, plumbing.ZeroHash, err
		}
		g, err = m.openViewLocked(r)
		r.unlock()
		if err != nil {
			return nil, plumbing.ZeroHash, err
		}
	}
	if !g.hasAll([]plumbing.Hash{h}) {
		return nil, plumbing.ZeroHash, fmt.Errorf("%s at %s: %w", repo, h, ErrNotMirrored)
	}
	return g, h, nil
}

// openViewLocked returns r's view, opening it from disk when there is none
// yet. The caller holds r's lock.
func (m *Mirror) openViewLocked(r *mirrorRepo) (*mirrorGen, error) {
	if g := r.current(); g != nil {
		return g, nil
	}
	m.scanLocked(r)
	if r.version == 0 {
		return nil, fmt.Errorf("%s: %w", r.name, ErrNotMirrored)
	}
	g, err := mirrorOpenGen(r.dir())
	if err != nil {
		return nil, fmt.Errorf("opening the mirror of %s (the next fetch re-creates it): %w", r.name, err)
	}
	if err := m.install(r, g); err != nil {
		return nil, err
	}
	return g, nil
}

// fetchLocked fetches the commits want, or the ref ref, of r into its
// mirror and installs a new view when the mirror changed. For a ref it
// returns the commit the ref points to. The caller holds r's lock.
//
// compact fetches into a fresh mirror whatever the packs.
func (m *Mirror) fetchLocked(ctx context.Context, r *mirrorRepo, token string, want []plumbing.Hash, ref string, compact bool) (plumbing.Hash, error) {
	start := time.Now()
	rawURL := m.cfg.GitURL(r.name)
	if u, err := url.Parse(rawURL); err != nil || u.User != nil {
		// Never echo it: it may hold a password.
		return plumbing.ZeroHash, fmt.Errorf("fetching %s: GitURL must give a URL without credentials", r.name)
	}
	w, err := m.openWriter(r)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer func() { w.close() }() // w may be replaced below

	missing, err := mirrorMissing(w.repo, want)
	if err != nil {
		// A commit that is there but cannot be read: start over.
		m.logger.Warn("mirror damaged; re-creating it", slog.String("repo", r.name), slog.String("error", err.Error()))
		m.dropView(r)
		if w, err = m.restart(r, w); err != nil {
			return plumbing.ZeroHash, err
		}
		missing = want
	}
	if !w.fresh && (compact || (len(missing) > 0 || ref != "") && mirrorPacks(w.dir) >= m.maxPacks()) {
		// Every incremental fetch adds a pack, and every lookup and every
		// new view pays for each pack: fetch into a fresh mirror instead.
		m.logger.Debug("mirror compacted", slog.String("repo", r.name), slog.Int("packs", mirrorPacks(w.dir)))
		if w, err = m.restart(r, w); err != nil {
			return plumbing.ZeroHash, err
		}
		missing = want
	}
	var specs []gitconfig.RefSpec
	for _, h := range missing {
		specs = append(specs, mirrorSpec(h.String(), h.String()))
	}
	if ref != "" {
		specs = append(specs, mirrorSpec(ref, strings.TrimPrefix(ref, "refs/")))
	}

	changed := w.fresh
	if len(specs) > 0 {
		// The remote lives in memory only, and so does the token: neither
		// reaches the git config nor the disk.
		remote := git.NewRemote(w.st, &gitconfig.RemoteConfig{Name: "origin", URLs: []string{rawURL}})
		opts := &git.FetchOptions{RefSpecs: specs, Tags: git.NoTags}
		if token != "" {
			opts.Auth = &githttp.BasicAuth{Username: "x-access-token", Password: token}
		}
		err := remote.FetchContext(ctx, opts)
		switch {
		case errors.Is(err, git.NoErrAlreadyUpToDate):
		case err != nil:
			w.abandon()
			if cerr := ctx.Err(); cerr != nil {
				return plumbing.ZeroHash, fmt.Errorf("fetching %s: %w", r.name, cerr)
			}
			return plumbing.ZeroHash, fmt.Errorf("fetching %s: %w", r.name, err)
		default:
			changed = true
		}
	}

	var tip plumbing.Hash
	if ref != "" {
		rf, err := w.repo.Reference(plumbing.ReferenceName(mirrorRefPrefix+strings.TrimPrefix(ref, "refs/")), true)
		if err != nil {
			w.abandon()
			return plumbing.ZeroHash, fmt.Errorf("fetching %s of %s: %w", ref, r.name, err)
		}
		tip = rf.Hash()
		want = append(want, tip)
	}
	if still, err := mirrorMissing(w.repo, want); err != nil || len(still) > 0 {
		w.abandon()
		if err == nil {
			err = fmt.Errorf("commit %s: %w", still[0], plumbing.ErrObjectNotFound)
		}
		return plumbing.ZeroHash, fmt.Errorf("fetching %s: missing after the fetch: %w", r.name, err)
	}
	if err := m.commit(r, w); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetching %s: %w", r.name, err)
	}
	if changed || r.current() == nil {
		g, err := mirrorOpenGen(r.dir())
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("opening the mirror of %s: %w", r.name, err)
		}
		if err := m.install(r, g); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	m.logger.Debug("mirror fetched", slog.String("repo", r.name), slog.Int("refspecs", len(specs)),
		slog.Duration("took", time.Since(start)))
	return tip, nil
}

// mirrorWriter is the go-git repository a fetch writes through. A fresh one
// lives under Dir/.tmp until its first fetch succeeds.
type mirrorWriter struct {
	st    *filesystem.Storage
	repo  *git.Repository
	dir   string
	fresh bool
	done  bool
}

// openWriter opens the current version of r's mirror for a fetch, or
// starts a new one when there is none or it is damaged.
func (m *Mirror) openWriter(r *mirrorRepo) (*mirrorWriter, error) {
	m.scanLocked(r)
	if r.version == 0 {
		return m.newWriter(r)
	}
	dir := r.dir()
	mirrorSweep(dir)
	st := filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRU(mirrorObjectCache),
		filesystem.Options{LargeObjectThreshold: mirrorLargeObject})
	repo, err := git.Open(st, nil)
	if err == nil {
		err = mirrorLoadIndex(st)
	}
	if err == nil && !r.checked {
		err = mirrorCheckRefs(repo)
	}
	if err != nil {
		st.Close()
		m.logger.Warn("mirror damaged; re-creating it", slog.String("repo", r.name), slog.String("error", err.Error()))
		m.dropView(r)
		return m.newWriter(r)
	}
	r.checked = true
	return &mirrorWriter{st: st, repo: repo, dir: dir}, nil
}

// restart closes w and starts a new mirror of r in its place.
func (m *Mirror) restart(r *mirrorRepo, w *mirrorWriter) (*mirrorWriter, error) {
	w.close()
	if w.fresh {
		os.RemoveAll(w.dir)
	}
	return m.newWriter(r)
}

// newWriter initialises an empty bare repository under Dir/.tmp.
func (m *Mirror) newWriter(r *mirrorRepo) (*mirrorWriter, error) {
	dir, err := os.MkdirTemp(filepath.Join(m.dir, mirrorTmpDir), "new-")
	if err != nil {
		return nil, fmt.Errorf("creating the mirror of %s: %w", r.name, err)
	}
	st := filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRU(mirrorObjectCache),
		filesystem.Options{LargeObjectThreshold: mirrorLargeObject})
	repo, err := git.Init(st, nil)
	if err != nil {
		st.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("creating the mirror of %s: %w", r.name, err)
	}
	return &mirrorWriter{st: st, repo: repo, dir: dir, fresh: true}, nil
}

// commit ends a successful fetch. A new mirror becomes r's next version;
// the version before stays for the Sources that may still read it, older
// ones are deleted.
func (m *Mirror) commit(r *mirrorRepo, w *mirrorWriter) error {
	w.close()
	if !w.fresh {
		return nil
	}
	next := r.version + 1
	dir := filepath.Join(r.root, strconv.Itoa(next)+".git")
	if err := os.MkdirAll(r.root, 0o700); err != nil {
		os.RemoveAll(w.dir)
		return err
	}
	if err := os.Rename(w.dir, dir); err != nil {
		os.RemoveAll(w.dir)
		return err
	}
	r.version, r.checked = next, true
	mirrorPrune(r.root, next-1)
	return nil
}

// abandon undoes what a failed fetch left: a new mirror is deleted, an
// existing one loses its temporary pack files.
func (w *mirrorWriter) abandon() {
	w.close()
	if w.fresh {
		os.RemoveAll(w.dir)
	} else {
		mirrorSweep(w.dir)
	}
}

func (w *mirrorWriter) close() {
	if !w.done {
		w.done = true
		w.st.Close()
	}
}

// scanLocked finds, on r's first use in this process, the current version
// of its mirror on disk and deletes the older ones: no one reads them any
// more. The caller holds r's lock.
func (m *Mirror) scanLocked(r *mirrorRepo) {
	if r.scanned {
		return
	}
	r.scanned = true
	entries, _ := os.ReadDir(r.root)
	for _, e := range entries {
		if n, ok := mirrorVersion(e.Name()); ok && n > r.version {
			r.version = n
		}
	}
	mirrorPrune(r.root, r.version)
}

// mirrorPrune deletes the versions of a mirror below keep.
func mirrorPrune(root string, keep int) {
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if n, ok := mirrorVersion(e.Name()); ok && n < keep {
			os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
}

// mirrorVersion parses the name of a mirror's version, "<n>.git".
func mirrorVersion(name string) (int, bool) {
	s, ok := strings.CutSuffix(name, ".git")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || strconv.Itoa(n) != s {
		return 0, false
	}
	return n, true
}

// mirrorPacks counts the pack files of the repository at dir.
func mirrorPacks(dir string) int {
	packs, _ := filepath.Glob(filepath.Join(dir, "objects", "pack", "pack-*.pack"))
	return len(packs)
}

// mirrorSweep removes the temporary pack files of a fetch that did not
// finish (go-git leaves them behind on error, as does a crash).
func mirrorSweep(dir string) {
	tmps, _ := filepath.Glob(filepath.Join(dir, "objects", "pack", "tmp_pack_*"))
	for _, p := range tmps {
		os.Remove(p)
	}
}

// mirrorOpenGen opens a read-only view of the mirror at dir.
func mirrorOpenGen(dir string) (*mirrorGen, error) {
	st := filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRU(mirrorObjectCache),
		filesystem.Options{MaxOpenDescriptors: mirrorMaxOpenPacks, LargeObjectThreshold: mirrorLargeObject})
	src, err := git.Open(st, nil)
	if err == nil {
		err = mirrorLoadIndex(st)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	// Commits and root trees only: a small cache.
	mst := filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRU(cache.MiByte),
		filesystem.Options{MaxOpenDescriptors: mirrorMaxOpenPacks, LargeObjectThreshold: mirrorLargeObject})
	meta, err := git.Open(mst, nil)
	if err == nil {
		err = mirrorLoadIndex(mst)
	}
	if err != nil {
		st.Close()
		mst.Close()
		return nil, err
	}
	return &mirrorGen{src: config.WrapRepository(src), srcStorage: st, meta: meta, metaStorage: mst}, nil
}

// mirrorLoadIndex makes st read the index of every pack file now. go-git
// reads them lazily, on the first lookup; done later, that could meet a
// pack a concurrent fetch is moving into place. A damaged index fails here.
func mirrorLoadIndex(st *filesystem.Storage) error {
	// The zero hash is never an object, so this looks through the loose
	// objects and then loads every pack index to look there too.
	if err := st.HasEncodedObject(plumbing.ZeroHash); err != nil && !errors.Is(err, plumbing.ErrObjectNotFound) {
		return fmt.Errorf("reading pack indexes: %w", err)
	}
	return nil
}

// mirrorCheckRefs verifies that every ref is readable and points to an
// object that is there, which a process that died mid-fetch may break.
func mirrorCheckRefs(repo *git.Repository) error {
	refs, err := repo.Storer.IterReferences()
	if err != nil {
		return fmt.Errorf("reading refs: %w", err)
	}
	defer refs.Close()
	return refs.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() != plumbing.HashReference {
			return nil
		}
		if err := repo.Storer.HasEncodedObject(ref.Hash()); err != nil {
			return fmt.Errorf("ref %s: object %s: %w", ref.Name(), ref.Hash(), err)
		}
		return nil
	})
}

// mirrorMissing returns the commits of want that repo lacks. The error is
// set when one is there but cannot be read.
func mirrorMissing(repo *git.Repository, want []plumbing.Hash) ([]plumbing.Hash, error) {
	var missing []plumbing.Hash
	for _, h := range want {
		ok, err := mirrorHasCommit(repo, h)
		if err != nil {
			return nil, fmt.Errorf("commit %s: %w", h, err)
		}
		if !ok {
			missing = append(missing, h)
		}
	}
	return missing, nil
}

// mirrorHasCommit reports whether commit h and its root tree are in repo.
// The error is set when they are there but cannot be read.
func mirrorHasCommit(repo *git.Repository, h plumbing.Hash) (bool, error) {
	c, err := repo.CommitObject(h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := repo.TreeObject(c.TreeHash); err != nil {
		return false, err
	}
	return true, nil
}

// mirrorSpec is the refspec that fetches src (a SHA or a ref) into
// refs/honua/<dst>.
func mirrorSpec(src, dst string) gitconfig.RefSpec {
	return gitconfig.RefSpec("+" + src + ":" + mirrorRefPrefix + dst)
}

// dropView forgets r's view: its Sources keep reading it, new ones wait
// for the next fetch.
func (m *Mirror) dropView(r *mirrorRepo) {
	r.mu.Lock()
	r.gen = nil
	r.mu.Unlock()
}

func (m *Mirror) maxPacks() int {
	if m.cfg.MaxPacks > 0 {
		return m.cfg.MaxPacks
	}
	return 32
}

// install makes g the view of r that Sources read from now on.
func (m *Mirror) install(r *mirrorRepo, g *mirrorGen) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		g.close()
		return ErrClosed
	}
	r.mu.Lock()
	r.gen = g
	r.mu.Unlock()
	return nil
}

// current returns r's view, nil when none is open.
func (r *mirrorRepo) current() *mirrorGen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen
}

// lock takes r's fetch lock, or gives up when ctx ends.
func (r *mirrorRepo) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case r.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *mirrorRepo) unlock() { <-r.sem }

// hasAll reports whether the view holds every commit of hs.
func (g *mirrorGen) hasAll(hs []plumbing.Hash) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, h := range hs {
		if ok, _ := mirrorHasCommit(g.meta, h); !ok {
			return false
		}
	}
	return true
}

func (g *mirrorGen) close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return errors.Join(g.srcStorage.Close(), g.metaStorage.Close())
}

// repo returns the state of repository name, creating it on first use.
func (m *Mirror) repo(name string) (*mirrorRepo, error) {
	key, rel, err := mirrorPath(name)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	r := m.repos[key]
	if r == nil {
		r = &mirrorRepo{name: name, root: filepath.Join(m.dir, rel), sem: make(chan struct{}, 1)}
		m.repos[key] = r
	}
	return r, nil
}

var (
	// GitHub account names: letters, digits and hyphens, not starting with
	// a hyphen, at most 39 characters; underscores appear in managed
	// (EMU) user names.
	mirrorOwnerRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,38}$`)
	// GitHub repository names: letters, digits, '.', '-' and '_', at most
	// 100 characters; "." and ".." are refused below.
	mirrorNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
)

// mirrorPath checks that repo is a GitHub "owner/name" and returns the key
// of its mirror and the mirror's path relative to Dir. GitHub names are
// case-insensitive, so both are lower case: "Kailua/Config" and
// "kailua/config" share a mirror.
func mirrorPath(repo string) (key, rel string, err error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || !mirrorOwnerRE.MatchString(owner) || !mirrorNameRE.MatchString(name) || name == "." || name == ".." {
		return "", "", fmt.Errorf("mirror: %q is not a GitHub repository name (owner/name)", repo)
	}
	key = strings.ToLower(owner + "/" + name)
	return key, filepath.Join(strings.ToLower(owner), strings.ToLower(name)), nil
}

// mirrorParseSHAs parses full 40-hex commit SHAs, dropping repeats.
func mirrorParseSHAs(shas []string) ([]plumbing.Hash, error) {
	out := make([]plumbing.Hash, 0, len(shas))
	seen := make(map[plumbing.Hash]bool, len(shas))
	for _, s := range shas {
		if len(s) != 40 {
			return nil, fmt.Errorf("mirror: %q is not a full commit SHA", s)
		}
		if _, err := hex.DecodeString(s); err != nil {
			return nil, fmt.Errorf("mirror: %q is not a full commit SHA", s)
		}
		h := plumbing.NewHash(strings.ToLower(s))
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out, nil
}
