package config

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// GitSource is a config repository at one git revision, read from the object
// database with go-git: no work tree and no checkout are needed, and a
// revision's files are known by their blob hashes without reading them.
type GitSource struct {
	repo   *Repository
	rev    string
	commit plumbing.Hash
	sub    string
	lim    Limits

	once      sync.Once
	files     []File
	blobs     map[string]string
	blobsOnce sync.Once
	err       error
}

var _ Source = (*GitSource)(nil)

// Repository is a git repository that GitSources read from. go-git's object
// storage is not safe for concurrent use, so reads are serialised here;
// parsing, the expensive part, still runs in parallel.
type Repository struct {
	mu      sync.Mutex
	repo    *git.Repository
	storage *filesystem.Storage
	trees   map[plumbing.Hash]*treeListing
}

// OpenRepository opens the git repository at dir (a work tree or a bare
// repository, or a folder inside a work tree). One repository can serve many
// GitSources; they share its object cache and its open pack files. Close
// releases them.
func OpenRepository(dir string) (*Repository, error) {
	dotgit, err := findGitDir(dir)
	if err != nil {
		return nil, err
	}
	// Keeping pack files open matters: without it go-git reopens the pack for
	// every object, which dominates reading 10,000 files.
	st := filesystem.NewStorageWithOptions(osfs.New(dotgit), cache.NewObjectLRUDefault(),
		filesystem.Options{KeepDescriptors: true})
	r, err := git.Open(st, nil)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("opening git repository %s: %w", dir, err)
	}
	return &Repository{repo: r, storage: st}, nil
}

// findGitDir returns the git directory of dir: dir itself when it is a bare
// repository, else the .git folder of dir or of the nearest parent.
func findGitDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(filepath.Join(d, ".git")); err == nil && fi.IsDir() {
			return filepath.Join(d, ".git"), nil
		}
		if isBareRepo(d) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("opening git repository %s: %w", dir, git.ErrRepositoryNotExists)
		}
	}
}

func isBareRepo(d string) bool {
	for _, p := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(d, p)); err != nil {
			return false
		}
	}
	return true
}

// Close releases the repository's open files.
func (r *Repository) Close() error {
	if r.storage == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.storage.Close()
}

// WrapRepository serves GitSources from an already open go-git repository
// (an in-memory clone, say). The caller must not use repo concurrently
// with the sources.
func WrapRepository(repo *git.Repository) *Repository { return &Repository{repo: repo} }

// NewGitSource returns the source for revision rev (a branch, tag, sha, or
// any revision go-git resolves, such as HEAD~1) of repo, rooted at the
// subfolder sub ("" for the repository root).
func NewGitSource(repo *Repository, rev, sub string, lim Limits) (*GitSource, error) {
	repo.mu.Lock()
	h, err := repo.repo.ResolveRevision(plumbing.Revision(rev))
	repo.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("resolving revision %q: %w (give a branch, tag or commit sha that exists in the repository)", rev, err)
	}
	clean, err := cleanPath(sub)
	if err != nil {
		return nil, fmt.Errorf("--path: %w", err)
	}
	if clean == "." {
		clean = ""
	}
	return &GitSource{repo: repo, rev: rev, commit: *h, sub: clean, lim: lim.orDefault()}, nil
}

// Name is "rev:path" like git's own notation.
func (s *GitSource) Name() string {
	return s.rev + ":" + s.sub
}

// Commit is the commit the revision resolved to.
func (s *GitSource) Commit() string { return s.commit.String() }

// List walks the revision's tree under the subfolder.
//
// The listing reads the local object store only; a cancelled ctx stops it
// before it starts, and is never remembered as its result.
func (s *GitSource) List(ctx context.Context) ([]File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.once.Do(s.list)
	return s.files, s.err
}

