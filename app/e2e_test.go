package app

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

const (
	e2eRepo   = "kailua/config"
	e2eSecret = "e2e-webhook-secret"
)

// e2e is the whole App (Service) against the emulator: the emulator's
// webhooks reach the App over HTTP, the App calls the emulator with the real
// go-github, ghinstallation and go-git clients.
type e2e struct {
	t     *testing.T
	ctx   context.Context
	sim   *githubsim.Server
	clock *githubsim.ManualClock
	svc   *Service
	inst  int64
	base  string // main's first commit
	key   ed25519.PrivateKey
}

type e2eOptions struct {
	delivery githubsim.DeliveryMode
	start    time.Time // the emulator's clock (default: Tuesday 2026-03-10 10:00 HST, inside production's window)
}

func newE2E(t *testing.T, o e2eOptions) *e2e {
	t.Helper()
	ctx := context.Background()
	if o.start.IsZero() {
		o.start = time.Date(2026, 3, 10, 20, 0, 0, 0, time.UTC)
	}
	clock := githubsim.NewManualClock(o.start)
	var handler atomic.Pointer[http.Handler]
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := handler.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	t.Cleanup(ts.Close)
	sim := githubsim.New(t, githubsim.Options{
		WebhookURL: ts.URL + WebhookPath, WebhookSecret: e2eSecret, Clock: clock,
		Delivery: o.delivery, TokenTTL: 24 * time.Hour,
	})
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(ServiceConfig{
		GitHubURL: sim.URL(), GitURL: sim.CloneURL, AppID: sim.AppID(), PrivateKey: pemKey(sim.AppKey()),
		WebhookSecrets: [][]byte{[]byte(e2eSecret)}, SigningKey: key, DataDir: t.TempDir(),
		Workers: 4, QueueSize: 256, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: clock.Now, Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() },
	})
	if err != nil {
		t.Fatal(err)
	}
	h := svc.Handler()
	handler.Store(&h)
	svc.server.Start()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = svc.server.Shutdown(sctx)
		_ = svc.mirror.Close()
	})
	login, err := svc.clients.BotLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	svc.server.SetBotLogin(login)
	svc.app.setBot(login)

	e := &e2e{t: t, ctx: ctx, sim: sim, clock: clock, svc: svc, key: key}
	e.inst = sim.Install("kailua")
	samples, err := filepath.Abs("../samples/config")
	if err != nil {
		t.Fatal(err)
	}
	if e.base, err = sim.CreateRepo(ctx, e2eRepo, "main", samples); err != nil {
		t.Fatal(err)
	}
	// The people of the sample policy: engineers and leads of Kailua's GIS
	// team, a platform team that owns the policy, and a reader.
	for login, perm := range map[string]string{
		"ana": githubsim.PermWrite, "bob": githubsim.PermWrite, "lkeawe": githubsim.PermWrite,
		"mkalani": githubsim.PermAdmin, "kai": githubsim.PermWrite, "reader": githubsim.PermRead,
	} {
		if err := sim.SetCollaborator(e2eRepo, login, perm); err != nil {
			t.Fatal(err)
		}
	}
	sim.SetTeam("kailua", "gis-engineers", "ana", "bob")
	sim.SetTeam("kailua", "gis-leads", "kai")
	sim.SetTeam("kailua", "platform", "mkalani")
	for _, env := range []githubsim.Environment{
		{Name: "development"},
		{Name: "staging", Reviewers: []githubsim.Reviewer{{Type: "Team", Name: "kailua/gis-engineers"}, {Type: "Team", Name: "kailua/gis-leads"}}},
		{Name: "production", PreventSelfReview: true, Reviewers: []githubsim.Reviewer{{Type: "Team", Name: "kailua/gis-leads"}, {Type: "User", Name: "lkeawe"}}},
	} {
		if err := sim.SetEnvironment(e2eRepo, env); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// flush waits until every webhook was delivered and every handler ran.
func (e *e2e) flush() {
	e.t.Helper()
	for range 3 {
		if err := e.sim.FlushWebhooks(e.ctx); err != nil {
			e.t.Fatal(err)
		}
		e.svc.server.waitIdle()
	}
}

// openPR pushes files to a new branch and opens a pull request.
func (e *e2e) openPR(branch, author string, files map[string]string) (int, string) {
	e.t.Helper()
	var changes []githubsim.FileChange
	for p, c := range files {
		changes = append(changes, githubsim.FileChange{Path: p, Content: []byte(c)})
	}
	sha, err := e.sim.Push(e.ctx, e2eRepo, branch, author, "Change "+branch, changes...)
	if err != nil {
		e.t.Fatal(err)
	}
	n, err := e.sim.OpenPR(e.ctx, e2eRepo, branch, "", author, "Change "+branch, "")
	if err != nil {
		e.t.Fatal(err)
	}
	e.flush()
	return n, sha
}

// run is the latest of the App's check runs name on sha.
func (e *e2e) run(sha, name string) (githubsim.CheckRun, bool) {
	var out githubsim.CheckRun
	found := false
	for _, r := range e.sim.CheckRuns(e2eRepo, sha) {
		if r.Name == name && (!found || r.ID > out.ID) {
			out, found = r, true
		}
	}
	return out, found
}

func (e *e2e) runCount(sha, name string) int {
	n := 0
	for _, r := range e.sim.CheckRuns(e2eRepo, sha) {
		if r.Name == name {
			n++
		}
	}
	return n
}

// restCalls is the number of REST calls the App made since the counters
// were reset (git traffic and token minting excluded).
func (e *e2e) restCalls() int {
	n := 0
	for route, c := range e.sim.Counters() {
		if strings.HasPrefix(route, "GIT ") || strings.Contains(route, "/access_tokens") || route == "GET /app" {
			continue
		}
		n += c.Calls
	}
	return n
}

const bikeLanes = `id: bike-lanes
title: Bike lanes
serviceId: transportation
folderId: transportation
dataSourceId: kailua-postgis
geometryType: LineString
idField: objectid
geometryField: geom
storage:
  table: bike_lanes
  srid: 4326
`

// TestPullRequestGetsPlanAndPolicy: a PR gets honua/plan and honua/policy
// on its head; a push updates them for the new head; a redelivered event
// duplicates nothing.
func TestPullRequestGetsPlanAndPolicy(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	n, head := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	pl, ok := e.run(head, planRunName)
	if !ok {
		t.Fatalf("no %s run on %s; runs: %+v", planRunName, head, e.sim.CheckRuns(e2eRepo, head))
	}
	if pl.Conclusion != "success" || !strings.Contains(pl.Summary+pl.Text, "bike-lanes") {
		t.Errorf("plan run: %s %q\n%s", pl.Conclusion, pl.Title, pl.Summary)
	}
	po, ok := e.run(head, policyRunName)
	if !ok || po.Conclusion != "success" {
		t.Errorf("policy run: %+v", po)
	}
	_ = n
}
