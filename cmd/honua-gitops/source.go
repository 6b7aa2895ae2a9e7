package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/samples"
)

// sourceFlags say where config sources are: directories, revisions of a git
// repository (--repo), or the embedded samples ("sample:config").
type sourceFlags struct {
	repo        string
	path        string
	maxFileSize int64
	maxFiles    int
	maxValues   int

	opened *config.Repository
}

func (f *sourceFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.repo, "repo", "", "read sources as revisions (branch, tag, sha) of the git repository in this directory; no checkout is needed")
	fs.StringVar(&f.path, "path", "", "the config's folder inside the git repository (with --repo)")
	fs.Int64Var(&f.maxFileSize, "max-file-size", config.DefaultLimits.MaxFileSize, "largest config file read, in bytes")
	fs.IntVar(&f.maxFiles, "max-files", config.DefaultLimits.MaxFiles, "most files a config tree may hold")
	fs.IntVar(&f.maxValues, "max-values", config.DefaultLimits.MaxValues, "most values all config files may expand to together, YAML aliases followed")
}

func (f *sourceFlags) limits() config.Limits {
	return config.Limits{MaxFileSize: f.maxFileSize, MaxFiles: f.maxFiles, MaxValues: f.maxValues}
}

// open returns the source that arg names.
func (f *sourceFlags) open(arg string) (config.Source, error) {
	if name, ok := strings.CutPrefix(arg, "sample:"); ok {
		fsys, err := samples.FS(name)
		if err != nil {
			return nil, err
		}
		if _, err := fsys.Open("environments"); err != nil {
			return nil, fmt.Errorf("no sample %q: the samples are %s", name, strings.Join(samples.Names, ", "))
		}
		return &config.FSSource{FS: fsys, Label: arg, Limits: f.limits()}, nil
	}
	if f.repo != "" {
		if f.opened == nil {
			r, err := config.OpenRepository(f.repo)
			if err != nil {
				return nil, err
			}
			f.opened = r
		}
		return config.NewGitSource(f.opened, arg, f.path, f.limits())
	}
	if f.path != "" {
		return nil, fmt.Errorf("--path needs --repo (for a directory, name the config folder itself)")
	}
	info, err := os.Stat(arg)
	if err != nil {
		return nil, fmt.Errorf("config source %s: %w (give a directory, or a revision with --repo)", arg, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("config source %s is not a directory", arg)
	}
	return config.NewDirSource(arg, f.limits()), nil
}

// close releases the git repository opened for --repo, if any.
func (f *sourceFlags) close() {
	if f.opened != nil {
		f.opened.Close()
		f.opened = nil
	}
}

// load reads and validates the source arg names.
func (f *sourceFlags) load(ctx context.Context, loader *config.Loader, arg string) (*config.State, error) {
	src, err := f.open(arg)
	if err != nil {
		return nil, err
	}
	return loader.Load(ctx, src)
}

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}
