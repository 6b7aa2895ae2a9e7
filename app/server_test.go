package app

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of workers'
// loggers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const testSecret = "test-webhook-secret"

// newTestServer builds a Server logging to the returned buffer. The test
// shuts it down at the end if it did not.
func newTestServer(t testing.TB, cfg ServerConfig) (*Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	if cfg.WebhookSecrets == nil {
		cfg.WebhookSecrets = [][]byte{[]byte(testSecret)}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s, logs
}

func slogDiscard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// delivery is one webhook request as GitHub sends it.
type delivery struct {
	event, id   string
	body        []byte
	signature   string // "" = signed with testSecret; "-" = no header
	contentType string
}

func (d delivery) request() *http.Request {
	r := httptest.NewRequest(http.MethodPost, WebhookPath, bytes.NewReader(d.body))
	ct := d.contentType
	if ct == "" {
		ct = "application/json"
	}
	r.Header.Set("Content-Type", ct)
	r.Header.Set("User-Agent", "GitHub-Hookshot/test")
	if d.event != "" {
		r.Header.Set(headerEvent, d.event)
	}
	if d.id != "" {
		r.Header.Set(headerDelivery, d.id)
	}
	switch d.signature {
	case "":
		r.Header.Set(headerSignature, sign([]byte(testSecret), d.body))
	case "-":
	default:
		r.Header.Set(headerSignature, d.signature)
	}
	return r
}

func deliver(t testing.TB, h http.Handler, d delivery) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, d.request())
	return w
}

// recorder is a handler that records the events it is given.
type recorder struct {
	mu     sync.Mutex
	events []Event
	fn     func(ctx context.Context, ev Event) error // optional behaviour
}

func (r *recorder) Handle(ctx context.Context, ev Event) error {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	if r.fn != nil {
		return r.fn(ctx, ev)
	}
	return nil
}

func (r *recorder) got() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

func (r *recorder) ids() []string {
	var out []string
	for _, ev := range r.got() {
		out = append(out, ev.DeliveryID)
	}
	return out
}

func webhookCount(s *Server, event, result string) float64 {
	return metricValue(s.metrics.webhooks.WithLabelValues(event, result))
}

func shutdown(t testing.TB, s *Server) {
	t.Helper()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

const pingBody = `{"zen":"Keep it logically awesome.","hook_id":1,"sender":{"login":"alice","type":"User"}}`

func TestNewServerRefusesMissingSecrets(t *testing.T) {
	for name, secrets := range map[string][][]byte{
		"none":         nil,
		"empty list":   {},
		"empty one":    {[]byte("")},
		"second empty": {[]byte("s"), nil},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewServer(ServerConfig{WebhookSecrets: secrets})
			if !errors.Is(err, ErrNoWebhookSecret) {
				t.Fatalf("NewServer: err = %v, want ErrNoWebhookSecret", err)
			}
		})
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	s, _ := newTestServer(t, ServerConfig{})
	h := s.Router()
	get := func(path string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w.Code, w.Body.String()
	}
	if code, _ := get(HealthPath); code != http.StatusOK {
		t.Errorf("healthz before Start = %d, want 200", code)
	}
	if code, _ := get(ReadyPath); code != http.StatusServiceUnavailable {
		t.Errorf("readyz before Start = %d, want 503", code)
	}
	s.Start()
	if code, _ := get(ReadyPath); code != http.StatusOK {
		t.Errorf("readyz after Start = %d, want 200", code)
	}
	deliver(t, h, delivery{event: "ping", id: "m-1", body: []byte(pingBody)})
	code, body := get(MetricsPath)
	if code != http.StatusOK || !strings.Contains(body, `honua_gitops_webhooks_total{event="ping",result="unhandled"} 1`) {
		t.Errorf("metrics = %d, want the ping counted:\n%s", code, body)
	}
	if !strings.Contains(body, "honua_gitops_queue_capacity 256") {
		t.Errorf("metrics lack the queue capacity:\n%s", body)
	}
	shutdown(t, s)
	if code, _ := get(ReadyPath); code != http.StatusServiceUnavailable {
		t.Errorf("readyz while draining = %d, want 503", code)
	}
	if code, _ := get(HealthPath); code != http.StatusOK {
		t.Errorf("healthz after Shutdown = %d, want 200 (the process is up)", code)
	}
	if w := deliver(t, h, delivery{event: "ping", id: "m-2", body: []byte(pingBody)}); w.Code != http.StatusServiceUnavailable {
		t.Errorf("webhook after Shutdown = %d, want 503", w.Code)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, WebhookPath, nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET %s = %d, want 405", WebhookPath, w.Code)
	}
}

