// Package githubsim is a stateful, in-process GitHub emulator: the REST
// surface honua-gitops uses, git smart HTTP backed by real repositories on
// disk, App authentication, rate limits, ETags, webhooks and faults. Tests
// drive it as people through its Go API and talk to it with the real
// go-github, ghinstallation and go-git clients; every exchange can be checked
// against GitHub's own OpenAPI description.
package githubsim

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. The zero value works.
type Options struct {
	// Clock defaults to the wall clock.
	Clock Clock
	// AppID and AppSlug name the one GitHub App the emulator hosts;
	// ClientID is its client id (one like GitHub's "Iv23li…" when empty).
	AppID    int64
	AppSlug  string
	ClientID string
	// Permissions are what the App was granted (GitHub's names and levels:
	// "checks": "write"); every installation token carries at most these,
	// and every route checks them. Nil grants the permissions of the
	// repository's app.yml (DefaultPermissions); ManifestPermissions reads
	// another manifest. metadata:read is always granted, as on GitHub.
	Permissions map[string]string
	// Events are the webhook events the App subscribes to; GitHub sends it
	// no others. Nil subscribes to the events of app.yml (DefaultEvents).
	Events []string
	// Delivery sets how webhooks are delivered; the zero value sends them in
	// order, one at a time.
	Delivery DeliveryMode
	// AppKey is the App's private key; one is generated when nil.
	AppKey *rsa.PrivateKey
	// WebhookURL receives the App's webhooks; empty means none are sent
	// (they are still recorded).
	WebhookURL    string
	WebhookSecret string
	// TokenTTL is the lifetime of installation tokens (GitHub: 1h).
	TokenTTL time.Duration
	// RateLimit is the primary limit per installation per hour (GitHub:
	// 5000); every token of an installation draws on it.
	RateLimit int
	// GitRoot holds the bare repositories; a temporary directory when empty
	// (removed by Close).
	GitRoot string
	// Addr makes the server listen there (e.g. "127.0.0.1:8081" for the
	// demo) instead of on a random loopback port.
	Addr string
	// Spec, when set, checks every exchange against GitHub's description and
	// reports departures to OnViolation.
	Spec        *Spec
	WebhookSpec *WebhookSpec
	OnViolation func(Violation)
	// LogPath appends every exchange as JSON lines; defaults to the file
	// named by HONUA_GITOPS_SIM_LOG.
	LogPath string
	// Plan is the GitHub plan of the accounts ("free", "team",
	// "enterprise"; "" is free): custom deployment protection rules in
	// private repositories need PlanEnterprise.
	Plan string
}

// LogEnv names the environment variable that sets Options.LogPath.
const LogEnv = "HONUA_GITOPS_SIM_LOG"

// Server is a running emulator.
type Server struct {
	opts  Options
	clock Clock
	hs    *httptest.Server
	api   *router
	tmp   string // removed on Close when GitRoot was not given

	mu           sync.Mutex
	nextID       int64
	users        map[string]*user
	teams        map[string]*team // "org/slug"
	installs     map[int64]*installation
	tokens       map[string]*token
	repos        map[string]*repo // "owner/name"
	faults       map[string][]*Fault
	rateForce    map[string][]*forcedLimit
	rateUsed     map[string]*rateWindow // per installation ("app" for the JWT)
	counters     map[string]*Counter    // route
	tokenCounter map[string]*Counter    // token key
	violations   []Violation
	logMu        sync.Mutex
	logFile      *os.File

	needs  map[string]access // route -> permission it needs
	apps   map[string]*ghApp // slug -> App (the hosted one too)
	hosted *ghApp

	hooks *hookQueue
}

