package app

import (
	"bytes"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v66/github"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of TransportOptions.
const (
	DefaultMaxRetries = 3
	DefaultMaxWait    = 60 * time.Second
	// defaultRetryBackoff is the first wait before retrying a 5xx or a
	// connection error; it doubles with each retry.
	defaultRetryBackoff = time.Second
	// secondaryMinWait is GitHub's advice for a secondary limit without
	// retry-after: wait at least a minute, backing off exponentially.
	secondaryMinWait       = time.Minute
	defaultCacheEntries    = 2048
	defaultCacheBytes      = 64 << 20
	defaultCacheEntryBytes = 1 << 20
	// defaultMaxRoutes bounds the route label's values.
	defaultMaxRoutes = 512
	// peekLimit is how much of a 403 body is read to tell a secondary rate
	// limit from a permission error.
	peekLimit = 64 << 10
	// resetSlack is added to a primary limit's x-ratelimit-reset: GitHub
	// gives it in whole seconds and clocks differ.
	resetSlack = time.Second
)

// Rate-limit kinds, the values of RateLimitError.Kind and of the kind label.
const (
	LimitPrimary   = "primary"
	LimitSecondary = "secondary"
)

// TransportOptions configures a Transport. Zero values take the defaults.
type TransportOptions struct {
	// MaxRetries bounds, per request, both the retries after a 5xx or a
	// connection error and the waits for a rate limit (default 3; negative
	// means none).
	MaxRetries int
	// MaxWait is the longest the Transport waits for one rate limit to pass
	// (default 60 s). A longer wait fails the request at once with a
	// *RateLimitError: a handler should not hold a worker for an hour; the
	// sweeper retries later.
	MaxWait time.Duration
	// RetryBackoff is the first wait before retrying a 5xx or a connection
	// error (default 1 s), doubled at each retry, plus up to 50% jitter.
	RetryBackoff time.Duration
	// CacheEntries and CacheBytes bound the ETag cache (default 2048
	// entries, 64 MB); CacheEntryBytes is the largest body cached (default
	// 1 MB). CacheEntries < 0 disables conditional requests.
	CacheEntries    int
	CacheBytes      int64
	CacheEntryBytes int64
	// MaxRoutes bounds the distinct route templates in metric labels
	// (default 512); further ones are labelled "other".
	MaxRoutes int
	// Sleep waits d or until ctx ends (then it returns ctx.Err()); Now is
	// the clock rate-limit resets are compared with; Jitter returns a value
	// in [0, 1). Tests inject all three so that nothing waits for real.
	Sleep  func(ctx context.Context, d time.Duration) error
	Now    func() time.Time
	Jitter func() float64
	// Registry receives the Transport's metrics (unregistered when nil).
	Registry prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// RateLimitError is returned (wrapped in the *url.Error of net/http) when
// GitHub's rate limit would not pass within TransportOptions.MaxWait, or
// still held after MaxRetries waits.
type RateLimitError struct {
	Kind     string    // LimitPrimary or LimitSecondary
	Resource string    // x-ratelimit-resource of a primary limit ("core", "search", ...)
	Reset    time.Time // when the request may succeed
	Method   string
	Route    string // the route template, e.g. /repos/{owner}/{repo}/pulls
}

// Error says which limit and when it resets.
func (e *RateLimitError) Error() string {
	what := e.Kind
	if e.Resource != "" {
		what += " " + e.Resource
	}
	return fmt.Sprintf("github %s rate limit on %s %s: retry after %s", what, e.Method, e.Route, e.Reset.UTC().Format(time.RFC3339))
}

// Transport is the http.RoundTripper under every go-github client of the
// App (as the App and as each installation). It makes GETs conditional
// (ETag cache per credential, 304s served from the cache), honours GitHub's
// primary and secondary rate limits, retries idempotent requests on 5xx and
// connection errors, and reports per-route metrics.
//
// Retry policy. A request GitHub refused for a rate limit was not acted on,
// so any method is retried after the wait. A 5xx is retried only for
// idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS): a POST or PATCH that
// failed with a 5xx may have taken effect (a comment posted, a deployment
// created), and sending it again could do it twice; the caller sees the
// error and the sweeper reconciles. A connection error is retried for
// idempotent methods, and for any method when the connection was never
// established (a dial error), since then nothing was sent. A request whose
// body cannot be replayed (no GetBody) is never retried once sent.
//
// Credentials never appear in labels, logs or errors: the cache and the
// rate-limit state key on a digest of the Authorization header.
type Transport struct {
	base            http.RoundTripper
	maxRetries      int
	maxWait         time.Duration
	retryBackoff    time.Duration
	cacheEntryBytes int64
	sleep           func(ctx context.Context, d time.Duration) error
	now             func() time.Time
	jitter          func() float64
	logger          *slog.Logger
	metrics         *apiMetrics
	cache           *etagCache // nil when disabled
	limits          *limitTracker
	routes          *routeSet
}

var _ http.RoundTripper = (*Transport)(nil)

// NewTransport returns a Transport sending through base
// (http.DefaultTransport when nil).
func NewTransport(base http.RoundTripper, opts TransportOptions) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	switch {
	case opts.MaxRetries == 0:
		opts.MaxRetries = DefaultMaxRetries
	case opts.MaxRetries < 0:
		opts.MaxRetries = 0
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultMaxWait
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = defaultRetryBackoff
	}
	if opts.CacheEntries == 0 {
		opts.CacheEntries = defaultCacheEntries
	}
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = defaultCacheBytes
	}
	if opts.CacheEntryBytes <= 0 {
		opts.CacheEntryBytes = defaultCacheEntryBytes
	}
	if opts.MaxRoutes <= 0 {
		opts.MaxRoutes = defaultMaxRoutes
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepContext
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Jitter == nil {
		opts.Jitter = rand.Float64
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	t := &Transport{
		base:            base,
		maxRetries:      opts.MaxRetries,
		maxWait:         opts.MaxWait,
		retryBackoff:    opts.RetryBackoff,
		cacheEntryBytes: opts.CacheEntryBytes,
		sleep:           opts.Sleep,
		now:             opts.Now,
		jitter:          opts.Jitter,
		logger:          opts.Logger,
		metrics:         newAPIMetrics(opts.Registry),
		routes:          &routeSet{max: opts.MaxRoutes, seen: map[string]bool{}},
	}
	t.limits = &limitTracker{primary: map[limitKey]primaryLimit{}, secondary: map[string]time.Time{}, gauge: t.metrics.remaining}
	if opts.CacheEntries > 0 {
		t.cache = newETagCache(opts.CacheEntries, opts.CacheBytes)
	}
	return t
}

// sleepContext waits d, or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RoundTrip sends req, waiting and retrying as the policy of Transport says.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt := t.newRoundTrip(req)
	resp, err := rt.run()
	if !rt.bodySent && req.Body != nil {
		req.Body.Close() // the RoundTripper contract: always close it
	}
	return resp, err
}

// roundTrip is the state of one RoundTrip call.
type roundTrip struct {
	t          *Transport
	req        *http.Request
	ctx        context.Context
	method     string
	route      string
	resource   string
	rateID     string // whose rate limit: installation or credential digest
	replayable bool
	bodySent   bool

	cacheKey string
	cached   *cacheEntry

	retries    int // after 5xx and connection errors
	limitWaits int
	secondary  int // secondary limits met
}

func (t *Transport) newRoundTrip(req *http.Request) *roundTrip {
	path := apiPath(req.URL.Path)
	credID := credentialID(req.Header.Get("Authorization"))
	rt := &roundTrip{
		t:          t,
		req:        req,
		ctx:        req.Context(),
		method:     req.Method,
		route:      t.routes.label(path),
		resource:   resourceOf(req.Method, path),
		rateID:     credID,
		replayable: req.Body == nil || req.Body == http.NoBody || req.GetBody != nil,
	}
	if id, ok := req.Context().Value(identityKey{}).(string); ok && id != "" {
		rt.rateID = id
	}
	if t.cache != nil && req.Method == http.MethodGet && req.Header.Get("If-None-Match") == "" &&
		req.Header.Get("If-Modified-Since") == "" && req.Header.Get("Range") == "" {
		// ETags are per credential (GitHub's responses vary by
		// Authorization) and per representation (Accept).
		rt.cacheKey = credID + "\x00" + req.URL.String() + "\x00" + req.Header.Get("Accept")
		rt.cached = t.cache.get(rt.cacheKey)
	}
	return rt
}

func (rt *roundTrip) run() (*http.Response, error) {
	t := rt.t
	// A limit already known to hold is waited for (or reported) before
	// anything is sent: hammering GitHub through a limit is what gets an
	// App's installations blocked.
	if wait, kind, ok := t.limits.blocked(rt.rateID, rt.resource, t.now()); ok {
		if err := rt.waitLimit(kind, wait); err != nil {
			return nil, err
		}
	}
	for attempt := 0; ; attempt++ {
		if err := rt.ctx.Err(); err != nil {
			return nil, err
		}
		out, err := rt.prepare(attempt)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		resp, err := t.base.RoundTrip(out)
		t.metrics.duration.WithLabelValues(rt.method, rt.route).Observe(time.Since(start).Seconds())
		if err != nil {
			t.metrics.requests.WithLabelValues(rt.method, rt.route, "error").Inc()
			if rt.ctx.Err() != nil || !rt.retryConnError(err) {
				return nil, err
			}
			if err := rt.backoff("connection"); err != nil {
				return nil, err
			}
			continue
		}
		t.metrics.requests.WithLabelValues(rt.method, rt.route, statusClass(resp.StatusCode)).Inc()
		t.limits.observe(rt.rateID, resp.Header, t.now())

		if kind, wait, ok := rt.rateLimited(resp); ok {
			drain(resp)
			if !rt.replayable {
				return nil, rt.limitError(kind, wait)
			}
			if err := rt.waitLimit(kind, wait); err != nil {
				return nil, err
			}
			continue
		}
		switch {
		case resp.StatusCode == http.StatusNotModified && rt.cached != nil:
			t.metrics.cacheHits.WithLabelValues(rt.route).Inc()
			return rt.cached.response(rt.req, resp), nil
		case resp.StatusCode >= 500 && idempotent(rt.method) && rt.replayable && rt.retries < t.maxRetries:
			drain(resp)
			if err := rt.backoff("5xx"); err != nil {
				return nil, err
			}
			continue
		case resp.StatusCode == http.StatusOK && rt.cacheKey != "":
			return rt.store(resp)
		}
		return resp, nil
	}
}

// prepare clones the request for one attempt: a fresh body from GetBody
// after the first, and the cached ETag.
func (rt *roundTrip) prepare(attempt int) (*http.Request, error) {
	out := rt.req.Clone(rt.ctx)
	if attempt > 0 && rt.req.Body != nil && rt.req.Body != http.NoBody {
		body, err := rt.req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("replaying request body: %w", err)
		}
		out.Body = body
	}
	rt.bodySent = true
	if rt.cached != nil {
		out.Header.Set("If-None-Match", rt.cached.etag)
	}
	return out, nil
}

