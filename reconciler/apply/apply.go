package apply

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Honua is the server the document is applied to. The runner implements it
// over HTTP (see HONUA.md); tests use a fake.
type Honua interface {
	// Reload asks the server to reload its metadata document
	// (POST /admin/metadata/reload). An error means the server did not
	// take the document (a 422 for an invalid one, a 500, no answer).
	Reload(ctx context.Context) error
	// Ready reports whether the server is ready (GET /healthz/ready).
	Ready(ctx context.Context) error
	// Collection reports whether a collection serves
	// (GET /ogc/collections/{id} and …/items?limit=1).
	Collection(ctx context.Context, id string) error
}

// The states of an Outcome.
const (
	// StateSuccess: the new document is live and passed post-validation.
	StateSuccess = "success"
	// StateRolledBack: the new document was written, failed, and the old one
	// is live again, reloaded and ready.
	StateRolledBack = "rolled-back"
	// StateFailedKept: the new document failed and, as the request asked
	// (RollbackOnFailure false), it stays live.
	StateFailedKept = "failed-kept"
	// StateFailed: the new document was never applied; the old one is live.
	StateFailed = "failed"
	// StateManual: neither the new nor the old document could be made to
	// work; a person must look. The journal stays, and Apply refuses until
	// Recover succeeds or the journal is removed.
	StateManual = "manual"
)

// The steps an apply goes through, in Outcome.Steps and in the journal.
const (
	StepBackingUp      = "BackingUp"
	StepApplying       = "Applying"
	StepReloading      = "Reloading"
	StepPostValidating = "PostValidating"
	StepRollingBack    = "RollingBack"
	StepRecovering     = "Recovering"
	// The final steps; each is recorded in the journal before it is removed,
	// so that a crash in between still reports the outcome.
	StepSucceeded  = "Succeeded"
	StepRolledBack = "RolledBack"
	StepFailedKept = "FailedKept"
	StepFailed     = "Failed"
	StepManual     = "Manual"
)

// Defaults of an Applier and a Request.
const (
	// DefaultHealthTimeout is the post-validation budget of a Request without one.
	DefaultHealthTimeout = 60 * time.Second
	// DefaultKeepBackups is how many backups an Applier keeps.
	DefaultKeepBackups = 10
	// DefaultFileMode is the mode of a live document written on a first
	// deploy; otherwise the live document's mode is kept. The document holds
	// connection strings, so it is not world-readable.
	DefaultFileMode fs.FileMode = 0o640
)

// Backoff of the post-validation probes.
const (
	firstBackoff = 250 * time.Millisecond
	maxBackoff   = 5 * time.Second
)

// ErrRecoveryNeeded is returned by Apply while a journal from an earlier
// apply is present: Recover must run first.
var ErrRecoveryNeeded = errors.New("an earlier apply is unfinished: run Recover first")

// Applier applies metadata documents to one Honua server. Its zero value is
// not usable: MetadataPath, StateDir and Honua are required. An Applier owns
// StateDir; applies through one Applier are serialized, and two Appliers (or
// processes) must not share a StateDir or a MetadataPath.
type Applier struct {
	// MetadataPath is the live document Honua reads (HONUA__METADATA__PATH).
	MetadataPath string
	// StateDir holds the journal and the backups.
	StateDir string
	// Honua is the server.
	Honua Honua
	// Now is the clock (time.Now when nil). Post-validation deadlines use it.
	Now func() time.Time
	// Sleep waits between probes (a context-aware time.Sleep when nil).
	// Tests give one that advances their clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives progress and failures (slog.Default when nil).
	Logger *slog.Logger
	// KeepBackups is how many backups to keep (DefaultKeepBackups when 0).
	KeepBackups int

	mu sync.Mutex
	// hook, when set, is called at each crash point; an error stops Apply
	// or Recover at once, without cleanup, as a kill would. Tests only.
	hook func(point string) error
}

// Request is one deployment of one environment.
type Request struct {
	// DeploymentID is the GitHub deployment (or the controller's) id.
	DeploymentID int64
	// Env is the environment's name.
	Env string
	// SHA is the config repository commit the document was rendered from.
	SHA string
	// Document is the rendered metadata document, written byte for byte.
	Document []byte
	// Collections are the OGC collection ids ({serviceId}::{layerId}) added
	// or changed, each checked after the reload.
	Collections []string
	// HealthTimeout bounds post-validation (DefaultHealthTimeout when 0);
	// the same budget bounds the readiness check after a rollback.
	HealthTimeout time.Duration
	// RollbackOnFailure restores the old document when the new one fails.
	RollbackOnFailure bool
}

// Step is one state an apply entered, and when.
type Step struct {
	State string    `json:"state"`
	At    time.Time `json:"at"`
}

