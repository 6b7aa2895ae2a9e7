package app

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/honua-io/honua-gitops/internal/configgen"
	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// BenchmarkPRChecks measures what a push to a pull request's branch costs
// the App, from the moment its pull_request.synchronize delivery reaches
// the webhook router to the moment the emulator answers the creation of the
// second check run (honua/plan, then honua/policy, both completed): signature
// check, parse and enqueue, the worker picking it up, the incremental fetch
// of the new head into the mirror, merge base, plan, the REST calls for
// environments, reviews and comments, the policy's judgement, and the REST
// calls that list the head's runs and create the two.
//
// The repository (internal/configgen, the sample's .gitops/ policy) lives
// in the GitHub emulator, which runs in this process, unchecked: its
// exchanges are not checked against GitHub's OpenAPI description, as in the
// end-to-end tests (githubsim's BenchmarkRoundTrip: about 0.5 ms a call on
// the 2-core machine of BENCHMARKS.md). It shares the machine with the App: its REST handlers,
// and git http-backend and upload-pack for the fetch, are inside the
// measured time.
//
// Before the timer: the pull request was opened and planned once (the
// mirror holds base and a first head; the loader's caches hold both
// states), and each iteration's push, a new head commit that changes the
// same changed layer files of base again (titles, and the geometry of every
// fifth, as configgen's head), was made with the timer stopped. Only the
// synchronize delivery reaches the App: the emulator records its webhooks
// and sends none (the push and check_suite deliveries of the same push, on
// GitHub, do not plan).
//
// head=new: the App fetches the new head itself, as on GitHub.
// head=prefetched: the new head was fetched into the mirror before the
// timer, leaving plan, judgement and the REST calls.
//
// p50-ms and p99-ms are over the iterations of one run (use -benchtime Nx
// with N ≥ 50 for a p99 worth the name).
func BenchmarkPRChecks(b *testing.B) {
	for _, layers := range []int{100, 10000} {
		b.Run(fmt.Sprintf("layers=%d/changed=10", layers), func(b *testing.B) {
			// One App and repository per size, shared by the runs below
			// (the testing package calls each of them several times).
			f := newPRBench(b, layers, 10)
			for _, prefetch := range []bool{false, true} {
				name := "head=new"
				if prefetch {
					name = "head=prefetched"
				}
				b.Run(name, func(b *testing.B) { f.run(b, prefetch) })
			}
		})
	}
}

// prBench is the App (Service) wired to an unchecked emulator, with one
// open pull request on a generated repository.
type prBench struct {
	ctx     context.Context
	sim     *githubsim.Server
	svc     *Service
	inst    int64
	router  http.Handler
	layers  int
	changed int
	pr      int
	rev     int // the revision of the last head pushed
	watch   *runWatch
	token   string
}

const benchRepo = "kailua-gis/bench"

