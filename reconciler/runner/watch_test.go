package runner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// healthRuns are the honua/health check runs of development on sha.
func healthRuns(f *fixture, sha string) []githubsim.CheckRun {
	var out []githubsim.CheckRun
	for _, c := range f.sim.CheckRuns(testRepo, sha) {
		if c.Name == HealthContext("development") {
			out = append(out, c)
		}
	}
	return out
}

func watch(t *testing.T, f *fixture, r *Runner) {
	t.Helper()
	if err := r.Watch(f.ctx, r.cfg.Environments[0]); err != nil {
		t.Fatal(err)
	}
}

// editLive edits the live document by hand (a trailing space) and returns
// what it was.
func editLive(t *testing.T, f *fixture) []byte {
	t.Helper()
	orig, err := os.ReadFile(f.live)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.live, append(append([]byte(nil), orig...), ' '), 0o640); err != nil {
		t.Fatal(err)
	}
	return orig
}

// TestWatchQuietAfterAnApply: the apply recorded Healthy and Synced, so
// watching reports nothing, however often.
func TestWatchQuietAfterAnApply(t *testing.T) {
	f, r, _ := applied(t)
	for range 3 {
		watch(t, f, r)
	}
	if runs := healthRuns(f, f.sha); len(runs) != 0 {
		t.Errorf("a watch without a transition reported: %+v", runs)
	}
}

// TestWatchReportsDriftOnce: a hand edit is reported once as a neutral
// check run on the deployed commit naming OutOfSync and since when; a
// second watch reports nothing; without --self-heal the edit stays.
func TestWatchReportsDriftOnce(t *testing.T) {
	f, r, _ := applied(t)
	editLive(t, f)
	edited, _ := os.ReadFile(f.live)
	watch(t, f, r)
	watch(t, f, r)
	runs := healthRuns(f, f.sha)
	if len(runs) != 1 {
		t.Fatalf("%d health check runs, want 1: %+v", len(runs), runs)
	}
	c := runs[0]
	if c.Status != "completed" || c.Conclusion != "neutral" || !strings.Contains(c.Summary, "Synced → OutOfSync since ") || !strings.Contains(c.Title, "OutOfSync") {
		t.Errorf("check run %+v, want completed neutral naming Synced → OutOfSync since …", c)
	}
	if now, _ := os.ReadFile(f.live); !bytes.Equal(now, edited) {
		t.Errorf("without self-heal the live document was changed")
	}
}

// TestWatchSelfHeals: with SelfHeal, a hand edit is undone: the deployed
// commit is re-applied, Honua serves it, the store says Synced, and one
// check run says what was done.
func TestWatchSelfHeals(t *testing.T) {
	f, r, s := applied(t)
	r.cfg.SelfHeal = true
	orig := editLive(t, f)
	reloads := f.honua.Reloads()
	watch(t, f, r)
	live, err := os.ReadFile(f.live)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(live, orig) {
		t.Fatalf("the live document is not the rendered one after the heal")
	}
	if !bytes.Equal(f.honua.Loaded(), orig) || f.honua.Reloads() <= reloads {
		t.Errorf("Honua does not serve the healed document (reloads %d → %d)", reloads, f.honua.Reloads())
	}
	if st, _ := s.Load("development"); st.Sync != SyncSynced || st.Health != HealthHealthy {
		t.Errorf("stored %s %s after the heal", st.Health, st.Sync)
	}
	watch(t, f, r)
	runs := healthRuns(f, f.sha)
	if len(runs) != 1 {
		t.Fatalf("%d health check runs, want 1: %+v", len(runs), runs)
	}
	if c := runs[0]; c.Conclusion != "success" || !strings.Contains(c.Summary, "self-heal re-applied") || !strings.Contains(c.Summary, "OutOfSync") {
		t.Errorf("check run %+v, want success saying the drift was healed", c)
	}
	// The Deployments page shows the re-apply on the deployment: in
	// progress, then success, both saying self-heal.
	for _, d := range f.sim.Deployments(testRepo) {
		n := len(d.States)
		if n < 2 || d.States[n-2] != "in_progress" || d.States[n-1] != "success" ||
			!strings.HasPrefix(d.Descriptions[n-2], "self-heal: the live document drifted") || !strings.HasPrefix(d.Descriptions[n-1], "self-heal: re-applied") {
			t.Errorf("deployment statuses %v %q, want … in_progress, success saying self-heal", d.States, d.Descriptions)
		}
	}
}

// TestWatchSelfHealThatFailsIsReported: a heal whose post-validation fails
// rolls back (to the drifted document, the backup) and says so on the
// deployment: failure "self-heal: rolled back: …".
func TestWatchSelfHealThatFailsIsReported(t *testing.T) {
	f, r, _ := applied(t)
	r.cfg.SelfHeal = true
	editLive(t, f)
	drifted, _ := os.ReadFile(f.live)
	f.honua.FailReload(1, 500)
	watch(t, f, r)
	if live, _ := os.ReadFile(f.live); !bytes.Equal(live, drifted) {
		t.Errorf("after a failed heal the live document is not the one it found")
	}
	d := f.sim.Deployments(testRepo)[0]
	n := len(d.States)
	if d.States[n-1] != "failure" || !strings.HasPrefix(d.Descriptions[n-1], "self-heal: rolled back") {
		t.Errorf("deployment statuses %v %q, want … failure self-heal: rolled back", d.States, d.Descriptions)
	}
}

