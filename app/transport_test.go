package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v66/github"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// sleepRecorder is the Transport's injected sleep: it records what was
// asked and moves the manual clock instead of waiting.
type sleepRecorder struct {
	mu     sync.Mutex
	slept  []time.Duration
	clock  *githubsim.ManualClock
	onCall func(ctx context.Context) error // optional: replaces the clock move
}

func (s *sleepRecorder) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.slept = append(s.slept, d)
	s.mu.Unlock()
	if s.onCall != nil {
		return s.onCall(ctx)
	}
	if s.clock != nil {
		s.clock.Advance(d)
	}
	return nil
}

func (s *sleepRecorder) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.slept...)
}

// simFixture is the emulator with one installation and one repository, and
// an installation client whose HTTP goes through a Transport.
type simFixture struct {
	sim    *githubsim.Server
	clock  *githubsim.ManualClock
	start  time.Time
	inst   int64
	tr     *Transport
	itr    *ghinstallation.Transport
	gh     *github.Client
	sleeps *sleepRecorder
	reg    *prometheus.Registry
	logs   *syncBuffer
}

const (
	simOwner = "kailua"
	simRepo  = "config"
	repoGET  = "GET /repos/{owner}/{repo}"
)

func newSimFixture(t *testing.T, opts TransportOptions) *simFixture {
	t.Helper()
	// A manual clock for the emulator's token expiry and rate-limit windows,
	// started on a whole second so resets compare exactly.
	start := time.Now().Truncate(time.Second)
	clock := githubsim.NewManualClock(start)
	// Tokens live two hours, so that waiting for the end of an hour's
	// rate-limit window (which the emulator opens with the token's first
	// request) does not also outlive the token.
	sim := githubsim.New(t, githubsim.Options{Clock: clock, TokenTTL: 2 * time.Hour})
	inst := sim.Install(simOwner)
	if _, err := sim.CreateRepo(context.Background(), simOwner+"/"+simRepo, "main", ""); err != nil {
		t.Fatal(err)
	}
	f := &simFixture{sim: sim, clock: clock, start: start, inst: inst, sleeps: &sleepRecorder{clock: clock},
		reg: prometheus.NewRegistry(), logs: &syncBuffer{}}
	if opts.Sleep == nil {
		opts.Sleep = f.sleeps.Sleep
	}
	opts.Now = clock.Now
	if opts.Jitter == nil {
		opts.Jitter = func() float64 { return 0 }
	}
	opts.Registry = f.reg
	opts.Logger = slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.tr = NewTransport(http.DefaultTransport, opts)
	atr := ghinstallation.NewAppsTransportFromPrivateKey(f.tr, sim.AppID(), sim.AppKey())
	atr.BaseURL = sim.URL()
	f.itr = ghinstallation.NewFromAppsTransport(atr, inst)
	f.itr.BaseURL = sim.URL()
	gh, err := github.NewClient(&http.Client{Transport: f.itr}).WithEnterpriseURLs(sim.APIURL(), sim.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	f.gh = gh
	return f
}

func (f *simFixture) getRepo(ctx context.Context) (*github.Repository, *github.Response, error) {
	return f.gh.Repositories.Get(ctx, simOwner, simRepo)
}

// TestTransportConditionalGET: the second GET is a conditional request the
// emulator answers 304 (free against the primary limit), served to
// go-github from the cache as the 200 it remembers.
func TestTransportConditionalGET(t *testing.T) {
	f := newSimFixture(t, TransportOptions{})
	ctx := context.Background()
	first, resp1, err := f.getRepo(ctx)
	if err != nil {
		t.Fatalf("first GET: %v", err)
	}
	second, resp2, err := f.getRepo(ctx)
	if err != nil {
		t.Fatalf("second GET: %v (go-github must never see the 304)", err)
	}
	if first.GetFullName() != "kailua/config" || second.GetFullName() != first.GetFullName() || second.GetID() != first.GetID() {
		t.Errorf("cached answer %q (id %d), want %q (id %d)", second.GetFullName(), second.GetID(), first.GetFullName(), first.GetID())
	}
	if resp2.StatusCode != http.StatusOK || resp2.Header.Get("X-Honua-Cache") != "hit" {
		t.Errorf("second answer: %d, X-Honua-Cache %q; want 200 from the cache", resp2.StatusCode, resp2.Header.Get("X-Honua-Cache"))
	}
	c := f.sim.RouteCounter(repoGET)
	if c.Calls != 2 || c.NotModified != 1 || c.RateUnits != 1 {
		t.Errorf("emulator counted %+v, want 2 calls, 1 answered 304, 1 rate unit", c)
	}
	if resp2.Rate.Remaining != resp1.Rate.Remaining {
		t.Errorf("remaining after the 304 = %d, want %d (a 304 is free, and its headers are current)", resp2.Rate.Remaining, resp1.Rate.Remaining)
	}
	if n := metricValue(f.tr.metrics.cacheHits.WithLabelValues("/repos/{owner}/{repo}")); n != 1 {
		t.Errorf("cache hits = %v, want 1", n)
	}
	if n := metricValue(f.tr.metrics.remaining.WithLabelValues("core")); n != float64(resp2.Rate.Remaining) {
		t.Errorf("remaining gauge = %v, want %d", n, resp2.Rate.Remaining)
	}

	// ETags are per token: a client with another token does not send the
	// first one's ETag, and pays for its answer.
	tok, _, err := f.sim.IssueToken(f.inst)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := github.NewClient(&http.Client{Transport: f.tr}).WithAuthToken(tok).WithEnterpriseURLs(f.sim.APIURL(), f.sim.APIURL())
	if _, _, err := other.Repositories.Get(ctx, simOwner, simRepo); err != nil {
		t.Fatal(err)
	}
	if c := f.sim.RouteCounter(repoGET); c.NotModified != 1 || c.RateUnits != 2 {
		t.Errorf("after a GET with another token: %+v, want still 1 answered 304 and 2 rate units", c)
	}
	if n := metricValue(f.tr.metrics.cacheHits); n != 1 {
		t.Errorf("cache hits = %v, want 1", n)
	}
}

// TestTransportRetries5xx: a GET meeting 502s is retried with backoff and
// succeeds; beyond MaxRetries the 5xx reaches the caller.
func TestTransportRetries5xx(t *testing.T) {
	f := newSimFixture(t, TransportOptions{Jitter: func() float64 { return 0.5 }})
	ctx := context.Background()
	f.sim.InjectFault(repoGET, githubsim.Fault{Status: http.StatusBadGateway, Times: 2})
	repo, _, err := f.getRepo(ctx)
	if err != nil || repo.GetName() != simRepo {
		t.Fatalf("GET after two 502s: %v", err)
	}
	if c := f.sim.RouteCounter(repoGET); c.Faults != 2 {
		t.Errorf("faults served %d, want 2", c.Faults)
	}
	// 1 s then 2 s, each plus half of the 50% jitter.
	if got, want := f.sleeps.got(), []time.Duration{1250 * time.Millisecond, 2500 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("backoff %v, want %v", got, want)
	}
	if n := metricValue(f.tr.metrics.retries.WithLabelValues("GET", "/repos/{owner}/{repo}", "5xx")); n != 2 {
		t.Errorf("retries = %v, want 2", n)
	}
	if n := metricValue(f.tr.metrics.requests.WithLabelValues("GET", "/repos/{owner}/{repo}", "5xx")); n != 2 {
		t.Errorf("5xx exchanges = %v, want 2", n)
	}

	f.sim.ResetCounters()
	f.sim.InjectFault(repoGET, githubsim.Fault{Status: http.StatusServiceUnavailable, Times: 10})
	_, resp, err := f.getRepo(ctx)
	var er *github.ErrorResponse
	if !errors.As(err, &er) || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET with GitHub down: err %v, want the 503 as a *github.ErrorResponse", err)
	}
	if c := f.sim.RouteCounter(repoGET); c.Faults != 1+DefaultMaxRetries {
		t.Errorf("faults served %d, want %d (one try and MaxRetries retries)", c.Faults, 1+DefaultMaxRetries)
	}
}