// retryConnError reports whether a connection error may be retried.
func (rt *roundTrip) retryConnError(err error) bool {
	if rt.retries >= rt.t.maxRetries || !rt.replayable {
		return false
	}
	if idempotent(rt.method) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// backoff waits before a retry: RetryBackoff doubled per retry, plus up to
// 50% jitter.
func (rt *roundTrip) backoff(reason string) error {
	t := rt.t
	d := t.retryBackoff << rt.retries
	d += time.Duration(t.jitter() * float64(d) / 2)
	rt.retries++
	t.metrics.retries.WithLabelValues(rt.method, rt.route, reason).Inc()
	t.logger.Info("github request failed: retrying", slog.String("method", rt.method), slog.String("route", rt.route),
		slog.String("reason", reason), slog.Int("retry", rt.retries), slog.Duration("wait", d))
	return t.sleep(rt.ctx, d)
}

// rateLimited tells a rate-limit refusal from other answers, and how long
// GitHub asks to wait. go-github v66 recognises only a 403 as a rate limit;
// GitHub also answers 429.
func (rt *roundTrip) rateLimited(resp *http.Response) (kind string, wait time.Duration, ok bool) {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return "", 0, false
	}
	now := rt.t.now()
	retryAfter, hasRetryAfter := parseRetryAfter(resp.Header.Get("Retry-After"), now)
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		switch reset, ok := parseReset(resp.Header.Get("X-RateLimit-Reset")); {
		case hasRetryAfter:
			wait = retryAfter
		case ok:
			wait = max(reset.Sub(now), 0) + resetSlack
		default:
			wait = secondaryMinWait
		}
		return LimitPrimary, wait, true
	}
	if resp.StatusCode == http.StatusForbidden && !secondaryLimitBody(resp) {
		return "", 0, false // a permission error
	}
	if hasRetryAfter {
		wait = retryAfter
	} else {
		// At least a minute, doubling with each secondary limit met by
		// this request, plus up to 25% jitter, within MaxWait.
		base := secondaryMinWait << rt.secondary
		if base > rt.t.maxWait {
			wait = base
		} else {
			wait = min(base+time.Duration(rt.t.jitter()*float64(base)/4), rt.t.maxWait)
		}
	}
	rt.secondary++
	return LimitSecondary, wait, true
}