// Outcome is the result of an apply, as the runner reports it.
type Outcome struct {
	DeploymentID int64
	Env          string
	SHA          string
	// State is one of StateSuccess, StateRolledBack, StateFailedKept,
	// StateFailed, StateManual.
	State string
	// Cause says why, for any state but success ("rolled back: …").
	Cause string
	// Steps are the steps entered, in order, with their times.
	Steps []Step
}

// Apply applies r.Document to the live document and Honua; progress, if not
// nil, is called with each step as it is entered (for in_progress statuses).
//
// Failures of the new configuration are outcomes (rolled-back, failed-kept,
// manual), not errors. Apply returns an error when it was refused
// (ErrRecoveryNeeded, an invalid request), when the state directory could
// not be written before the new document was, or when ctx was cancelled:
// after the write, a cancelled apply is undone as a failure is, even with
// RollbackOnFailure off (an unvalidated document is not kept), with a
// context detached from ctx; the outcome says what was done.
func (a *Applier) Apply(ctx context.Context, r Request, progress func(state string)) (Outcome, error) {
	if err := a.check(); err != nil {
		return Outcome{}, err
	}
	if len(r.Document) == 0 {
		return Outcome{}, errors.New("apply: empty document")
	}
	if r.HealthTimeout <= 0 {
		r.HealthTimeout = DefaultHealthTimeout
	}
	a.mu.Lock()
	defer a.mu.Unlock()

	x := &run{a: a, progress: progress, out: Outcome{DeploymentID: r.DeploymentID, Env: r.Env, SHA: r.SHA}}
	x.log = a.logger().With("deployment", r.DeploymentID, "env", r.Env, "sha", r.SHA)
	if j, err := a.readJournal(); err != nil {
		return x.out, fmt.Errorf("apply: %w", err)
	} else if j != nil {
		return x.out, fmt.Errorf("apply: deployment %d (step %s): %w", j.DeploymentID, j.Step, ErrRecoveryNeeded)
	}
	if err := os.MkdirAll(filepath.Join(a.StateDir, BackupDir), 0o700); err != nil {
		return x.out, fmt.Errorf("apply: creating the state directory: %w", err)
	}
	old, oldPresent, err := readOptional(a.MetadataPath)
	if err != nil {
		return x.out, fmt.Errorf("apply: reading the live document: %w", err)
	}
	mode := DefaultFileMode
	if oldPresent {
		if fi, err := os.Stat(a.MetadataPath); err == nil {
			mode = fi.Mode().Perm()
		}
	}
	now := a.now()
	j := &journal{
		Version: journalVersion, DeploymentID: r.DeploymentID, Env: r.Env, SHA: r.SHA,
		MetadataPath: a.MetadataPath, OldPresent: oldPresent, NewHash: hashOf(r.Document),
		Collections:   slices.Compact(slices.Sorted(slices.Values(r.Collections))),
		HealthTimeout: r.HealthTimeout, RollbackOnFailure: r.RollbackOnFailure, StartedAt: now,
	}
	if oldPresent {
		j.OldHash = hashOf(old)
		j.BackupPath = filepath.Join(a.StateDir, BackupDir,
			fmt.Sprintf("%s-d%d.json", now.UTC().Format("20060102T150405.000000000Z"), r.DeploymentID))
	}
	x.j = j

	// Before the write: a failure here changes nothing live.
	if err := x.enter(StepBackingUp); err != nil {
		return x.notApplied(fmt.Errorf("apply: %w", err))
	}
	if err := a.at(StepBackingUp); err != nil {
		return x.out, err
	}
	if oldPresent {
		if err := writeAtomic(j.BackupPath, old, 0o600, nil); err != nil {
			return x.notApplied(fmt.Errorf("apply: backing up the live document: %w", err))
		}
		if err := a.at("backup-written"); err != nil {
			return x.out, err
		}
	}
	if err := ctx.Err(); err != nil {
		return x.notApplied(fmt.Errorf("apply: cancelled before the write: %w", err))
	}
	if err := x.enter(StepApplying); err != nil {
		return x.notApplied(fmt.Errorf("apply: %w", err))
	}
	if err := a.at(StepApplying); err != nil {
		return x.out, err
	}
	var crashed error
	err = writeAtomic(a.MetadataPath, r.Document, mode, func() error {
		crashed = a.at("temp-written")
		return crashed
	})
	if crashed != nil {
		return x.out, crashed
	}
	if err != nil {
		// writeAtomic fails before its rename or at the directory fsync
		// after it; either way the live document is whole, and the undo
		// below puts the old one back if it is not.
		return x.failed(ctx, fmt.Sprintf("writing the new document: %v", err))
	}
	if err := a.at("renamed"); err != nil {
		return x.out, err
	}

	// After the write: every failure is undone (or kept, as asked).
	if err := x.enter(StepReloading); err != nil {
		return x.failed(ctx, err.Error())
	}
	if err := a.at(StepReloading); err != nil {
		return x.out, err
	}
	if err := a.Honua.Reload(ctx); err != nil {
		return x.failed(ctx, fmt.Sprintf("reload failed: %v", err))
	}
	if err := a.at("reloaded"); err != nil {
		return x.out, err
	}
	if err := x.enter(StepPostValidating); err != nil {
		return x.failed(ctx, err.Error())
	}
	if err := a.at(StepPostValidating); err != nil {
		return x.out, err
	}
	if err := a.validate(ctx, r.HealthTimeout, j.Collections); err != nil {
		return x.failed(ctx, err.Error())
	}
	if err := a.at("validated"); err != nil {
		return x.out, err
	}
	x.out.State = StateSuccess
	if err := x.finish(StepSucceeded); err != nil {
		return x.out, err
	}
	x.log.Info("applied", "state", x.out.State, "bytes", len(r.Document))
	a.pruneBackups(x.log)
	return x.out, nil
}

