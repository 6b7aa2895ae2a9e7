package config

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// DirSource is a config repository in a directory on disk.
type DirSource struct {
	Root   string
	Limits Limits

	once  sync.Once
	files []File
	err   error
}

var _ Source = (*DirSource)(nil)

// NewDirSource returns the source for the directory root.
func NewDirSource(root string, lim Limits) *DirSource {
	return &DirSource{Root: root, Limits: lim.orDefault()}
}

// Name is the directory.
func (s *DirSource) Name() string { return s.Root }

// List walks the directory once (a source is one point in time; later
// calls return the same listing). Symlinks are refused: a link could point
// the deployer at files outside the repository. Hidden folders other than
// .gitops (such as .git) are skipped.
func (s *DirSource) List(ctx context.Context) ([]File, error) {
	// The walk itself is bounded by Limits.MaxFiles; a cancelled ctx stops
	// a listing before it starts, and is never remembered as its result.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.once.Do(func() { s.files, s.err = s.list() })
	return s.files, s.err
}

func (s *DirSource) list() ([]File, error) {
	lim := s.Limits.orDefault()
	info, err := os.Lstat(s.Root)
	if err != nil {
		return nil, err
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		return nil, &TreeError{Problems: []Diagnostic{errorAt(Position{File: s.Root}, "symlink",
			"the config root is a symlink: point at the real directory instead")}}
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", s.Root)
	}
	var files []File
	var problems []Diagnostic
	tooMany := false
	err = filepath.WalkDir(s.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.Root, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if strings.HasPrefix(name, ".") && name != ".gitops" {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			problems = append(problems, symlinkError(rel))
			return nil
		}
		if !d.Type().IsRegular() {
			problems = append(problems, errorAt(Position{File: rel}, "not-regular",
				"%s is not a regular file: remove it", rel))
			return nil
		}
		if len(files) >= lim.MaxFiles {
			if !tooMany {
				tooMany = true
				problems = append(problems, errorAt(Position{File: rel}, RuleTooManyFiles,
					"the config tree has more than %d files: remove unused files or raise --max-files", lim.MaxFiles))
			}
			return filepath.SkipAll
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, File{Path: rel, Size: fi.Size()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Hash the files whose content the loader may read, so parsed results
	// can be cached by content: one worker per CPU.
	if err := hashFiles(s.Root, files, lim); err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	if len(problems) > 0 {
		return files, &TreeError{Problems: problems}
	}
	return files, nil
}

// hashFiles fills the Hash of files under root, in parallel; the first
// error stops it.
func hashFiles(root string, files []File, lim Limits) error {
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
		failed  atomic.Bool
	)
	for range min(runtime.GOMAXPROCS(0), max(len(files)/64, 1)) {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return
				}
				f := &files[i]
				if f.Size > lim.MaxFileSize || !isConfigExt(f.Path) {
					f.Hash = fmt.Sprintf("size:%d", f.Size)
					continue
				}
				h, err := hashFile(filepath.Join(root, filepath.FromSlash(f.Path)))
				if err != nil {
					errOnce.Do(func() { first = err })
					failed.Store(true)
					return
				}
				f.Hash = h
			}
		})
	}
	wg.Wait()
	return first
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := hashBuffers.Get().(*[]byte)
	defer hashBuffers.Put(buf)
	// The File is hidden behind a Reader: its WriteTo would allocate a
	// buffer of its own for every file.
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, *buf); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashBuffers are hashFile's copy buffers: listing 10,000 files allocated
// 32 KiB for each.
var hashBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Read returns a file's content, refusing paths that leave the root and
// files over the size limit.
func (s *DirSource) Read(ctx context.Context, p string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	clean, err := cleanPath(p)
	if err != nil {
		return nil, err
	}
	full := filepath.Join(s.Root, filepath.FromSlash(clean))
	info, err := os.Lstat(full)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	lim := s.Limits.orDefault()
	if info.Size() > lim.MaxFileSize {
		return nil, fmt.Errorf("%s is %d bytes, over the limit of %d bytes: %w", p, info.Size(), lim.MaxFileSize, ErrFileTooLarge)
	}
	f, err := os.Open(full)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, lim.MaxFileSize+1))
}

// cleanPath checks that a slash-separated path stays inside the root.
func cleanPath(p string) (string, error) {
	if p == "" {
		return ".", nil
	}
	if strings.HasPrefix(p, "/") || strings.Contains(p, "\\") {
		return "", fmt.Errorf("path %q must be relative and use forward slashes", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", fmt.Errorf("path %q escapes the config root: remove the '..'", p)
		}
	}
	return strings.Trim(filepathClean(p), "/"), nil
}

func filepathClean(p string) string { return filepath.ToSlash(filepath.Clean(filepath.FromSlash(p))) }

// symlinkError reports a symlink in a config tree (a directory or a git
// revision): a link could point the deployer at files outside the repository.
func symlinkError(p string) Diagnostic {
	return errorAt(Position{File: p}, "symlink",
		"%s is a symlink; the config tree must hold regular files only: replace it with a copy of the file", p)
}