// waitLimit waits for a rate limit to pass, or returns a *RateLimitError
// when the wait is longer than MaxWait, outlasts the request's deadline, or
// the request waited enough.
func (rt *roundTrip) waitLimit(kind string, wait time.Duration) error {
	t := rt.t
	if kind == LimitSecondary {
		// Other requests with the same credential wait too.
		t.limits.holdSecondary(rt.rateID, t.now().Add(wait))
	}
	if dl, ok := rt.ctx.Deadline(); ok && time.Until(dl) < wait {
		// The caller would give up during the wait: say why now.
		return rt.limitError(kind, wait)
	}
	if wait > t.maxWait || rt.limitWaits >= t.maxRetries {
		return rt.limitError(kind, wait)
	}
	rt.limitWaits++
	t.metrics.rateLimitWaits.WithLabelValues(kind).Inc()
	t.logger.Info("github rate limit: waiting", slog.String("kind", kind), slog.String("method", rt.method),
		slog.String("route", rt.route), slog.Duration("wait", wait))
	return t.sleep(rt.ctx, wait)
}

func (rt *roundTrip) limitError(kind string, wait time.Duration) error {
	t := rt.t
	t.metrics.rateLimitErrs.WithLabelValues(kind).Inc()
	e := &RateLimitError{Kind: kind, Reset: t.now().Add(wait), Method: rt.method, Route: rt.route}
	if kind == LimitPrimary {
		e.Resource = rt.resource
	}
	t.logger.Warn("github rate limit: giving up", slog.String("kind", kind), slog.String("method", rt.method),
		slog.String("route", rt.route), slog.Time("reset", e.Reset))
	return e
}

