package controller

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/honua-io/honua-gitops/internal/honuasim"
	"github.com/honua-io/honua-gitops/internal/notifytest"
	"github.com/honua-io/honua-gitops/notify"
	"github.com/honua-io/honua-gitops/reconciler/apply"
	"github.com/honua-io/honua-gitops/reconciler/runner"
)

// gitServer is a real Git server on loopback: git http-backend (a process
// per request, through CGI) serving the bare repositories under root. It
// can go away and come back on the same address.
type gitServer struct {
	t    testing.TB
	root string
	addr string
	srv  *http.Server
	// requests and bytes count what the server answered.
	requests, bytes atomic.Int64
	// user and password, when set, are required (HTTP basic auth).
	user, password string
}

// countingWriter counts the bytes of a response body.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return w.ResponseWriter.Write(p)
}

func newGitServer(t testing.TB) *gitServer {
	t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	g := &gitServer{t: t, root: t.TempDir()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.addr = ln.Addr().String()
	_ = git
	g.serve(ln)
	t.Cleanup(func() { g.stop() })
	return g
}

func (g *gitServer) serve(ln net.Listener) {
	git, _ := exec.LookPath("git")
	h := &cgi.Handler{Path: git, Args: []string{"http-backend"}, Env: []string{"GIT_PROJECT_ROOT=" + g.root, "GIT_HTTP_EXPORT_ALL=1"}}
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.requests.Add(1)
		if g.user != "" {
			if u, p, ok := r.BasicAuth(); !ok || u != g.user || p != g.password {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(&countingWriter{ResponseWriter: w, n: &g.bytes}, r)
	})
	g.srv = &http.Server{Handler: counted, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = g.srv.Serve(ln) }()
}

func (g *gitServer) stop() {
	if g.srv != nil {
		_ = g.srv.Close()
		g.srv = nil
	}
}

// restart serves again on the same address.
func (g *gitServer) restart() {
	g.t.Helper()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", g.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		g.t.Fatal(err)
	}
	g.serve(ln)
}

func (g *gitServer) url(repo string) string { return "http://" + g.addr + "/" + repo }

// run runs git in dir.
func run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ana Kealoha", "GIT_AUTHOR_EMAIL=ana@kailua.example",
		"GIT_COMMITTER_NAME=Ana Kealoha", "GIT_COMMITTER_EMAIL=ana@kailua.example", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// fixture is a Git server with the sample repository, a Honua stand-in
