package app

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
	"github.com/honua-io/honua-gitops/internal/honuasim"
	"github.com/honua-io/honua-gitops/notify"
	"github.com/honua-io/honua-gitops/reconciler/apply"
	"github.com/honua-io/honua-gitops/reconciler/mirror"
	"github.com/honua-io/honua-gitops/reconciler/order"
	"github.com/honua-io/honua-gitops/reconciler/runner"
)

const (
	e2eRepo   = "kailua-gis/config"
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
	// down makes the App's webhook endpoint answer 502, as during an
	// outage: GitHub's deliveries of that time are lost.
	down *atomic.Bool
}

type e2eOptions struct {
	// notify, when set, configures the App's notifications.
	notify   *notify.Options
	delivery githubsim.DeliveryMode
	start    time.Time // the emulator's clock (default: the next Tuesday 10:00 HST, inside production's window)
}

// nextTuesday10HST is the first Tuesday 10:00 in Honolulu (20:00 UTC) after
// t. The emulator's clock starts there rather than at a fixed date: the
// installation tokens it issues expire on its clock, and ghinstallation
// judges them by the wall clock.
func nextTuesday10HST(t time.Time) time.Time {
	d := time.Date(t.Year(), t.Month(), t.Day(), 20, 0, 0, 0, time.UTC)
	for d.Weekday() != time.Tuesday || !d.After(t) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

func newE2E(t *testing.T, o e2eOptions) *e2e {
	t.Helper()
	ctx := context.Background()
	if o.start.IsZero() {
		o.start = nextTuesday10HST(time.Now())
	}
	clock := githubsim.NewManualClock(o.start)
	var handler atomic.Pointer[http.Handler]
	down := &atomic.Bool{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "the App is down", http.StatusBadGateway)
			return
		}
		if h := handler.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	t.Cleanup(ts.Close)
	// The App has exactly the permissions and events of its manifest: a
	// line missing from app.yml fails these tests.
	perms, err := githubsim.ManifestPermissions("../app.yml")
	if err != nil {
		t.Fatal(err)
	}
	events, err := githubsim.ManifestEvents("../app.yml")
	if err != nil {
		t.Fatal(err)
	}
	sim := githubsim.New(t, githubsim.Options{
		WebhookURL: ts.URL + WebhookPath, WebhookSecret: e2eSecret, Clock: clock,
		Delivery: o.delivery, TokenTTL: 24 * time.Hour, Permissions: perms, Events: events,
	})
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(ServiceConfig{
		GitHubURL: sim.URL(), GitURL: sim.CloneURL, AppID: sim.AppID(), PrivateKey: pemKey(sim.AppKey()),
		WebhookSecrets: [][]byte{[]byte(e2eSecret)}, SigningKey: key, DataDir: t.TempDir(),
		Workers: 4, QueueSize: 256, Logger: e2eLogger(),
		Now: clock.Now,
		// Waiting for a rate limit moves the emulator's clock on instead of
		// the test's.
		Sleep:  func(ctx context.Context, d time.Duration) error { clock.Advance(d); return ctx.Err() },
		Notify: o.notify,
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

	e := &e2e{t: t, ctx: ctx, sim: sim, clock: clock, svc: svc, key: key, down: down}
	e.inst = sim.Install("kailua-gis")
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
	sim.SetTeam("kailua-gis", "gis-engineers", "ana", "bob")
	sim.SetTeam("kailua-gis", "gis-leads", "kai")
	sim.SetTeam("kailua-gis", "platform", "mkalani")
	for _, env := range []githubsim.Environment{
		{Name: "development"},
		{Name: "staging", Reviewers: []githubsim.Reviewer{{Type: "Team", Name: "kailua-gis/gis-engineers"}, {Type: "Team", Name: "kailua-gis/gis-leads"}}},
		{Name: "production", PreventSelfReview: true, Reviewers: []githubsim.Reviewer{{Type: "Team", Name: "kailua-gis/gis-leads"}, {Type: "User", Name: "lkeawe"}}},
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

// deployments are the emulator's deployments of sha, by environment.
// deployments are the App's deployments of sha by environment (not those
// GitHub makes for Actions jobs).
func (e *e2e) deployments(sha string) map[string][]githubsim.Deployment {
	out := map[string][]githubsim.Deployment{}
	for _, d := range e.sim.Deployments(e2eRepo) {
		if d.SHA == sha && d.Creator == e.sim.BotLogin() {
			out[d.Environment] = append(out[d.Environment], d)
		}
	}
	return out
}

// state is the latest status of the single deployment of sha to env.
func (e *e2e) state(sha, env string) (string, string) {
	e.t.Helper()
	ds := e.deployments(sha)[env]
	if len(ds) != 1 {
		e.t.Fatalf("%d deployments of %s to %s, want 1", len(ds), short(sha), env)
	}
	d := ds[0]
	if len(d.States) == 0 {
		return "", ""
	}
	return d.States[len(d.States)-1], d.Descriptions[len(d.Descriptions)-1]
}

func (e *e2e) merge(n int, by string) string {
	e.t.Helper()
	sha, err := e.sim.MergePR(e.ctx, e2eRepo, n, by)
	if err != nil {
		e.t.Fatal(err)
	}
	e.flush()
	return sha
}

// TestMergeDeploys: merging creates one deployment per environment the
// change touches, with a signed order; development is queued at once,
// staging waits for approval, production for approval and promotion.
func TestMergeDeploys(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	merge := e.merge(n, "bob")
	ds := e.deployments(merge)
	for _, env := range []string{"development", "staging", "production"} {
		if len(ds[env]) != 1 {
			t.Fatalf("%d deployments to %s, want 1: %+v", len(ds[env]), env, ds)
		}
	}
	if st, desc := e.state(merge, "development"); st != "queued" {
		t.Errorf("development: %s %q, want queued", st, desc)
	}
	if st, desc := e.state(merge, "staging"); st != "pending" || !strings.Contains(desc, "approv") {
		t.Errorf("staging: %s %q, want pending for approval", st, desc)
	}
	if st, desc := e.state(merge, "production"); st != "pending" {
		t.Errorf("production: %s %q, want pending", st, desc)
	}
	d := ds["production"][0]
	if d.Task != "deploy" || d.Payload == nil {
		t.Errorf("production deployment: task %q payload %v", d.Task, d.Payload)
	}
	run, ok := e.run(merge, "honua/deploy (staging)")
	if !ok || run.Conclusion != "action_required" || len(run.Actions) != 2 {
		t.Errorf("staging deploy run: %+v", run)
	}
}

// report sets a deployment status as the runner does.
func (e *e2e) report(sha, env, state, desc string) {
	e.t.Helper()
	gh, err := e.svc.clients.Installation(e.ctx, e.inst)
	if err != nil {
		e.t.Fatal(err)
	}
	ds := e.deployments(sha)[env]
	if len(ds) == 0 {
		e.t.Fatalf("no deployment of %s to %s", short(sha), env)
	}
	owner, name, _ := strings.Cut(e2eRepo, "/")
	if _, _, err := gh.Repositories.CreateDeploymentStatus(e.ctx, owner, name, ds[len(ds)-1].ID, &github.DeploymentStatusRequest{
		State: github.String(state), Description: github.String(desc), LogURL: github.String("https://runner.kailua.example/logs/1"),
	}); err != nil {
		e.t.Fatal(err)
	}
	e.flush()
}

func (e *e2e) click(sha, env, action, login string) {
	e.t.Helper()
	r, ok := e.run(sha, "honua/deploy ("+env+")")
	if !ok {
		e.t.Fatalf("no deploy run for %s on %s", env, short(sha))
	}
	if err := e.sim.ClickCheckRunAction(e2eRepo, r.ID, action, login); err != nil {
		e.t.Fatal(err)
	}
	e.flush()
}

func (e *e2e) comment(n int, login, body string) {
	e.t.Helper()
	if _, err := e.sim.Comment(e2eRepo, n, login, body); err != nil {
		e.t.Fatal(err)
	}
	e.flush()
}

// lastComment is the App's newest comment on PR n.
func (e *e2e) botComments(n int) []string {
	pr, ok := e.sim.PullRequest(e2eRepo, n)
	if !ok {
		e.t.Fatalf("no PR %d", n)
	}
	var out []string
	for _, c := range pr.Comments {
		if c.Login == e.sim.BotLogin() {
			out = append(out, c.Body)
		}
	}
	return out
}

// TestApprovalsAndPromotion walks a change to production: staging is
// approved with the button, the runner deploys it; the author's own
// approval of production is refused; a lead approves production, which then
// waits for the soak in staging and is queued by the sweeper when it ends.
func TestApprovalsAndPromotion(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	n, _ := e.openPR("bike-lanes", "kai", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	merge := e.merge(n, "bob")

	e.click(merge, "staging", "approve", "ana")
	if st, desc := e.state(merge, "staging"); st != "queued" {
		t.Fatalf("staging after ana's approval: %s %q", st, desc)
	}
	comments := e.botComments(n)
	if len(comments) == 0 || !strings.Contains(comments[len(comments)-1], "approved") {
		t.Errorf("no approval record in the PR: %q", comments)
	}

	// kai wrote the change: production forbids self-approval.
	e.comment(n, "kai", "/approve production")
	if st, _ := e.state(merge, "production"); st != "pending" {
		t.Errorf("production after the author's approval: %s, want pending", st)
	}
	comments = e.botComments(n)
	if !strings.Contains(comments[len(comments)-1], "kai") {
		t.Errorf("the refusal does not say why: %q", comments[len(comments)-1])
	}

	// A reader's click on Approve is refused in the pull request.
	before := len(e.botComments(n))
	e.click(merge, "production", "approve", "reader")
	if cs := e.botComments(n); len(cs) != before+1 || !strings.Contains(cs[len(cs)-1], "reader") {
		t.Errorf("a reader's Approve was not refused politely: %q", cs[before:])
	}

	// lkeawe approves; production waits for staging.
	e.click(merge, "production", "approve", "lkeawe")
	st, desc := e.state(merge, "production")
	if st != "pending" || !strings.Contains(desc, "staging") {
		t.Errorf("production approved before staging ran: %s %q, want pending on promotion", st, desc)
	}

	// The runner deploys staging.
	e.report(merge, "staging", "in_progress", "applying")
	e.report(merge, "staging", "success", "deployed; 2 collections healthy")
	if r, _ := e.run(merge, "honua/deploy (staging)"); r.Conclusion != "success" {
		t.Errorf("staging deploy run after success: %+v", r)
	}
	results := 0
	for _, c := range e.botComments(n) {
		if strings.Contains(c, "Deployed") {
			results++
		}
	}
	if results != 1 {
		t.Errorf("%d success comments, want 1", results)
	}

	// The sweeper queues production once the soak ends, not before.
	if err := e.svc.app.Sweep(e.ctx, e.svc.clients); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.state(merge, "production"); st != "pending" {
		t.Errorf("production before the soak ended: %s", st)
	}
	e.clock.Advance(2*time.Hour + time.Minute)
	if err := e.svc.app.Sweep(e.ctx, e.svc.clients); err != nil {
		t.Fatal(err)
	}
	if st, desc := e.state(merge, "production"); st != "queued" {
		t.Errorf("production after the soak: %s %q, want queued", st, desc)
	}
}

// TestAPIBudget: on a warm mirror a pull request event costs at most 6
// REST calls, and a merge at most 4 per environment it deploys to.
func TestAPIBudget(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	// Another push: the mirror is warm, the event is a synchronize.
	e.sim.ResetCounters()
	head, err := e.sim.Push(e.ctx, e2eRepo, "bike-lanes", "ana", "Title case",
		githubsim.FileChange{Path: "environments/common/layers/bike-lanes.yaml", Content: []byte(strings.Replace(bikeLanes, "Bike lanes", "Bike Lanes", 1))})
	if err != nil {
		t.Fatal(err)
	}
	e.flush()
	if _, ok := e.run(head, planRunName); !ok {
		t.Fatal("no plan on the new head")
	}
	pr := e.restCalls()
	t.Logf("pull_request.synchronize: %d REST calls", pr)
	if pr > 6 {
		t.Errorf("a PR event cost %d REST calls, want at most 6:\n%s", pr, e.callList())
	}
	e.sim.ResetCounters()
	merge := e.merge(n, "bob")
	envs := len(e.deployments(merge))
	calls := e.restCalls()
	t.Logf("merge: %d REST calls for %d environments", calls, envs)
	if envs != 3 || calls > 4*envs {
		t.Errorf("a merge to %d environments cost %d REST calls, want at most %d:\n%s", envs, calls, 4*envs, e.callList())
	}
	// One installation token serves every call of the hour.
	if n := e.sim.RouteCounter("POST /app/installations/{installation_id}/access_tokens").Calls; n != 0 {
		t.Errorf("the merge minted %d installation tokens, want 0 (the cached one)", n)
	}
}

func (e *e2e) callList() string {
	var b strings.Builder
	for route, c := range e.sim.Counters() {
		if c.Calls > 0 {
			fmt.Fprintf(&b, "  %3d %s\n", c.Calls, route)
		}
	}
	return b.String()
}

// TestPolicyEditJudgedByBase: a pull request that rewrites .gitops/ to let
// everything through is judged by the base branch's policy, and needs a
// policy owner's approval besides.
func TestPolicyEditJudgedByBase(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	loose := "version: 1\nenvironments:\n  production: {autoApprove: true, allowBreakingChanges: true}\n  staging: {autoApprove: true}\n"
	n, head := e.openPR("loosen", "ana", map[string]string{
		".gitops/deployment-policy.yaml":             loose,
		"environments/common/layers/bike-lanes.yaml": bikeLanes,
	})
	po, ok := e.run(head, policyRunName)
	if !ok {
		t.Fatal("no policy run")
	}
	all := po.Title + po.Summary + po.Text
	if !strings.Contains(all, "platform") || !strings.Contains(all, "needs approval") {
		t.Errorf("the policy run does not ask the policy owners:\n%s\n%s", po.Summary, po.Text)
	}
	// A member of the platform team, not named in policyOwners, approves
	// by review: the policy owners' requirement is met through the team.
	if err := e.sim.SetCollaborator(e2eRepo, "pua", githubsim.PermWrite); err != nil {
		t.Fatal(err)
	}
	e.sim.SetTeam("kailua-gis", "platform", "mkalani", "pua")
	if _, err := e.sim.Review(e2eRepo, n, "pua", "APPROVE", ""); err != nil {
		t.Fatal(err)
	}
	e.flush()
	po, _ = e.run(head, policyRunName)
	if !strings.Contains(po.Text, "✓ approval: 1 of `kailua-gis/platform`") {
		t.Errorf("a platform team member's review does not meet the policy owners' requirement:\n%s", po.Text)
	}
	merge := e.merge(n, "bob")
	if st, desc := e.state(merge, "production"); st != "pending" {
		t.Errorf("production under the loosened policy: %s %q, want pending (base's policy)", st, desc)
	}
	// pua's review counts for the merge (recorded, bound to the plan): an
	// engineer's approval completes staging.
	e.click(merge, "staging", "approve", "bob")
	if st, desc := e.state(merge, "staging"); st != "queued" {
		t.Errorf("staging with a policy owner's review and an engineer's approval: %s %q, want queued", st, desc)
	}
}

// TestPolicyChangeNeedsOwnerAtMerge: a change to .gitops/ merged without a
// policy owner's approval waits for one: an engineer's approval is not
// enough for staging; a policy owner's (with the button) completes it.
func TestPolicyChangeNeedsOwnerAtMerge(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	loose := "version: 1\nenvironments:\n  staging: {autoApprove: true}\n"
	n2, _ := e.openPR("loosen", "ana", map[string]string{
		".gitops/deployment-policy.yaml":             loose,
		"environments/common/layers/bike-lanes.yaml": bikeLanes,
	})
	merge2 := e.merge(n2, "bob")
	e.click(merge2, "staging", "approve", "bob")
	if st, desc := e.state(merge2, "staging"); st != "pending" || !strings.Contains(desc, "platform") {
		t.Errorf("staging with an engineer's approval only: %s %q, want pending for the platform team", st, desc)
	}
	e.click(merge2, "staging", "approve", "mkalani")
	if st, desc := e.state(merge2, "staging"); st != "queued" {
		t.Errorf("staging with a policy owner's approval too: %s %q, want queued", st, desc)
	}
}

// TestRollback: /rollback from a reader is refused politely; from an
// engineer it deploys the last good commit again as deploy:rollback.
func TestRollback(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	n1, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/development/layers/bike-lanes.yaml": bikeLanes})
	good := e.merge(n1, "bob")
	e.report(good, "development", "success", "deployed")
	n2, _ := e.openPR("bike-lanes-title", "ana", map[string]string{"environments/development/layers/bike-lanes.yaml": strings.Replace(bikeLanes, "Bike lanes", "Bike routes", 1)})
	bad := e.merge(n2, "bob")
	e.report(bad, "development", "success", "deployed")

	e.comment(n2, "reader", "/rollback development")
	cs := e.botComments(n2)
	if len(cs) == 0 || !strings.Contains(cs[len(cs)-1], "write access") {
		t.Errorf("a reader's /rollback was not refused politely: %q", cs)
	}
	if ds := e.deployments(good)["development"]; len(ds) != 1 {
		t.Fatalf("a reader's /rollback deployed: %+v", ds)
	}

	e.comment(n2, "bob", "/rollback development")
	ds := e.deployments(good)["development"]
	if len(ds) != 2 {
		t.Logf("the App said: %q", e.botComments(n2))
	}
	if len(ds) != 2 || ds[1].Task != "deploy:rollback" {
		t.Fatalf("no rollback deployment of %s: %+v", short(good), ds)
	}
	if st := ds[1].States[len(ds[1].States)-1]; st != "queued" {
		t.Errorf("rollback deployment is %s, want queued", st)
	}
	// Asked again (a redelivery, or the same comment read twice), nothing
	// runs twice.
	for _, d := range e.sim.DeliveriesOf("issue_comment", "created") {
		if err := e.sim.Redeliver(d.ID); err != nil {
			t.Fatal(err)
		}
	}
	e.flush()
	if ds := e.deployments(good)["development"]; len(ds) != 2 {
		t.Errorf("a redelivered /rollback deployed again: %d deployments", len(ds))
	}
}

// TestWindowOpensLater: production approved outside its window waits, and
// the sweeper queues it when the window opens.
func TestWindowOpensLater(t *testing.T) {
	monday := nextTuesday10HST(time.Now()).Add(-24*time.Hour - 2*time.Hour) // Monday 08:00 HST
	e := newE2E(t, e2eOptions{start: monday})
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	merge := e.merge(n, "bob")
	e.click(merge, "staging", "approve", "ana")
	e.report(merge, "staging", "success", "deployed")
	e.clock.Advance(3 * time.Hour) // Monday 11:00: soaked, but no window on Mondays
	// Approved now, the approval still counts when the window opens
	// (approvalExpiry: 24h).
	e.click(merge, "production", "approve", "lkeawe")
	if err := e.svc.app.Sweep(e.ctx, e.svc.clients); err != nil {
		t.Fatal(err)
	}
	st, desc := e.state(merge, "production")
	if st != "pending" || !strings.Contains(desc, "window") {
		t.Errorf("production on Monday: %s %q, want pending for the window", st, desc)
	}
	e.clock.Advance(22*time.Hour + time.Minute) // Tuesday 09:01 HST
	if err := e.svc.app.Sweep(e.ctx, e.svc.clients); err != nil {
		t.Fatal(err)
	}
	if st, desc := e.state(merge, "production"); st != "queued" {
		t.Errorf("production once the window opened: %s %q, want queued", st, desc)
	}
}

// TestShuffledDuplicatedDeliveries: GitHub delivers concurrently, in any
// order, sometimes twice; the App still creates exactly one deployment per
// (commit, environment) and one plan per head.
func TestShuffledDuplicatedDeliveries(t *testing.T) {
	e := newE2E(t, e2eOptions{delivery: githubsim.DeliveryMode{Shuffle: true, Concurrent: 4, Duplicate: 0.5, Seed: 7}})
	n, head := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	head2, err := e.sim.Push(e.ctx, e2eRepo, "bike-lanes", "ana", "more", githubsim.FileChange{Path: "environments/common/layers/bike-lanes.yaml", Content: []byte(strings.Replace(bikeLanes, "Bike lanes", "Bike Lanes", 1))})
	if err != nil {
		t.Fatal(err)
	}
	e.flush()
	merge := e.merge(n, "bob")
	e.flush()
	for _, sha := range []string{head, head2} {
		for _, name := range []string{planRunName, policyRunName} {
			if c := e.runCount(sha, name); c > 1 {
				t.Errorf("%d %s runs on %s, want at most 1", c, name, short(sha))
			}
		}
	}
	if _, ok := e.run(head2, planRunName); !ok {
		t.Errorf("no plan on the last head")
	}
	for env, ds := range e.deployments(merge) {
		if len(ds) != 1 {
			t.Errorf("%d deployments to %s, want 1", len(ds), env)
		}
	}
	if len(e.deployments(merge)) != 3 {
		t.Errorf("deployments: %+v", e.deployments(merge))
	}
}

// TestFlowSurvivesGitHubFaults: GitHub answers 5xx, 429 or a secondary
// rate limit on each endpoint the flow uses in turn; the flow completes,
// by the event itself (retries, waits) or by the sweeper.
func TestFlowSurvivesGitHubFaults(t *testing.T) {
	routes := []string{
		"GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
		"GET /repos/{owner}/{repo}/environments",
		"GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
		"GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
		"POST /repos/{owner}/{repo}/check-runs",
		"GET /repos/{owner}/{repo}/deployments",
		"POST /repos/{owner}/{repo}/deployments",
		"POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
		"POST /app/installations/{installation_id}/access_tokens",
		"GIT POST",
	}
	kinds := []string{"502", "429", "secondary"}
	for i, route := range routes {
		kind := kinds[i%len(kinds)]
		t.Run(kind+" "+route, func(t *testing.T) {
			e := newE2E(t, e2eOptions{})
			fault := func() {
				switch {
				case kind == "502" || strings.HasPrefix(route, "GIT"):
					e.sim.InjectFault(route, githubsim.Fault{Status: 502, Times: 1})
				case kind == "429":
					e.sim.ForceRateLimit(route, githubsim.PrimaryLimit429, 1, time.Second)
				default:
					e.sim.ForceRateLimit(route, githubsim.SecondaryLimit, 1, time.Second)
				}
			}
			sweep := func() {
				// The sweeper heals what an event left undone; a fault it
				// meets itself is healed by the next sweep. A spent primary
				// limit lasts until its reset, up to an hour: nothing is
				// sent before it (the transport fails at once), and the
				// sweeper catches up after it.
				if kind == "429" {
					e.clock.Advance(61 * time.Minute)
				}
				for i := range 2 {
					if err := e.svc.app.Sweep(e.ctx, e.svc.clients); err != nil {
						t.Logf("sweep %d: %v", i+1, err)
					}
					e.flush()
				}
			}
			fault()
			n, head := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
			sweep()
			for _, name := range []string{planRunName, policyRunName} {
				if _, ok := e.run(head, name); !ok {
					t.Errorf("no %s on the head", name)
				}
			}
			e.sim.ClearFaults() // a fault the PR's events never met
			fault()
			merge := e.merge(n, "bob")
			sweep()
			ds := e.deployments(merge)
			for _, env := range []string{"development", "staging", "production"} {
				if len(ds[env]) != 1 {
					t.Fatalf("%d deployments to %s, want 1", len(ds[env]), env)
				}
				if _, ok := e.run(merge, "honua/deploy ("+env+")"); !ok {
					t.Errorf("no deploy run for %s", env)
				}
			}
			if st, _ := e.state(merge, "development"); st != "queued" {
				t.Errorf("development: %s, want queued", st)
			}
			if st, _ := e.state(merge, "staging"); st != "pending" {
				t.Errorf("staging: %s, want pending", st)
			}
		})
	}
}

// TestApprovalBindsToThePlan: a review approves each environment's plan as
// it was; a push that leaves production's plan unchanged keeps the
// approval, one that changes it drops it (and the check says so); the
// merge counts an approval only for the plan it was given for.
func TestApprovalBindsToThePlan(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	n, head := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	if _, err := e.sim.Review(e2eRepo, n, "lkeawe", "APPROVE", "looks right"); err != nil {
		t.Fatal(err)
	}
	e.flush()
	satisfied := func(sha string) bool {
		po, ok := e.run(sha, policyRunName)
		if !ok {
			t.Fatalf("no policy run on %s", short(sha))
		}
		return !strings.Contains(po.Summary, "`production`: **needs approval**")
	}
	if !satisfied(head) {
		po, _ := e.run(head, policyRunName)
		t.Fatalf("lkeawe's review does not approve production:\n%s", po.Summary)
	}

	// A push that changes development only: production's plan, and its
	// approval, stay.
	dev := strings.Replace(strings.Replace(bikeLanes, "id: bike-lanes", "id: dev-trails", 1), "bike_lanes", "dev_trails", 1)
	head2, err := e.sim.Push(e.ctx, e2eRepo, "bike-lanes", "ana", "dev only",
		githubsim.FileChange{Path: "environments/development/layers/dev-trails.yaml", Content: []byte(dev)})
	if err != nil {
		t.Fatal(err)
	}
	e.flush()
	if !satisfied(head2) {
		po, _ := e.run(head2, policyRunName)
		t.Errorf("a push that left production's plan unchanged dropped the approval:\n%s", po.Summary)
	}

	// A push that changes production's plan drops it, and says so.
	head3, err := e.sim.Push(e.ctx, e2eRepo, "bike-lanes", "ana", "rename",
		githubsim.FileChange{Path: "environments/common/layers/bike-lanes.yaml", Content: []byte(strings.Replace(bikeLanes, "Bike lanes", "Bike routes", 1))})
	if err != nil {
		t.Fatal(err)
	}
	e.flush()
	po, _ := e.run(head3, policyRunName)
	if satisfied(head3) || !strings.Contains(po.Summary+po.Text, "no longer applies") {
		t.Errorf("a push that changed production's plan kept the approval, or did not say so:\n%s\n%s", po.Summary, po.Text)
	}

	// Approved again on the last head, merged: production counts it and
	// waits only for staging.
	if _, err := e.sim.Review(e2eRepo, n, "lkeawe", "APPROVE", ""); err != nil {
		t.Fatal(err)
	}
	e.flush()
	merge := e.merge(n, "bob")
	st, desc := e.state(merge, "production")
	if st != "pending" || strings.Contains(desc, "approval") || !strings.Contains(desc, "staging") {
		t.Errorf("production after an approved merge: %s %q, want pending on promotion only", st, desc)
	}
}

// TestDismissedReviewWithdrawsApproval: a dismissed review no longer
// approves.
func TestDismissedReviewWithdrawsApproval(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	n, head := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	id, err := e.sim.Review(e2eRepo, n, "lkeawe", "APPROVE", "")
	if err != nil {
		t.Fatal(err)
	}
	e.flush()
	if err := e.sim.DismissReview(e2eRepo, n, id, "mkalani", "approved the wrong PR"); err != nil {
		t.Fatal(err)
	}
	e.flush()
	po, _ := e.run(head, policyRunName)
	if !strings.Contains(po.Summary, "`production`: **needs approval**") {
		t.Errorf("a dismissed review still approves production:\n%s", po.Summary)
	}
	merge := e.merge(n, "bob")
	if _, desc := e.state(merge, "production"); !strings.Contains(desc, "approval") {
		t.Errorf("production after a dismissed approval: %q, want it to need approval", desc)
	}
}

// TestEditedCommentApprovesNothing: an edit that turns a comment into
// /approve is not a command.
func TestEditedCommentApprovesNothing(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	merge := e.merge(n, "bob")
	id, err := e.sim.Comment(e2eRepo, n, "bob", "nice work")
	if err != nil {
		t.Fatal(err)
	}
	e.flush()
	if err := e.sim.EditComment(e2eRepo, id, "bob", "/approve staging"); err != nil {
		t.Fatal(err)
	}
	e.flush()
	if st, _ := e.state(merge, "staging"); st != "pending" {
		t.Errorf("an edited comment approved staging: %s", st)
	}
}

// TestCommandsAndReruns: /help and a malformed command get the help text;
// "Re-run" on honua/plan and /plan give new runs; other Apps' runs are
// not the App's business; a PR that changes nothing of Honua gets neutral
// checks.
func TestCommandsAndReruns(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	n, head := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	e.comment(n, "bob", "/help")
	e.comment(n, "bob", "/aprove production")
	e.comment(n, "bob", "/approve prodution")
	cs := e.botComments(n)
	if len(cs) != 3 || !strings.Contains(cs[0], "/rollback") || !strings.Contains(cs[1], "/approve") || !strings.Contains(cs[2], "production") {
		t.Errorf("help answers: %q", cs)
	}
	run, _ := e.run(head, planRunName)
	if err := e.sim.RerequestCheckRun(e2eRepo, run.ID, "bob"); err != nil {
		t.Fatal(err)
	}
	e.flush()
	if c := e.runCount(head, planRunName); c != 2 {
		t.Errorf("%d plan runs after Re-run, want 2", c)
	}
	e.comment(n, "bob", "/plan")
	if c := e.runCount(head, planRunName); c != 3 {
		t.Errorf("%d plan runs after /plan, want 3", c)
	}
	// Another App's run on the head: its events change nothing.
	if _, err := e.sim.CreateForeignCheckRun(e2eRepo, head, "other-ci", "lint"); err != nil {
		t.Fatal(err)
	}
	e.flush()
	if c := e.runCount(head, planRunName); c != 3 {
		t.Errorf("another App's run made %d plan runs, want 3", c)
	}

	// Nothing of Honua changes: neutral.
	_, docs := e.openPR("docs", "ana", map[string]string{"README.md": "# Kailua GIS config\n"})
	for _, name := range []string{planRunName, policyRunName} {
		if r, ok := e.run(docs, name); !ok || r.Conclusion != "neutral" {
			t.Errorf("%s on a PR that changes no Honua config: %+v", name, r)
		}
	}
}

// TestBranchPolicy: GitHub does not apply an environment's deployment
// branch policy to API-made deployments, so the App does: production
// accepting protected branches only refuses a merge into an unprotected
// main, and accepts it once main is protected; a custom pattern policy
// that does not match main refuses too.
func TestBranchPolicy(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	if err := e.sim.SetEnvironment(e2eRepo, githubsim.Environment{Name: "production", PreventSelfReview: true,
		Reviewers:    []githubsim.Reviewer{{Type: "User", Name: "lkeawe"}},
		BranchPolicy: &githubsim.BranchPolicy{ProtectedBranches: true}}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetEnvironment(e2eRepo, githubsim.Environment{Name: "development",
		BranchPolicy: &githubsim.BranchPolicy{CustomBranchPolicies: true, Patterns: []githubsim.BranchPattern{{Name: "release/*"}}}}); err != nil {
		t.Fatal(err)
	}
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	merge := e.merge(n, "bob")
	if st, desc := e.state(merge, "production"); st != "failure" || !strings.Contains(desc, "protected") {
		t.Errorf("production from an unprotected main: %s %q, want failure naming the branch policy", st, desc)
	}
	if st, desc := e.state(merge, "development"); st != "failure" || !strings.Contains(desc, "release/*") {
		t.Errorf("development from main under release/*: %s %q, want failure", st, desc)
	}
	if st, _ := e.state(merge, "staging"); st != "pending" {
		t.Errorf("staging (no branch policy): %s, want pending", st)
	}

	if err := e.sim.SetBranchProtected(e2eRepo, "main", true); err != nil {
		t.Fatal(err)
	}
	n2, _ := e.openPR("bike-lanes-2", "ana", map[string]string{"environments/production/layers/bike-lanes.yaml": strings.Replace(bikeLanes, "Bike lanes", "Bike routes", 1)})
	merge2 := e.merge(n2, "bob")
	if st, desc := e.state(merge2, "production"); st != "pending" {
		t.Errorf("production from a protected main: %s %q, want pending (approval)", st, desc)
	}
}

// TestRejectUnprotectedAndSuperseded: the Reject button stops a deployment
// and says who and why; an environment the policy protects but GitHub has
// no reviewers for is refused with how to fix it; a newer deployment to an
// environment makes the older waiting one inactive.
func TestRejectUnprotectedAndSuperseded(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	first := e.merge(n, "bob")
	e.click(first, "staging", "reject", "bob")
	if st, desc := e.state(first, "staging"); st != "failure" || !strings.Contains(desc, "bob") {
		t.Errorf("staging after Reject: %s %q, want failure naming bob", st, desc)
	}
	if r, _ := e.run(first, "honua/deploy (staging)"); r.Conclusion != "failure" {
		t.Errorf("staging deploy run after Reject: %+v", r)
	}
	cs := e.botComments(n)
	if len(cs) == 0 || !strings.Contains(cs[len(cs)-1], "rejected") {
		t.Errorf("no rejection record in the PR: %q", cs)
	}

	// A second change to production: the first's waiting deployment there
	// is superseded.
	n2, _ := e.openPR("bike-lanes-2", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": strings.Replace(bikeLanes, "Bike lanes", "Bike routes", 1)})
	second := e.merge(n2, "bob")
	if err := e.svc.app.Sweep(e.ctx, e.svc.clients); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.state(first, "production"); st != "inactive" {
		t.Errorf("the older production deployment: %s, want inactive", st)
	}
	if r, _ := e.run(first, "honua/deploy (production)"); r.Conclusion != "neutral" || len(r.Actions) != 0 {
		t.Errorf("the superseded deployment's run still asks for approval: %+v", r)
	}
	if st, _ := e.state(second, "production"); st != "pending" {
		t.Errorf("the newer production deployment: %s, want pending", st)
	}

	// production loses its reviewers on GitHub: refused, with the fix.
	if err := e.sim.SetEnvironment(e2eRepo, githubsim.Environment{Name: "production"}); err != nil {
		t.Fatal(err)
	}
	n3, head3 := e.openPR("bike-lanes-3", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": strings.Replace(bikeLanes, "Bike lanes", "Cycle lanes", 1)})
	po, _ := e.run(head3, policyRunName)
	if po.Conclusion != "failure" || !strings.Contains(po.Summary+po.Text, "Required reviewers") {
		t.Errorf("policy run with production unprotected on GitHub: %s\n%s\n%s", po.Conclusion, po.Summary, po.Text)
	}
	third := e.merge(n3, "bob")
	if st, desc := e.state(third, "production"); st != "failure" {
		t.Errorf("production unprotected on GitHub: %s %q, want failure", st, desc)
	}
}

// TestEmergencyLabel: the policy's emergency label, set on the pull
// request, lets production through its closed window.
func TestEmergencyLabel(t *testing.T) {
	monday := nextTuesday10HST(time.Now()).Add(-24 * time.Hour) // Monday 10:00 HST
	e := newE2E(t, e2eOptions{start: monday})
	n, head := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	po, _ := e.run(head, policyRunName)
	if !strings.Contains(po.Summary, "next window") {
		t.Errorf("production on a Monday without the label does not wait for the window:\n%s", po.Summary)
	}
	if err := e.sim.AddLabel(e2eRepo, n, "ana", "emergency-deploy"); err != nil {
		t.Fatal(err)
	}
	e.flush()
	po, _ = e.run(head, policyRunName)
	if strings.Contains(po.Summary, "next window") || !strings.Contains(po.Summary+po.Text, "emergency") {
		t.Errorf("the emergency label does not open the window:\n%s\n%s", po.Summary, po.Text)
	}
}

// TestIdleSweepIsQuiet: a sweep over a repository where nothing happened
// since the last one writes nothing, and its reads are conditional: GitHub
// answers them 304, free of the rate limit.
func TestIdleSweepIsQuiet(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	e.merge(n, "bob") // staging and production wait for approval
	e.openPR("other", "ana", map[string]string{"environments/development/layers/bike-lanes.yaml": bikeLanes})
	if err := e.svc.app.Sweep(e.ctx, e.svc.clients); err != nil {
		t.Fatal(err)
	}
	e.sim.ResetCounters()
	if err := e.svc.app.Sweep(e.ctx, e.svc.clients); err != nil {
		t.Fatal(err)
	}
	calls, notModified, units, writes := 0, 0, 0, 0
	for route, c := range e.sim.Counters() {
		if strings.HasPrefix(route, "GIT ") {
			writes += c.Calls // a fetch: nothing new to fetch
			continue
		}
		calls += c.Calls
		notModified += c.NotModified
		units += c.RateUnits
		if !strings.HasPrefix(route, "GET ") && !strings.Contains(route, "/access_tokens") {
			writes += c.Calls
		}
	}
	t.Logf("idle sweep: %d REST calls, %d answered 304, %d rate-limit units", calls, notModified, units)
	if writes != 0 {
		t.Errorf("an idle sweep wrote or fetched %d times:\n%s", writes, e.callList())
	}
	if units > calls-notModified || notModified == 0 {
		t.Errorf("an idle sweep's reads are not conditional: %d calls, %d 304, %d units:\n%s", calls, notModified, units, e.callList())
	}
}

// TestWaitTimer: GitHub's wait timer of an environment holds an approved
// deployment back that many minutes after the approval.
func TestWaitTimer(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	if err := e.sim.SetEnvironment(e2eRepo, githubsim.Environment{Name: "staging", WaitTimer: 10,
		Reviewers: []githubsim.Reviewer{{Type: "Team", Name: "kailua-gis/gis-engineers"}}}); err != nil {
		t.Fatal(err)
	}
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	merge := e.merge(n, "bob")
	e.click(merge, "staging", "approve", "bob")
	if st, desc := e.state(merge, "staging"); st != "pending" || !strings.Contains(desc, "wait") {
		t.Errorf("staging just approved under a 10-minute wait timer: %s %q, want pending", st, desc)
	}
	e.clock.Advance(11 * time.Minute)
	if err := e.svc.app.Sweep(e.ctx, e.svc.clients); err != nil {
		t.Fatal(err)
	}
	if st, desc := e.state(merge, "staging"); st != "queued" {
		t.Errorf("staging after its wait timer: %s %q, want queued", st, desc)
	}
}

// TestMissedReviewWebhooks: reviews given while the App was down reach the
// merge through the sweeper: an approval counts, and an approval withdrawn
// by a later "changes requested" does not.
func TestMissedReviewWebhooks(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	// bob approves while the App is up: recorded.
	if _, err := e.sim.Review(e2eRepo, n, "bob", "APPROVE", ""); err != nil {
		t.Fatal(err)
	}
	e.flush()
	e.down.Store(true)
	if _, err := e.sim.Review(e2eRepo, n, "lkeawe", "APPROVE", ""); err != nil {
		t.Fatal(err)
	}
	e.flush()
	e.clock.Advance(time.Minute)
	if _, err := e.sim.Review(e2eRepo, n, "bob", "REQUEST_CHANGES", "wait, the table name"); err != nil {
		t.Fatal(err)
	}
	e.flush()
	e.down.Store(false)
	if err := e.svc.app.Sweep(e.ctx, e.svc.clients); err != nil {
		t.Fatal(err)
	}
	merge := e.merge(n, "kai")
	if _, desc := e.state(merge, "production"); strings.Contains(desc, "approval") {
		t.Errorf("production: %q: lkeawe's review, missed by the App, does not count", desc)
	}
	if _, desc := e.state(merge, "staging"); !strings.Contains(desc, "approval") {
		t.Errorf("staging: %q: bob's approval, withdrawn while the App was down, still counts", desc)
	}
}

// runner is a runner of env beside a Honua stand-in, trusting the App's
// order key, on the emulator's clock.
func (e *e2e) runner(name string) (*runner.Runner, *honuasim.Server) {
	t := e.t
	t.Helper()
	dir := t.TempDir()
	live := filepath.Join(dir, "metadata.json")
	honua := honuasim.New(t, honuasim.Options{MetadataPath: live})
	gh, err := e.svc.clients.Installation(e.ctx, e.inst)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mirror.New(mirror.Config{Dir: filepath.Join(dir, "runner-git"), GitURL: e.sim.CloneURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	env := runner.Environment{Name: name, URL: "https://" + name + ".gis.kailua.example", RollbackOnFailure: true,
		Applier: &apply.Applier{MetadataPath: live, StateDir: filepath.Join(dir, "state-"+name), Honua: &runner.HonuaClient{BaseURL: honua.URL()},
			Now: e.clock.Now, Sleep: func(ctx context.Context, d time.Duration) error { e.clock.Advance(d); return ctx.Err() }}}
	r, err := runner.New(runner.Config{
		Repo: e2eRepo, GitHub: gh, Mirror: m, AppBot: e.sim.BotLogin(),
		Token:   func(ctx context.Context) (string, error) { return e.svc.clients.Token(ctx, e.inst) },
		Keys:    order.Keys(e.key.Public().(ed25519.PublicKey)),
		Secrets: func(name string) (string, bool) { return "s3cret", true },
		Now:     e.clock.Now, ID: "kailua-dc1",
		Environments: []runner.Environment{env},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, honua
}

// TestRunnerDeploysWhatTheAppQueued: the whole chain. The App queues
// development on merge; a runner (reconciler/runner) polling GitHub
// verifies the App's signed order, applies the document to a Honua
// stand-in and reports success; the App shows it on honua/deploy and says
// it once in the pull request. A staging deployment still waiting for
// approval is not touched.
func TestRunnerDeploysWhatTheAppQueued(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	r, honua := e.runner("development")
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	merge := e.merge(n, "bob")
	if err := r.Poll(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.flush()
	if st, desc := e.state(merge, "development"); st != "success" {
		t.Fatalf("development after the runner: %s %q, want success", st, desc)
	}
	if !strings.Contains(string(honua.Loaded()), `"bike-lanes"`) {
		t.Errorf("Honua does not serve the new layer")
	}
	if rr, _ := e.run(merge, "honua/deploy (development)"); rr.Conclusion != "success" {
		t.Errorf("the deploy run after the runner's success: %+v", rr)
	}
	deployed := 0
	for _, c := range e.botComments(n) {
		if strings.Contains(c, "Deployed") {
			deployed++
		}
	}
	if deployed != 1 {
		t.Errorf("%d deployment comments, want 1", deployed)
	}
	if st, _ := e.state(merge, "staging"); st != "pending" {
		t.Errorf("staging, waiting for approval: %s", st)
	}
}

// TestLateProgressAfterOutcome: a runner's in_progress status handled after
// its success (GitHub delivers in any order) leaves the deploy run
// completed.
func TestLateProgressAfterOutcome(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	merge := e.merge(n, "bob")
	e.report(merge, "development", "success", "deployed")
	e.report(merge, "development", "in_progress", "Reloading")
	if r, _ := e.run(merge, "honua/deploy (development)"); r.Status != "completed" || r.Conclusion != "success" {
		t.Errorf("the deploy run after a late in_progress: %s %s, want completed success", r.Status, r.Conclusion)
	}
}

// e2eLogger discards the App's logs, unless HONUA_GITOPS_E2E_LOG=1 shows
// them (for a failing test).
func e2eLogger() *slog.Logger {
	if os.Getenv("HONUA_GITOPS_E2E_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
