package apply

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// errKill stands for the runner being killed: a hook that returns it stops
// Apply (or Recover) where it is, with no cleanup.
var errKill = errors.New("killed")

// crashScenarios are applies whose every crash point is tried.
var crashScenarios = []struct {
	name     string
	old      []byte // nil: first deploy
	rollback bool
	set      func(*fakeHonua)
	manual   bool // the restore cannot succeed either
}{
	{name: "success", old: oldDoc, rollback: true},
	{name: "reload rejects, rollback", old: oldDoc, rollback: true, set: func(f *fakeHonua) { f.badDoc = newDoc }},
	{name: "collection 404, rollback", old: oldDoc, rollback: true, set: func(f *fakeHonua) { f.servingWith = oldDoc }},
	{name: "collection 404, kept", old: oldDoc, rollback: false, set: func(f *fakeHonua) { f.serving = map[string]bool{} }},
	{name: "first deploy", old: nil, rollback: true},
	{name: "first deploy rejected", old: nil, rollback: true, set: func(f *fakeHonua) { f.badDoc = newDoc }},
	{name: "restore fails", old: oldDoc, rollback: true, set: func(f *fakeHonua) { f.reloadAlways = true }, manual: true},
}

// recoverPoints are the crash points of Recover itself.
var recoverPoints = []string{"", "restore-temp-written", "restored", "restore-reloaded"}

// TestCrashAtEveryPoint kills Apply at each point it passes, then restarts:
// a fresh Applier over the same state directory and live document runs
// Recover (itself killed once at each of its points, then run again). The
// live document must then be byte-identical to the old or the new one,
// loaded by Honua, and the outcome must say which, truly.
func TestCrashAtEveryPoint(t *testing.T) {
	for _, sc := range crashScenarios {
		setup := func(t *testing.T) *site {
			s := newSite(t, sc.old)
			if sc.set != nil {
				sc.set(s.honua)
			}
			return s
		}
		// A run without a crash lists the points.
		var points []string
		s := setup(t)
		a := s.applier()
		a.hook = func(p string) error { points = append(points, p); return nil }
		if _, err := a.Apply(context.Background(), request(sc.rollback), nil); err != nil {
			t.Fatalf("%s: %v", sc.name, err)
		}
		if len(points) < 6 {
			t.Fatalf("%s: only %d crash points: %v", sc.name, len(points), points)
		}
		for _, point := range points {
			for _, rpoint := range recoverPoints {
				t.Run(fmt.Sprintf("%s/%s/recover-crash=%s", sc.name, point, rpoint), func(t *testing.T) {
					s := setup(t)
					a := s.applier()
					a.hook = func(p string) error {
						if p == point {
							return errKill
						}
						return nil
					}
					if _, err := a.Apply(context.Background(), request(sc.rollback), nil); !errors.Is(err, errKill) {
						t.Fatalf("Apply = %v, want the kill", err)
					}
					var outs []Outcome
					killed := true
					if rpoint != "" {
						r := s.applier()
						r.hook = func(p string) error {
							if p == rpoint {
								return errKill
							}
							return nil
						}
						var err error
						outs, err = r.Recover(context.Background())
						if err != nil && !errors.Is(err, errKill) {
							t.Fatalf("first Recover: %v", err)
						}
						// A Recover that did not pass its crash point finished.
						killed = err != nil
					}
					if killed {
						var err error
						outs, err = s.applier().Recover(context.Background())
						if err != nil {
							t.Fatalf("Recover: %v", err)
						}
					}
					checkRecovered(t, s, point, sc.old, sc.manual, outs)
				})
			}
		}
	}
}