func newPRBench(tb testing.TB, layers, changed int) *prBench {
	tb.Helper()
	ctx := context.Background()
	clock := githubsim.NewManualClock(nextTuesday10HST(time.Now()))
	perms, err := githubsim.ManifestPermissions("../app.yml")
	if err != nil {
		tb.Fatal(err)
	}
	events, err := githubsim.ManifestEvents("../app.yml")
	if err != nil {
		tb.Fatal(err)
	}
	// No WebhookURL: the emulator records its deliveries and sends none;
	// the benchmark hands the App the ones it should see. No Spec: the
	// exchanges are not checked against GitHub's description.
	sim, err := githubsim.NewServer(githubsim.Options{
		WebhookSecret: e2eSecret, Clock: clock, TokenTTL: 24 * time.Hour,
		Permissions: perms, Events: events, GitRoot: tb.TempDir(),
		RateLimit: 1 << 30, // the emulator's clock stands still: never run out
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(sim.Close)
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		tb.Fatal(err)
	}
	watch := &runWatch{base: http.DefaultTransport}
	svc, err := NewService(ServiceConfig{
		GitHubURL: sim.URL(), GitURL: sim.CloneURL, AppID: sim.AppID(), PrivateKey: pemKey(sim.AppKey()),
		WebhookSecrets: [][]byte{[]byte(e2eSecret)}, SigningKey: key, DataDir: tb.TempDir(),
		Workers: 4, QueueSize: 256, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		HTTPTransport: watch, Now: clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error { clock.Advance(d); return ctx.Err() },
	})
	if err != nil {
		tb.Fatal(err)
	}
	svc.server.Start()
	tb.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = svc.server.Shutdown(sctx)
		_ = svc.mirror.Close()
	})
	login, err := svc.clients.BotLogin(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	svc.server.SetBotLogin(login)
	svc.app.setBot(login)

	f := &prBench{ctx: ctx, sim: sim, svc: svc, router: svc.Handler(), layers: layers, changed: changed, watch: watch}
	f.inst = sim.Install("kailua-gis")
	dir := tb.TempDir()
	if err := configgen.WriteTree(dir, layers); err != nil {
		tb.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(dir, ".gitops"), os.DirFS("../samples/config/.gitops")); err != nil {
		tb.Fatal(err)
	}
	if _, err := sim.CreateRepo(ctx, benchRepo, "main", dir); err != nil {
		tb.Fatal(err)
	}
	for login, perm := range map[string]string{
		"ana": githubsim.PermWrite, "bob": githubsim.PermWrite, "lkeawe": githubsim.PermWrite,
		"mkalani": githubsim.PermAdmin, "kai": githubsim.PermWrite,
	} {
		if err := sim.SetCollaborator(benchRepo, login, perm); err != nil {
			tb.Fatal(err)
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
		if err := sim.SetEnvironment(benchRepo, env); err != nil {
			tb.Fatal(err)
		}
	}
	if f.token, _, err = sim.IssueToken(f.inst); err != nil {
		tb.Fatal(err)
	}

	// The pull request, opened and planned once: a cold mirror and cold
	// caches, outside any measurement.
	head := f.push(tb)
	if f.pr, err = sim.OpenPR(ctx, benchRepo, "bench", "", "ana", "Revise layers", ""); err != nil {
		tb.Fatal(err)
	}
	f.deliverAndWait(tb, f.delivery(tb, "opened", head))
	f.check(tb, head)
	return f
}

// push commits revision f.rev+1 of the changed layers on the PR branch and
// returns the new head.
func (f *prBench) push(tb testing.TB) string {
	tb.Helper()
	f.rev++
	var changes []githubsim.FileChange
	for i := range f.changed {
		n := i * (f.layers / f.changed)
		geom := "Polygon"
		if i%5 == 0 {
			geom = "MultiPolygon"
		}
		changes = append(changes, githubsim.FileChange{Path: configgen.LayerPath(n), Content: []byte(configgen.Layer(n, geom, fmt.Sprintf(" (revision %d)", f.rev)))})
	}
	sha, err := f.sim.Push(f.ctx, benchRepo, "bench", "ana", fmt.Sprintf("Revision %d", f.rev), changes...)
	if err != nil {
		tb.Fatal(err)
	}
	return sha
}

// delivery is the emulator's (signed) pull_request delivery of action whose
// head is sha, as a request to the App's webhook route.
func (f *prBench) delivery(tb testing.TB, action, sha string) *http.Request {
	tb.Helper()
	if err := f.sim.FlushWebhooks(f.ctx); err != nil {
		tb.Fatal(err)
	}
	ds := f.sim.DeliveriesOf("pull_request", action)
	for i := len(ds) - 1; i >= 0; i-- {
		if strings.Contains(string(ds[i].Body), sha) {
			req := httptest.NewRequest(http.MethodPost, WebhookPath, strings.NewReader(string(ds[i].Body)))
			req.Header = ds[i].Header.Clone()
			return req
		}
	}
	tb.Fatalf("no pull_request.%s delivery for %s", action, sha)
	return nil
}

// deliverAndWait hands req to the App's router and waits until both check
// runs were created and the handler is done.
func (f *prBench) deliverAndWait(tb testing.TB, req *http.Request) {
	tb.Helper()
	done := f.watch.expect(2)
	w := httptest.NewRecorder()
	f.router.ServeHTTP(w, req)
	if w.Code != http.StatusAccepted {
		tb.Fatalf("webhook answered %d: %s", w.Code, w.Body)
	}
	<-done
	f.svc.server.waitIdle()
}

// check fails unless head has completed honua/plan and honua/policy runs.
func (f *prBench) check(tb testing.TB, head string) {
	tb.Helper()
	for _, name := range []string{planRunName, policyRunName} {
		var run *githubsim.CheckRun
		for _, r := range f.sim.CheckRuns(benchRepo, head) {
			if r.Name == name {
				run = &r
			}
		}
		if run == nil || run.Status != "completed" || run.Conclusion == "" {
			tb.Fatalf("%s on %s: %+v", name, short(head), run)
		}
	}
}

func (f *prBench) run(b *testing.B, prefetch bool) {
	lat := make([]time.Duration, 0, b.N)
	var incremental, compacted []time.Duration
	f.watch.total() // reset
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		head := f.push(b)
		req := f.delivery(b, "synchronize", head)
		if prefetch {
			if err := f.svc.mirror.Fetch(f.ctx, benchRepo, f.token, head); err != nil {
				b.Fatal(err)
			}
		}
		version := f.mirrorVersion(b)
		done := f.watch.expect(2)
		w := httptest.NewRecorder()
		b.StartTimer()
		start := time.Now()
		f.router.ServeHTTP(w, req)
		<-done
		took := time.Since(start)
		b.StopTimer()
		if w.Code != http.StatusAccepted {
			b.Fatalf("webhook answered %d: %s", w.Code, w.Body)
		}
		f.svc.server.waitIdle()
		f.check(b, head)
		lat = append(lat, took)
		if f.mirrorVersion(b) != version {
			// The fetch found MaxPacks packs and fetched into a new mirror.
			compacted = append(compacted, took)
		} else {
			incremental = append(incremental, took)
		}
		b.StartTimer()
	}
	b.StopTimer()
	rest, calls := f.watch.total()
	b.ReportMetric(float64(rest.Microseconds())/1000/float64(b.N), "rest-ms/op")
	b.ReportMetric(float64(calls)/float64(b.N), "rest-calls/op")
	b.ReportMetric(float64(len(compacted)), "compactions")
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	p50, p99, top := percentiles(lat)
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(ms(top), "max-ms")
	if len(compacted) > 0 && len(incremental) > 0 {
		_, p99, _ := percentiles(incremental)
		b.ReportMetric(ms(p99), "p99-incremental-ms")
		_, _, top := percentiles(compacted)
		b.ReportMetric(ms(top), "max-compaction-ms")
	}
}