func (s *GitSource) list() {
	s.repo.mu.Lock()
	defer s.repo.mu.Unlock()
	c, err := s.repo.repo.CommitObject(s.commit)
	if err != nil {
		s.err = fmt.Errorf("reading commit %s: %w", s.commit, err)
		return
	}
	tree, err := c.Tree()
	if err != nil {
		s.err = fmt.Errorf("reading tree of %s: %w", s.commit, err)
		return
	}
	if s.sub != "" {
		tree, err = tree.Tree(s.sub)
		if err != nil {
			s.err = fmt.Errorf("folder %q not found at %s: check --path", s.sub, s.rev)
			return
		}
	}
	l, err := s.repo.listTree(tree.Hash, "")
	if err != nil {
		s.err = err
		return
	}
	files := l.files
	var problems []Diagnostic
	for _, p := range l.symlinks {
		problems = append(problems, symlinkError(p))
	}
	for _, p := range l.submodules {
		problems = append(problems, errorAt(Position{File: p}, "not-regular",
			"%s is a git submodule; the config tree must hold regular files only: vendor its files instead", p))
	}
	if len(files) > s.lim.MaxFiles {
		problems = append(problems, errorAt(Position{File: files[s.lim.MaxFiles].Path}, RuleTooManyFiles,
			"the config tree has more than %d files: remove unused files or raise --max-files", s.lim.MaxFiles))
		files = files[:s.lim.MaxFiles]
	}
	s.files = files
	if len(problems) > 0 {
		s.err = &TreeError{Problems: problems}
	}
}

// treeListing is the regular files under one git tree, paths relative to
// it, sorted; and the entries that are not regular files.
type treeListing struct {
	files []File
	// symlinks and submodules hold the paths (relative to the tree) of the
	// entries that are not regular files.
	symlinks, submodules []string
}

// maxTreeCache bounds the listings a Repository keeps.
const maxTreeCache = 4096

// listTree lists the tree h. Trees are content-addressed, so a listing is
// cached by tree hash: a revision that shares folders with one listed
// before reuses them. The caller holds r.mu.
func (r *Repository) listTree(h plumbing.Hash, prefix string) (*treeListing, error) {
	l, ok := r.trees[h]
	if !ok {
		t, err := r.repo.TreeObject(h)
		if err != nil {
			return nil, fmt.Errorf("reading tree %s: %w", prefix, err)
		}
		l = &treeListing{}
		for _, e := range t.Entries {
			switch e.Mode {
			case filemode.Dir:
				if strings.HasPrefix(e.Name, ".") && e.Name != ".gitops" {
					continue
				}
				sub, err := r.listTree(e.Hash, path.Join(prefix, e.Name))
				if err != nil {
					return nil, err
				}
				for _, f := range sub.files {
					f.Path = e.Name + "/" + f.Path
					l.files = append(l.files, f)
				}
				for _, p := range sub.symlinks {
					l.symlinks = append(l.symlinks, e.Name+"/"+p)
				}
				for _, p := range sub.submodules {
					l.submodules = append(l.submodules, e.Name+"/"+p)
				}
			case filemode.Symlink:
				l.symlinks = append(l.symlinks, e.Name)
			case filemode.Submodule:
				l.submodules = append(l.submodules, e.Name)
			default:
				l.files = append(l.files, File{Path: e.Name, Hash: e.Hash.String()})
			}
		}
		sort.Slice(l.files, func(i, j int) bool { return l.files[i].Path < l.files[j].Path })
		if r.trees == nil || len(r.trees) >= maxTreeCache {
			r.trees = map[plumbing.Hash]*treeListing{}
		}
		r.trees[h] = l
	}
	return l, nil
}

// Read returns the content of the blob at p.
func (s *GitSource) Read(ctx context.Context, p string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.once.Do(s.list)
	s.blobsOnce.Do(func() {
		s.blobs = make(map[string]string, len(s.files))
		for _, f := range s.files {
			s.blobs[f.Path] = f.Hash
		}
	})
	hex, ok := s.blobs[p]
	if !ok {
		return nil, fmt.Errorf("%s: no such file at %s", p, s.rev)
	}
	s.repo.mu.Lock()
	defer s.repo.mu.Unlock()
	b, err := s.repo.repo.BlobObject(plumbing.NewHash(hex))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if b.Size > s.lim.MaxFileSize {
		return nil, fmt.Errorf("%s is %d bytes, over the limit of %d bytes: %w", p, b.Size, s.lim.MaxFileSize, ErrFileTooLarge)
	}
	r, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, s.lim.MaxFileSize+1))
}
