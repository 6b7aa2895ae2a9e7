package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeClock is a clock whose Sleep advances it at once.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return ctx.Err()
}

// syncBuffer is a log sink for concurrent deliveries.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	n     *Notifier
	clock *fakeClock
	logs  *syncBuffer
	reg   *prometheus.Registry
}

// newHarness is a Notifier with a fake clock, a debug log captured, a
// registry of its own and secrets from m.
func newHarness(t *testing.T, m map[string]string, tweak func(*Options)) *harness {
	t.Helper()
	h := &harness{clock: newFakeClock(), logs: &syncBuffer{}, reg: prometheus.NewRegistry()}
	o := Options{
		Secrets:    func(name string) (string, bool) { v, ok := m[name]; return v, ok },
		Sleep:      h.clock.Sleep,
		Now:        h.clock.Now,
		Logger:     slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: h.reg,
	}
	if tweak != nil {
		tweak(&o)
	}
	n, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	h.n = n
	return h
}

// request is one request a receiver got.
type request struct {
	Header http.Header
	Body   []byte
}

// receiver is an httptest server that records requests and answers with
// the next status of statuses (200 once they run out, or always the last
// when sticky).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	reqs     []request
	statuses []int
	sticky   bool
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, request{Header: req.Header.Clone(), Body: body})
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status = r.statuses[0]
			if len(r.statuses) > 1 || !r.sticky {
				r.statuses = r.statuses[1:]
			}
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write([]byte("answer for " + req.URL.Path))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

// decode reads a JSON object.
func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, b)
	}
	return m
}

func sampleEvent(k Kind) Event {
	return Event{
		Kind: k, Repo: "kailua-gis/config", Env: "production",
		SHA: "8f14e45fceea167a5a36dedd4bea2543a1b2c3d4", DeploymentID: "dep-42",
		PR: 12, PRURL: "https://github.com/kailua-gis/config/pull/12",
		URL: "https://github.com/kailua-gis/config/actions/runs/7", Who: "lkeawe",
		Summary: "2 to add, 1 to change (1 breaking)",
		At:      time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC),
	}
}

func mustParse(t *testing.T, raw map[string]any) Config {
	t.Helper()
	cfg, err := ParseConfig(".gitops/deployment-policy.yaml", raw)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func list(targets ...map[string]any) []any {
	out := make([]any, len(targets))
	for i, t := range targets {
		out[i] = t
	}
	return out
}