func checkRecovered(t *testing.T, s *site, point string, old []byte, manual bool, outs []Outcome) {
	t.Helper()
	if len(outs) > 1 {
		t.Fatalf("%d outcomes", len(outs))
	}
	live := s.live()
	if len(outs) == 0 {
		// Only when the journal was already removed: the outcome was returned by Apply.
		t.Fatalf("no outcome (live %.20q)", live)
	}
	o := outs[0]
	if o.DeploymentID != 42 || o.Env != "production" || o.SHA != "abc123" {
		t.Errorf("outcome for %d %s %s", o.DeploymentID, o.Env, o.SHA)
	}
	isOld, isNew := bytes.Equal(live, old), bytes.Equal(live, newDoc)
	if !isOld && !isNew {
		t.Fatalf("live document %.30q is neither the old nor the new one", live)
	}
	if len(s.temps()) != 0 {
		t.Errorf("temporary files left: %v", s.temps())
	}
	switch o.State {
	case StateSuccess:
		if !isNew || point != StepSucceeded {
			t.Errorf("success after a crash at %s with the new document live=%v", point, isNew)
		}
	case StateFailedKept:
		if !isNew || point != StepFailedKept {
			t.Errorf("failed-kept after a crash at %s with the new document live=%v", point, isNew)
		}
	case StateRolledBack, StateFailed:
		if !isOld {
			t.Errorf("%s, but the old document is not live", o.State)
		}
		if o.State == StateFailed && slices.Contains([]string{StepReloading, "reloaded", StepPostValidating, "validated"}, point) {
			t.Errorf("reported not applied after a crash at %s, when Honua had reloaded it", point)
		}
		if old != nil && !bytes.Equal(s.honua.loadedDoc(), old) {
			t.Errorf("Honua has %.20q loaded, not the restored document", s.honua.loadedDoc())
		}
	case StateManual:
		if !manual {
			t.Errorf("manual: %s", o.Cause)
		}
		if !s.journalExists() {
			t.Error("manual, but the journal is gone")
		}
		return
	default:
		t.Fatalf("state %q", o.State)
	}
	if o.Cause == "" && o.State != StateSuccess {
		t.Error("no cause")
	}
	if manual && o.State != StateManual && point != StepManual {
		t.Errorf("%s (%q) when the restore cannot succeed", o.State, o.Cause)
	}
	if s.journalExists() {
		t.Error("journal left")
	}
	// The runner goes on: a healthy Honua takes the next deployment.
	s.honua = &fakeHonua{path: s.path, loaded: s.honua.loadedDoc()}
	if out, err := s.applier().Apply(context.Background(), request(true), nil); err != nil || out.State != StateSuccess {
		t.Errorf("the next Apply = %s %q, %v", out.State, out.Cause, err)
	}
}

// TestRecoverBadBackup: a backup that is gone or altered is never restored;
// the new document stays, byte for byte, and a person is asked.
func TestRecoverBadBackup(t *testing.T) {
	for _, damage := range []string{"missing", "altered"} {
		t.Run(damage, func(t *testing.T) {
			s := newSite(t, oldDoc)
			a := s.applier()
			var backup string
			a.hook = func(p string) error {
				if p == "renamed" {
					j, err := a.readJournal()
					if err != nil {
						t.Fatal(err)
					}
					backup = j.BackupPath
					return errKill
				}
				return nil
			}
			if _, err := a.Apply(context.Background(), request(true), nil); !errors.Is(err, errKill) {
				t.Fatalf("Apply = %v", err)
			}
			var err error
			if damage == "missing" {
				err = os.Remove(backup)
			} else {
				err = os.WriteFile(backup, append(slices.Clone(oldDoc), ' '), 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
			outs, err := s.applier().Recover(context.Background())
			if err != nil || len(outs) != 1 {
				t.Fatalf("Recover = %v, %v", outs, err)
			}
			if outs[0].State != StateManual || !strings.Contains(outs[0].Cause, "backup") {
				t.Errorf("outcome %s %q, want manual about the backup", outs[0].State, outs[0].Cause)
			}
			if !bytes.Equal(s.live(), newDoc) || !s.journalExists() {
				t.Error("the new document was replaced, or the journal removed")
			}
		})
	}
}
