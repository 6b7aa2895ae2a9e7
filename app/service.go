package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/honua-io/honua-gitops/notify"
	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/mirror"
)

// ServiceConfig is everything `honua-gitops serve` is configured with.
type ServiceConfig struct {
	// GitHubURL is GitHub's REST API ("https://api.github.com/"; GitHub
	// Enterprise Server: "https://host/api/v3/").
	GitHubURL string
	// GitURL gives the clone URL of a repository ("owner/name"); by
	// default it is derived from GitHubURL (github.com, or the server's
	// host for GitHub Enterprise Server).
	GitURL         func(repo string) string
	AppID          int64
	PrivateKey     []byte   // the App's private key, PEM
	WebhookSecrets [][]byte // at least one
	SigningKey     ed25519.PrivateKey
	DataDir        string
	Workers        int
	QueueSize      int
	SweepInterval  time.Duration
	Limits         config.Limits
	Logger         *slog.Logger
	// HTTPTransport is the transport under the App's (default
	// http.DefaultTransport).
	HTTPTransport http.RoundTripper
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Sleep is how the transport waits for rate limits and retries
	// (default: for real); tests pass one that does not wait.
	Sleep func(ctx context.Context, d time.Duration) error
	// Notify, when set, configures the policy's approval-required
	// notifications (its Registerer is the service's registry: failures
	// are counted in /metrics); nil sends none.
	Notify *notify.Options
}

// Service is the whole GitHub App, wired: webhook server, installation
// clients over the rate-limit aware transport, mirror, handlers and
// sweeper.
type Service struct {
	cfg      ServiceConfig
	server   *Server
	clients  *Clients
	mirror   *mirror.Mirror
	app      *App
	registry *prometheus.Registry
	logger   *slog.Logger
}

// NewService wires the App from cfg. It does not reach GitHub: the App
// starts, answers health checks and acknowledges deliveries even while
// GitHub is unreachable.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.GitHubURL == "" {
		cfg.GitHubURL = "https://api.github.com/"
	}
	if cfg.DataDir == "" {
		return nil, errors.New("serve: --data-dir is required (the git mirror cache)")
	}
	if cfg.GitURL == nil {
		cfg.GitURL = GitURLFor(cfg.GitHubURL)
	}
	base := cfg.HTTPTransport
	if base == nil {
		base = http.DefaultTransport
	}
	reg := prometheus.NewRegistry()
	tr := NewTransport(base, TransportOptions{Registry: reg, Logger: cfg.Logger, Now: cfg.Now, Sleep: cfg.Sleep})
	clients, err := NewClients(ClientsConfig{BaseURL: cfg.GitHubURL, AppID: cfg.AppID, PrivateKey: cfg.PrivateKey, Transport: tr, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	server, err := NewServer(ServerConfig{
		WebhookSecrets: cfg.WebhookSecrets, Workers: cfg.Workers, QueueSize: cfg.QueueSize,
		Logger: cfg.Logger, Registry: reg,
	})
	if err != nil {
		return nil, err
	}
	mirror, err := mirror.New(mirror.Config{Dir: cfg.DataDir, GitURL: cfg.GitURL, Limits: cfg.Limits})
	if err != nil {
		return nil, err
	}
	var notifier *notify.Notifier
	if cfg.Notify != nil {
		o := *cfg.Notify
		o.Registerer = reg
		if o.Logger == nil {
			o.Logger = cfg.Logger
		}
		if notifier, err = notify.New(o); err != nil {
			return nil, err
		}
	}
	a, err := New(Config{
		AppID: cfg.AppID, Clients: clients, Mirror: mirror, Engine: policy.NewEngine(),
		SigningKey: cfg.SigningKey, Limits: cfg.Limits, Now: cfg.Now, Notifier: notifier,
	})
	if err != nil {
		return nil, err
	}
	a.Register(server)
	return &Service{cfg: cfg, server: server, clients: clients, mirror: mirror, app: a, registry: reg, logger: cfg.Logger}, nil
}

// Handler is the HTTP handler of the service's routes.
func (s *Service) Handler() http.Handler { return s.server.Router() }

// App is the service's App (for the demo and tests).
func (s *Service) App() *App { return s.app }

// Run serves on ln until ctx ends, then drains: new deliveries get 503,
// queued ones finish (within drain), and the process may exit.
func (s *Service) Run(ctx context.Context, ln net.Listener, drain time.Duration) error {
	s.server.Start()
	hs := &http.Server{Handler: s.server.Router(), ReadHeaderTimeout: 10 * time.Second}
	sweepCtx, stopSweep := context.WithCancel(ctx)
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		s.learnBot(sweepCtx)
		s.app.RunSweeper(sweepCtx, s.clients, s.cfg.SweepInterval, s.logger)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	stopSweep()
	<-sweepDone
	dctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if e := s.server.Shutdown(dctx); e != nil && err == nil {
		err = e
	}
	if e := hs.Shutdown(dctx); e != nil && err == nil && !errors.Is(e, http.ErrServerClosed) {
		err = e
	}
	if n := s.app.notifier; n != nil {
		// Deliveries still retrying are given up (and logged): a
		// notification is worth less than a prompt shutdown.
		n.Close()
	}
	_ = s.mirror.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// learnBot asks GitHub for the App's bot login, until it answers: its own
// events are then ignored and its comments trusted. Until then nothing is
// trusted as the App's own.
func (s *Service) learnBot(ctx context.Context) {
	delay := time.Second
	for {
		login, err := s.clients.BotLogin(ctx)
		if err == nil {
			s.server.SetBotLogin(login)
			s.app.setBot(login)
			return
		}
		s.logger.Warn("reading the App's identity from GitHub failed; retrying", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Minute)
	}
}

// GitURLFor derives the clone URL of a repository from the API URL:
// github.com's for api.github.com, else the server's host (GitHub
// Enterprise Server, and the emulator, serve git at https://host/owner/name.git).
func GitURLFor(apiURL string) func(string) string {
	host := "https://github.com/"
	u := strings.TrimSuffix(apiURL, "/")
	if !strings.Contains(u, "api.github.com") {
		host = strings.TrimSuffix(strings.TrimSuffix(u, "/api/v3"), "/api") + "/"
	}
	return func(repo string) string { return fmt.Sprintf("%s%s.git", host, repo) }
}