// TestTransportPOSTNotRetried: a POST that met a 5xx or a dropped
// connection may have taken effect: it is not sent again.
func TestTransportPOSTNotRetried(t *testing.T) {
	f := newSimFixture(t, TransportOptions{})
	ctx := context.Background()
	const route = "POST /repos/{owner}/{repo}/issues/{issue_number}/comments"
	for _, fault := range []githubsim.Fault{{Status: http.StatusBadGateway, Times: 1}, {Reset: true, Times: 1}} {
		f.sim.ResetCounters()
		f.sim.InjectFault(route, fault)
		_, _, err := f.gh.Issues.CreateComment(ctx, simOwner, simRepo, 1, &github.IssueComment{Body: github.String("hello")})
		if err == nil {
			t.Fatalf("fault %+v: CreateComment succeeded, want the failure", fault)
		}
		if c := f.sim.RouteCounter(route); c.Faults != 1 || c.Calls > 1 {
			t.Errorf("fault %+v: %+v, want exactly one attempt", fault, c)
		}
	}
	if got := f.sleeps.got(); len(got) != 0 {
		t.Errorf("slept %v before giving up on a POST, want no retry", got)
	}
}

// failingDial fails the first n round trips as a refused dial would, then
// passes them on.
type failingDial struct {
	mu   sync.Mutex
	n    int
	seen []string
	next http.RoundTripper
}

