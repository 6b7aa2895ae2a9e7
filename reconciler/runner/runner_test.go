package runner

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
	"github.com/honua-io/honua-gitops/internal/honuasim"
	"github.com/honua-io/honua-gitops/internal/notifytest"
	"github.com/honua-io/honua-gitops/notify"
	"github.com/honua-io/honua-gitops/reconciler/apply"
	"github.com/honua-io/honua-gitops/reconciler/mirror"
	"github.com/honua-io/honua-gitops/reconciler/order"
)

const testRepo = "kailua-gis/config"

// fixture is GitHub (the emulator) with the sample repository and the App
// installed, a Honua stand-in, and the App's order-signing key: the test
// plays the App (creates deployments with signed orders and queues them as
// its bot) and checks what the runner does.
type fixture struct {
	t     testing.TB
	ctx   context.Context
	sim   *githubsim.Server
	gh    *github.Client // as the App's installation
	token func(context.Context) (string, error)
	key   ed25519.PrivateKey
	sha   string
	honua *honuasim.Server
	live  string // the live document
	state string
}

func newFixture(t testing.TB, opts ...githubsim.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	var o githubsim.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	sim := githubsim.New(t, o)
	inst := sim.Install("kailua-gis")
	samples, err := filepath.Abs("../../samples/config")
	if err != nil {
		t.Fatal(err)
	}
	sha, err := sim.CreateRepo(ctx, testRepo, "main", samples)
	if err != nil {
		t.Fatal(err)
	}
	atr := ghinstallation.NewAppsTransportFromPrivateKey(http.DefaultTransport, sim.AppID(), sim.AppKey())
	atr.BaseURL = sim.URL()
	itr := ghinstallation.NewFromAppsTransport(atr, inst)
	itr.BaseURL = sim.URL()
	gh, err := github.NewClient(&http.Client{Transport: itr}).WithEnterpriseURLs(sim.APIURL(), sim.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	dir := t.TempDir()
	live := filepath.Join(dir, "honua", "metadata.json")
	if err := os.MkdirAll(filepath.Dir(live), 0o755); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ctx: ctx, sim: sim, gh: gh, token: itr.Token, key: key, sha: sha,
		honua: honuasim.New(t, honuasim.Options{MetadataPath: live}), live: live, state: filepath.Join(dir, "state")}
}