// store caches a 200 answer to a GET with its ETag, unless GitHub says not
// to or it is too large, and returns it with its body intact.
func (rt *roundTrip) store(resp *http.Response) (*http.Response, error) {
	etag := resp.Header.Get("ETag")
	if etag == "" || noStore(resp.Header.Get("Cache-Control")) {
		return resp, nil
	}
	limit := rt.t.cacheEntryBytes
	buf, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("reading github response: %w", err)
	}
	if int64(len(buf)) > limit {
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(buf), resp.Body), resp.Body}
		return resp, nil
	}
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(buf))
	rt.t.cache.put(rt.cacheKey, &cacheEntry{etag: etag, header: resp.Header.Clone(), body: buf})
	return resp, nil
}

func noStore(cacheControl string) bool {
	for _, d := range strings.Split(cacheControl, ",") {
		if strings.EqualFold(strings.TrimSpace(d), "no-store") {
			return true
		}
	}
	return false
}

// secondaryLimitBody reports whether a 403's body is GitHub's secondary
// rate-limit answer (documentation_url ending in secondary-rate-limits),
// leaving the body readable.
func secondaryLimitBody(resp *http.Response) bool {
	buf, err := io.ReadAll(io.LimitReader(resp.Body, peekLimit))
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(buf), resp.Body), resp.Body}
	if err != nil {
		return false
	}
	var e struct {
		DocumentationURL string `json:"documentation_url"`
	}
	if json.Unmarshal(buf, &e) != nil {
		return false
	}
	return strings.HasSuffix(e.DocumentationURL, "secondary-rate-limits") ||
		strings.HasSuffix(e.DocumentationURL, "#abuse-rate-limits")
}

// parseRetryAfter reads Retry-After as seconds or as an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		return max(time.Duration(secs)*time.Second, 0), true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// parseReset reads x-ratelimit-reset (Unix seconds).
func parseReset(v string) (time.Time, bool) {
	secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || secs <= 0 {
		return time.Time{}, false
	}
	return time.Unix(secs, 0), true
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

func statusClass(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code/100) + "xx"
}

// drain discards what is left of a body (up to a bound, so the connection
// can be reused) and closes it.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, peekLimit))
	resp.Body.Close()
}