func (d *failingDial) RoundTrip(r *http.Request) (*http.Response, error) {
	d.mu.Lock()
	d.seen = append(d.seen, r.Method)
	fail := d.n > 0
	d.n--
	d.mu.Unlock()
	if fail {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	return d.next.RoundTrip(r)
}

// TestTransportDialErrorRetried: a request whose connection was never
// established was not sent, so even a POST is retried, with its body.
func TestTransportDialErrorRetried(t *testing.T) {
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":1}`)
	}))
	defer srv.Close()
	base := &failingDial{n: 2, next: http.DefaultTransport}
	sleeps := &sleepRecorder{}
	tr := NewTransport(base, TransportOptions{Sleep: sleeps.Sleep, Jitter: func() float64 { return 0 }, Logger: slogDiscard()})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/repos/o/r/issues/1/comments", strings.NewReader(`{"body":"hi"}`))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("POST after two refused dials: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || gotBody != `{"body":"hi"}` {
		t.Errorf("got %d with body %q, want 201 and the replayed body", resp.StatusCode, gotBody)
	}
	if got, want := sleeps.got(), []time.Duration{time.Second, 2 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("backoff %v, want %v", got, want)
	}
	if n := metricValue(tr.metrics.retries.WithLabelValues("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "connection")); n != 2 {
		t.Errorf("connection retries = %v, want 2", n)
	}

	// A body that cannot be replayed is never sent twice.
	base.n = 1
	req, _ = http.NewRequest(http.MethodPut, srv.URL+"/repos/o/r/contents/a", io.NopCloser(strings.NewReader("x")))
	if _, err := tr.RoundTrip(req); err == nil {
		t.Error("PUT with a one-shot body retried after a dial error")
	}
}

// TestTransportPrimaryLimit: a primary limit (403 or 429 with remaining 0)
// that resets soon is waited for — retry-after first, else until
// x-ratelimit-reset — and the request retried.
func TestTransportPrimaryLimit(t *testing.T) {
	for _, kind := range []githubsim.RateLimitKind{githubsim.PrimaryLimit, githubsim.PrimaryLimit429} {
		t.Run(fmt.Sprint(kind), func(t *testing.T) {
			f := newSimFixture(t, TransportOptions{})
			ctx := context.Background()
			if _, _, err := f.getRepo(ctx); err != nil { // opens the token's hour window
				t.Fatal(err)
			}
			f.clock.Advance(59*time.Minute + 30*time.Second)
			f.sim.ForceRateLimit(repoGET, kind, 1, 0)
			if _, _, err := f.getRepo(ctx); err != nil {
				t.Fatalf("GET through a limit resetting in 30 s: %v", err)
			}
			// 30 s to x-ratelimit-reset, and a second of slack.
			if got, want := f.sleeps.got(), []time.Duration{31 * time.Second}; !slices.Equal(got, want) {
				t.Errorf("waited %v, want %v", got, want)
			}
			if n := metricValue(f.tr.metrics.rateLimitWaits.WithLabelValues(LimitPrimary)); n != 1 {
				t.Errorf("primary waits = %v, want 1", n)
			}
		})
	}
}

