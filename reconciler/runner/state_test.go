package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/honua-io/honua-gitops/reconciler/apply"

	"github.com/honua-io/honua-gitops/notify"
)

// withStore gives a fixture's runner a state store and returns it.
func withStore(t *testing.T, r *Runner) *Store {
	t.Helper()
	s := &Store{Dir: t.TempDir()}
	r.cfg.Store = s
	return s
}

func entry(id int64, state string, at time.Time) Entry {
	return Entry{At: at, DeploymentID: id, SHA: strings.Repeat("a", 40), State: state,
		Steps: []apply.Step{{State: apply.StepBackingUp, At: at.Add(-time.Second)}, {State: apply.StepSucceeded, At: at}}}
}

func TestStoreRecordsOutcomes(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	st, err := s.Load("development")
	if err != nil {
		t.Fatal(err)
	}
	if st.Health != HealthUnknown || st.Sync != SyncUnknown || st.Current != nil {
		t.Fatalf("an environment without state: %+v", st)
	}
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	if err := s.Record("development", entry(1, apply.StateSuccess, t0)); err != nil {
		t.Fatal(err)
	}
	if err := s.Record("development", Entry{At: t0.Add(time.Hour), DeploymentID: 2, SHA: "b", State: apply.StateRolledBack, Cause: "rolled back: x"}); err != nil {
		t.Fatal(err)
	}
	st, err = s.Load("development")
	if err != nil {
		t.Fatal(err)
	}
	if st.Current == nil || st.Current.DeploymentID != 1 || st.LastGood == nil || st.LastGood.DeploymentID != 1 {
		t.Errorf("after a success and a rollback, current %+v last good %+v, want deployment 1", st.Current, st.LastGood)
	}
	if st.Health != HealthHealthy || st.Sync != SyncSynced || !st.HealthSince.Equal(t0) {
		t.Errorf("health %s since %v, sync %s", st.Health, st.HealthSince, st.Sync)
	}
	if len(st.History) != 2 || st.History[1].Cause != "rolled back: x" || len(st.History[0].Steps) != 2 {
		t.Errorf("history %+v", st.History)
	}
	if err := s.Record("development", Entry{At: t0.Add(2 * time.Hour), DeploymentID: 3, SHA: "c", State: apply.StateFailedKept}); err != nil {
		t.Fatal(err)
	}
	st, _ = s.Load("development")
	if st.Current.DeploymentID != 3 || st.LastGood.DeploymentID != 1 || st.Health != HealthUnknown {
		t.Errorf("after failed-kept: current %d last good %d health %s", st.Current.DeploymentID, st.LastGood.DeploymentID, st.Health)
	}
	// No temporary file is left beside it; the file has a version.
	ents, _ := os.ReadDir(s.Dir)
	if len(ents) != 1 {
		t.Errorf("the state directory holds %d files, want 1", len(ents))
	}
	b, _ := os.ReadFile(s.Path("development"))
	var v struct{ Version int }
	if err := json.Unmarshal(b, &v); err != nil || v.Version != StateVersion {
		t.Errorf("version %d (%v)", v.Version, err)
	}
	envs, err := s.Envs()
	if err != nil || len(envs) != 1 || envs[0] != "development" {
		t.Errorf("Envs %v %v", envs, err)
	}
}