type readCloser struct {
	io.Reader
	io.Closer
}

// apiPath strips GitHub Enterprise's /api/v3 prefix.
func apiPath(p string) string {
	if rest, ok := strings.CutPrefix(p, "/api/v3"); ok && (rest == "" || rest[0] == '/') {
		return rest
	}
	return p
}

// resourceNames are GitHub's x-ratelimit-resource names of go-github's
// categories.
var resourceNames = map[github.RateLimitCategory]string{
	github.CoreCategory:                      "core",
	github.SearchCategory:                    "search",
	github.GraphqlCategory:                   "graphql",
	github.IntegrationManifestCategory:       "integration_manifest",
	github.SourceImportCategory:              "source_import",
	github.CodeScanningUploadCategory:        "code_scanning_upload",
	github.ActionsRunnerRegistrationCategory: "actions_runner_registration",
	github.ScimCategory:                      "scim",
	github.DependencySnapshotsCategory:       "dependency_snapshots",
	github.CodeSearchCategory:                "code_search",
	github.AuditLogCategory:                  "audit_log",
}

// resourceOf predicts the rate-limit resource a request counts against.
func resourceOf(method, path string) string {
	if r, ok := resourceNames[github.GetRateLimitCategory(method, path)]; ok {
		return r
	}
	return "core"
}

// identityKey carries, in a request's context, whose rate limit the request
// spends (Clients sets "installation/<id>" and "app").
type identityKey struct{}

func withIdentity(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// credentialID names the credential of an Authorization header without
// revealing it: "anonymous", "app/<issuer>" for an App JWT (ghinstallation
// signs a new one per request, all for the same App), else a digest.
func credentialID(auth string) string {
	if auth == "" {
		return "anonymous"
	}
	scheme, cred, _ := strings.Cut(auth, " ")
	if strings.EqualFold(scheme, "bearer") && strings.Count(cred, ".") == 2 {
		parts := strings.Split(cred, ".")
		if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			var claims struct {
				Iss any `json:"iss"`
			}
			if json.Unmarshal(b, &claims) == nil && claims.Iss != nil {
				return "app/" + fmt.Sprint(claims.Iss)
			}
		}
	}
	sum := sha256.Sum256([]byte(auth))
	return "cred/" + hex.EncodeToString(sum[:12])
}

// limitKey names one primary rate limit.
type limitKey struct{ identity, resource string }

type primaryLimit struct {
	remaining int
	reset     time.Time
}

// limitTracker remembers the rate limits GitHub reported, per identity.
type limitTracker struct {
	mu        sync.Mutex
	primary   map[limitKey]primaryLimit
	secondary map[string]time.Time // identity → until
	gauge     *prometheus.GaugeVec
}

// observe records a response's x-ratelimit-* headers and refreshes the
// remaining gauge of its resource.
func (l *limitTracker) observe(identity string, h http.Header, now time.Time) {
	rem, err := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	if err != nil {
		return
	}
	reset, ok := parseReset(h.Get("X-RateLimit-Reset"))
	if !ok {
		return
	}
	resource := h.Get("X-RateLimit-Resource")
	if resource == "" {
		resource = "core"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.primary[limitKey{identity, resource}] = primaryLimit{remaining: rem, reset: reset}
	lowest := rem
	for k, v := range l.primary {
		if !v.reset.After(now) {
			delete(l.primary, k) // the window is over: forget it
			continue
		}
		if k.resource == resource && v.remaining < lowest {
			lowest = v.remaining
		}
	}
	l.gauge.WithLabelValues(resource).Set(float64(lowest))
}

// holdSecondary makes identity's requests wait until until.
func (l *limitTracker) holdSecondary(identity string, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until.After(l.secondary[identity]) {
		l.secondary[identity] = until
	}
}

// blocked reports how long identity must wait before a request against
// resource, when a limit is known to hold.
func (l *limitTracker) blocked(identity, resource string, now time.Time) (time.Duration, string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until, ok := l.secondary[identity]; ok {
		if until.After(now) {
			return until.Sub(now), LimitSecondary, true
		}
		delete(l.secondary, identity)
	}
	if p, ok := l.primary[limitKey{identity, resource}]; ok && p.remaining == 0 && p.reset.After(now) {
		return p.reset.Sub(now) + resetSlack, LimitPrimary, true
	}
	return 0, "", false
}

// cacheEntry is one cached 200 answer. It is never modified once stored.
type cacheEntry struct {
	key    string
	etag   string
	header http.Header
	body   []byte
}

func (e *cacheEntry) size() int64 { return int64(len(e.body) + len(e.key) + 512) }

// hopHeaders are the headers of a 304 that do not describe the cached body.
var hopHeaders = map[string]bool{
	"Content-Length": true, "Content-Type": true, "Content-Encoding": true,
	"Transfer-Encoding": true, "Content-Range": true,
}

// response is the cached answer as a fresh 200: the cached headers updated
// with the 304's (its ETag, date and, above all, current rate-limit
// headers, so go-github's Response.Rate is right).
func (e *cacheEntry) response(req *http.Request, notModified *http.Response) *http.Response {
	drain(notModified)
	h := e.header.Clone()
	for k, v := range notModified.Header {
		if !hopHeaders[k] {
			h[k] = v
		}
	}
	h.Set("X-Honua-Cache", "hit")
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         notModified.Proto,
		ProtoMajor:    notModified.ProtoMajor,
		ProtoMinor:    notModified.ProtoMinor,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(e.body)),
		ContentLength: int64(len(e.body)),
		Request:       req,
		TLS:           notModified.TLS,
	}
}

