package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/honua-io/honua-gitops/notify"
	"github.com/honua-io/honua-gitops/reconciler/apply"
)

// The health of an environment, in EnvState.Health.
const (
	// HealthHealthy: Honua is ready and every collection of the live
	// document serves.
	HealthHealthy = "Healthy"
	// HealthDegraded: Honua is ready but at least one collection does not
	// serve.
	HealthDegraded = "Degraded"
	// HealthUnhealthy: Honua is not ready (or does not answer).
	HealthUnhealthy = "Unhealthy"
	// HealthUnknown: not checked yet, or the last apply left it unknown.
	HealthUnknown = "Unknown"
)

// The sync of an environment, in EnvState.Sync.
const (
	// SyncSynced: the live document is, byte for byte, what the current
	// deployment's commit renders.
	SyncSynced = "Synced"
	// SyncOutOfSync: the live document differs (edited by hand, removed).
	SyncOutOfSync = "OutOfSync"
	// SyncUnknown: no deployment recorded, or not checked yet.
	SyncUnknown = "Unknown"
)

// StateVersion is the version of the state files this package writes.
const StateVersion = 1

// MaxHistory is how many entries an environment's history keeps.
const MaxHistory = 50

// ErrCorruptState is wrapped by Store errors about a state file that cannot
// be read; the message names the file and the fix.
var ErrCorruptState = errors.New("corrupt runner state")

// Store is the runner's file state store: one JSON file per environment,
// state-ENV.json under Dir, replaced atomically. One goroutine per
// environment may use it (the runner's rule); files are never reset
// silently: a corrupt one is an error until a person moves it aside.
type Store struct {
	// Dir is the runner's state directory (--state-dir).
	Dir string
	// mu serialises the read-modify-writes of this process (one poll loop
	// per environment, and notifications recorded in the background).
	mu sync.Mutex
}

// Deployed is a deployment that was live.
type Deployed struct {
	DeploymentID int64     `json:"deploymentId"`
	SHA          string    `json:"sha"`
	At           time.Time `json:"at"`
}

// Entry is one apply in an environment's history.
type Entry struct {
	At           time.Time `json:"at"`
	DeploymentID int64     `json:"deploymentId"`
	SHA          string    `json:"sha"`
	// State is the outcome's state (apply.StateSuccess, …).
	State string `json:"state"`
	// Cause says why, for any state but success.
	Cause string `json:"cause,omitempty"`
	// Steps are the apply's steps with their times.
	Steps []apply.Step `json:"steps,omitempty"`
}

// EnvState is what the store knows of one environment.
type EnvState struct {
	// Version is StateVersion when written.
	Version int    `json:"version"`
	Env     string `json:"env"`
	// Current is the deployment whose document is live (nil: none known).
	Current *Deployed `json:"current,omitempty"`
	// LastGood is the newest deployment that succeeded.
	LastGood *Deployed `json:"lastGood,omitempty"`
	// History holds at most MaxHistory entries, newest last.
	History []Entry `json:"history"`
	// Health is one of the Health* constants.
	Health string `json:"health"`
	// HealthSince is when Health last changed (zero: never).
	HealthSince time.Time `json:"healthSince,omitzero"`
	// Sync is one of the Sync* constants.
	Sync string `json:"sync"`
	// SyncSince is when Sync last changed (zero: never).
	SyncSince time.Time `json:"syncSince,omitzero"`
	// Notified are the keys of the notifications sent (event and target),
	// newest last, bounded: each is sent once however often it is asked.
	Notified []string `json:"notified,omitempty"`
	// NotifyFailures are the notifications given up on, newest last, at
	// most MaxNotifyFailures.
	NotifyFailures []NotifyFailure `json:"notifyFailures,omitempty"`
}

// NotifyFailure is a notification given up on: its event, its target (no
// secrets) and why.
type NotifyFailure struct {
	At     time.Time `json:"at"`
	Event  string    `json:"event"`
	Target string    `json:"target"`
	Error  string    `json:"error"`
	Key    string    `json:"key"`
}

// MaxNotifyFailures bounds EnvState.NotifyFailures.
const MaxNotifyFailures = 20

const (
	statePrefix = "state-"
	stateSuffix = ".json"
)

// Path is the state file of env.
func (s *Store) Path(env string) string {
	return filepath.Join(s.Dir, statePrefix+env+stateSuffix)
}