// mirrorVersion is the version of the repository's mirror on disk: it
// changes when a fetch re-creates the mirror.
func (f *prBench) mirrorVersion(tb testing.TB) int {
	tb.Helper()
	return f.svc.mirror.Version(benchRepo)
}

// percentiles are the p50 and p99 (nearest rank) and the maximum of lat,
// which it sorts.
func percentiles(lat []time.Duration) (p50, p99, top time.Duration) {
	slices.Sort(lat)
	rank := func(p float64) time.Duration { return lat[max(0, int(math.Ceil(p*float64(len(lat))))-1)] }
	return rank(0.50), rank(0.99), lat[len(lat)-1]
}

// runWatch is the transport under the App's: it signals when the expected
// number of check runs were created (POST .../check-runs answered 201), and
// adds up the REST calls made and the time spent in them while armed. (The
// mirror's git fetches do not go through it.)
type runWatch struct {
	base  http.RoundTripper
	mu    sync.Mutex
	want  int
	done  chan struct{}
	rest  time.Duration
	calls int
}

// total returns the REST time and calls since the last total.
func (w *runWatch) total() (time.Duration, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	d, n := w.rest, w.calls
	w.rest, w.calls = 0, 0
	return d, n
}

// expect arms the watch: the channel closes once n check runs were created.
func (w *runWatch) expect(n int) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.want, w.done = n, make(chan struct{})
	return w.done
}

func (w *runWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := w.base.RoundTrip(req)
	took := time.Since(start)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done == nil {
		return resp, err
	}
	w.rest += took
	w.calls++
	if err == nil && req.Method == http.MethodPost && resp.StatusCode == http.StatusCreated && strings.HasSuffix(req.URL.Path, "/check-runs") {
		if w.want--; w.want == 0 {
			close(w.done)
			w.done = nil
		}
	}
	return resp, err
}