// runner is a runner of development with the fixture's trusted key.
func (f *fixture) runner(id string, keys ...ed25519.PublicKey) *Runner {
	f.t.Helper()
	if len(keys) == 0 {
		keys = []ed25519.PublicKey{f.key.Public().(ed25519.PublicKey)}
	}
	clock := githubsim.NewManualClock(time.Now())
	m, err := mirror.New(mirror.Config{Dir: f.t.TempDir(), GitURL: f.sim.CloneURL, Logger: quiet()})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { m.Close() })
	r, err := New(Config{
		Repo: testRepo, GitHub: f.gh, Token: f.token, Mirror: m, AppBot: f.sim.BotLogin(),
		Keys: order.Keys(keys...), ID: id, Logger: quiet(),
		Secrets: func(name string) (string, bool) { return "s3cret-" + strings.ToLower(name), true },
		Environments: []Environment{{
			Name: "development", URL: "https://dev.gis.kailua.example", RollbackOnFailure: true,
			HealthTimeout: 5 * time.Second,
			// Post-validation's waits move a clock of its own: nothing
			// sleeps for real.
			Applier: &apply.Applier{MetadataPath: f.live, StateDir: f.state, Honua: &HonuaClient{BaseURL: f.honua.URL()},
				Logger: quiet(), Now: clock.Now, Sleep: func(ctx context.Context, d time.Duration) error { clock.Advance(d); return ctx.Err() }},
		}},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// deploy creates a deployment of sha to development as the App does: a
// signed order (with key), then a queued status written by the App's bot.
func (f *fixture) deploy(sha string, key ed25519.PrivateKey) int64 {
	f.t.Helper()
	return f.deployTo("development", sha, key)
}

// deployTo is deploy to env.
func (f *fixture) deployTo(env, sha string, key ed25519.PrivateKey) int64 {
	f.t.Helper()
	payload, err := order.Sign(order.Order{Repo: testRepo, SHA: sha, Environment: env, Task: "deploy",
		PlanDigest: strings.Repeat("ab", 32), PolicyDigest: "sha256:" + strings.Repeat("cd", 32), PR: 1, IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, key)
	if err != nil {
		f.t.Fatal(err)
	}
	owner, name, _ := strings.Cut(testRepo, "/")
	var p any = json.RawMessage(payload)
	d, _, err := f.gh.Repositories.CreateDeployment(f.ctx, owner, name, &github.DeploymentRequest{
		Ref: github.String(sha), Task: github.String("deploy"), Environment: github.String(env),
		AutoMerge: github.Bool(false), RequiredContexts: &[]string{}, Payload: p,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, _, err := f.gh.Repositories.CreateDeploymentStatus(f.ctx, owner, name, d.GetID(), &github.DeploymentStatusRequest{State: github.String("queued")}); err != nil {
		f.t.Fatal(err)
	}
	return d.GetID()
}

func (f *fixture) states(id int64) []string {
	for _, d := range f.sim.Deployments(testRepo) {
		if d.ID == id {
			return d.States
		}
	}
	return nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestRunnerAppliesAnApprovedDeployment: a deployment the App queued with
// a valid order is claimed, rendered, applied, post-validated and reported
// as success; Honua serves the new document; polling again does nothing.
func TestRunnerAppliesAnApprovedDeployment(t *testing.T) {
	f := newFixture(t)
	r := f.runner("site-a")
	id := f.deploy(f.sha, f.key)
	if err := r.Poll(f.ctx); err != nil {
		t.Fatal(err)
	}
	st := f.states(id)
	if len(st) == 0 || st[len(st)-1] != "success" || !contains(st, "in_progress") {
		t.Fatalf("statuses %v, want in_progress … success", st)
	}
	live, err := os.ReadFile(f.live)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.honua.Loaded(), live) || !bytes.Contains(live, []byte(`"bike`)) && !bytes.Contains(live, []byte(`"parcels"`)) {
		t.Errorf("Honua does not serve the live document (%d bytes loaded, %d live)", len(f.honua.Loaded()), len(live))
	}
	if bytes.Contains(live, []byte("${")) {
		t.Errorf("the live document holds unfilled secret references")
	}
	n := len(f.states(id))
	if err := r.Poll(f.ctx); err != nil {
		t.Fatal(err)
	}
	if len(f.states(id)) != n {
		t.Errorf("a second poll touched a finished deployment: %v", f.states(id))
	}
}

// TestRunnerRefusesForgedOrders: an order signed with a key the runner
// does not trust gets an error status, once, and nothing is applied.
func TestRunnerRefusesForgedOrders(t *testing.T) {
	f := newFixture(t)
	r := f.runner("site-a")
	_, other, _ := ed25519.GenerateKey(nil)
	id := f.deploy(f.sha, other)
	for range 2 {
		if err := r.Poll(f.ctx); err != nil {
			t.Fatal(err)
		}
	}
	st := f.states(id)
	if got := strings.Join(st, ","); got != "queued,error" {
		t.Errorf("statuses of a forged deployment: %s, want queued,error", got)
	}
	if _, err := os.Stat(f.live); !os.IsNotExist(err) {
		t.Errorf("a forged order wrote the live document: %v", err)
	}
}

// TestRunnerRollsBackAFailedDeployment: a collection that does not serve
// after the reload rolls the deployment back; the live document is
// byte-identical to before, Honua serves it again, and GitHub says
// "rolled back".
func TestRunnerRollsBackAFailedDeployment(t *testing.T) {
	f := newFixture(t)
	r := f.runner("site-a")
	f.deploy(f.sha, f.key)
	if err := r.Poll(f.ctx); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(f.live)
	if err != nil {
		t.Fatal(err)
	}
	next, err := f.sim.Push(f.ctx, testRepo, "main", "ana", "Retitle parcels",
		githubsim.FileChange{Path: "environments/common/layers/bike-lanes.yaml", Content: []byte(bikeLanes)})
	if err != nil {
		t.Fatal(err)
	}
	f.honua.FailCollection("transportation::bike-lanes", -1) // every probe fails
	id := f.deploy(next, f.key)
	if err := r.Poll(f.ctx); err != nil {
		t.Fatal(err)
	}
	st := f.states(id)
	if len(st) == 0 || st[len(st)-1] != "failure" {
		t.Fatalf("statuses %v, want … failure", st)
	}
	after, err := os.ReadFile(f.live)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) || !bytes.Equal(f.honua.Loaded(), before) {
		t.Errorf("after the rollback the live document or Honua's is not the one before")
	}
	descs := ""
	for _, d := range f.sim.Deployments(testRepo) {
		if d.ID == id {
			descs = strings.Join(d.Descriptions, " | ")
		}
	}
	if !strings.Contains(descs, "rolled back") {
		t.Errorf("the failure does not say it was rolled back: %s", descs)
	}
}

// TestTwoRunnersApplyOnce: two runners of one environment see the same
// queued deployment; one claim wins and it is applied once.
func TestTwoRunnersApplyOnce(t *testing.T) {
	f := newFixture(t)
	a, b := f.runner("site-a"), f.runner("site-b")
	id := f.deploy(f.sha, f.key)
	done := make(chan error, 2)
	for _, r := range []*Runner{a, b} {
		go func() { done <- r.Poll(f.ctx) }()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	st := f.states(id)
	if c := count(st, "success"); c != 1 {
		t.Errorf("statuses %v: %d successes, want 1", st, c)
	}
	if f.honua.Reloads() != 1 {
		t.Errorf("Honua reloaded %d times, want 1", f.honua.Reloads())
	}
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

func contains(ss []string, s string) bool { return count(ss, s) > 0 }

func count(ss []string, s string) int {
	n := 0
	for _, x := range ss {
		if x == s {
			n++
		}
	}
	return n
}

// TestRunnerEnvironmentsDoNotWaitForEachOther: Run polls each environment
// in a loop of its own, so a staging apply stuck waiting for its Honua to
// become ready does not hold development's deployment back; cancelling
// Run stops both loops.
func TestRunnerEnvironmentsDoNotWaitForEachOther(t *testing.T) {
	f := newFixture(t)
	r := f.runner("site-a")
	stagingLive := filepath.Join(t.TempDir(), "metadata.json")
	staging := honuasim.New(t, honuasim.Options{MetadataPath: stagingLive})
	staging.SlowHealth(time.Hour) // answers when the request is cancelled
	r.cfg.Environments = append(r.cfg.Environments, Environment{
		Name: "staging", URL: "https://staging.gis.kailua.example", RollbackOnFailure: true, HealthTimeout: time.Hour,
		Applier: &apply.Applier{MetadataPath: stagingLive, StateDir: filepath.Join(t.TempDir(), "apply-staging"),
			Honua: &HonuaClient{BaseURL: staging.URL()}, Logger: quiet()},
	})
	stg := f.deployTo("staging", f.sha, f.key)
	// staging is claimed (and stuck in post-validation) before development
	// is queued: a runner polling one environment after the other would
	// not look at development again until staging is done.
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, 20*time.Millisecond) }()
	waitFor(t, func() bool { return contains(f.states(stg), "in_progress") && staging.Reloads() > 0 })
	dev := f.deployTo("development", f.sha, f.key)
	waitFor(t, func() bool { st := f.states(dev); return len(st) > 0 && st[len(st)-1] == "success" })
	if st := f.states(stg); st[len(st)-1] != "in_progress" {
		t.Fatalf("staging: %v, want it still in progress (the test proves nothing)", st)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v, want context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after its context ended")
	}
}

// waitFor polls cond for up to a minute (a bound for a stuck test, not a
// timing assertion).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within a minute")
}

// TestRunnerNotifiesAFailure: development's policy sends failures to
// Slack: a rolled-back deployment is told once, with its cause, even when
// the runner's notification is asked for again (the store's ledger).
func TestRunnerNotifiesAFailure(t *testing.T) {
	slack := notifytest.NewSlack(t)
	f := newFixture(t)
	r := f.runner("site-a")
	withStore(t, r)
	secrets := slack.Secrets(func(name string) (string, bool) { return "s3cret-" + strings.ToLower(name), true })
	n, err := notify.New(notify.Options{Secrets: secrets, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	r.cfg.Notifier = n
	f.deploy(f.sha, f.key)
	if err := r.Poll(f.ctx); err != nil {
		t.Fatal(err)
	}
	next, err := f.sim.Push(f.ctx, testRepo, "main", "ana", "Add bike lanes",
		githubsim.FileChange{Path: "environments/common/layers/bike-lanes.yaml", Content: []byte(bikeLanes)})
	if err != nil {
		t.Fatal(err)
	}
	f.honua.FailCollection("transportation::bike-lanes", -1)
	id := f.deploy(next, f.key)
	if err := r.Poll(f.ctx); err != nil {
		t.Fatal(err)
	}
	// The same event asked for again (a redelivered order, a restart).
	r.notify(f.ctx, r.cfg.Environments[0], strconv.FormatInt(id, 10), next, f.sha, notify.Event{Kind: notify.KindFailed, RolledBack: true, Cause: "again"})
	n.Wait()
	got := slack.Messages()
	if len(got) != 1 || !strings.Contains(got[0], "development") || !strings.Contains(strings.ToLower(got[0]), "rolled back") {
		t.Errorf("%d Slack messages, want one about development rolled back:\n%s", len(got), strings.Join(got, "\n"))
	}
	if strings.Contains(strings.Join(got, ""), "s3cret") {
		t.Error("a secret reached Slack")
	}
}
