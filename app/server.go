package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Defaults of ServerConfig.
const (
	// DefaultMaxBody is GitHub's own cap on a webhook payload (25 MB).
	DefaultMaxBody   int64 = 25 << 20
	defaultWorkers         = 4
	defaultQueueSize       = 256
)

// Routes the Server serves.
const (
	WebhookPath = "/webhooks/github"
	HealthPath  = "/healthz"
	ReadyPath   = "/readyz"
	MetricsPath = "/metrics"
)

// ServerConfig configures a Server. Zero values take the defaults.
type ServerConfig struct {
	// WebhookSecrets are the secrets a delivery may be signed with. During a
	// rotation both the old and the new secret are listed. At least one is
	// required, and none may be empty: go-github skips the check for an
	// empty secret.
	WebhookSecrets [][]byte
	// BotLogin is the App's own bot login (e.g. "honua-gitops[bot]"):
	// deliveries it caused are acknowledged and ignored.
	BotLogin string
	// Workers run the handlers (default 4); QueueSize deliveries wait for
	// them (default 256) before the webhook answers 503.
	Workers   int
	QueueSize int
	// HandlerTimeout bounds one handler run; 0 means no bound other than
	// shutdown.
	HandlerTimeout time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registry receives the Server's metrics and is served at /metrics; a
	// new registry when nil (never the global one).
	Registry *prometheus.Registry
	// MaxBody caps a webhook body (default DefaultMaxBody); larger ones are
	// answered 413.
	MaxBody int64
	// DeliveryCacheSize is how many delivery ids are remembered to process
	// a redelivery once (default 4096).
	DeliveryCacheSize int
}

// Server receives GitHub's webhooks and runs the registered handlers on a
// bounded queue of workers. Its zero value is not usable: call NewServer.
type Server struct {
	secrets    [][]byte
	botLogin   atomic.Pointer[string]
	maxBody    int64
	workers    int
	logger     *slog.Logger
	registry   *prometheus.Registry
	metrics    *serverMetrics
	deliveries *deliverySet
	queue      *queue
	router     *mux.Router

	mu       sync.RWMutex
	handlers map[string]Handler

	started  atomic.Bool
	draining atomic.Bool
}

// ErrNoWebhookSecret is returned by NewServer without a usable secret.
var ErrNoWebhookSecret = errors.New("a non-empty webhook secret is required")

// NewServer builds a Server from cfg. Register handlers with Handle, serve
// Router, then call Start; Shutdown drains it.
func NewServer(cfg ServerConfig) (*Server, error) {
	if len(cfg.WebhookSecrets) == 0 {
		return nil, fmt.Errorf("configuring webhook server: %w", ErrNoWebhookSecret)
	}
	secrets := make([][]byte, len(cfg.WebhookSecrets))
	for i, sec := range cfg.WebhookSecrets {
		if len(sec) == 0 {
			return nil, fmt.Errorf("configuring webhook server: secret %d is empty: %w", i+1, ErrNoWebhookSecret)
		}
		secrets[i] = append([]byte(nil), sec...)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = defaultWorkers
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = defaultQueueSize
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	s := &Server{
		secrets:    secrets,
		maxBody:    cfg.MaxBody,
		workers:    cfg.Workers,
		logger:     cfg.Logger,
		registry:   cfg.Registry,
		deliveries: newDeliverySet(cfg.DeliveryCacheSize),
		handlers:   map[string]Handler{},
	}
	capacity := float64(cfg.QueueSize)
	s.metrics = newServerMetrics(cfg.Registry,
		func() float64 { return float64(s.queue.depth()) },
		func() float64 { return capacity })
	s.queue = newQueue(cfg.QueueSize, cfg.Logger, s.metrics, s.deliveries, cfg.HandlerTimeout)

	r := mux.NewRouter()
	r.HandleFunc(WebhookPath, s.serveWebhook).Methods(http.MethodPost)
	r.HandleFunc(HealthPath, serveHealth).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc(ReadyPath, s.serveReady).Methods(http.MethodGet, http.MethodHead)
	r.Handle(MetricsPath, promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{})).Methods(http.MethodGet)
	s.router = r
	s.SetBotLogin(cfg.BotLogin)
	return s, nil
}

// waitIdle blocks until no delivery is queued or being handled.
func (s *Server) waitIdle() { s.queue.waitIdle() }

// SetBotLogin sets the App's own bot login, whose deliveries are ignored:
// a server may learn it from GitHub after it started.
func (s *Server) SetBotLogin(login string) { s.botLogin.Store(&login) }

// isBot reports whether login is the App's own bot (ASCII case ignored, as
// GitHub compares logins).
func (s *Server) isBot(login string) bool {
	bot := s.botLogin.Load()
	return bot != nil && *bot != "" && strings.EqualFold(login, *bot)
}

// Handle registers h for the events named name (an X-GitHub-Event value
// such as "pull_request"), replacing any handler registered before.
// Deliveries of events without a handler are acknowledged and ignored.
func (s *Server) Handle(name string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[name] = h
}

func (s *Server) handler(name string) Handler {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.handlers[name]
}

// Router returns the Server's HTTP routes: POST /webhooks/github, GET
// /healthz, GET /readyz and GET /metrics.
func (s *Server) Router() http.Handler { return s.router }

// Registry returns the registry the Server's metrics are on, to register
// the GitHub transport's metrics alongside.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Start launches the workers. Deliveries are accepted before Start (they
// wait on the queue) but /readyz reports ready only once it has run.
func (s *Server) Start() {
	s.queue.start(s.workers)
	s.started.Store(true)
}

// Shutdown drains the Server: it stops accepting deliveries (the webhook
// and /readyz answer 503), lets the workers finish every queued delivery,
// and returns once they are done. When ctx ends first it cancels the
// handlers' context, drops what is still queued (counted, and the ids
// forgotten so a redelivery is processed), waits for the running handlers
// to return and reports ctx's error. Handlers must honour their context.
// Call it before shutting down the http.Server: deliveries arriving during
// the drain are then answered 503, which GitHub records as failed, so they
// can be redelivered to the next instance.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.queue.close()
	done := make(chan struct{})
	go func() {
		s.queue.wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.queue.hardStop()
		<-done
		return fmt.Errorf("draining webhook queue: %w", ctx.Err())
	}
}

// serveHealth answers 200 while the process is up.
func serveHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

// serveReady answers 200 once the Server is started and until it drains.
// It does not depend on GitHub being reachable: an outage of GitHub must not
// take the App out of its load balancer, the sweeper catches up afterwards.
func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch {
	case s.draining.Load():
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "draining\n")
	case !s.started.Load():
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "starting\n")
	default:
		io.WriteString(w, "ready\n")
	}
}