// TestGracefulDrain: Shutdown refuses new deliveries at once and returns
// only once the queued ones ran.
func TestGracefulDrain(t *testing.T) {
	s, _ := newTestServer(t, ServerConfig{Workers: 1, QueueSize: 8})
	started := make(chan string, 8)
	release := make(chan struct{})
	rec := &recorder{fn: func(ctx context.Context, ev Event) error {
		started <- ev.DeliveryID
		<-release
		return nil
	}}
	s.Handle("ping", rec)
	s.Start()
	h := s.Router()
	for _, id := range []string{"d-1", "d-2", "d-3"} {
		if w := deliver(t, h, delivery{event: "ping", id: id, body: []byte(pingBody)}); w.Code != http.StatusAccepted {
			t.Fatalf("%s: status %d, want 202", id, w.Code)
		}
		if id == "d-1" {
			<-started // the worker holds d-1; d-2 and d-3 wait on the queue
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Shutdown(context.Background()) }()
	for !s.draining.Load() {
		runtime.Gosched()
	}
	if w := deliver(t, h, delivery{event: "ping", id: "d-4", body: []byte(pingBody)}); w.Code != http.StatusServiceUnavailable {
		t.Errorf("delivery while draining: status %d, want 503", w.Code)
	}
	close(release)
	if err := <-errc; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got, want := strings.Join(rec.ids(), ","), "d-1,d-2,d-3"; got != want {
		t.Errorf("handled %s, want %s", got, want)
	}
	if n := webhookCount(s, unverifiedEvent, resultDraining); n != 1 {
		t.Errorf("dropped_draining = %v, want 1", n)
	}
}

// TestHardShutdown: when the drain deadline passes, running handlers see
// their context cancelled and queued deliveries are dropped, counted and
// forgotten (a redelivery would be processed).
func TestHardShutdown(t *testing.T) {
	s, _ := newTestServer(t, ServerConfig{Workers: 1, QueueSize: 8})
	started := make(chan string, 8)
	rec := &recorder{fn: func(ctx context.Context, ev Event) error {
		started <- ev.DeliveryID
		<-ctx.Done()
		return ctx.Err()
	}}
	s.Handle("ping", rec)
	s.Start()
	h := s.Router()
	for _, id := range []string{"h-1", "h-2", "h-3"} {
		deliver(t, h, delivery{event: "ping", id: id, body: []byte(pingBody)})
		if id == "h-1" {
			<-started
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Shutdown(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown: err = %v, want context.Canceled", err)
	}
	if got := rec.ids(); len(got) != 1 || got[0] != "h-1" {
		t.Errorf("handled %v, want only h-1", got)
	}
	if n := metricValue(s.metrics.jobsDropped.WithLabelValues("shutdown")); n != 2 {
		t.Errorf("jobs dropped = %v, want 2", n)
	}
	if n := s.deliveries.len(); n != 0 {
		t.Errorf("%d delivery ids still remembered, want 0 (h-1 failed, h-2 and h-3 were dropped)", n)
	}
}

// TestShutdownBeforeStart: deliveries queued before Start are dropped and
// counted when the Server is shut down without ever starting.
func TestShutdownBeforeStart(t *testing.T) {
	s, _ := newTestServer(t, ServerConfig{})
	rec := &recorder{}
	s.Handle("ping", rec)
	deliver(t, s.Router(), delivery{event: "ping", id: "b-1", body: []byte(pingBody)})
	shutdown(t, s)
	s.Start() // too late: does nothing
	if n := len(rec.got()); n != 0 {
		t.Errorf("handled %d, want 0", n)
	}
	if n := metricValue(s.metrics.jobsDropped.WithLabelValues("shutdown")); n != 1 {
		t.Errorf("jobs dropped = %v, want 1", n)
	}
}

func TestLoggerFrom(t *testing.T) {
	if LoggerFrom(context.Background()) != slog.Default() {
		t.Error("LoggerFrom(no logger) is not slog.Default()")
	}
	l := slog.New(slog.NewTextHandler(io.Discard, nil))
	if LoggerFrom(WithLogger(context.Background(), l)) != l {
		t.Error("LoggerFrom does not return the logger WithLogger stored")
	}
}

// TestServerWithEmulator runs the edge end to end: the emulator sends its
// signed webhooks to the real server over HTTP, the handlers call back with
// installation clients over the Transport; a redelivery is processed once,
// the App's own comment is ignored, and GitHub failing leaves the server
// ready while the handler errors are counted.
func TestServerWithEmulator(t *testing.T) {
	const secret = "emulator-webhook-secret"
	s, slogs := newTestServer(t, ServerConfig{WebhookSecrets: [][]byte{[]byte(secret)}, BotLogin: "honua-gitops[bot]"})
	defer func() {
		if t.Failed() {
			t.Logf("server log:\n%s", slogs.String())
		}
	}()
	ts := httptest.NewServer(s.Router())
	defer ts.Close()
	sim := githubsim.New(t, githubsim.Options{WebhookURL: ts.URL + WebhookPath, WebhookSecret: secret})
	sleeps := &sleepRecorder{} // the Transport's waits return at once
	tr := NewTransport(nil, TransportOptions{Sleep: sleeps.Sleep, Logger: slogDiscard(), Registry: s.Registry()})
	clients, err := NewClients(ClientsConfig{BaseURL: sim.URL(), AppID: sim.AppID(), PrivateKey: pemKey(sim.AppKey()), Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	if login, err := clients.BotLogin(context.Background()); err != nil || login != "honua-gitops[bot]" {
		t.Fatalf("BotLogin = %q, %v", login, err)
	}

	var mu sync.Mutex
	titles := map[string]string{} // delivery → PR title read back from GitHub
	comments := 0
	s.Handle("pull_request", HandlerFunc(func(ctx context.Context, ev Event) error {
		pr := ev.Payload.(*github.PullRequestEvent)
		gh, err := clients.Installation(ctx, ev.InstallationID)
		if err != nil {
			return err
		}
		owner, repo, _ := strings.Cut(ev.Repo, "/")
		got, _, err := gh.PullRequests.Get(ctx, owner, repo, pr.GetNumber())
		if err != nil {
			return fmt.Errorf("reading pull request %d: %w", pr.GetNumber(), err)
		}
		mu.Lock()
		titles[ev.DeliveryID] = got.GetTitle()
		mu.Unlock()
		return nil
	}))
	s.Handle("issue_comment", HandlerFunc(func(ctx context.Context, ev Event) error {
		mu.Lock()
		comments++
		mu.Unlock()
		return nil
	}))
	s.Start()

	ctx := context.Background()
	sim.Install("kailua")
	if _, err := sim.CreateRepo(ctx, "kailua/config", "main", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Push(ctx, "kailua/config", "bike-lanes", "alice", "Add bike lanes",
		githubsim.FileChange{Path: "layers/bike-lanes.yaml", Content: []byte("name: bike-lanes\n")}); err != nil {
		t.Fatal(err)
	}
	n, err := sim.OpenPR(ctx, "kailua/config", "bike-lanes", "", "alice", "Add bike lanes", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Comment("kailua/config", n, "bob", "/plan"); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Comment("kailua/config", n, "honua-gitops[bot]", "Plan: 1 layer added"); err != nil {
		t.Fatal(err)
	}
	if err := sim.FlushWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	opened := sim.DeliveriesOf("pull_request", "opened")
	if len(opened) != 1 {
		t.Fatalf("%d pull_request.opened deliveries, want 1", len(opened))
	}
	if err := sim.Redeliver(opened[0].ID); err != nil {
		t.Fatal(err)
	}
	// The handlers run after the acknowledgement: let them finish before
	// GitHub starts failing.
	if err := sim.FlushWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	s.waitIdle()

	// GitHub fails from now on: the handler's calls fail after their
	// retries, the server stays up and ready.
	sim.InjectFault("*", githubsim.Fault{Status: http.StatusBadGateway})
	if _, err := sim.Push(ctx, "kailua/config", "bike-lanes", "alice", "Fix bike lanes",
		githubsim.FileChange{Path: "layers/bike-lanes.yaml", Content: []byte("name: bike-lanes-2\n")}); err != nil {
		t.Fatal(err)
	}
	if err := sim.FlushWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range sim.Deliveries() {
		if d.StatusCode != http.StatusAccepted {
			t.Errorf("delivery %s (%s.%s): answered %d %s, want 202", d.ID, d.Event, d.Action, d.StatusCode, d.Err)
		}
	}
	w := httptest.NewRecorder()
	s.Router().ServeHTTP(w, httptest.NewRequest(http.MethodGet, ReadyPath, nil))
	if w.Code != http.StatusOK {
		t.Errorf("readyz with GitHub failing = %d, want 200", w.Code)
	}
	shutdown(t, s)

	if got := titles[opened[0].ID]; got != "Add bike lanes" {
		t.Errorf("title read back for the opened PR = %q, want %q", got, "Add bike lanes")
	}
	if len(titles) != 1 {
		t.Errorf("pull_request handled successfully %d times, want once (redelivery deduplicated, synchronize failed): %v", len(titles), titles)
	}
	if comments != 1 {
		t.Errorf("issue_comment handled %d times, want 1 (the bot's own comment ignored)", comments)
	}
	for _, c := range []struct {
		event, result string
		want          float64
	}{
		{"pull_request", resultAccepted, 2}, {"pull_request", resultDuplicate, 1},
		{"issue_comment", resultAccepted, 1}, {"issue_comment", resultIgnoredBot, 1},
	} {
		if n := webhookCount(s, c.event, c.result); n != c.want {
			t.Errorf("webhooks{%s,%s} = %v, want %v", c.event, c.result, n, c.want)
		}
	}
	if n := metricValue(s.metrics.handlerErrors.WithLabelValues("pull_request")); n != 1 {
		t.Errorf("pull_request handler errors = %v, want 1 (the synchronize while GitHub failed)", n)
	}
	if n := metricValue(tr.metrics.retries); n != DefaultMaxRetries {
		t.Errorf("API retries = %v, want %d", n, DefaultMaxRetries)
	}
}

// TestHandlerTimeout: HandlerTimeout bounds each handler's context.
func TestHandlerTimeout(t *testing.T) {
	s, _ := newTestServer(t, ServerConfig{HandlerTimeout: time.Hour})
	var hasDeadline bool
	s.Handle("ping", HandlerFunc(func(ctx context.Context, ev Event) error {
		_, hasDeadline = ctx.Deadline()
		return nil
	}))
	s.Start()
	deliver(t, s.Router(), delivery{event: "ping", id: "t-1", body: []byte(pingBody)})
	shutdown(t, s)
	if !hasDeadline {
		t.Error("the handler's context has no deadline")
	}
}

// TestBotLoginLearnedLater: a server that learns the App's bot login after
// it started ignores the bot's deliveries from then on (logins compare
// ignoring case), except deployment statuses, which a runner may report with
// the App's identity.
func TestBotLoginLearnedLater(t *testing.T) {
	s, _ := newTestServer(t, ServerConfig{Workers: 1})
	rec := &recorder{}
	s.Handle("ping", rec)
	s.Handle("deployment_status", rec)
	s.Start()
	bot := []byte(`{"zen":"z","hook_id":1,"sender":{"login":"Honua-GitOps[bot]","type":"Bot"}}`)
	status := []byte(`{"action":"created","deployment_status":{"id":1,"state":"success"},"sender":{"login":"honua-gitops[bot]","type":"Bot"}}`)
	deliver(t, s.Router(), delivery{event: "ping", id: "before", body: bot})
	s.SetBotLogin("honua-gitops[bot]")
	for _, d := range []delivery{
		{event: "ping", id: "after", body: bot},
		{event: "deployment_status", id: "status", body: status},
	} {
		if w := deliver(t, s.Router(), d); w.Code != http.StatusAccepted {
			t.Fatalf("%s: status %d", d.id, w.Code)
		}
	}
	shutdown(t, s)
	if got, want := strings.Join(rec.ids(), ","), "before,status"; got != want {
		t.Errorf("handled %s, want %s", got, want)
	}
}
