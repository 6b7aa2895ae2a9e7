// Package demo plays honua-gitops end to end on one machine: the GitHub
// emulator, the GitHub App, a Honua stand-in and a runner per environment,
// all on loopback, and a pull-request story told as a timeline of what a
// user would see in GitHub. `honua-gitops demo` is its command.
package demo

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/honua-io/honua-gitops/app"
	"github.com/honua-io/honua-gitops/internal/githubsim"
	"github.com/honua-io/honua-gitops/internal/honuasim"
	"github.com/honua-io/honua-gitops/notify"
	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/apply"
	"github.com/honua-io/honua-gitops/reconciler/mirror"
	"github.com/honua-io/honua-gitops/reconciler/order"
	"github.com/honua-io/honua-gitops/reconciler/runner"
	"github.com/honua-io/honua-gitops/samples"
)

// Repo is the demo's config repository on the emulator.
const Repo = "kailua-gis/config"

// Environments are the environments of the sample repository, in
// promotion order.
var Environments = []string{"development", "staging", "production"}

// Options configure Run.
type Options struct {
	// Out receives the timeline (os.Stdout when nil).
	Out io.Writer
	// KeepRunning leaves everything up after the story, prints the URLs
	// and example requests, and returns when ctx ends.
	KeepRunning bool
	// LogPath receives the components' logs (App, runners, emulator
	// errors); a file in the demo's temporary directory when empty.
	LogPath string
	// SimLogPath records every exchange with the emulator as JSON lines
	// (githubsim's Options.LogPath); empty: HONUA_GITOPS_SIM_LOG.
	SimLogPath string
	// Approvals is production's approval mode: "app" (the default: the
	// Approve button) or "github-environment" (GitHub's Review
	// deployments dialog on the gate workflow).
	Approvals string
}

// Run starts everything, plays the story and cleans up.
func Run(ctx context.Context, o Options) (err error) {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	d, err := start(ctx, o)
	if d != nil {
		defer d.close()
	}
	if err != nil {
		return err
	}
	if err := d.story(); err != nil {
		return fmt.Errorf("demo: %w (component logs: %s)", err, d.logPath)
	}
	if o.KeepRunning {
		d.keepRunning()
	}
	return nil
}

// demo is everything running, and the story's state.
type demo struct {
	ctx     context.Context
	cancel  context.CancelFunc
	o       Options
	out     io.Writer
	dir     string
	logPath string
	logFile *os.File
	logger  *slog.Logger

	sim     *githubsim.Server
	svc     *app.Service
	appURL  string
	appDone chan error
	clients *app.Clients
	inst    int64
	key     ed25519.PrivateKey
	honua   map[string]*honuasim.Server
	live    map[string]string // environment -> live metadata path
	runners map[string]*runner.Runner
	mirrors []*mirror.Mirror
	step    int
	started time.Time

	// slack is a local stand-in for Slack's incoming webhooks: the policy's
	// Slack notifications land there and the timeline shows them.
	slack     *http.Server
	slackURL  string
	slackMu   sync.Mutex
	slackMsgs []string
	slackSeen int
	notifier  *notify.Notifier
}

// secret is the demo's ${NAME} secrets: Slack's webhook is the local
// receiver; everything else a placeholder.
func (d *demo) secret(name string) (string, bool) {
	if name == "SLACK_WEBHOOK_URL" {
		return d.slackURL, true
	}
	return "demo-secret", true
}

// startSlack starts the local Slack receiver.
func (d *demo) startSlack() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	d.slackURL = "http://" + ln.Addr().String() + "/services/TDEMO/BDEMO/demo"
	d.slack = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Text    string `json:"text"`
			Channel string `json:"channel"`
		}
		_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m)
		d.slackMu.Lock()
		d.slackMsgs = append(d.slackMsgs, strings.TrimSpace(m.Channel+" "+m.Text))
		d.slackMu.Unlock()
		_, _ = w.Write([]byte("ok"))
	})}
	go func() { _ = d.slack.Serve(ln) }()
	return nil
}