// NewServer starts an emulator. Close it when done.
func NewServer(opts Options) (*Server, error) {
	if opts.Clock == nil {
		opts.Clock = wallClock{}
	}
	if opts.AppID == 0 {
		opts.AppID = 1001
	}
	if opts.AppSlug == "" {
		opts.AppSlug = "honua-gitops"
	}
	if opts.AppKey == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generating app key: %w", err)
		}
		opts.AppKey = k
	}
	if opts.ClientID == "" {
		opts.ClientID = clientIDFor(opts.AppID)
	}
	if opts.Permissions == nil {
		opts.Permissions = DefaultPermissions()
	} else {
		opts.Permissions = maps.Clone(opts.Permissions)
	}
	if err := checkPermissions(opts.Permissions); err != nil {
		return nil, fmt.Errorf("githubsim options: %w", err)
	}
	if opts.Permissions["metadata"] == "" {
		// Every GitHub App has metadata:read; it cannot be deselected.
		opts.Permissions["metadata"] = "read"
	}
	if opts.Events == nil {
		opts.Events = DefaultEvents()
	}
	opts.Events = sortedEvents(opts.Events)
	if err := opts.Delivery.check(); err != nil {
		return nil, fmt.Errorf("githubsim options: %w", err)
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = 5000
	}
	if opts.LogPath == "" {
		opts.LogPath = os.Getenv(LogEnv)
	}
	s := &Server{
		opts:         opts,
		clock:        opts.Clock,
		nextID:       100,
		users:        map[string]*user{},
		teams:        map[string]*team{},
		installs:     map[int64]*installation{},
		tokens:       map[string]*token{},
		repos:        map[string]*repo{},
		faults:       map[string][]*Fault{},
		rateForce:    map[string][]*forcedLimit{},
		rateUsed:     map[string]*rateWindow{},
		counters:     map[string]*Counter{},
		tokenCounter: map[string]*Counter{},
		needs:        map[string]access{},
		apps:         map[string]*ghApp{},
	}
	if opts.GitRoot == "" {
		d, err := os.MkdirTemp("", "githubsim-")
		if err != nil {
			return nil, fmt.Errorf("creating git root: %w", err)
		}
		s.tmp = d
		s.opts.GitRoot = d
	}
	if opts.LogPath != "" {
		f, err := os.OpenFile(opts.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, fmt.Errorf("opening sim log: %w", err)
		}
		s.logFile = f
	}
	s.api = &router{}
	s.routes()
	s.hs = httptest.NewUnstartedServer(s)
	if opts.Addr != "" {
		l, err := net.Listen("tcp", opts.Addr)
		if err != nil {
			return nil, fmt.Errorf("listening on %s: %w", opts.Addr, err)
		}
		s.hs.Listener.Close()
		s.hs.Listener = l
	}
	s.hosted = &ghApp{ID: opts.AppID, Slug: opts.AppSlug, ClientID: opts.ClientID, Bot: s.userLocked(opts.AppSlug+"[bot]", "Bot"), hosted: true}
	s.apps[opts.AppSlug] = s.hosted
	s.hooks = newHookQueue(s, opts.Delivery)
	s.hs.Start()
	return s, nil
}

// URL is the emulator's base URL, e.g. http://127.0.0.1:40123. The REST API
// is served at its root (and also under /api/v3 for GitHub Enterprise
// clients); repositories are at URL/{owner}/{repo}.git.
func (s *Server) URL() string { return s.hs.URL }

// APIURL is URL with a trailing slash, as go-github's BaseURL needs.
func (s *Server) APIURL() string { return s.hs.URL + "/" }

// AppID is the hosted App's id.
func (s *Server) AppID() int64 { return s.opts.AppID }

// AppKey is the hosted App's private key.
func (s *Server) AppKey() *rsa.PrivateKey { return s.opts.AppKey }

// Clock is the emulator's clock.
func (s *Server) Clock() Clock { return s.clock }

// Close waits for queued webhooks, stops the server and removes temporary
// repositories.
func (s *Server) Close() {
	s.hooks.close()
	s.hs.Close()
	if s.logFile != nil {
		s.logFile.Close()
	}
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
	}
}

// Violations returns the contract departures seen so far.
func (s *Server) Violations() []Violation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Violation(nil), s.violations...)
}

func (s *Server) id() int64 {
	s.nextID++
	return s.nextID
}

func (s *Server) now() time.Time { return s.clock.Now().UTC().Truncate(time.Second) }

// ServeHTTP dispatches git smart HTTP and the REST API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/v3/") {
		r2 := r.Clone(r.Context())
		r2.URL.Path = strings.TrimPrefix(r.URL.Path, "/api/v3")
		r2.URL.RawPath = ""
		r = r2
	}
	if isGitPath(r.URL.Path) {
		s.serveGit(w, r)
		return
	}
	s.serveAPI(w, r)
}

// bufferedResponse collects a handler's answer so the middleware can add
// ETags, rate-limit headers and turn it into a 304.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = 200
	}
	return b.body.Write(p)
}
func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

type ctxKey int

