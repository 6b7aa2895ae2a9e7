package apply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// restore makes the live document byte-identical to the one the journal
// recorded before the apply (or absent, after a first deploy), reloads
// Honua and waits for readiness within the journal's health timeout.
//
// After a first deploy there was no document to go back to: the new one is
// removed, and Honua is still asked to reload, but a failed reload or
// readiness check is only logged, since Honua had no document before either
// and the live state is exactly the state before the apply.
func (a *Applier) restore(ctx context.Context, j *journal) error {
	live, livePresent, err := readOptional(a.MetadataPath)
	if err != nil {
		return fmt.Errorf("reading the live document: %w", err)
	}
	switch {
	case !j.OldPresent:
		if livePresent {
			if err := removeDurably(a.MetadataPath); err != nil {
				return fmt.Errorf("removing the new document (there was none before): %w", err)
			}
		}
	case !livePresent || hashOf(live) != j.OldHash:
		old, ok, err := readOptional(j.BackupPath)
		switch {
		case err != nil:
			return fmt.Errorf("reading the backup: %w", err)
		case !ok:
			return fmt.Errorf("the backup %s is missing", j.BackupPath)
		case hashOf(old) != j.OldHash:
			return fmt.Errorf("the backup %s does not match the document it was taken from (sha256 %s)", j.BackupPath, j.OldHash)
		}
		mode := DefaultFileMode
		if fi, err := os.Stat(a.MetadataPath); err == nil {
			mode = fi.Mode().Perm()
		}
		var crashed error
		err = writeAtomic(a.MetadataPath, old, mode, func() error {
			crashed = a.at("restore-temp-written")
			return crashed
		})
		if crashed != nil {
			return crashed
		}
		if err != nil {
			return fmt.Errorf("restoring the backup: %w", err)
		}
	}
	if err := a.at("restored"); err != nil {
		return err
	}
	log := a.logger().With("deployment", j.DeploymentID, "env", j.Env)
	if err := a.Honua.Reload(ctx); err != nil {
		if !j.OldPresent {
			log.Warn("reload without a document failed, as it may on a first deploy", "err", err)
			return nil
		}
		return fmt.Errorf("reloading the restored document: %w", err)
	}
	if err := a.at("restore-reloaded"); err != nil {
		return err
	}
	if err := a.validate(ctx, j.HealthTimeout, nil); err != nil {
		if !j.OldPresent {
			log.Warn("not ready without a document, as it may be on a first deploy", "err", err)
			return nil
		}
		return fmt.Errorf("after the restore: %w", err)
	}
	return nil
}

// validate waits until Honua is ready and then each collection serves,
// probing again after a growing pause (250 ms, doubling to 5 s) until the
// timeout, measured on the Applier's clock. A probe that passed is not
// repeated. It returns the last probe's failure.
func (a *Applier) validate(ctx context.Context, timeout time.Duration, collections []string) error {
	start := a.now()
	deadline := start.Add(timeout)
	ready := false
	pending := slices.Clone(collections)
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		last := a.probe(ctx, deadline, &ready, &pending)
		if last == nil {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("post-validation cancelled: %w (last probe: %v)", err, last)
		}
		remaining := deadline.Sub(a.now())
		if remaining <= 0 {
			return fmt.Errorf("%w (within %s, %d attempts)", last, timeout, attempt)
		}
		if err := a.sleep(ctx, min(backoff, remaining)); err != nil {
			return fmt.Errorf("post-validation cancelled: %w (last probe: %v)", err, last)
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// probe runs the probes not passed yet, each bounded by the time left.
func (a *Applier) probe(ctx context.Context, deadline time.Time, ready *bool, pending *[]string) error {
	remaining := max(deadline.Sub(a.now()), time.Millisecond)
	pctx, cancel := context.WithTimeout(ctx, remaining)
	defer cancel()
	if !*ready {
		if err := a.Honua.Ready(pctx); err != nil {
			return fmt.Errorf("not ready: %w", err)
		}
		*ready = true
	}
	for len(*pending) > 0 {
		id := (*pending)[0]
		if err := a.Honua.Collection(pctx, id); err != nil {
			return fmt.Errorf("collection %s: %w", id, err)
		}
		*pending = (*pending)[1:]
	}
	return nil
}

// pruneBackups keeps the newest KeepBackups backups. Their names begin with
// the UTC time they were taken, so the newest sort last.
func (a *Applier) pruneBackups(log *slog.Logger) {
	keep := a.KeepBackups
	if keep <= 0 {
		keep = DefaultKeepBackups
	}
	dir := filepath.Join(a.StateDir, BackupDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		log.Warn("listing backups", "err", err)
		return
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") && strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	for len(names) > keep {
		if err := os.Remove(filepath.Join(dir, names[0])); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Warn("removing an old backup", "err", err)
		}
		names = names[1:]
	}
}

func manualCause(cause string, err error) string {
	return fmt.Sprintf("manual intervention: %s; then the rollback failed: %v", cause, err)
}