func start(parent context.Context, o Options) (*demo, error) {
	ctx, cancel := context.WithCancel(parent)
	d := &demo{ctx: ctx, cancel: cancel, o: o, out: o.Out, honua: map[string]*honuasim.Server{},
		live: map[string]string{}, runners: map[string]*runner.Runner{}, started: time.Now()}
	var err error
	if d.dir, err = os.MkdirTemp("", "honua-gitops-demo-"); err != nil {
		return d, err
	}
	d.logPath = o.LogPath
	if d.logPath == "" {
		d.logPath = filepath.Join(d.dir, "components.log")
	}
	if d.logFile, err = os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return d, err
	}
	d.logger = slog.New(slog.NewTextHandler(d.logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))

	if err := d.startSlack(); err != nil {
		return d, err
	}
	// The App listens first: the emulator sends its webhooks there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return d, err
	}
	d.appURL = "http://" + ln.Addr().String()
	secret := randomHex(16)
	d.sim, err = githubsim.NewServer(githubsim.Options{
		Addr: "127.0.0.1:0", WebhookURL: d.appURL + app.WebhookPath, WebhookSecret: secret,
		LogPath: o.SimLogPath,
	})
	if err != nil {
		ln.Close()
		return d, fmt.Errorf("starting the GitHub emulator: %w", err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(d.sim.AppKey())})
	if _, d.key, err = ed25519.GenerateKey(rand.Reader); err != nil {
		ln.Close()
		return d, err
	}
	sweep := time.Duration(0) // the story drives everything itself
	if o.KeepRunning {
		sweep = time.Minute
	}
	d.svc, err = app.NewService(app.ServiceConfig{
		GitHubURL: d.sim.URL(), GitURL: d.sim.CloneURL, AppID: d.sim.AppID(), PrivateKey: pemKey,
		WebhookSecrets: [][]byte{[]byte(secret)}, SigningKey: d.key, DataDir: filepath.Join(d.dir, "app"),
		Workers: 4, QueueSize: 256, SweepInterval: sweep, Logger: d.logger.With("component", "app"),
		Notify: &notify.Options{Secrets: d.secret, Logger: d.logger.With("component", "app-notify")},
	})
	if err != nil {
		ln.Close()
		return d, fmt.Errorf("starting the App: %w", err)
	}
	d.appDone = make(chan error, 1)
	go func() { d.appDone <- d.svc.Run(ctx, ln, 10*time.Second) }()
	// The App learns its bot login from GitHub as it starts (its own events
	// are then ignored); wait for that before anything happens.
	if err := d.waitFor(10*time.Second, func() bool { return d.sim.RouteCounter("GET /app").Calls > 0 }); err != nil {
		return d, errors.New("the App did not ask GitHub who it is")
	}
	time.Sleep(100 * time.Millisecond)

	// A second set of App credentials, for the runners (as `honua-gitops
	// runner --app-id --private-key-file` would have).
	d.clients, err = app.NewClients(app.ClientsConfig{BaseURL: d.sim.URL(), AppID: d.sim.AppID(), PrivateKey: pemKey,
		Transport: app.NewTransport(nil, app.TransportOptions{Logger: d.logger.With("component", "runner-transport")})})
	if err != nil {
		return d, err
	}
	return d, nil
}

func (d *demo) close() {
	d.cancel()
	if d.notifier != nil {
		d.notifier.Close()
	}
	if d.slack != nil {
		_ = d.slack.Close()
	}
	if d.appDone != nil {
		select {
		case <-d.appDone:
		case <-time.After(15 * time.Second):
		}
	}
	for _, m := range d.mirrors {
		_ = m.Close()
	}
	for _, h := range d.honua {
		h.Close()
	}
	if d.sim != nil {
		d.sim.Close()
	}
	if d.logFile != nil {
		_ = d.logFile.Close()
	}
	if d.dir != "" {
		_ = os.RemoveAll(d.dir)
	}
}