// TestWatchReportsDegradedOnce: a collection that stops serving is
// reported once, neutral, naming Degraded; serving again is reported once,
// success.
func TestWatchReportsDegradedOnce(t *testing.T) {
	f, r, _ := applied(t)
	live, _ := os.ReadFile(f.live)
	cols, err := collectionsOf(live)
	if err != nil || len(cols) == 0 {
		t.Fatalf("no collection: %v", err)
	}
	var id string
	for c := range cols {
		id = max(id, c)
	}
	f.honua.FailCollection(id, -1)
	watch(t, f, r)
	watch(t, f, r)
	runs := healthRuns(f, f.sha)
	if len(runs) != 1 || runs[0].Conclusion != "neutral" || !strings.Contains(runs[0].Summary, "Healthy → Degraded since ") {
		t.Fatalf("health check runs %+v, want one neutral naming Healthy → Degraded", runs)
	}
	f.honua.FailCollection(id, 0)
	watch(t, f, r)
	watch(t, f, r)
	if runs := healthRuns(f, f.sha); len(runs) != 2 || runs[1].Conclusion != "success" {
		t.Errorf("after recovering: %+v, want a second run, success", runs)
	}
}

// TestWatchCommitStatusWithAToken: with a token that may not create
// check runs (GitHub answers 403) but may write commit statuses (a
// fine-grained token: deployments write, contents read, commit statuses
// write), the transition is a commit status on the deployed commit:
// failure when Unhealthy, success naming OutOfSync for a drift, at most
// 140 characters, once per transition.
func TestWatchCommitStatusWithAToken(t *testing.T) {
	perms := githubsim.DefaultPermissions()
	perms["statuses"] = "write"
	f := newFixture(t, githubsim.Options{Permissions: perms})
	r := f.runner("site-a")
	withStore(t, r)
	tok, _, err := f.sim.IssueScopedToken(f.sim.Install("kailua-gis"), githubsim.TokenScope{Permissions: map[string]string{
		"deployments": "write", "contents": "read", "statuses": "write", "metadata": "read"}})
	if err != nil {
		t.Fatal(err)
	}
	gh, err := github.NewClient(nil).WithAuthToken(tok).WithEnterpriseURLs(f.sim.APIURL(), f.sim.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	r.cfg.GitHub = gh
	r.cfg.Token = func(context.Context) (string, error) { return tok, nil }
	f.deploy(f.sha, f.key)
	if err := r.Poll(f.ctx); err != nil {
		t.Fatal(err)
	}
	f.honua.FlapHealth([]bool{false})
	watch(t, f, r)
	f.honua.FlapHealth(nil)
	editLive(t, f)
	watch(t, f, r)
	watch(t, f, r)
	statuses := f.sim.CommitStatuses(testRepo, f.sha)
	if len(statuses) != 2 {
		t.Fatalf("%d commit statuses, want 2: %+v", len(statuses), statuses)
	}
	for i, st := range statuses {
		if st.Context != HealthContext("development") || len(st.Description) > 140 || st.Creator != f.sim.BotLogin() {
			t.Errorf("status %d: %+v", i, st)
		}
	}
	if s := statuses[0]; s.State != "failure" || !strings.Contains(s.Description, "Unhealthy") {
		t.Errorf("first status %s %q, want failure naming Unhealthy", s.State, s.Description)
	}
	if s := statuses[1]; s.State != "success" || !strings.Contains(s.Description, "OutOfSync") {
		t.Errorf("second status %s %q, want success naming OutOfSync", s.State, s.Description)
	}
	if runs := healthRuns(f, f.sha); len(runs) != 0 {
		t.Errorf("check runs with a token: %+v", runs)
	}
	// GitHub's combined status of the commit says the same.
	combined, _, err := gh.Repositories.GetCombinedStatus(f.ctx, "kailua-gis", "config", f.sha, nil)
	if err != nil {
		t.Fatal(err)
	}
	if combined.GetState() != "success" || combined.GetTotalCount() != 1 {
		t.Errorf("combined status %s with %d contexts, want success with 1", combined.GetState(), combined.GetTotalCount())
	}
}

// TestRunWatchesOnItsOwnTicker: Run watches between polls every
// HealthInterval: a drift is reported while the next poll is an hour away,
// once.
func TestRunWatchesOnItsOwnTicker(t *testing.T) {
	f, r, _ := applied(t)
	r.cfg.HealthInterval = 10 * time.Millisecond
	editLive(t, f)
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, time.Hour) }()
	deadline := time.Now().Add(20 * time.Second)
	for len(healthRuns(f, f.sha)) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // more ticks: still one report
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
	if runs := healthRuns(f, f.sha); len(runs) != 1 || runs[0].Conclusion != "neutral" {
		t.Errorf("health check runs %+v, want one neutral", runs)
	}
}