// run is the state of one Apply.
type run struct {
	a        *Applier
	j        *journal
	out      Outcome
	progress func(string)
	log      *slog.Logger
}

// enter records step in the journal (durably, before the step starts), in
// the outcome, and to the progress callback.
func (x *run) enter(step string) error {
	s := Step{State: step, At: x.a.now()}
	x.j.Step = step
	x.j.Steps = append(x.j.Steps, s)
	x.out.Steps = append(x.out.Steps, s)
	if x.progress != nil {
		x.progress(step)
	}
	return x.a.writeJournal(x.j)
}

// finish records a final step, then removes the journal. A crash in between
// leaves the final step for Recover to report.
func (x *run) finish(step string) error {
	x.j.Outcome = x.out.Cause
	if err := x.enter(step); err != nil {
		return fmt.Errorf("apply: recording the outcome: %w", err)
	}
	if err := x.a.at(step); err != nil {
		return err
	}
	if err := x.a.removeJournal(); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return nil
}

// notApplied ends an apply that stopped before the new document was written:
// the live document is untouched.
func (x *run) notApplied(err error) (Outcome, error) {
	x.out.State = StateFailed
	x.out.Cause = fmt.Sprintf("not applied: %v", err)
	x.log.Error("apply stopped before the write", "err", err)
	if ferr := x.finish(StepFailed); ferr != nil {
		return x.out, errors.Join(err, ferr)
	}
	return x.out, err
}

// failed handles a failure after the new document was (or may have been)
// written: keep it if asked to, or restore the old one.
func (x *run) failed(ctx context.Context, cause string) (Outcome, error) {
	cancelled := ctx.Err()
	x.log.Error("apply failed", "cause", cause)
	if !x.j.RollbackOnFailure && cancelled == nil {
		x.out.State = StateFailedKept
		x.out.Cause = "failed, new configuration kept (rollback on failure is off): " + cause
		return x.out, x.finish(StepFailedKept)
	}
	x.j.Cause = cause
	if err := x.enter(StepRollingBack); err != nil {
		// The journal could not say so, but restoring comes first.
		x.log.Error("journal", "err", err)
	}
	if err := x.a.at(StepRollingBack); err != nil {
		return x.out, err
	}
	// A cancelled caller still gets its undo; the restore is bounded by
	// the health timeout, not by ctx.
	rctx := context.WithoutCancel(ctx)
	if err := x.a.restore(rctx, x.j); err != nil {
		if errors.Is(err, errCrash) {
			return x.out, err
		}
		x.out.State = StateManual
		x.out.Cause = manualCause(cause, err)
		x.log.Error("rollback failed", "err", err)
		if jerr := x.enter(StepManual); jerr != nil {
			x.log.Error("journal", "err", jerr)
		}
		// The journal stays: Apply refuses until Recover has repaired it.
		return x.out, cancelledErr(cancelled)
	}
	x.out.State = StateRolledBack
	x.out.Cause = "rolled back: " + cause
	if err := x.finish(StepRolledBack); err != nil {
		return x.out, errors.Join(cancelledErr(cancelled), err)
	}
	x.log.Info("rolled back", "cause", cause)
	return x.out, cancelledErr(cancelled)
}

func cancelledErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("apply: cancelled: %w", err)
}

// errCrash wraps the error of a test's crash hook.
var errCrash = errors.New("crash point")

// at calls the test hook at a crash point.
func (a *Applier) at(point string) error {
	if a.hook == nil {
		return nil
	}
	if err := a.hook(point); err != nil {
		return fmt.Errorf("%w %s: %w", errCrash, point, err)
	}
	return nil
}

func (a *Applier) check() error {
	switch {
	case a.MetadataPath == "":
		return errors.New("apply: Applier.MetadataPath is empty")
	case a.StateDir == "":
		return errors.New("apply: Applier.StateDir is empty")
	case a.Honua == nil:
		return errors.New("apply: Applier.Honua is nil")
	}
	return nil
}

func (a *Applier) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Applier) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

func (a *Applier) sleep(ctx context.Context, d time.Duration) error {
	if a.Sleep != nil {
		return a.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