// per environment, and a controller of development and staging.
type fixture struct {
	t     testing.TB
	ctx   context.Context
	git   *gitServer
	work  string // a clone people push from
	bare  string
	store *Store
	c     *Controller
	honua map[string]*honuasim.Server
	live  map[string]string
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
  table: transportation.bike_lanes
  geometryColumn: geom
  primaryKey: objectid
  srid: 4326
`

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), git: newGitServer(t), honua: map[string]*honuasim.Server{}, live: map[string]string{}}
	f.bare = filepath.Join(f.git.root, "config.git")
	run(t, f.git.root, "init", "-q", "--bare", "-b", "main", f.bare)
	f.work = t.TempDir()
	run(t, f.work, "init", "-q", "-b", "main")
	if err := os.CopyFS(f.work, os.DirFS("../../samples/config")); err != nil {
		t.Fatal(err)
	}
	run(t, f.work, "add", "-A")
	run(t, f.work, "commit", "-q", "-m", "The Kailua GIS configuration")
	run(t, f.work, "remote", "add", "origin", f.bare)
	run(t, f.work, "push", "-q", "origin", "main")

	state := t.TempDir()
	f.store = &Store{Dir: filepath.Join(state, "store")}
	var envs []runner.Environment
	for _, name := range []string{"development", "staging"} {
		live := filepath.Join(t.TempDir(), "metadata.json")
		h := honuasim.New(t, honuasim.Options{MetadataPath: live})
		f.honua[name], f.live[name] = h, live
		envs = append(envs, runner.Environment{Name: name, URL: h.URL(), RollbackOnFailure: true, HealthTimeout: 2 * time.Second,
			Applier: &apply.Applier{MetadataPath: live, StateDir: filepath.Join(state, "apply-"+name), Honua: &runner.HonuaClient{BaseURL: h.URL()}, Logger: quiet()}})
	}
	c, err := New(Config{
		URL: f.git.url("config.git"), Branch: "main", GitDir: filepath.Join(state, "git"), Environments: envs, Store: f.store,
		Secrets: func(name string) (string, bool) { return "s3cret-" + strings.ToLower(name), true }, Logger: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	return f
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// push commits files (path → content; "" deletes) and pushes main.
func (f *fixture) push(msg string, files map[string]string) string {
	f.t.Helper()
	for p, content := range files {
		full := filepath.Join(f.work, filepath.FromSlash(p))
		if content == "" {
			_ = os.Remove(full)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			f.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
	run(f.t, f.work, "add", "-A")
	run(f.t, f.work, "commit", "-q", "-m", msg)
	run(f.t, f.work, "push", "-q", "-f", "origin", "main")
	return run(f.t, f.work, "rev-parse", "HEAD")
}

func (f *fixture) poll() error {
	f.t.Helper()
	return f.c.Poll(f.ctx)
}

// latest is env's newest deployment.
func (f *fixture) latest(env string) Deployment {
	f.t.Helper()
	rec, err := f.store.Load(env)
	if err != nil {
		f.t.Fatal(err)
	}
	if len(rec.Deployments) == 0 {
		f.t.Fatalf("no deployment of %s", env)
	}
	return rec.Deployments[0]
}

func states(d Deployment) string {
	var s []string
	for _, tr := range d.Transitions {
		s = append(s, string(tr.State))
	}
	return strings.Join(s, " → ")
}

// TestControllerDeploysFromAGitServer: a pushed commit deploys to
// development (autoApprove) through the whole state machine; staging
// waits for an approval, which releases it; the ids have the original's
// form; the audit trail names the approver.
func TestControllerDeploysFromAGitServer(t *testing.T) {
	f := newFixture(t)
	sha := f.push("Add bike lanes", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	if err := f.poll(); err != nil {
		t.Fatal(err)
	}
	dev := f.latest("development")
	if got := states(dev); got != "Pending → Validating → Planning → AwaitingApproval → BackingUp → Applying → PostValidating → Completed" {
		t.Errorf("development: %s", got)
	}
	if !strings.HasPrefix(dev.ID, "development-") || !strings.HasSuffix(dev.ID, "-"+sha[:7]) || len(dev.ID) != len("development-")+14+1+7 {
		t.Errorf("id %q, want development-<UTC yyyyMMddHHmmss>-%s", dev.ID, sha[:7])
	}
	if !bytes.Contains(f.honua["development"].Loaded(), []byte(`"bike-lanes"`)) {
		t.Errorf("development's Honua does not serve the new layer")
	}
	stg := f.latest("staging")
	if stg.State != AwaitingApproval || !stg.Requirement.Required || !strings.Contains(stg.Transitions[len(stg.Transitions)-1].Cause, "deployment approve "+stg.ID) {
		t.Fatalf("staging: %s (%+v)", states(stg), stg.Transitions)
	}
	// An idle poll changes nothing.
	if err := f.poll(); err != nil {
		t.Fatal(err)
	}
	if got := f.latest("staging"); len(got.Transitions) != len(stg.Transitions) {
		t.Errorf("an idle poll moved staging: %s", states(got))
	}
	// Staging's first deployment adds its data sources (secrets): the
	// policy wants a platform owner too.
	if cause := stg.Transitions[len(stg.Transitions)-1].Cause; !strings.Contains(cause, "kailua-gis/platform") {
		t.Errorf("staging's cause does not name the platform requirement: %q", cause)
	}
	approve := func(by, team string) {
		t.Helper()
		if err := f.store.Update("staging", func(r *EnvRecord) error {
			d := r.Get(stg.ID)
			d.Decisions = append(d.Decisions, Decision{Kind: "approve", By: by, Teams: []string{team}, At: time.Now(), From: "test"})
			r.Audit = append(r.Audit, Audit{At: time.Now(), Who: by, From: "test", Action: "approve", DeploymentID: d.ID})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := f.poll(); err != nil {
			t.Fatal(err)
		}
	}
	// ana (a gis-engineer) approves with the CLI: one of two.
	approve("ana", "kailua-gis/gis-engineers")
	if got := f.latest("staging"); got.State != AwaitingApproval || strings.Contains(got.Transitions[len(got.Transitions)-1].Cause, "gis-engineers") {
		t.Fatalf("staging after ana: %s %q", states(got), got.Transitions[len(got.Transitions)-1].Cause)
	}
	approve("mkalani", "kailua-gis/platform")
	if got := f.latest("staging"); got.State != Completed {
		t.Fatalf("staging after the approval: %s", states(got))
	}
	rec, _ := f.store.Load("staging")
	if rec.Current != stg.ID || rec.LastGood != stg.ID || rec.Health != "Healthy" || rec.Sync != "Synced" {
		t.Errorf("staging's record: current %q last good %q %s %s", rec.Current, rec.LastGood, rec.Health, rec.Sync)
	}
	if !strings.Contains(string(f.honua["staging"].Loaded()), "s3cret-kailua_pg_password_staging") {
		t.Errorf("staging's document does not have its secret filled")
	}
}

// TestControllerRollsBackAFailedDeployment: a collection that does not
// serve after the reload rolls the deployment back: RolledBack, and the
// live document byte-identical to before.
func TestControllerRollsBackAFailedDeployment(t *testing.T) {
	f := newFixture(t)
	if err := f.poll(); err != nil { // the first deployment of the repository
		t.Fatal(err)
	}
	if d := f.latest("development"); d.State != Completed {
		t.Fatalf("first deployment: %s", states(d))
	}
	before, _ := os.ReadFile(f.live["development"])
	f.honua["development"].FailCollection("transportation::bike-lanes", -1)
	f.push("Add bike lanes", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	if err := f.poll(); err != nil {
		t.Fatal(err)
	}
	d := f.latest("development")
	if d.State != RolledBack || !strings.Contains(states(d), "PostValidating → RollingBack → RolledBack") {
		t.Errorf("development: %s", states(d))
	}
	after, _ := os.ReadFile(f.live["development"])
	if !bytes.Equal(before, after) || !bytes.Equal(f.honua["development"].Loaded(), before) {
		t.Errorf("the live document is not byte-identical to before the failed deployment")
	}
	rec, _ := f.store.Load("development")
	if rec.Current == d.ID || rec.LastGood == d.ID {
		t.Errorf("a rolled-back deployment is current or last good")
	}
}

// TestControllerForcePushAndGoneBranch: a force-pushed head is recorded
// and waits for an approval even where the policy approves by itself; a
// deleted branch is reported and nothing is applied; the remote going
// away is an error, and when it is back the controller carries on.
func TestControllerForcePushAndGoneBranch(t *testing.T) {
	f := newFixture(t)
	f.push("Add bike lanes", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	if err := f.poll(); err != nil {
		t.Fatal(err)
	}
	first := f.latest("development")
	// Rewrite history: amend the last commit and force-push.
	run(t, f.work, "commit", "-q", "--amend", "-m", "Add bike lanes (rewritten)")
	if err := os.WriteFile(filepath.Join(f.work, "environments/common/layers/bike-lanes.yaml"), []byte(strings.Replace(bikeLanes, "Bike lanes", "Bike lanes (rewritten)", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, f.work, "commit", "-q", "-am", "Retitle")
	run(t, f.work, "push", "-q", "-f", "origin", "main")
	if err := f.poll(); err != nil {
		t.Fatal(err)
	}
	d := f.latest("development")
	if d.ID == first.ID || d.State != AwaitingApproval {
		t.Errorf("after a force-push development is %s, want AwaitingApproval", states(d))
	}
	rec, _ := f.store.Load("development")
	if len(rec.Audit) == 0 || rec.Audit[len(rec.Audit)-1].Action != "force-push" {
		t.Errorf("the force-push is not in the audit trail: %+v", rec.Audit)
	}
	if rec.Current != first.ID {
		t.Errorf("a force-pushed head became current without approval")
	}

	// The branch is deleted on the remote.
	run(t, f.bare, "update-ref", "-d", "refs/heads/main")
	if err := f.poll(); err != nil {
		t.Fatal(err)
	}
	rec, _ = f.store.Load("development")
	if rec.Audit[len(rec.Audit)-1].Action != "branch-gone" {
		t.Errorf("the deleted branch is not reported: %+v", rec.Audit[len(rec.Audit)-1])
	}
	n := len(rec.Audit)
	if err := f.poll(); err != nil {
		t.Fatal(err)
	}
	if rec, _ = f.store.Load("development"); len(rec.Audit) != n {
		t.Errorf("the deleted branch is reported on every poll")
	}
	run(t, f.work, "push", "-q", "-f", "origin", "main")

	// The remote goes away, and comes back.
	f.git.stop()
	if err := f.poll(); err == nil {
		t.Errorf("a poll with the remote away did not fail")
	}
	f.git.restart()
	if err := f.poll(); err != nil {
		t.Errorf("after the remote came back: %v", err)
	}
}

// TestControllerHTTPSAuth: a remote that wants a user and a token refuses
// a controller without them (an error, nothing deployed) and serves one
// with them; the error never shows the token.
func TestControllerHTTPSAuth(t *testing.T) {
	f := newFixture(t)
	f.git.user, f.git.password = "honua-gitops", "s3cret-token"
	if err := f.poll(); err == nil || strings.Contains(err.Error(), "s3cret-token") {
		t.Fatalf("a poll without credentials: %v", err)
	}
	f.c.cfg.Auth = &githttp.BasicAuth{Username: "honua-gitops", Password: "s3cret-token"}
	if err := f.poll(); err != nil {
		t.Fatal(err)
	}
	if d := f.latest("development"); d.State != Completed {
		t.Errorf("development with credentials: %s", states(d))
	}
}

// TestControllerHealthAndDrift: Check stores transitions only: a hand
// edit of the live document is OutOfSync, Honua not ready is Unhealthy,
// and both come back.
func TestControllerHealthAndDrift(t *testing.T) {
	f := newFixture(t)
	if err := f.poll(); err != nil {
		t.Fatal(err)
	}
	env := f.c.cfg.Environments[0]
	check := func() EnvRecord {
		t.Helper()
		if err := f.c.Check(f.ctx, env); err != nil {
			t.Fatal(err)
		}
		rec, err := f.store.Load(env.Name)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	if rec := check(); rec.Health != "Healthy" || rec.Sync != "Synced" {
		t.Fatalf("after the deployment: %s %s", rec.Health, rec.Sync)
	}
	orig, _ := os.ReadFile(f.live[env.Name])
	if err := os.WriteFile(f.live[env.Name], append(append([]byte(nil), orig...), ' '), 0o640); err != nil {
		t.Fatal(err)
	}
	rec := check()
	if rec.Sync != "OutOfSync" {
		t.Errorf("after a hand edit: %s", rec.Sync)
	}
	since := rec.SyncSince
	if again := check(); !again.SyncSince.Equal(since) {
		t.Errorf("a second check with nothing new moved SyncSince")
	}
	f.honua[env.Name].FlapHealth([]bool{false})
	if rec := check(); rec.Health != "Unhealthy" {
		t.Errorf("Honua not ready: %s", rec.Health)
	}
	f.honua[env.Name].FlapHealth(nil)
	if err := os.WriteFile(f.live[env.Name], orig, 0o640); err != nil {
		t.Fatal(err)
	}
	if rec := check(); rec.Health != "Healthy" || rec.Sync != "Synced" {
		t.Errorf("after both came back: %s %s", rec.Health, rec.Sync)
	}
}

// TestControllerWindowAndSupersede: development may deploy only on
// Tuesdays (its policy): on a Monday a commit waits in Planning with the
// time it opens, is not judged again every poll, and a newer commit
// supersedes it; on Tuesday the newer one deploys.
func TestControllerWindowAndSupersede(t *testing.T) {
	f := newFixture(t)
	pol, err := os.ReadFile(filepath.Join(f.work, ".gitops", "deployment-policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := strings.Replace(string(pol), "      healthCheckTimeout: 60\n",
		"      healthCheckTimeout: 60\n      deploymentWindows:\n        - {dayOfWeek: Tuesday, startTime: \"09:00\", endTime: \"16:00\"}\n", 1)
	if p == string(pol) {
		t.Fatal("the sample policy's development block changed: update the test")
	}
	f.push("Development deploys on Tuesdays", map[string]string{".gitops/deployment-policy.yaml": p})
	hst, _ := time.LoadLocation("Pacific/Honolulu")
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, hst) // a Monday
	f.c.cfg.Now = func() time.Time { return now }
	if err := f.poll(); err != nil {
		t.Fatal(err)
	}
	first := f.latest("development")
	if first.State != Planning || first.Until == nil || !first.Until.Equal(time.Date(2026, 12, 8, 9, 0, 0, 0, hst)) {
		t.Fatalf("on Monday: %s until %v: %+v", states(first), first.Until, first.Transitions)
	}
	n := len(first.Transitions)
	if err := f.poll(); err != nil {
		t.Fatal(err)
	}
	if got := f.latest("development"); len(got.Transitions) != n {
		t.Errorf("a poll with nothing new judged the waiting deployment again: %s", states(got))
	}
	second := f.push("Add bike lanes", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	if err := f.poll(); err != nil {
		t.Fatal(err)
	}
	rec, _ := f.store.Load("development")
	if d := rec.Get(first.ID); d.State != Superseded {
		t.Errorf("the older waiting deployment: %s, want Superseded", states(*d))
	}
	now = time.Date(2026, 12, 8, 10, 0, 0, 0, hst) // Tuesday, inside the window
	if err := f.poll(); err != nil {
		t.Fatal(err)
	}
	if d := f.latest("development"); d.SHA != second || d.State != Completed {
		t.Errorf("on Tuesday: %s %s", d.SHA[:7], states(d))
	}
}

// TestControllerNotifies: the policy's notifications go out once per
// event: staging's approval required (to Slack, with the command that
// approves), development's failure rolled back; polling again sends
// nothing more (the store's ledger).
func TestControllerNotifies(t *testing.T) {
	slack := notifytest.NewSlack(t)
	f := newFixture(t)
	secrets := slack.Secrets(func(name string) (string, bool) { return "s3cret-" + strings.ToLower(name), true })
	n, err := notify.New(notify.Options{Secrets: secrets, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	f.c.cfg.Notifier, f.c.cfg.Secrets = n, secrets
	if err := f.poll(); err != nil { // first deployment; staging waits
		t.Fatal(err)
	}
	f.honua["development"].FailCollection("transportation::bike-lanes", -1)
	f.push("Add bike lanes", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	for range 2 {
		if err := f.poll(); err != nil {
			t.Fatal(err)
		}
	}
	n.Wait()
	got := slack.Messages()
	var approval, failed int
	for _, m := range got {
		if strings.Contains(m, "honua-gitops deployment approve staging-") {
			approval++
		}
		if strings.Contains(m, "development") && strings.Contains(strings.ToLower(m), "rolled back") {
			failed++
		}
	}
	// staging: one approval-required per deployment (two commits, two
	// deployments); development: one failure, rolled back.
	if approval != 2 || failed != 1 {
		t.Errorf("%d approval-required and %d rolled-back messages, want 2 and 1:\n%s", approval, failed, strings.Join(got, "\n"))
	}
}
