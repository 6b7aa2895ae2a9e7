// Package app is the GitHub App of honua-gitops: the webhook endpoint and
// its bounded queue, one handler per event, comment commands, the approval
// gate, deployment creation, the sweeper, the git mirror, installation
// clients and the rate-limit aware transport. Handlers are thin: they read
// GitHub into the GitHub-free view of app/gate, let it and the policy
// decide, render with checks, and write the result back to GitHub.
package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/notify"
	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/mirror"
)

// InstallationClients gives GitHub clients and git tokens of an
// installation (Clients is the real one).
type InstallationClients interface {
	Installation(ctx context.Context, id int64) (*github.Client, error)
	Token(ctx context.Context, id int64) (string, error)
}

var _ InstallationClients = (*Clients)(nil)

// Config wires an App.
type Config struct {
	// AppID is the GitHub App's id: its check runs are the ones it owns.
	AppID int64
	// BotLogin is the App's bot ("honua-gitops[bot]"): its comments are the
	// only ones whose records are trusted, and its events are ignored.
	BotLogin string
	Clients  InstallationClients
	Mirror   *mirror.Mirror
	// Engine evaluates policies (one per process: it caches compiled
	// policies by digest).
	Engine *policy.Engine
	// SigningKey signs deploy orders and the App's approval records.
	SigningKey ed25519.PrivateKey
	// OrderTTL is how long a deploy order stays valid (default 7 days).
	OrderTTL time.Duration
	// Limits bound what is read of a config repository.
	Limits config.Limits
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Notifier sends the policy's approval-required notifications (nil:
	// none; the runner sends those of outcomes).
	Notifier *notify.Notifier
}

// App handles GitHub's events for the config repositories it is installed
// on. It keeps no state but caches: GitHub is the record.
type App struct {
	appID    int64
	bot      atomic.Pointer[string]
	clients  InstallationClients
	mirror   *mirror.Mirror
	engine   *policy.Engine
	key      ed25519.PrivateKey
	orderTTL time.Duration
	limits   config.Limits
	loader   *config.Loader
	now      func() time.Time

	// inflight cancels the planning of a pull request's older head when a
	// newer one arrives.
	mu       sync.Mutex
	inflight map[string]inflight
	// locks serialise the work on one repository's merge commits, so that
	// concurrent deliveries create at most one deployment per (sha, env).
	locks keyedMutex
	// people caches who people are on a repository.
	people people
	seq    uint64
	// deployed are the commits whose deployments were created (or found)
	// by this process.
	deployed shaSet
	// notifier sends notifications; notified is the ledger of those about
	// a commit without a pull request (this process only).
	notifier *notify.Notifier
	notified notify.MemoryLedger
}

type inflight struct {
	sha    string
	cancel context.CancelFunc
	seq    uint64
}

// New checks cfg and returns the App.
func New(cfg Config) (*App, error) {
	switch {
	case cfg.AppID == 0:
		return nil, errors.New("app: the GitHub App id is required")
	case cfg.Clients == nil:
		return nil, errors.New("app: installation clients are required")
	case cfg.Mirror == nil:
		return nil, errors.New("app: a git mirror is required")
	case len(cfg.SigningKey) != ed25519.PrivateKeySize:
		return nil, errors.New("app: an Ed25519 order-signing key is required")
	}
	a := &App{
		appID: cfg.AppID, clients: cfg.Clients, mirror: cfg.Mirror,
		engine: cfg.Engine, key: cfg.SigningKey, orderTTL: cfg.OrderTTL, limits: cfg.Limits,
		loader: config.NewLoader(cfg.Limits), now: cfg.Now, inflight: map[string]inflight{}, notifier: cfg.Notifier,
	}
	a.setBot(cfg.BotLogin)
	if a.engine == nil {
		a.engine = policy.NewEngine()
	}
	if a.orderTTL <= 0 {
		a.orderTTL = 7 * 24 * time.Hour
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a, nil
}

// keyedMutex is a mutex per key.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

// lock locks key and returns its unlock.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

// setBot sets the App's bot login once GitHub told it.
func (a *App) setBot(login string) { a.bot.Store(&login) }

// isBot reports whether login is the App's own bot. Until GitHub told the
// App its login, nobody is: nothing is trusted as the App's own.
func (a *App) isBot(login string) bool {
	b := a.bot.Load()
	return b != nil && *b != "" && strings.EqualFold(login, *b)
}
