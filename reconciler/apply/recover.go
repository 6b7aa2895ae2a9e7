package apply

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Recover finishes or undoes what the journal says was in flight when the
// runner stopped, and returns the outcomes to report (none when no apply was
// in flight). Call it at start, before the first Apply.
//
//   - A final step in the journal (the apply had decided, then stopped before
//     removing the journal): that outcome is reported as it was decided.
//   - Anything else: the old document is made live again (restored from the
//     backup, or removed after a first deploy), Honua is reloaded and must be
//     ready. If the new document was not yet in place, the outcome is
//     StateFailed ("interrupted before the new configuration was applied;
//     restored…"); if it was in place but not validated, or a rollback was
//     under way, StateRolledBack. A new document that was live but not
//     validated is undone, not validated now, whatever RollbackOnFailure
//     says: that flag speaks of a document that failed its checks, and this
//     one never finished them (see the package documentation).
//   - If the restore fails, the outcome is StateManual and the journal stays,
//     so a later Recover tries again and Apply refuses meanwhile.
//
// Temporary files left by an interrupted atomic write are removed. The
// error is for what Recover could not do at all (an unreadable journal, a
// cancelled ctx); the live document is then whatever it was.
func (a *Applier) Recover(ctx context.Context) ([]Outcome, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	log := a.logger()
	if err := errors.Join(
		removeTemps(filepath.Dir(a.MetadataPath), filepath.Base(a.MetadataPath)),
		removeTemps(a.StateDir, JournalFile),
		removeTemps(filepath.Join(a.StateDir, BackupDir), ""),
	); err != nil {
		log.Warn("removing temporary files", "err", err)
	}
	j, err := a.readJournal()
	if err != nil || j == nil {
		return nil, err
	}
	if j.MetadataPath != "" && j.MetadataPath != a.MetadataPath {
		return nil, fmt.Errorf("recover: the journal is for %s, not %s", j.MetadataPath, a.MetadataPath)
	}
	log = log.With("deployment", j.DeploymentID, "env", j.Env, "sha", j.SHA)
	out := Outcome{DeploymentID: j.DeploymentID, Env: j.Env, SHA: j.SHA, Steps: j.Steps}

	final := map[string]string{
		StepSucceeded: StateSuccess, StepRolledBack: StateRolledBack,
		StepFailedKept: StateFailedKept, StepFailed: StateFailed,
	}
	if state, ok := final[j.Step]; ok {
		out.State, out.Cause = state, j.Outcome
		log.Info("recovered a decided outcome", "state", state)
		if err := a.removeJournal(); err != nil {
			return []Outcome{out}, fmt.Errorf("recover: %w", err)
		}
		return []Outcome{out}, nil
	}

	live, livePresent, err := readOptional(a.MetadataPath)
	if err != nil {
		return nil, fmt.Errorf("recover: reading the live document: %w", err)
	}
	liveHash := ""
	if livePresent {
		liveHash = hashOf(live)
	}
	oldLive := livePresent == j.OldPresent && liveHash == j.OldHash
	newLive := livePresent && liveHash == j.NewHash && !oldLive
	state, cause := StateRolledBack, ""
	switch {
	case j.Step == StepRollingBack || j.Step == StepManual:
		cause = j.Cause
	case oldLive && (j.Step == StepBackingUp || j.Step == StepApplying):
		state, cause = StateFailed, "interrupted before the new configuration was applied; restored the previous configuration"
	case newLive || oldLive:
		cause = fmt.Sprintf("interrupted while %s, before the new configuration was validated", stepWords(j.Step))
	default:
		cause = fmt.Sprintf("interrupted while %s; the live document (sha256 %.12s) was neither the previous nor the new one", stepWords(j.Step), liveHash)
	}
	out.Steps = append(out.Steps, Step{State: StepRecovering, At: a.now()})
	log.Warn("recovering an interrupted apply", "step", j.Step, "newLive", newLive, "oldLive", oldLive)
	if err := a.restore(ctx, j); err != nil {
		if errors.Is(err, errCrash) {
			return nil, err
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("recover: cancelled: %w", cerr)
		}
		out.State, out.Cause = StateManual, manualCause(cause, err)
		log.Error("recovery failed", "err", err)
		j.Step = StepManual
		j.Cause = cause
		j.Steps = append(j.Steps, Step{State: StepManual, At: a.now()})
		out.Steps = append(out.Steps, Step{State: StepManual, At: a.now()})
		if err := a.writeJournal(j); err != nil {
			return []Outcome{out}, fmt.Errorf("recover: %w", err)
		}
		return []Outcome{out}, nil
	}
	out.State = state
	if state == StateRolledBack {
		out.Cause = "rolled back: " + cause
	} else {
		out.Cause = cause
	}
	final2 := map[string]string{StateRolledBack: StepRolledBack, StateFailed: StepFailed}[state]
	out.Steps = append(out.Steps, Step{State: final2, At: a.now()})
	log.Info("recovered", "state", out.State, "cause", out.Cause)
	if err := a.removeJournal(); err != nil {
		return []Outcome{out}, fmt.Errorf("recover: %w", err)
	}
	return []Outcome{out}, nil
}

// stepWords says a step in a sentence ("PostValidating" → "post-validating").
func stepWords(step string) string {
	var b strings.Builder
	for i, r := range step {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
