package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
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

// tokenOnly plays GitHub to a token: creating a check run is forbidden,
// and commit statuses (which the emulator does not implement) are kept.
type tokenOnly struct {
	next     http.RoundTripper
	mu       sync.Mutex
	statuses []github.RepoStatus
	shas     []string
}

func (tr *tokenOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	p := req.URL.Path
	resp := func(code int, body string) *http.Response {
		return &http.Response{StatusCode: code, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), Request: req}
	}
	switch {
	case req.Method == http.MethodPost && strings.HasSuffix(p, "/check-runs"):
		return resp(http.StatusForbidden, `{"message":"You must authenticate via a GitHub App."}`), nil
	case req.Method == http.MethodPost && strings.Contains(p, "/repos/"+testRepo+"/statuses/"):
		var st github.RepoStatus
		if err := json.NewDecoder(req.Body).Decode(&st); err != nil {
			return nil, err
		}
		tr.mu.Lock()
		tr.statuses = append(tr.statuses, st)
		tr.shas = append(tr.shas, p[strings.LastIndex(p, "/")+1:])
		tr.mu.Unlock()
		return resp(http.StatusCreated, `{"id":1}`), nil
	}
	return tr.next.RoundTrip(req)
}

// TestWatchCommitStatusWithAToken: without the App's check runs the
// transition is a commit status on the deployed commit: failure when
// Unhealthy, success naming OutOfSync for a drift, at most 140 characters,
// once per transition.
func TestWatchCommitStatusWithAToken(t *testing.T) {
	f, r, _ := applied(t)
	tr := &tokenOnly{next: f.gh.Client().Transport}
	gh, err := github.NewClient(&http.Client{Transport: tr}).WithEnterpriseURLs(f.sim.APIURL(), f.sim.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	r.cfg.GitHub = gh
	f.honua.FlapHealth([]bool{false})
	watch(t, f, r)
	f.honua.FlapHealth(nil)
	editLive(t, f)
	watch(t, f, r)
	watch(t, f, r)
	if len(tr.statuses) != 2 {
		t.Fatalf("%d commit statuses, want 2: %+v", len(tr.statuses), tr.statuses)
	}
	for i, st := range tr.statuses {
		if st.GetContext() != HealthContext("development") || tr.shas[i] != f.sha || len(st.GetDescription()) > 140 {
			t.Errorf("status %d: %s on %s %q", i, st.GetContext(), tr.shas[i], st.GetDescription())
		}
	}
	if s := tr.statuses[0]; s.GetState() != "failure" || !strings.Contains(s.GetDescription(), "Unhealthy") {
		t.Errorf("first status %s %q, want failure naming Unhealthy", s.GetState(), s.GetDescription())
	}
	if s := tr.statuses[1]; s.GetState() != "success" || !strings.Contains(s.GetDescription(), "OutOfSync") {
		t.Errorf("second status %s %q, want success naming OutOfSync", s.GetState(), s.GetDescription())
	}
	if runs := healthRuns(f, f.sha); len(runs) != 0 {
		t.Errorf("check runs with a token: %+v", runs)
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