// etagCache is a least-recently-used cache bounded in entries and bytes.
type etagCache struct {
	mu         sync.Mutex
	maxEntries int
	maxBytes   int64
	bytes      int64
	ll         *list.List // of *cacheEntry, most recent first
	items      map[string]*list.Element
}

func newETagCache(maxEntries int, maxBytes int64) *etagCache {
	return &etagCache{maxEntries: maxEntries, maxBytes: maxBytes, ll: list.New(), items: map[string]*list.Element{}}
}

func (c *etagCache) get(key string) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.ll.MoveToFront(el)
		return el.Value.(*cacheEntry)
	}
	return nil
}

func (c *etagCache) put(key string, e *cacheEntry) {
	e.key = key
	if e.size() > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.bytes -= el.Value.(*cacheEntry).size()
		c.ll.Remove(el)
	}
	c.items[key] = c.ll.PushFront(e)
	c.bytes += e.size()
	for c.ll.Len() > c.maxEntries || c.bytes > c.maxBytes {
		old := c.ll.Back()
		oe := old.Value.(*cacheEntry)
		c.ll.Remove(old)
		delete(c.items, oe.key)
		c.bytes -= oe.size()
	}
}

func (c *etagCache) stats() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len(), c.bytes
}

// routeSet turns paths into route templates and bounds how many distinct
// ones become label values.
type routeSet struct {
	mu   sync.Mutex
	max  int
	seen map[string]bool
}

func (r *routeSet) label(path string) string {
	tpl := routeTemplate(path)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[tpl] {
		return tpl
	}
	if len(r.seen) >= r.max {
		return "other"
	}
	r.seen[tpl] = true
	return tpl
}

// param is how the segment after a collection name is templated.
type param struct {
	name    string
	numeric bool     // only a number is a parameter (else a literal, e.g. /issues/comments)
	rest    bool     // the parameter takes every remaining segment (a file path)
	until   []string // the parameter takes segments up to one of these (a ref with slashes)
	except  []string // literals that may follow the collection instead of a parameter
}

// refEnds are the literals that may follow a ref or a branch name, which
// may themselves contain slashes.
var refEnds = []string{"check-runs", "check-suites", "status", "statuses", "pulls", "branches-where-head", "comments", "protection", "rename"}

// ownerRepo are the collections followed by an {owner}/{repo} pair.
var ownerRepo = map[string]bool{"repos": true, "starred": true, "networks": true}