func (d *demo) waitFor(limit time.Duration, ok func() bool) error {
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		if err := d.ctx.Err(); err != nil {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// setup creates the repository, the people and the environments (as
// app/e2e_test.go's newE2E), a Honua stand-in and a runner per environment.
func (d *demo) setup() error {
	d.inst = d.sim.Install("kailua-gis")
	src := filepath.Join(d.dir, "samples", "config")
	if err := writeSample("config", src); err != nil {
		return err
	}
	if d.o.Approvals == policy.ApprovalsGitHubEnvironment {
		// Production is approved in GitHub's dialog: the gate workflow and
		// the policy's approvals line go in with the repository.
		pol := filepath.Join(src, ".gitops", "deployment-policy.yaml")
		b, err := os.ReadFile(pol)
		if err != nil {
			return err
		}
		text := strings.Replace(string(b), "  production:\n", "  production:\n    approvals: github-environment\n", 1)
		if err := os.WriteFile(pol, []byte(text), 0o644); err != nil {
			return err
		}
		wf := filepath.Join(src, filepath.FromSlash(app.GateWorkflowPath))
		if err := os.MkdirAll(filepath.Dir(wf), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(wf, app.GateWorkflow, 0o644); err != nil {
			return err
		}
	}
	if _, err := d.sim.CreateRepo(d.ctx, Repo, "main", src); err != nil {
		return err
	}
	for _, c := range []struct{ login, perm string }{
		{"ana", githubsim.PermWrite}, {"bob", githubsim.PermWrite}, {"lkeawe", githubsim.PermWrite},
		{"mkalani", githubsim.PermAdmin}, {"kai", githubsim.PermWrite}, {"reader", githubsim.PermRead},
	} {
		if err := d.sim.SetCollaborator(Repo, c.login, c.perm); err != nil {
			return err
		}
	}
	d.sim.SetTeam("kailua-gis", "gis-engineers", "ana", "bob")
	d.sim.SetTeam("kailua-gis", "gis-leads", "kai")
	d.sim.SetTeam("kailua-gis", "platform", "mkalani")
	for _, env := range []githubsim.Environment{
		{Name: "development"},
		{Name: "staging", Reviewers: []githubsim.Reviewer{{Type: "Team", Name: "kailua-gis/gis-engineers"}, {Type: "Team", Name: "kailua-gis/gis-leads"}}},
		{Name: "production", PreventSelfReview: true, Reviewers: []githubsim.Reviewer{{Type: "Team", Name: "kailua-gis/gis-leads"}, {Type: "User", Name: "lkeawe"}}},
	} {
		if err := d.sim.SetEnvironment(Repo, env); err != nil {
			return err
		}
	}

	gh, err := d.clients.Installation(d.ctx, d.inst)
	if err != nil {
		return err
	}
	for _, env := range Environments {
		live := filepath.Join(d.dir, "honua-"+env, "metadata.json")
		if err := os.MkdirAll(filepath.Dir(live), 0o700); err != nil {
			return err
		}
		h, err := honuasim.NewServer(honuasim.Options{MetadataPath: live, Addr: "127.0.0.1:0"})
		if err != nil {
			return fmt.Errorf("starting the Honua stand-in for %s: %w", env, err)
		}
		d.honua[env], d.live[env] = h, live
		m, err := mirror.New(mirror.Config{Dir: filepath.Join(d.dir, "runner-"+env, "git"), GitURL: d.sim.CloneURL, Logger: d.logger.With("component", "runner-"+env)})
		if err != nil {
			return err
		}
		d.mirrors = append(d.mirrors, m)
		inst := d.inst
		if d.notifier == nil {
			if d.notifier, err = notify.New(notify.Options{Secrets: d.secret, Logger: d.logger.With("component", "runner-notify")}); err != nil {
				return err
			}
		}
		r, err := runner.New(runner.Config{
			Repo: Repo, GitHub: gh, Mirror: m, AppBot: d.sim.BotLogin(), Notifier: d.notifier,
			Token:   func(ctx context.Context) (string, error) { return d.clients.Token(ctx, inst) },
			Keys:    order.Keys(d.key.Public().(ed25519.PublicKey)),
			Secrets: func(string) (string, bool) { return "demo-secret", true },
			ID:      "kailua-" + env, Logger: d.logger.With("component", "runner-"+env),
			Environments: []runner.Environment{{
				Name: env, URL: h.URL(), RollbackOnFailure: true,
				// The policy gives post-validation a minute or more; the
				// demo's stand-in answers at once, so a few seconds do.
				HealthTimeout: 3 * time.Second,
				Applier: &apply.Applier{MetadataPath: live, StateDir: filepath.Join(d.dir, "runner-"+env, "state"),
					Honua: &runner.HonuaClient{BaseURL: h.URL()}, Logger: d.logger.With("component", "apply-"+env)},
			}},
		})
		if err != nil {
			return err
		}
		d.runners[env] = r
	}
	return nil
}

// writeSample writes the embedded sample repository name to dir.
func writeSample(name, dir string) error {
	fsys, err := samples.FS(name)
	if err != nil {
		return err
	}
	return fs.WalkDir(fsys, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		if e.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

// sampleChanges are the files of samples/config-next that differ from
// samples/config: the sample pull request.
func sampleChanges() ([]githubsim.FileChange, error) {
	base, err := samples.FS("config")
	if err != nil {
		return nil, err
	}
	next, err := samples.FS("config-next")
	if err != nil {
		return nil, err
	}
	var out []githubsim.FileChange
	err = fs.WalkDir(next, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(next, p)
		if err != nil {
			return err
		}
		if old, err := fs.ReadFile(base, p); err == nil && bytes.Equal(old, b) {
			return nil
		}
		out = append(out, githubsim.FileChange{Path: p, Content: b})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

// settle waits until every webhook was delivered and the App handled it,
// then lets every runner poll once, and settles again.
func (d *demo) settle() error {
	if err := d.flush(); err != nil {
		return err
	}
	for _, env := range Environments {
		if err := d.runners[env].Poll(d.ctx); err != nil {
			return fmt.Errorf("runner %s: %w", env, err)
		}
	}
	return d.flush()
}

func (d *demo) flush() error {
	for range 3 {
		if err := d.sim.FlushWebhooks(d.ctx); err != nil {
			return err
		}
		d.svc.WaitIdle()
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// keepRunning prints where everything is and waits for ctx; the runners
// poll and the App sweeps meanwhile.
func (d *demo) keepRunning() {
	for _, env := range Environments {
		r := d.runners[env]
		go func() { _ = r.Run(d.ctx, 2*time.Second) }()
	}
	p := d.printf
	p("\n== Still running (Ctrl-C stops and removes everything) ==\n")
	p("  GitHub emulator API   %s   (repository %s, clone %s)\n", d.sim.APIURL(), Repo, d.sim.CloneURL(Repo))
	p("  App webhook           %s%s   (health %s/healthz)\n", d.appURL, app.WebhookPath, d.appURL)
	for _, env := range Environments {
		p("  Honua %-12s    %s   (live document %s)\n", env, d.honua[env].URL(), d.live[env])
	}
	p("  component logs        %s\n", d.logPath)
	p("\n  Try:\n")
	p("    curl -s %s/ogc/collections | head -c 600\n", d.honua["development"].URL())
	p("    curl -s '%s/ogc/collections/transportation::bike-lanes'\n", d.honua["staging"].URL())
	p("    curl -s '%s/ogc/collections/transportation::bike-lanes/items?limit=2'\n", d.honua["development"].URL())
	p("    curl -s %s/healthz/ready\n", d.honua["production"].URL())
	p("    curl -s %s/readyz\n", d.appURL)
	<-d.ctx.Done()
	p("\nStopping.\n")
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

// getJSON fetches url and decodes a JSON object.
func getJSON(ctx context.Context, url string) (int, map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&m)
	return resp.StatusCode, m, nil
}
