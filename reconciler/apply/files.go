package apply

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tempInfix marks the temporary files of an atomic write, so that Recover can
// tell its own leftovers (from a crash before the rename) from anything else.
const tempInfix = ".apply-tmp-"

// hashOf is the hex SHA-256 of a document, as recorded in the journal.
func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// readOptional reads a file; a missing file is (nil, false, nil).
func readOptional(path string) ([]byte, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// writeAtomic replaces path with data so that a reader (or a crash) sees
// either the old bytes or the new ones, never a mix: a temporary file in the
// same directory is written and fsynced, renamed over path, and the directory
// is fsynced so that the rename itself survives a power loss. beforeRename,
// if not nil, runs between the fsync and the rename (a test's crash point);
// its error stops the write and leaves the temporary file, as a kill would.
func writeAtomic(path string, data []byte, mode fs.FileMode, beforeRename func() error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+tempInfix+"*")
	if err != nil {
		return fmt.Errorf("creating temporary file beside %s: %w", path, err)
	}
	tmp := f.Name()
	cleanup := func() { _ = os.Remove(tmp) }
	if _, err := f.Write(data); err != nil {
		f.Close()
		cleanup()
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		cleanup()
		return fmt.Errorf("setting the mode of %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		cleanup()
		return fmt.Errorf("syncing %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		cleanup()
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	if beforeRename != nil {
		if err := beforeRename(); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		cleanup()
		return fmt.Errorf("renaming %s over %s: %w", tmp, path, err)
	}
	return syncDir(dir)
}

// removeDurably removes path (a missing file is fine) and fsyncs its directory.
func removeDurably(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir fsyncs a directory, which makes renames and removals in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// removeTemps removes the temporary files an interrupted writeAtomic left in
// dir for the file named base, or for any file when base is empty.
func removeTemps(dir, base string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	prefix := "." + base + tempInfix
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if (base != "" && strings.HasPrefix(name, prefix)) ||
			(base == "" && strings.HasPrefix(name, ".") && strings.Contains(name, tempInfix)) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// WriteFileAtomic replaces path with data durably: a reader or a crash sees
// the old bytes or the new ones, never a mix (a temporary file beside it,
// fsynced, renamed over it, the directory fsynced). The runner's and the
// controller's state files use it too.
func WriteFileAtomic(path string, data []byte, mode fs.FileMode) error {
	return writeAtomic(path, data, mode, nil)
}