// TestTransportPrimaryLimitTooLong: a limit resetting in an hour fails the
// request at once with a *RateLimitError, and later requests fail without
// being sent until the reset.
func TestTransportPrimaryLimitTooLong(t *testing.T) {
	f := newSimFixture(t, TransportOptions{})
	ctx := context.Background()
	if _, _, err := f.getRepo(ctx); err != nil {
		t.Fatal(err)
	}
	f.sim.ForceRateLimit(repoGET, githubsim.PrimaryLimit429, 1, 0)
	_, _, err := f.getRepo(ctx)
	var rle *RateLimitError
	if !errors.As(err, &rle) {
		t.Fatalf("err = %v, want a *RateLimitError", err)
	}
	windowReset := f.start.Add(time.Hour)
	want := &RateLimitError{Kind: LimitPrimary, Resource: "core", Reset: windowReset.Add(resetSlack), Method: "GET", Route: "/repos/{owner}/{repo}"}
	if rle.Kind != want.Kind || rle.Resource != want.Resource || !rle.Reset.Equal(want.Reset) || rle.Route != want.Route || rle.Method != want.Method {
		t.Errorf("error %+v, want %+v", rle, want)
	}
	if got := f.sleeps.got(); len(got) != 0 {
		t.Errorf("waited %v for an hour-long limit, want no wait", got)
	}
	calls := f.sim.RouteCounter(repoGET).Calls
	if _, _, err := f.getRepo(ctx); !errors.As(err, &rle) {
		t.Fatalf("next GET: err = %v, want a *RateLimitError", err)
	}
	if c := f.sim.RouteCounter(repoGET).Calls; c != calls {
		t.Errorf("the next GET was sent (%d calls, want %d) though the limit is known to hold", c, calls)
	}
	if n := metricValue(f.tr.metrics.rateLimitErrs.WithLabelValues(LimitPrimary)); n != 2 {
		t.Errorf("primary rate-limit errors = %v, want 2", n)
	}
	// Once the window resets, requests flow again.
	f.clock.Set(windowReset.Add(2 * time.Second))
	if _, _, err := f.getRepo(ctx); err != nil {
		t.Errorf("GET after the reset: %v", err)
	}
}

// TestTransportSecondaryLimitRetryAfter: the emulator's secondary limit
// (403, documentation_url …secondary-rate-limits, retry-after) is waited
// for as long as retry-after says.
func TestTransportSecondaryLimitRetryAfter(t *testing.T) {
	f := newSimFixture(t, TransportOptions{})
	ctx := context.Background()
	f.sim.ForceRateLimit(repoGET, githubsim.SecondaryLimit, 1, 42*time.Second)
	if _, _, err := f.getRepo(ctx); err != nil {
		t.Fatalf("GET through a secondary limit: %v", err)
	}
	if got, want := f.sleeps.got(), []time.Duration{42 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waited %v, want %v", got, want)
	}
	if n := metricValue(f.tr.metrics.rateLimitWaits.WithLabelValues(LimitSecondary)); n != 1 {
		t.Errorf("secondary waits = %v, want 1", n)
	}
	// A retry-after beyond MaxWait fails at once.
	f.sim.ForceRateLimit(repoGET, githubsim.SecondaryLimit, 1, 10*time.Minute)
	_, _, err := f.getRepo(ctx)
	var rle *RateLimitError
	if !errors.As(err, &rle) || rle.Kind != LimitSecondary || !rle.Reset.Equal(f.clock.Now().Add(10*time.Minute)) {
		t.Errorf("err = %v, want a secondary *RateLimitError resetting in 10 min", err)
	}
	// Until then, requests with the same credential are not sent.
	calls := f.sim.RouteCounter(repoGET).Calls
	if _, _, err := f.getRepo(ctx); !errors.As(err, &rle) || rle.Kind != LimitSecondary {
		t.Errorf("next GET: err = %v, want a secondary *RateLimitError", err)
	}
	if c := f.sim.RouteCounter(repoGET).Calls; c != calls {
		t.Errorf("the next GET was sent during the secondary limit (%d calls, want %d)", c, calls)
	}
}

