package config

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// FSSource is a config repository in an fs.FS that cannot hold symlinks,
// such as the embedded samples.
type FSSource struct {
	FS     fs.FS
	Label  string
	Limits Limits
}

var _ Source = (*FSSource)(nil)

// Name is the label given.
func (s *FSSource) Name() string { return s.Label }

// List walks the file system.
func (s *FSSource) List(ctx context.Context) ([]File, error) {
	lim := s.Limits.orDefault()
	var files []File
	err := fs.WalkDir(s.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") && d.Name() != ".gitops" {
				return fs.SkipDir
			}
			return nil
		}
		if len(files) >= lim.MaxFiles {
			return fmt.Errorf("more than %d files", lim.MaxFiles)
		}
		data, err := fs.ReadFile(s.FS, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		files = append(files, File{Path: p, Hash: hex.EncodeToString(sum[:]), Size: int64(len(data))})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// Read returns a file's content.
func (s *FSSource) Read(ctx context.Context, p string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	clean, err := cleanPath(p)
	if err != nil {
		return nil, err
	}
	return fs.ReadFile(s.FS, clean)
}