const callerKey ctxKey = 0

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	reqBody, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	_, pattern := s.api.Handler(r)
	route := pattern
	if route == "" {
		route = r.Method + " (unknown)"
	}
	resp := &bufferedResponse{header: http.Header{}}
	deliberate := false

	// Faults first: GitHub's edge fails before anything is counted.
	if f := s.takeFault(route); f != nil {
		if f.Latency > 0 {
			select {
			case <-time.After(f.Latency):
			case <-r.Context().Done():
			}
		}
		if f.Reset {
			s.count(route, "", func(c *Counter) { c.Faults++ })
			panic(http.ErrAbortHandler)
		}
		if f.Status != 0 {
			s.count(route, "", func(c *Counter) { c.Faults++ })
			deliberate = true
			writeError(resp, f.Status, http.StatusText(f.Status), "")
		}
	}
	var c *caller
	if resp.status == 0 {
		var errStatus int
		var errMsg string
		c, errStatus, errMsg = s.authenticate(r, route)
		if errStatus != 0 {
			writeError(resp, errStatus, errMsg, "https://docs.github.com/rest")
		}
	}
	key, rateKey := "", ""
	if c != nil {
		key, rateKey = c.key, c.rateKey
	}
	if resp.status == 0 {
		if s.rateLimited(resp, route, rateKey) {
			deliberate = true
		}
	}
	if resp.status == 0 && pattern != "" {
		if st, msg := s.authorize(r, c, pattern); st != 0 {
			writeError(resp, st, msg, "https://docs.github.com/rest")
		}
	}
	if resp.status == 0 {
		if pattern == "" {
			writeError(resp, http.StatusNotFound, "Not Found", "https://docs.github.com/rest")
		} else {
			h, _ := s.api.Handler(r)
			h.ServeHTTP(resp, r.WithContext(contextWithCaller(r.Context(), c)))
		}
	}
	if resp.status == 0 {
		resp.status = http.StatusOK
	}

	// ETag and conditional requests on successful GETs.
	notModified := false
	if r.Method == http.MethodGet && resp.status == http.StatusOK {
		etag := etagFor(key, resp.body.Bytes())
		resp.header.Set("ETag", etag)
		if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, etag) {
			notModified = true
			resp.status = http.StatusNotModified
			resp.body.Reset()
			resp.header.Del("Content-Type")
		}
	}
	cost := 0
	if c != nil && c.kind == callerToken && !notModified && !deliberate {
		cost = 1
	}
	s.spendRate(resp.header, rateKey, cost)
	s.count(route, key, func(ct *Counter) {
		ct.Calls++
		if notModified {
			ct.NotModified++
		}
		ct.RateUnits += cost
	})
	resp.header.Set("X-GitHub-Media-Type", "github.v3; format=json")
	resp.header.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	resp.header.Set("X-GitHub-Request-Id", fmt.Sprintf("SIM:%d", s.idLocked()))
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.status)
	w.Write(resp.body.Bytes())

	ex := Exchange{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: resp.status,
		RequestContentType:  r.Header.Get("Content-Type"),
		ResponseContentType: resp.header.Get("Content-Type"),
		Deliberate:          deliberate,
	}
	if json.Valid(reqBody) {
		ex.RequestBody = json.RawMessage(reqBody)
	}
	if b := resp.body.Bytes(); json.Valid(b) {
		ex.ResponseBody = json.RawMessage(append([]byte(nil), b...))
	}
	s.observe(ex)
}

func (s *Server) idLocked() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id()
}

// observe logs an exchange and checks it against the description.
func (s *Server) observe(ex Exchange) {
	if s.logFile != nil {
		line, _ := json.Marshal(ex)
		s.logMu.Lock()
		s.logFile.Write(append(line, '\n'))
		s.logMu.Unlock()
	}
	if s.opts.Spec == nil {
		return
	}
	for _, v := range s.opts.Spec.CheckExchange(ex) {
		s.violation(v)
	}
}

func (s *Server) violation(v Violation) {
	s.mu.Lock()
	s.violations = append(s.violations, v)
	s.mu.Unlock()
	if s.opts.OnViolation != nil {
		s.opts.OnViolation(v)
	}
}

// writeJSON answers with a JSON body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, 500, "encoding response: "+err.Error(), "")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// writeError answers with GitHub's error object.
func writeError(w http.ResponseWriter, status int, msg, doc string) {
	if doc == "" {
		doc = "https://docs.github.com/rest"
	}
	body := map[string]any{"message": msg, "documentation_url": doc, "status": fmt.Sprint(status)}
	writeJSON(w, status, body)
}

// validationFailed answers 422 the way GitHub does for invalid input.
func validationFailed(w http.ResponseWriter, resource, field, code, message string) {
	e := map[string]any{"resource": resource, "field": field, "code": code}
	if message != "" {
		e["message"] = message
	}
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message":           "Validation Failed",
		"errors":            []any{e},
		"documentation_url": "https://docs.github.com/rest",
		"status":            "422",
	})
}
