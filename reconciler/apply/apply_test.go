package apply

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	oldDoc = doc("old", 100)
	newDoc = doc("new", 120)
)

func request(rollback bool) Request {
	return Request{
		DeploymentID: 42, Env: "production", SHA: "abc123", Document: newDoc,
		Collections:   []string{"transport::bike-lanes", "transport::roads"},
		HealthTimeout: 30 * time.Second, RollbackOnFailure: rollback,
	}
}

func TestApplySuccess(t *testing.T) {
	s := newSite(t, oldDoc)
	var progress []string
	out, err := s.applier().Apply(context.Background(), request(true), func(st string) { progress = append(progress, st) })
	if err != nil {
		t.Fatal(err)
	}
	if out.State != StateSuccess || out.Cause != "" {
		t.Errorf("outcome %s %q, want success", out.State, out.Cause)
	}
	want := []string{StepBackingUp, StepApplying, StepReloading, StepPostValidating, StepSucceeded}
	if got := states(out.Steps); !slices.Equal(got, want) {
		t.Errorf("steps %v, want %v", got, want)
	}
	if !slices.Equal(progress, want) {
		t.Errorf("progress %v, want %v", progress, want)
	}
	if !bytes.Equal(s.live(), newDoc) || !bytes.Equal(s.honua.loadedDoc(), newDoc) {
		t.Error("the new document is not live and loaded")
	}
	if s.honua.collections != 2 {
		t.Errorf("%d collection probes, want 2", s.honua.collections)
	}
	if s.journalExists() {
		t.Error("the journal is left after a success")
	}
	backups, _ := filepath.Glob(filepath.Join(s.state, BackupDir, "*-d42.json"))
	if len(backups) != 1 {
		t.Fatalf("backups %v, want one", backups)
	}
	if b, _ := os.ReadFile(backups[0]); !bytes.Equal(b, oldDoc) {
		t.Error("the backup is not the old document")
	}
	if fi, _ := os.Stat(s.path); fi.Mode().Perm() != 0o640 {
		t.Errorf("live document mode %v, want the old one's 0640", fi.Mode().Perm())
	}
	if len(s.temps()) != 0 {
		t.Errorf("temporary files left: %v", s.temps())
	}
}

func TestApplyFailures(t *testing.T) {
	tests := []struct {
		name      string
		old       []byte // nil: first deploy
		rollback  bool
		set       func(*fakeHonua)
		wantState string
		wantCause string
		wantLive  []byte
	}{
		{
			name: "reload rejects the new document", old: oldDoc, rollback: true,
			set:       func(f *fakeHonua) { f.badDoc = newDoc },
			wantState: StateRolledBack, wantCause: "rolled back: reload failed: 422", wantLive: oldDoc,
		},
		{
			name: "not ready with the new document", old: oldDoc, rollback: true,
			set:       func(f *fakeHonua) { f.notReadyWith = newDoc },
			wantState: StateRolledBack, wantCause: "rolled back: not ready: 503", wantLive: oldDoc,
		},
		{
			name: "a changed collection answers 404", old: oldDoc, rollback: true,
			set:       func(f *fakeHonua) { f.serving = map[string]bool{"transport::roads": true} },
			wantState: StateRolledBack, wantCause: "rolled back: collection transport::bike-lanes: 404 Not Found", wantLive: oldDoc,
		},
		{
			name: "a collection that comes up after a few probes", old: oldDoc, rollback: true,
			set:       func(f *fakeHonua) { f.failFirst = 4 },
			wantState: StateSuccess, wantLive: newDoc,
		},
		{
			name: "rollback on failure off keeps the new document", old: oldDoc, rollback: false,
			set:       func(f *fakeHonua) { f.serving = map[string]bool{} },
			wantState: StateFailedKept, wantCause: "failed, new configuration kept (rollback on failure is off): collection transport::bike-lanes: 404", wantLive: newDoc,
		},
		{
			name: "the restore's reload fails too", old: oldDoc, rollback: true,
			set:       func(f *fakeHonua) { f.reloadAlways = true },
			wantState: StateManual, wantCause: "manual intervention: reload failed: 500 Internal Server Error; then the rollback failed: reloading the restored document: 500", wantLive: oldDoc,
		},
		{
			name: "first deploy", old: nil, rollback: true,
			set:       func(f *fakeHonua) {},
			wantState: StateSuccess, wantLive: newDoc,
		},
		{
			name: "first deploy rejected: the document is removed", old: nil, rollback: true,
			set:       func(f *fakeHonua) { f.badDoc = newDoc },
			wantState: StateRolledBack, wantCause: "rolled back: reload failed: 422", wantLive: nil,
		},
		{
			name: "first deploy, collection 404: the document is removed", old: nil, rollback: true,
			set:       func(f *fakeHonua) { f.serving = map[string]bool{} },
			wantState: StateRolledBack, wantCause: "rolled back: collection", wantLive: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t, tt.old)
			tt.set(s.honua)
			out, err := s.applier().Apply(context.Background(), request(tt.rollback), nil)
			if err != nil {
				t.Fatal(err)
			}
			if out.State != tt.wantState || !strings.HasPrefix(out.Cause, tt.wantCause) {
				t.Errorf("outcome %s %q, want %s %q…", out.State, out.Cause, tt.wantState, tt.wantCause)
			}
			if got := s.live(); !bytes.Equal(got, tt.wantLive) {
				t.Errorf("live document %.30q, want %.30q", got, tt.wantLive)
			}
			if tt.wantLive != nil && tt.wantState != StateManual && !bytes.Equal(s.honua.loadedDoc(), tt.wantLive) {
				t.Errorf("Honua has %.30q loaded, want the live document", s.honua.loadedDoc())
			}
			if got := s.journalExists(); got != (tt.wantState == StateManual) {
				t.Errorf("journal left: %v", got)
			}
			if tt.wantState != StateSuccess && tt.wantState != StateFailedKept {
				// The post-validation never outlives its budget on the clock.
				if s.clock.slept > 2*30*time.Second {
					t.Errorf("slept %s", s.clock.slept)
				}
			}
		})
	}
}