func TestStoreKeepsTheNewestHistory(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	t0 := time.Now()
	for i := range MaxHistory + 7 {
		if err := s.Record("staging", entry(int64(i+1), apply.StateSuccess, t0.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.Load("staging")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.History) != MaxHistory || st.History[0].DeploymentID != 8 || st.History[MaxHistory-1].DeploymentID != MaxHistory+7 {
		t.Errorf("history of %d from %d to %d", len(st.History), st.History[0].DeploymentID, st.History[len(st.History)-1].DeploymentID)
	}
}

func TestStoreRefusesACorruptFile(t *testing.T) {
	for name, content := range map[string]string{
		"truncated":  `{"version":1,"env":"development","hist`,
		"no version": `{"env":"development"}`,
		"newer":      `{"version":99,"env":"development"}`,
		"other env":  `{"version":1,"env":"production"}`,
	} {
		t.Run(name, func(t *testing.T) {
			s := &Store{Dir: t.TempDir()}
			p := s.Path("development")
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load("development")
			if !errors.Is(err, ErrCorruptState) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "move it aside") {
				t.Fatalf("Load: %v", err)
			}
			if err := s.Record("development", entry(1, apply.StateSuccess, time.Now())); !errors.Is(err, ErrCorruptState) {
				t.Fatalf("Record over a corrupt file: %v", err)
			}
			if b, _ := os.ReadFile(p); string(b) != content {
				t.Errorf("the corrupt file was rewritten")
			}
		})
	}
	if _, err := (&Store{Dir: t.TempDir()}).Load("../etc"); err == nil {
		t.Errorf("an environment name with a path was accepted")
	}
}

func TestWriteStatus(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for i := range 7 {
		if err := s.Record("development", entry(int64(i+1), apply.StateSuccess, t0.Add(time.Duration(i)*time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Record("development", Entry{At: t0.Add(8 * time.Hour), DeploymentID: 8, SHA: "bbbb", State: apply.StateRolledBack, Cause: "rolled back: parcels does not serve"}); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Load("development")
	var text bytes.Buffer
	if err := WriteStatus(&text, []EnvState{st}, "text"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Environment development",
		"health:    Healthy since 2026-11-01T10:00:00.000Z",
		"current:   deployment 7 at aaaaaaaaaaaa",
		"last good: deployment 7",
		"history (newest first, 5 of 8):",
		"deployment 8  bbbb  rolled-back",
		"cause: rolled back: parcels does not serve",
		"2026-11-01T15:59:59.000Z  BackingUp",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if strings.Contains(text.String(), "deployment 3 ") {
		t.Errorf("text shows more than %d entries:\n%s", StatusHistory, text.String())
	}
	var js bytes.Buffer
	if err := WriteStatus(&js, []EnvState{st}, "json"); err != nil {
		t.Fatal(err)
	}
	var got struct{ Environments []EnvState }
	if err := json.Unmarshal(js.Bytes(), &got); err != nil || len(got.Environments) != 1 || len(got.Environments[0].History) != 8 {
		t.Errorf("json: %v %s", err, js.String())
	}
	if err := WriteStatus(&js, nil, "yaml"); err == nil {
		t.Errorf("an unknown format was accepted")
	}
}

// TestRunnerRecordsItsOutcomes: with a store, an applied deployment and a
// rolled-back one are in the environment's history; the rollback leaves
// the first current.
func TestRunnerRecordsItsOutcomes(t *testing.T) {
	f := newFixture(t)
	r := f.runner("site-a")
	s := withStore(t, r)
	first := f.deploy(f.sha, f.key)
	if err := r.Poll(f.ctx); err != nil {
		t.Fatal(err)
	}
	next, err := f.sim.Push(f.ctx, testRepo, "main", "ana", "Add bike lanes",
		githubsimFile("environments/common/layers/bike-lanes.yaml", bikeLanes))
	if err != nil {
		t.Fatal(err)
	}
	f.honua.FailCollection("transportation::bike-lanes", -1)
	second := f.deploy(next, f.key)
	if err := r.Poll(f.ctx); err != nil {
		t.Fatal(err)
	}
	st, err := s.Load("development")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.History) != 2 || st.History[0].DeploymentID != first || st.History[0].State != apply.StateSuccess ||
		st.History[1].DeploymentID != second || st.History[1].State != apply.StateRolledBack || len(st.History[1].Steps) == 0 {
		t.Fatalf("history %+v", st.History)
	}
	if st.Current == nil || st.Current.DeploymentID != first || st.Current.SHA != f.sha || st.LastGood.DeploymentID != first {
		t.Errorf("current %+v, last good %+v: want deployment %d", st.Current, st.LastGood, first)
	}
	var out bytes.Buffer
	if err := WriteStatus(&out, []EnvState{st}, "text"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "RollingBack") {
		t.Errorf("status shows no rollback step:\n%s", out.String())
	}
}

// TestStoreLedger: a notification key marked sent is recorded once, kept
// beside the environment's state, and survives another write.
func TestStoreLedger(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	l := s.Ledger("production")
	ctx := context.Background()
	if sent, err := l.Sent(ctx, "k"); err != nil || sent {
		t.Fatalf("a fresh key: %v %v", sent, err)
	}
	for range 2 {
		if err := l.MarkSent(ctx, "k"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Observe("production", HealthHealthy, SyncSynced, time.Now()); err != nil {
		t.Fatal(err)
	}
	st, err := s.Load("production")
	if err != nil || len(st.Notified) != 1 || st.Health != HealthHealthy {
		t.Errorf("after marking and observing: %v %+v", err, st)
	}
	if sent, _ := (&Store{Dir: s.Dir}).Ledger("production").Sent(ctx, "k"); !sent {
		t.Error("the key is not in the store for another reader")
	}
}

// TestNotifyFailuresInStatus: a notification given up on is kept in the
// environment's state (bounded) and shown by `runner status`.
func TestNotifyFailuresInStatus(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	for i := range MaxNotifyFailures + 3 {
		if err := s.RecordNotifyFailure(notify.Failure{Key: "42/failed/x", Kind: notify.KindFailed, Env: "production",
			Target: "slack #gis-prod", Err: fmt.Sprintf("HTTP 500 (%d)", i), At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.Load("production")
	if err != nil || len(st.NotifyFailures) != MaxNotifyFailures {
		t.Fatalf("%v: %d failures kept, want %d", err, len(st.NotifyFailures), MaxNotifyFailures)
	}
	var b strings.Builder
	if err := WriteStatus(&b, []EnvState{st}, "text"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "notification failed:") || !strings.Contains(b.String(), "slack #gis-prod") {
		t.Errorf("status does not show the failure:\n%s", b.String())
	}
}