// params name the segment after a collection, after GitHub's own path
// templates (so the labels read like GitHub's documentation and the
// emulator's routes).
var params = map[string]param{
	"orgs":                  {name: "{org}"},
	"users":                 {name: "{username}"},
	"enterprises":           {name: "{enterprise}"},
	"installations":         {name: "{installation_id}", numeric: true},
	"repositories":          {name: "{repository_id}", numeric: true},
	"pulls":                 {name: "{pull_number}", numeric: true},
	"issues":                {name: "{issue_number}", numeric: true},
	"comments":              {name: "{comment_id}", numeric: true},
	"reviews":               {name: "{review_id}", numeric: true},
	"check-runs":            {name: "{check_run_id}", numeric: true},
	"check-suites":          {name: "{check_suite_id}", numeric: true},
	"deployments":           {name: "{deployment_id}", numeric: true},
	"statuses":              {name: "{status_id}", numeric: true},
	"milestones":            {name: "{milestone_number}", numeric: true},
	"releases":              {name: "{release_id}", numeric: true},
	"assets":                {name: "{asset_id}", numeric: true},
	"hooks":                 {name: "{hook_id}", numeric: true},
	"deliveries":            {name: "{delivery_id}", numeric: true},
	"runs":                  {name: "{run_id}", numeric: true},
	"attempts":              {name: "{attempt_number}", numeric: true},
	"jobs":                  {name: "{job_id}", numeric: true},
	"artifacts":             {name: "{artifact_id}", numeric: true},
	"reactions":             {name: "{reaction_id}", numeric: true},
	"keys":                  {name: "{key_id}", numeric: true},
	"invitations":           {name: "{invitation_id}", numeric: true},
	"alerts":                {name: "{alert_number}", numeric: true},
	"rulesets":              {name: "{ruleset_id}", numeric: true},
	"workflows":             {name: "{workflow_id}"},
	"environments":          {name: "{environment_name}"},
	"collaborators":         {name: "{username}"},
	"members":               {name: "{username}"},
	"memberships":           {name: "{username}", except: []string{"orgs"}},
	"blocks":                {name: "{username}"},
	"following":             {name: "{username}"},
	"public_members":        {name: "{username}"},
	"outside_collaborators": {name: "{username}"},
	"organizations":         {name: "{org}"},
	"teams":                 {name: "{team_slug}"},
	"labels":                {name: "{name}"},
	"secrets":               {name: "{secret_name}"},
	"variables":             {name: "{name}"},
	"gists":                 {name: "{gist_id}"},
	"trees":                 {name: "{tree_sha}"},
	"blobs":                 {name: "{file_sha}"},
	"tags":                  {name: "{tag}"},
	"commits":               {name: "{ref}", until: refEnds},
	"branches":              {name: "{branch}", until: refEnds},
	"ref":                   {name: "{ref}", rest: true},
	"refs":                  {name: "{ref}", rest: true},
	"matching-refs":         {name: "{ref}", rest: true},
	"contents":              {name: "{path}", rest: true},
	"readme":                {name: "{dir}", rest: true},
	"compare":               {name: "{basehead}", rest: true},
	"tarball":               {name: "{ref}", rest: true},
	"zipball":               {name: "{ref}", rest: true},
}

// routeTemplate turns a REST path into a template in GitHub's style, e.g.
// /repos/kailua/config/pulls/7 → /repos/{owner}/{repo}/pulls/{pull_number},
// so that labels do not grow with owners, numbers, refs and SHAs. GitHub
// Enterprise's /api/v3 prefix is dropped.
func routeTemplate(path string) string {
	segs := strings.Split(strings.Trim(apiPath(path), "/"), "/")
	if len(segs) == 1 && segs[0] == "" {
		return "/"
	}
	out := make([]string, 0, len(segs))
	for i := 0; i < len(segs); i++ {
		s := segs[i]
		out = append(out, genericSegment(s))
		if i+1 >= len(segs) {
			break
		}
		if ownerRepo[s] {
			out = append(out, "{owner}")
			if i+2 < len(segs) {
				out = append(out, "{repo}")
			}
			i += 2
			continue
		}
		p, ok := params[s]
		if !ok {
			continue
		}
		next := segs[i+1]
		switch {
		case p.numeric && !isNumber(next), contains(p.except, next):
			continue // a literal such as /issues/comments
		case p.rest:
			return "/" + strings.Join(append(out, p.name), "/")
		case p.until != nil:
			j := i + 1
			for j < len(segs) && (j == i+1 || !contains(p.until, segs[j])) {
				j++
			}
			out = append(out, p.name)
			i = j - 1
		default:
			out = append(out, p.name)
			i++
		}
	}
	return "/" + strings.Join(out, "/")
}

// genericSegment templates what no collection rule covered: numbers and
// SHAs never reach a label.
func genericSegment(s string) string {
	switch {
	case isNumber(s):
		return "{id}"
	case isSHA(s):
		return "{sha}"
	}
	return s
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
