package apply

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"
)

// JournalFile is the name of the write-ahead journal in the state directory.
// It exists only while an apply is in flight, or after one that needs
// Recover (a crash, or a rollback that failed). An operator who has repaired
// Honua by hand may delete it.
const JournalFile = "apply-journal.json"

// BackupDir is the directory, inside the state directory, that holds a copy
// of the live document taken before each apply.
const BackupDir = "backups"

// journalVersion is the version of the journal's JSON format.
const journalVersion = 1

// journal is the write-ahead record of one apply. It is rewritten atomically
// and fsynced before each risky step, so that after a crash it says what was
// in flight, what the live document was before (OldHash, and its copy at
// BackupPath) and what it was meant to become (NewHash).
type journal struct {
	Version      int    `json:"version"`
	DeploymentID int64  `json:"deploymentId"`
	Env          string `json:"env"`
	SHA          string `json:"sha"`
	// MetadataPath is the live document this apply writes.
	MetadataPath string `json:"metadataPath"`
	// OldPresent is false on a first deploy: there was no live document, and
	// undoing the apply means removing it.
	OldPresent bool   `json:"oldPresent"`
	OldHash    string `json:"oldHash,omitempty"`
	NewHash    string `json:"newHash"`
	// BackupPath is the copy of the old document (empty when OldPresent is false).
	BackupPath        string        `json:"backupPath,omitempty"`
	Collections       []string      `json:"collections,omitempty"`
	HealthTimeout     time.Duration `json:"healthTimeoutNs"`
	RollbackOnFailure bool          `json:"rollbackOnFailure"`
	// Step is the step being entered (written before the step starts).
	Step string `json:"step"`
	// Cause is why the apply is rolling back (or needs a person).
	Cause string `json:"cause,omitempty"`
	// Outcome is the cause reported with a final step.
	Outcome   string    `json:"outcome,omitempty"`
	StartedAt time.Time `json:"startedAt"`
	Steps     []Step    `json:"steps"`
}

func (a *Applier) journalPath() string { return filepath.Join(a.StateDir, JournalFile) }

// writeJournal records j durably.
func (a *Applier) writeJournal(j *journal) error {
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the journal: %w", err)
	}
	if err := writeAtomic(a.journalPath(), append(b, '\n'), 0o600, nil); err != nil {
		return fmt.Errorf("writing the journal: %w", err)
	}
	return nil
}

// readJournal reads the journal; no journal is (nil, nil).
func (a *Applier) readJournal() (*journal, error) {
	b, ok, err := readOptional(a.journalPath())
	if err != nil {
		return nil, fmt.Errorf("reading the journal: %w", err)
	}
	if !ok {
		return nil, nil
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("decoding the journal %s: %w", a.journalPath(), err)
	}
	if j.Version != journalVersion {
		return nil, fmt.Errorf("journal %s: version %d, want %d", a.journalPath(), j.Version, journalVersion)
	}
	return &j, nil
}

// removeJournal ends the apply the journal recorded.
func (a *Applier) removeJournal() error {
	if err := removeDurably(a.journalPath()); err != nil {
		return fmt.Errorf("removing the journal: %w", err)
	}
	return nil
}
