package config

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// GitSource is a config repository at one git revision, read from the object
// database with go-git: no work tree and no checkout are needed, and a
// revision's files are known by their blob hashes without reading them.
type GitSource struct {
	repo   *git.Repository
	rev    string
	commit plumbing.Hash
	sub    string
	lim    Limits

	once  sync.Once
	files []File
	blobs map[string]plumbing.Hash
	err   error
}

var _ Source = (*GitSource)(nil)

// OpenRepository opens the git repository at dir (a work tree or a bare
// repository). One repository can serve many GitSources; they share its
// object cache.
func OpenRepository(dir string) (*git.Repository, error) {
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("opening git repository %s: %w", dir, err)
	}
	return r, nil
}

// NewGitSource returns the source for revision rev (a branch, tag, sha, or
// any revision go-git resolves, such as HEAD~1) of repo, rooted at the
// subfolder sub ("" for the repository root).
func NewGitSource(repo *git.Repository, rev, sub string, lim Limits) (*GitSource, error) {
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
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
func (s *GitSource) List() ([]File, error) {
	s.once.Do(s.list)
	return s.files, s.err
}

func (s *GitSource) list() {
	c, err := s.repo.CommitObject(s.commit)
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
	s.blobs = map[string]plumbing.Hash{}
	var problems []Diagnostic
	tooMany := false
	var walk func(t *object.Tree, prefix string) error
	walk = func(t *object.Tree, prefix string) error {
		for _, e := range t.Entries {
			p := path.Join(prefix, e.Name)
			switch e.Mode {
			case filemode.Dir:
				if strings.HasPrefix(e.Name, ".") && e.Name != ".gitops" {
					continue
				}
				sub, err := s.repo.TreeObject(e.Hash)
				if err != nil {
					return fmt.Errorf("reading tree %s: %w", p, err)
				}
				if err := walk(sub, p); err != nil {
					return err
				}
			case filemode.Symlink:
				problems = append(problems, errorAt(Position{File: p}, "symlink",
					"%s is a symlink; the config tree must hold regular files only: replace it with a copy of the file", p))
			case filemode.Submodule:
				problems = append(problems, errorAt(Position{File: p}, "not-regular",
					"%s is a git submodule; the config tree must hold regular files only: vendor its files instead", p))
			default:
				if len(s.files) >= s.lim.MaxFiles {
					if !tooMany {
						tooMany = true
						problems = append(problems, errorAt(Position{File: p}, "too-many-files",
							"the config tree has more than %d files: remove unused files or raise --max-files", s.lim.MaxFiles))
					}
					continue
				}
				s.files = append(s.files, File{Path: p, Hash: e.Hash.String()})
				s.blobs[p] = e.Hash
			}
		}
		return nil
	}
	if err := walk(tree, ""); err != nil {
		s.err = err
		return
	}
	sort.Slice(s.files, func(i, j int) bool { return s.files[i].Path < s.files[j].Path })
	if len(problems) > 0 {
		s.err = &TreeError{Problems: problems}
	}
}

// Read returns the content of the blob at p.
func (s *GitSource) Read(p string) ([]byte, error) {
	s.once.Do(s.list)
	h, ok := s.blobs[p]
	if !ok {
		return nil, fmt.Errorf("%s: no such file at %s", p, s.rev)
	}
	b, err := s.repo.BlobObject(h)
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
