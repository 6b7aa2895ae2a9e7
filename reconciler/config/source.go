package config

import "context"

// File is one regular file of a config source.
type File struct {
	// Path is slash-separated and relative to the config root
	// ("environments/production/layers/parcels.yaml").
	Path string
	// Hash identifies the content: the git blob hash for a git source, a
	// content hash for a directory. Equal hashes mean equal content, which is
	// what lets parsed files be cached.
	Hash string
	Size int64
}

// Source is a config repository at one point in time: a directory on disk or
// a git revision.
type Source interface {
	// Name says where the source is, for messages ("samples/config",
	// "main:config").
	Name() string
	// List returns the regular files under the config root, sorted by path.
	// A symlink, a path that escapes the root, or more files than the limit
	// is an error naming the path.
	// A cancelled ctx is an error.
	List(ctx context.Context) ([]File, error)
	// Read returns the content of the file at path (as listed by List).
	Read(ctx context.Context, path string) ([]byte, error)
}

// RuleTooManyFiles is the rule of the TreeError problem of a tree with more
// files than the limit: the listing stops there, so any file may be missing
// from it.
const RuleTooManyFiles = "too-many-files"