func TestManualThenRecover(t *testing.T) {
	s := newSite(t, oldDoc)
	s.honua.reloadAlways = true
	out, err := s.applier().Apply(context.Background(), request(true), nil)
	if err != nil || out.State != StateManual {
		t.Fatalf("Apply = %s, %v; want manual", out.State, err)
	}
	if _, err := s.applier().Apply(context.Background(), request(true), nil); !errors.Is(err, ErrRecoveryNeeded) {
		t.Fatalf("Apply with a manual journal: %v, want ErrRecoveryNeeded", err)
	}
	// Still broken: Recover says so again and keeps the journal.
	outs, err := s.applier().Recover(context.Background())
	if err != nil || len(outs) != 1 || outs[0].State != StateManual {
		t.Fatalf("Recover = %+v, %v; want manual", outs, err)
	}
	s.honua.mu.Lock()
	s.honua.reloadAlways = false
	s.honua.mu.Unlock()
	outs, err = s.applier().Recover(context.Background())
	if err != nil || len(outs) != 1 {
		t.Fatalf("Recover = %+v, %v", outs, err)
	}
	if o := outs[0]; o.State != StateRolledBack || o.Cause != "rolled back: reload failed: 500 Internal Server Error" || o.DeploymentID != 42 {
		t.Errorf("outcome %d %s %q", o.DeploymentID, o.State, o.Cause)
	}
	if !bytes.Equal(s.live(), oldDoc) || !bytes.Equal(s.honua.loadedDoc(), oldDoc) {
		t.Error("the old document is not live and loaded")
	}
	if out, err := s.applier().Apply(context.Background(), request(true), nil); err != nil || out.State != StateSuccess {
		t.Errorf("Apply after recovery = %s, %v", out.State, err)
	}
}

func TestApplyCancelled(t *testing.T) {
	s := newSite(t, oldDoc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.honua.onReady = func() {
		// Cancel during the post-validation of the new document only.
		if bytes.Equal(s.honua.loadedDoc(), newDoc) {
			cancel()
		}
	}
	out, err := s.applier().Apply(ctx, request(true), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if out.State != StateRolledBack || !strings.Contains(out.Cause, "cancelled") {
		t.Errorf("outcome %s %q", out.State, out.Cause)
	}
	if !bytes.Equal(s.live(), oldDoc) || !bytes.Equal(s.honua.loadedDoc(), oldDoc) {
		t.Error("the old document is not live and loaded after a cancelled apply")
	}

	// Cancelled before anything: nothing changes.
	s2 := newSite(t, oldDoc)
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	out, err = s2.applier().Apply(ctx2, request(true), nil)
	if !errors.Is(err, context.Canceled) || out.State != StateFailed {
		t.Errorf("Apply(cancelled) = %s, %v", out.State, err)
	}
	if !bytes.Equal(s2.live(), oldDoc) || s2.journalExists() {
		t.Error("a cancelled apply changed something")
	}
}

func TestBackupsPruned(t *testing.T) {
	s := newSite(t, oldDoc)
	a := s.applier()
	a.KeepBackups = 2
	for i := range 4 {
		r := request(true)
		r.DeploymentID = int64(i + 1)
		r.Document = doc(strings.Repeat("v", i+1), 50)
		if out, err := a.Apply(context.Background(), r, nil); err != nil || out.State != StateSuccess {
			t.Fatalf("Apply %d = %s, %v", i, out.State, err)
		}
	}
	backups, _ := filepath.Glob(filepath.Join(s.state, BackupDir, "*.json"))
	if len(backups) != 2 || !strings.HasSuffix(backups[0], "-d3.json") || !strings.HasSuffix(backups[1], "-d4.json") {
		t.Errorf("backups %v, want those of deployments 3 and 4", backups)
	}
}

func TestRecoverWithoutJournal(t *testing.T) {
	s := newSite(t, oldDoc)
	outs, err := s.applier().Recover(context.Background())
	if err != nil || len(outs) != 0 {
		t.Errorf("Recover = %v, %v; want nothing", outs, err)
	}
	if s.honua.reloads != 0 {
		t.Error("Recover without a journal reloaded Honua")
	}
}