func checkEnvName(env string) error {
	if env == "" || env != filepath.Base(env) || strings.HasPrefix(env, ".") || strings.ContainsAny(env, `/\`) {
		return fmt.Errorf("runner state: %q is not an environment name", env)
	}
	return nil
}

// Load reads env's state. An environment without a file has an empty
// state (Health and Sync Unknown). A file that does not parse, or of a
// newer version, is an error wrapping ErrCorruptState that names the file
// and says to move it aside; nothing is reset.
func (s *Store) Load(env string) (EnvState, error) {
	if err := checkEnvName(env); err != nil {
		return EnvState{}, err
	}
	p := s.Path(env)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return EnvState{Version: StateVersion, Env: env, Health: HealthUnknown, Sync: SyncUnknown}, nil
	}
	if err != nil {
		return EnvState{}, fmt.Errorf("reading runner state: %w", err)
	}
	var st EnvState
	if err := json.Unmarshal(b, &st); err != nil {
		return EnvState{}, corrupt(p, err.Error())
	}
	switch {
	case st.Version == 0:
		return EnvState{}, corrupt(p, "no version")
	case st.Version > StateVersion:
		return EnvState{}, corrupt(p, fmt.Sprintf("version %d is newer than this runner's %d (a newer runner wrote it)", st.Version, StateVersion))
	case st.Env != env:
		return EnvState{}, corrupt(p, fmt.Sprintf("it is the state of %q, not %q", st.Env, env))
	}
	if st.Health == "" {
		st.Health = HealthUnknown
	}
	if st.Sync == "" {
		st.Sync = SyncUnknown
	}
	return st, nil
}

func corrupt(path, why string) error {
	return fmt.Errorf("%w %s: %s; nothing was changed: move it aside (mv %s %s.corrupt) and the runner starts a new history for the environment",
		ErrCorruptState, path, why, path, path)
}

// Envs lists the environments with a state file, sorted.
func (s *Store) Envs() ([]string, error) {
	ents, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("reading the runner's state directory: %w", err)
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, statePrefix) && strings.HasSuffix(n, stateSuffix) {
			if env := strings.TrimSuffix(strings.TrimPrefix(n, statePrefix), stateSuffix); checkEnvName(env) == nil {
				out = append(out, env)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// Record adds an apply's outcome to env's history and moves Current and
// LastGood: a success becomes both, and Healthy and Synced (it passed
// post-validation); a failed-kept deployment becomes Current with Health
// Unknown; a manual outcome leaves Current but makes Health and Sync
// Unknown (which document is live is for a person to find out); a failed
// or rolled-back deployment leaves the old one current.
func (s *Store) Record(env string, e Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.Load(env)
	if err != nil {
		return err
	}
	st.History = append(st.History, e)
	if n := len(st.History); n > MaxHistory {
		st.History = append([]Entry(nil), st.History[n-MaxHistory:]...)
	}
	d := &Deployed{DeploymentID: e.DeploymentID, SHA: e.SHA, At: e.At}
	switch e.State {
	case apply.StateSuccess:
		st.Current, st.LastGood = d, d
		st.set(HealthHealthy, SyncSynced, e.At)
	case apply.StateFailedKept:
		st.Current = d
		st.set(HealthUnknown, st.Sync, e.At)
	case apply.StateManual:
		st.set(HealthUnknown, SyncUnknown, e.At)
	}
	return s.write(st)
}

// Observe records a health check's result: only a change of Health or
// Sync is written (with its time), and changed says whether there was one.
func (s *Store) Observe(env, health, sync string, at time.Time) (changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.Load(env)
	if err != nil {
		return false, err
	}
	if !st.set(health, sync, at) {
		return false, nil
	}
	return true, s.write(st)
}

// set moves Health and Sync, stamping the ones that change.
func (st *EnvState) set(health, sync string, at time.Time) (changed bool) {
	if health != st.Health {
		st.Health, st.HealthSince, changed = health, at, true
	}
	if sync != st.Sync {
		st.Sync, st.SyncSince, changed = sync, at, true
	}
	return changed
}

// write replaces env's file atomically: a temporary file beside it is
// written and fsynced, renamed over it, and the directory fsynced.
func (s *Store) write(st EnvState) error {
	st.Version = StateVersion
	if st.History == nil {
		st.History = []Entry{}
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return fmt.Errorf("creating the runner's state directory: %w", err)
	}
	p := s.Path(st.Env)
	if err := apply.WriteFileAtomic(p, append(b, '\n'), 0o640); err != nil {
		return fmt.Errorf("writing runner state %s: %w", p, err)
	}
	return nil
}

// record puts an outcome in the runner's store, when it has one.
func (r *Runner) record(env Environment, o apply.Outcome) error {
	if r.cfg.Store == nil {
		return nil
	}
	at := r.cfg.Now()
	if n := len(o.Steps); n > 0 && !o.Steps[n-1].At.IsZero() {
		at = o.Steps[n-1].At
	}
	err := r.cfg.Store.Record(env.Name, Entry{At: at, DeploymentID: o.DeploymentID, SHA: o.SHA, State: o.State, Cause: o.Cause, Steps: o.Steps})
	if err != nil {
		r.cfg.Logger.Error("recording the outcome in the runner's state failed", "env", env.Name, "deployment", o.DeploymentID, "err", err)
		return fmt.Errorf("recording deployment %d: %w", o.DeploymentID, err)
	}
	return nil
}

// StatusHistory is how many history entries WriteStatus shows per
// environment in text.
const StatusHistory = 5

// WriteStatus writes environments' states for `runner status`: format
// "text" (for people: health, sync, current, last good, the last
// StatusHistory entries with their steps) or "json" ({"environments":
// [EnvState…]}, every entry).
func WriteStatus(w io.Writer, states []EnvState, format string) error {
	switch format {
	case "json":
		if states == nil {
			states = []EnvState{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Environments []EnvState `json:"environments"`
		}{states})
	case "text", "":
	default:
		return fmt.Errorf("format %q: use text or json", format)
	}
	var b strings.Builder
	if len(states) == 0 {
		b.WriteString("No environment has runner state yet.\n")
	}
	for i, st := range states {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "Environment %s\n", st.Env)
		fmt.Fprintf(&b, "  health:    %s%s\n", st.Health, since(st.HealthSince))
		fmt.Fprintf(&b, "  sync:      %s%s\n", st.Sync, since(st.SyncSince))
		fmt.Fprintf(&b, "  current:   %s\n", deployed(st.Current))
		fmt.Fprintf(&b, "  last good: %s\n", deployed(st.LastGood))
		for _, f := range st.NotifyFailures {
			fmt.Fprintf(&b, "  notification failed: %s  %s to %s: %s\n", stamp(f.At), f.Event, f.Target, f.Error)
		}
		if len(st.History) == 0 {
			b.WriteString("  history:   none\n")
			continue
		}
		shown := st.History[max(0, len(st.History)-StatusHistory):]
		fmt.Fprintf(&b, "  history (newest first, %d of %d):\n", len(shown), len(st.History))
		for j := len(shown) - 1; j >= 0; j-- {
			e := shown[j]
			fmt.Fprintf(&b, "    %s  deployment %d  %s  %s\n", stamp(e.At), e.DeploymentID, short(e.SHA), e.State)
			if e.Cause != "" {
				fmt.Fprintf(&b, "      cause: %s\n", e.Cause)
			}
			for _, s := range e.Steps {
				fmt.Fprintf(&b, "      %s  %s\n", stamp(s.At), s.State)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func since(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return " since " + stamp(t)
}

func deployed(d *Deployed) string {
	if d == nil {
		return "none"
	}
	return fmt.Sprintf("deployment %d at %s (%s)", d.DeploymentID, short(d.SHA), stamp(d.At))
}

// maxNotified bounds an environment's record of sent notifications.
const maxNotified = 500

// Ledger is env's record of the notifications sent, in the store: what
// notify.Ledger asks for.
func (s *Store) Ledger(env string) Ledger { return Ledger{s: s, env: env} }

// Ledger records sent notifications in a Store (EnvState.Notified).
type Ledger struct {
	s   *Store
	env string
}

// Sent reports whether key was recorded as sent.
func (l Ledger) Sent(_ context.Context, key string) (bool, error) {
	st, err := l.s.Load(l.env)
	if err != nil {
		return false, err
	}
	return slices.Contains(st.Notified, key), nil
}

// MarkSent records key as sent.
func (l Ledger) MarkSent(_ context.Context, key string) error {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	st, err := l.s.Load(l.env)
	if err != nil {
		return err
	}
	if slices.Contains(st.Notified, key) {
		return nil
	}
	st.Notified = append(st.Notified, key)
	if len(st.Notified) > maxNotified {
		st.Notified = slices.Clone(st.Notified[len(st.Notified)-maxNotified:])
	}
	return l.s.write(st)
}

// RecordNotifyFailure keeps a notification given up on in its
// environment's state, for `runner status`.
func (s *Store) RecordNotifyFailure(f notify.Failure) error {
	if checkEnvName(f.Env) != nil {
		return nil // not one of this store's environments
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.Load(f.Env)
	if err != nil {
		return err
	}
	st.NotifyFailures = append(st.NotifyFailures, NotifyFailure{At: f.At, Event: string(f.Kind), Target: f.Target, Error: f.Err, Key: f.Key})
	if n := len(st.NotifyFailures); n > MaxNotifyFailures {
		st.NotifyFailures = slices.Clone(st.NotifyFailures[n-MaxNotifyFailures:])
	}
	return s.write(st)
}
