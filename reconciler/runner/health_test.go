package runner

import (
	"os"
	"sort"
	"testing"
	"time"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

func githubsimFile(path, content string) githubsim.FileChange {
	return githubsim.FileChange{Path: path, Content: []byte(content)}
}

// applied is a fixture with a store whose runner applied the sample
// commit to development.
func applied(t *testing.T) (*fixture, *Runner, *Store) {
	t.Helper()
	f := newFixture(t)
	r := f.runner("site-a")
	s := withStore(t, r)
	f.deploy(f.sha, f.key)
	if err := r.Poll(f.ctx); err != nil {
		t.Fatal(err)
	}
	return f, r, s
}

func check(t *testing.T, f *fixture, r *Runner) (string, string, bool) {
	t.Helper()
	h, s, changed, err := r.Check(f.ctx, r.cfg.Environments[0])
	if err != nil {
		t.Fatal(err)
	}
	return h, s, changed
}

// stamp of a file: its bytes and modification time.
func fileStamp(t *testing.T, p string) (string, time.Time) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), fi.ModTime()
}

// TestCheckHealthyAndSyncedAfterAnApply: right after an apply the
// environment is Healthy and Synced, as the apply recorded: no transition,
// nothing written, however often it is checked.
func TestCheckHealthyAndSyncedAfterAnApply(t *testing.T) {
	f, r, s := applied(t)
	p := s.Path("development")
	before, mtime := fileStamp(t, p)
	for range 2 {
		h, sy, changed := check(t, f, r)
		if h != HealthHealthy || sy != SyncSynced || changed {
			t.Fatalf("Check: %s %s changed=%v, want Healthy Synced unchanged", h, sy, changed)
		}
	}
	after, mtime2 := fileStamp(t, p)
	if before != after || !mtime.Equal(mtime2) {
		t.Errorf("a check without a transition wrote the state")
	}
}

// TestCheckHandEditedLiveDocumentIsOutOfSync: a hand edit of the live
// document is OutOfSync, stored once; putting it back is Synced again.
func TestCheckHandEditedLiveDocumentIsOutOfSync(t *testing.T) {
	f, r, s := applied(t)
	orig, err := os.ReadFile(f.live)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.live, append(append([]byte(nil), orig...), ' '), 0o640); err != nil {
		t.Fatal(err)
	}
	h, sy, changed := check(t, f, r)
	if h != HealthHealthy || sy != SyncOutOfSync || !changed {
		t.Fatalf("Check after a hand edit: %s %s changed=%v, want Healthy OutOfSync changed", h, sy, changed)
	}
	st, err := s.Load("development")
	if err != nil || st.Sync != SyncOutOfSync || st.SyncSince.IsZero() || st.Health != HealthHealthy {
		t.Fatalf("stored %+v %v", st, err)
	}
	if _, _, changed := check(t, f, r); changed {
		t.Errorf("the same OutOfSync was reported twice")
	}
	if err := os.WriteFile(f.live, orig, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, sy, changed := check(t, f, r); sy != SyncSynced || !changed {
		t.Errorf("after undoing the edit: %s changed=%v", sy, changed)
	}
}

// TestCheckFailingCollectionIsDegraded: a collection of the live document
// that does not serve makes the environment Degraded.
func TestCheckFailingCollectionIsDegraded(t *testing.T) {
	f, r, s := applied(t)
	live, err := os.ReadFile(f.live)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := collectionsOf(live)
	if err != nil || len(cols) == 0 {
		t.Fatalf("the live document serves no collection: %v", err)
	}
	var ids []string
	for id := range cols {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	f.honua.FailCollection(ids[len(ids)-1], -1)
	h, sy, changed := check(t, f, r)
	if h != HealthDegraded || sy != SyncSynced || !changed {
		t.Fatalf("Check: %s %s changed=%v, want Degraded Synced changed", h, sy, changed)
	}
	if st, _ := s.Load("development"); st.Health != HealthDegraded {
		t.Errorf("stored health %s", st.Health)
	}
	f.honua.FailCollection(ids[len(ids)-1], 0)
	if h, _, changed := check(t, f, r); h != HealthHealthy || !changed {
		t.Errorf("after the collection serves again: %s changed=%v", h, changed)
	}
}

// TestCheckNotReadyIsUnhealthy: Honua answering not ready is Unhealthy.
func TestCheckNotReadyIsUnhealthy(t *testing.T) {
	f, r, s := applied(t)
	f.honua.FlapHealth([]bool{false})
	h, _, changed := check(t, f, r)
	if h != HealthUnhealthy || !changed {
		t.Fatalf("Check: %s changed=%v, want Unhealthy changed", h, changed)
	}
	if st, _ := s.Load("development"); st.Health != HealthUnhealthy || st.HealthSince.IsZero() {
		t.Errorf("stored %s since %v", st.Health, st.HealthSince)
	}
}

// TestCheckWithoutADeployment: without a recorded deployment, sync is
// Unknown; without a store, nothing is stored.
func TestCheckWithoutADeployment(t *testing.T) {
	f := newFixture(t)
	r := f.runner("site-a")
	h, sy, changed, err := r.Check(f.ctx, r.cfg.Environments[0])
	if err != nil || h != HealthUnhealthy || sy != SyncUnknown || changed {
		t.Errorf("no store, nothing loaded: %s %s %v %v", h, sy, changed, err)
	}
	s := withStore(t, r)
	if _, sy, changed, err := r.Check(f.ctx, r.cfg.Environments[0]); err != nil || sy != SyncUnknown || !changed {
		t.Errorf("a store, no deployment: %s %v %v", sy, changed, err)
	}
	if st, _ := s.Load("development"); st.Health != HealthUnhealthy || st.Sync != SyncUnknown {
		t.Errorf("stored %s %s", st.Health, st.Sync)
	}
}