// TestTransportWaitBeyondDeadline: a wait the caller's deadline would cut
// short fails at once with the RateLimitError rather than the deadline.
func TestTransportWaitBeyondDeadline(t *testing.T) {
	f := newSimFixture(t, TransportOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // never reached: nothing waits
	defer cancel()
	f.sim.ForceRateLimit(repoGET, githubsim.SecondaryLimit, 1, 45*time.Second)
	_, _, err := f.getRepo(ctx)
	var rle *RateLimitError
	if !errors.As(err, &rle) || rle.Kind != LimitSecondary {
		t.Fatalf("err = %v, want a secondary *RateLimitError", err)
	}
	if got := f.sleeps.got(); len(got) != 0 {
		t.Errorf("waited %v, want no wait", got)
	}
}

// scripted is a GitHub stand-in answering from a script, for the answers
// the emulator does not give (secondary limits without retry-after, 403s
// that are not limits, no-store).
type scripted struct {
	mu      sync.Mutex
	answers []func(w http.ResponseWriter)
	calls   int
	inm     []string // If-None-Match of each request
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := s.calls
	s.calls++
	s.inm = append(s.inm, r.Header.Get("If-None-Match"))
	s.mu.Unlock()
	if i >= len(s.answers) {
		i = len(s.answers) - 1
	}
	s.answers[i](w)
}

func answer(status int, body string, headers ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

const (
	secondaryBody = `{"message":"You have exceeded a secondary rate limit.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`
	forbiddenBody = `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/repos/repos#get-a-repository"}`
	repoBody      = `{"id":1,"name":"config","full_name":"kailua/config"}`
)

func scriptedClient(t *testing.T, s *scripted, opts TransportOptions) (*github.Client, *Transport) {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	if opts.Logger == nil {
		opts.Logger = slogDiscard()
	}
	tr := NewTransport(http.DefaultTransport, opts)
	gh, err := github.NewClient(&http.Client{Transport: tr}).WithAuthToken("ghs_scripted").WithEnterpriseURLs(srv.URL+"/", srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	return gh, tr
}

// TestTransportSecondaryLimitBackoff: without retry-after, a secondary
// limit (403 with the documentation_url, or a bare 429) is waited for at
// least a minute, doubling, with jitter, within MaxWait.
func TestTransportSecondaryLimitBackoff(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limited func(w http.ResponseWriter)
	}{
		{"403 secondary", answer(http.StatusForbidden, secondaryBody)},
		{"429", answer(http.StatusTooManyRequests, `{"message":"Too many requests"}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{answers: []func(http.ResponseWriter){tc.limited, tc.limited, answer(200, repoBody)}}
			sleeps := &sleepRecorder{}
			gh, _ := scriptedClient(t, s, TransportOptions{MaxWait: 5 * time.Minute, Sleep: sleeps.Sleep, Jitter: func() float64 { return 0.5 }})
			if _, _, err := gh.Repositories.Get(context.Background(), "kailua", "config"); err != nil {
				t.Fatalf("GET through two secondary limits: %v", err)
			}
			// 60 s and 120 s, each plus half of the 25% jitter.
			if got, want := sleeps.got(), []time.Duration{67500 * time.Millisecond, 135 * time.Second}; !slices.Equal(got, want) {
				t.Errorf("waited %v, want %v", got, want)
			}

			// With the default MaxWait (60 s) the first wait is clamped to
			// it, and the second (120 s) is too long: an error at once.
			s = &scripted{answers: []func(http.ResponseWriter){tc.limited}}
			sleeps = &sleepRecorder{}
			gh, tr := scriptedClient(t, s, TransportOptions{Sleep: sleeps.Sleep, Jitter: func() float64 { return 0.5 }})
			_, _, err := gh.Repositories.Get(context.Background(), "kailua", "config")
			var rle *RateLimitError
			if !errors.As(err, &rle) || rle.Kind != LimitSecondary {
				t.Fatalf("err = %v, want a secondary *RateLimitError", err)
			}
			if got, want := sleeps.got(), []time.Duration{time.Minute}; !slices.Equal(got, want) {
				t.Errorf("waited %v, want %v", got, want)
			}
			if s.calls != 2 {
				t.Errorf("%d requests sent, want 2", s.calls)
			}
			if n := metricValue(tr.metrics.rateLimitErrs.WithLabelValues(LimitSecondary)); n != 1 {
				t.Errorf("secondary errors = %v, want 1", n)
			}
		})
	}
}

// TestTransportForbiddenIsNotALimit: a 403 that is not a rate limit reaches
// go-github untouched, body included.
func TestTransportForbiddenIsNotALimit(t *testing.T) {
	s := &scripted{answers: []func(http.ResponseWriter){answer(http.StatusForbidden, forbiddenBody, "X-RateLimit-Remaining", "4999", "X-RateLimit-Reset", "2000000000")}}
	sleeps := &sleepRecorder{}
	gh, _ := scriptedClient(t, s, TransportOptions{Sleep: sleeps.Sleep})
	_, _, err := gh.Repositories.Get(context.Background(), "kailua", "config")
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Message != "Resource not accessible by integration" {
		t.Fatalf("err = %v, want go-github's ErrorResponse with GitHub's message", err)
	}
	if s.calls != 1 || len(sleeps.got()) != 0 {
		t.Errorf("%d calls, slept %v: want one call and no wait", s.calls, sleeps.got())
	}
}

// TestTransportNoStore: an answer GitHub marks no-store is not cached, and
// no If-None-Match is sent for it.
func TestTransportNoStore(t *testing.T) {
	s := &scripted{answers: []func(http.ResponseWriter){answer(200, repoBody, "ETag", `W/"abc"`, "Cache-Control", "private, no-store")}}
	gh, tr := scriptedClient(t, s, TransportOptions{})
	for range 2 {
		if _, _, err := gh.Repositories.Get(context.Background(), "kailua", "config"); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(s.inm, []string{"", ""}) {
		t.Errorf("If-None-Match sent: %q, want none", s.inm)
	}
	if n, _ := tr.cache.stats(); n != 0 {
		t.Errorf("%d cache entries, want 0", n)
	}
}

// TestTransportContextCancelled: a cancelled context ends a wait at once
// with the context's error.
func TestTransportContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sleeping := make(chan struct{})
	blockUntilDone := func(ctx context.Context) error {
		close(sleeping)
		<-ctx.Done()
		return ctx.Err()
	}
	f := newSimFixture(t, TransportOptions{})
	f.sleeps.onCall = blockUntilDone
	f.sim.ForceRateLimit(repoGET, githubsim.SecondaryLimit, 1, 30*time.Second)
	errc := make(chan error, 1)
	go func() {
		_, _, err := f.getRepo(ctx)
		errc <- err
	}()
	<-sleeping
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}

	// The default sleep returns at once on a cancelled context, however
	// long the wait.
	if err := sleepContext(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleepContext(cancelled, 1h) = %v, want context.Canceled", err)
	}
}

// TestTransportNoCredentialsInOutput: neither the metrics nor the logs of
// a Transport carry a token.
func TestTransportNoCredentialsInOutput(t *testing.T) {
	f := newSimFixture(t, TransportOptions{})
	ctx := context.Background()
	f.sim.InjectFault(repoGET, githubsim.Fault{Status: 502, Times: 1})
	f.sim.ForceRateLimit(repoGET, githubsim.SecondaryLimit, 1, time.Second)
	for range 3 {
		if _, _, err := f.getRepo(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := f.itr.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	promhttp.HandlerFor(f.reg, promhttp.HandlerOpts{}).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	metrics := w.Body.String()
	if !strings.Contains(metrics, "honua_gitops_github_requests_total") {
		t.Fatalf("no request metrics:\n%s", metrics)
	}
	for name, out := range map[string]string{"metrics": metrics, "logs": f.logs.String()} {
		if strings.Contains(out, tok) || strings.Contains(out, "ghs_") || strings.Contains(out, "Bearer") {
			t.Errorf("%s carry a credential:\n%s", name, out)
		}
	}
}

func TestETagCacheBounds(t *testing.T) {
	entry := func(n int) *cacheEntry { return &cacheEntry{etag: "e", body: make([]byte, n)} }
	c := newETagCache(2, 1<<20)
	c.put("a", entry(1))
	c.put("b", entry(1))
	c.get("a") // a is now the most recent
	c.put("c", entry(1))
	if c.get("b") != nil || c.get("a") == nil || c.get("c") == nil {
		t.Error("the least recently used entry was not the one evicted")
	}
	c = newETagCache(100, 4000) // entries cost 1513 bytes: two fit
	c.put("a", entry(1000))
	c.put("b", entry(1000))
	if n, b := c.stats(); n != 2 || b > 4000 {
		t.Errorf("%d entries, %d bytes", n, b)
	}
	c.put("c", entry(1000)) // over the byte bound: a goes
	if n, b := c.stats(); n != 2 || b > 4000 || c.get("a") != nil {
		t.Errorf("after the third: %d entries, %d bytes, a kept: %v", n, b, c.get("a") != nil)
	}
	c.put("huge", entry(5000)) // larger than the whole cache: not stored
	if c.get("huge") != nil {
		t.Error("an entry larger than the cache was stored")
	}
	c.put("b", entry(10)) // replacing keeps the byte count right
	if n, b := c.stats(); n != 2 || b != int64(10+1000+2*(1+512)) {
		t.Errorf("after replacing b: %d entries, %d bytes", n, b)
	}
}

func TestCredentialID(t *testing.T) {
	jwt := "eyJhbGciOiJSUzI1NiJ9." + "eyJpc3MiOiIxMDAxIiwiaWF0IjoxfQ" + ".sig"
	for _, tc := range []struct{ auth, want string }{
		{"", "anonymous"},
		{"Bearer " + jwt, "app/1001"},
	} {
		if got := credentialID(tc.auth); got != tc.want {
			t.Errorf("credentialID(%q) = %q, want %q", tc.auth, got, tc.want)
		}
	}
	a, b := credentialID("token ghs_aaaa"), credentialID("token ghs_bbbb")
	if a == b || strings.Contains(a, "ghs_") || !strings.HasPrefix(a, "cred/") {
		t.Errorf("token digests %q and %q: want distinct digests without the token", a, b)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"30", 30 * time.Second, true},
		{"0", 0, true},
		{"-5", 0, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"soon", 0, false},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRouteTemplate(t *testing.T) {
	sha := strings.Repeat("ab12", 10)
	for _, tc := range []struct{ path, want string }{
		{"/", "/"},
		{"/app", "/app"},
		{"/api/v3/repos/kailua/config", "/repos/{owner}/{repo}"},
		{"/repos/kailua/config/pulls/7", "/repos/{owner}/{repo}/pulls/{pull_number}"},
		{"/repos/kailua/config/pulls/7/files", "/repos/{owner}/{repo}/pulls/{pull_number}/files"},
		{"/repos/kailua/config/issues/comments/99/reactions", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"},
		{"/repos/kailua/config/commits/" + sha + "/check-runs", "/repos/{owner}/{repo}/commits/{ref}/check-runs"},
		{"/repos/kailua/config/commits/feature/bike-lanes/check-runs", "/repos/{owner}/{repo}/commits/{ref}/check-runs"},
		{"/repos/kailua/config/branches/feature/bike-lanes", "/repos/{owner}/{repo}/branches/{branch}"},
		{"/repos/kailua/config/contents/environments/production/layers/x.yaml", "/repos/{owner}/{repo}/contents/{path}"},
		{"/repos/kailua/config/git/ref/heads/main", "/repos/{owner}/{repo}/git/ref/{ref}"},
		{"/repos/kailua/config/compare/main...feature/x", "/repos/{owner}/{repo}/compare/{basehead}"},
		{"/repos/kailua/config/statuses/" + sha, "/repos/{owner}/{repo}/statuses/{sha}"},
		{"/repos/kailua/config/environments/production", "/repos/{owner}/{repo}/environments/{environment_name}"},
		{"/repos/kailua/config/actions/runs/5/pending_deployments", "/repos/{owner}/{repo}/actions/runs/{run_id}/pending_deployments"},
		{"/orgs/kailua/teams/ops/repos/kailua/config", "/orgs/{org}/teams/{team_slug}/repos/{owner}/{repo}"},
		{"/app/installations/123/access_tokens", "/app/installations/{installation_id}/access_tokens"},
		{"/repos/kailua/config/check-suites/preferences", "/repos/{owner}/{repo}/check-suites/preferences"},
		{"/something/new/12345", "/something/new/{id}"},
	} {
		if got := routeTemplate(tc.path); got != tc.want {
			t.Errorf("routeTemplate(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

// TestRouteTemplateEmulatorRoutes: for every route the emulator serves
// (GitHub's templates for the endpoints the App uses), a concrete path
// templates back to exactly GitHub's template.
func TestRouteTemplateEmulatorRoutes(t *testing.T) {
	routes := []string{
		"/app", "/repos/{owner}/{repo}/installation", "/app/installations/{installation_id}/access_tokens", "/rate_limit",
		"/repos/{owner}/{repo}", "/repos/{owner}/{repo}/branches", "/repos/{owner}/{repo}/branches/{branch}",
		"/repos/{owner}/{repo}/pulls", "/repos/{owner}/{repo}/pulls/{pull_number}", "/repos/{owner}/{repo}/pulls/{pull_number}/files",
		"/repos/{owner}/{repo}/pulls/{pull_number}/reviews", "/repos/{owner}/{repo}/issues/{issue_number}/comments",
		"/repos/{owner}/{repo}/issues/comments/{comment_id}", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
		"/repos/{owner}/{repo}/collaborators/{username}/permission", "/orgs/{org}/teams/{team_slug}/memberships/{username}",
		"/repos/{owner}/{repo}/check-runs", "/repos/{owner}/{repo}/check-runs/{check_run_id}",
		"/repos/{owner}/{repo}/check-runs/{check_run_id}/annotations", "/repos/{owner}/{repo}/commits/{ref}/check-runs",
		"/repos/{owner}/{repo}/deployments", "/repos/{owner}/{repo}/deployments/{deployment_id}",
		"/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses/{status_id}",
		"/repos/{owner}/{repo}/environments/{environment_name}", "/repos/{owner}/{repo}/contents/{path}",
		"/installation/repositories", "/repos/{owner}/{repo}/commits/{ref}",
	}
	for _, route := range routes {
		if got := routeTemplate(instantiate(route)); got != route {
			t.Errorf("routeTemplate(%s) = %s, want %s", instantiate(route), got, route)
		}
	}
}

var paramRE = regexp.MustCompile(`\{[^}]+\}`)

// instantiate fills a template with values like real ones: numbers for
// ids and numbers, SHAs for SHAs, words (with slashes where GitHub allows
// them) elsewhere. Every word contains "zz" so a leak is easy to see.
func instantiate(route string) string {
	return paramRE.ReplaceAllStringFunc(route, func(p string) string {
		name := strings.Trim(p, "{}")
		switch {
		case strings.HasSuffix(name, "_id") && name != "gist_id" && name != "workflow_id" || strings.HasSuffix(name, "number") || name == "id":
			return "4242"
		case strings.Contains(name, "sha"):
			return strings.Repeat("0123456789abcdef", 4)[:40]
		case name == "path" || name == "ref" || name == "branch" || name == "basehead":
			return "zz" + name + "/with/zzslash"
		}
		return "zz" + name
	})
}

// TestRouteTemplateBoundsGitHubPaths instantiates every path of GitHub's
// REST description: none of the owner, repository, ref or branch values
// may reach a label. Parameters of endpoints the App does not call (custom
// property names, package names, …) may: those are bounded by MaxRoutes.
func TestRouteTemplateBoundsGitHubPaths(t *testing.T) {
	p, err := githubsim.RESTSpecPath()
	if err != nil {
		if githubsim.SpecsRequired() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	checked, leaky := 0, 0
	for path := range spec.Paths {
		got := routeTemplate(instantiate(path))
		checked++
		for _, forbidden := range []string{"zzowner", "zzrepo", "zzref", "zzbranch", "zzpath", "zzslash", "zzorg", "zzusername", "4242", "0123456789abcdef"} {
			if strings.Contains(got, forbidden) {
				t.Errorf("%s → %s: %s reaches the label", path, got, forbidden)
			}
		}
		if strings.Contains(got, "zz") {
			leaky++
		}
	}
	t.Logf("%d GitHub paths templated; %d keep a parameter of an endpoint the App does not use (bounded by MaxRoutes)", checked, leaky)
	if checked < 500 {
		t.Errorf("only %d paths in the description", checked)
	}
}

// TestRouteLabelsBounded: past MaxRoutes distinct templates, requests are
// labelled "other".
func TestRouteLabelsBounded(t *testing.T) {
	r := &routeSet{max: 2, seen: map[string]bool{}}
	got := []string{r.label("/a"), r.label("/b"), r.label("/c"), r.label("/a")}
	if want := []string{"/a", "/b", "other", "/a"}; !slices.Equal(got, want) {
		t.Errorf("labels %v, want %v", got, want)
	}
}
