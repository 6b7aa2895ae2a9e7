package app

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

const mintRoute = "POST /app/installations/{installation_id}/access_tokens"

func pemKey(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// clientsFixture is the emulator with two installations, each with a
// repository, and Clients over a Transport on the emulator's clock.
type clientsFixture struct {
	sim     *githubsim.Server
	clock   *githubsim.ManualClock
	clients *Clients
	tr      *Transport
	insts   map[string]int64 // owner → installation
}

func newClientsFixture(t *testing.T, baseURL func(sim *githubsim.Server) string) *clientsFixture {
	t.Helper()
	clock := githubsim.NewManualClock(time.Now().Truncate(time.Second))
	sim := githubsim.New(t, githubsim.Options{Clock: clock})
	f := &clientsFixture{sim: sim, clock: clock, insts: map[string]int64{}}
	for _, owner := range []string{"kailua", "hilo"} {
		f.insts[owner] = sim.Install(owner)
		if _, err := sim.CreateRepo(context.Background(), owner+"/config", "main", ""); err != nil {
			t.Fatal(err)
		}
	}
	sleeps := &sleepRecorder{clock: clock}
	f.tr = NewTransport(nil, TransportOptions{Now: clock.Now, Sleep: sleeps.Sleep, Logger: slogDiscard()})
	url := sim.URL()
	if baseURL != nil {
		url = baseURL(sim)
	}
	c, err := NewClients(ClientsConfig{BaseURL: url, AppID: sim.AppID(), PrivateKey: pemKey(sim.AppKey()), Transport: f.tr, Now: clock.Now})
	if err != nil {
		t.Fatalf("NewClients: %v", err)
	}
	f.clients = c
	return f
}

func (f *clientsFixture) getRepo(t *testing.T, owner string) {
	t.Helper()
	gh, err := f.clients.Installation(context.Background(), f.insts[owner])
	if err != nil {
		t.Fatalf("Installation(%s): %v", owner, err)
	}
	repo, _, err := gh.Repositories.Get(context.Background(), owner, "config")
	if err != nil || repo.GetFullName() != owner+"/config" {
		t.Fatalf("GET %s/config as its installation: %v", owner, err)
	}
}

// TestClientsOneTokenPerInstallation: many concurrent calls for two
// installations mint exactly one token each, and every call uses it.
func TestClientsOneTokenPerInstallation(t *testing.T) {
	f := newClientsFixture(t, nil)
	const callsEach = 10
	var wg sync.WaitGroup
	for _, owner := range []string{"kailua", "hilo"} {
		for range callsEach {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.getRepo(t, owner)
			}()
		}
	}
	wg.Wait()
	if c := f.sim.RouteCounter(mintRoute); c.Calls != 2 {
		t.Errorf("%d tokens minted for 2 installations, want 2", c.Calls)
	}
	for owner, id := range f.insts {
		tok, err := f.clients.Token(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if c := f.sim.TokenCounter(tok); c.Calls != callsEach {
			t.Errorf("%s's token served %+v, want all %d calls", owner, c, callsEach)
		}
	}
	a, _ := f.clients.Installation(context.Background(), f.insts["kailua"])
	b, _ := f.clients.Installation(context.Background(), f.insts["kailua"])
	if a != b {
		t.Error("Installation returned two clients for one installation")
	}
	if c := f.sim.RouteCounter(mintRoute); c.Calls != 2 {
		t.Errorf("%d tokens minted after Token and Installation, want still 2", c.Calls)
	}
}

// TestClientsTokenRenewal: a token is renewed when the emulator's clock
// reaches a minute before its expiry, not before; a revoked token is
// replaced on GitHub's 401 and the request succeeds.
func TestClientsTokenRenewal(t *testing.T) {
	f := newClientsFixture(t, nil)
	ctx := context.Background()
	id := f.insts["kailua"]
	f.getRepo(t, "kailua")
	first, _ := f.clients.Token(ctx, id)

	f.clock.Advance(58 * time.Minute)
	f.getRepo(t, "kailua")
	if tok, _ := f.clients.Token(ctx, id); tok != first {
		t.Error("token renewed two minutes before its expiry")
	}
	f.clock.Advance(time.Minute) // 59 min: within a minute of expiry
	f.getRepo(t, "kailua")
	second, _ := f.clients.Token(ctx, id)
	if second == first {
		t.Error("token not renewed a minute before its expiry")
	}
	if c := f.sim.RouteCounter(mintRoute); c.Calls != 2 {
		t.Errorf("%d tokens minted, want 2", c.Calls)
	}
	f.clock.Advance(2 * time.Minute) // the first token has expired
	f.getRepo(t, "kailua")
	if c := f.sim.TokenCounter(second); c.Calls != 2 {
		t.Errorf("the renewed token served %d calls, want 2", c.Calls)
	}

	// Revoked behind the App's back: GitHub's 401 Bad credentials makes it
	// mint a new token and send the request again.
	f.sim.RevokeToken(second)
	f.getRepo(t, "kailua")
	third, _ := f.clients.Token(ctx, id)
	if third == second {
		t.Error("a revoked token is still used")
	}
	if c := f.sim.RouteCounter(mintRoute); c.Calls != 3 {
		t.Errorf("%d tokens minted, want 3", c.Calls)
	}
}

func TestClientsBotLogin(t *testing.T) {
	f := newClientsFixture(t, nil)
	ctx := context.Background()
	for range 3 {
		login, err := f.clients.BotLogin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if login != f.sim.BotLogin() {
			t.Errorf("BotLogin = %q, want %q", login, f.sim.BotLogin())
		}
	}
	if c := f.sim.RouteCounter("GET /app"); c.Calls != 1 {
		t.Errorf("GET /app called %d times, want once", c.Calls)
	}
	app, _, err := f.clients.App(ctx).Apps.Get(ctx, "")
	if err != nil || app.GetID() != f.sim.AppID() {
		t.Errorf("GET /app as the App: %v, id %d", err, app.GetID())
	}
}

// TestClientsBaseURLs: the emulator's root URL and a GitHub Enterprise
// style /api/v3/ URL both give go-github GitHub Enterprise's URLs, and the
// token requests go to the same API.
func TestClientsBaseURLs(t *testing.T) {
	for name, base := range map[string]func(*githubsim.Server) string{
		"root":        func(s *githubsim.Server) string { return s.URL() },
		"api/v3":      func(s *githubsim.Server) string { return s.URL() + "/api/v3/" },
		"api/v3 bare": func(s *githubsim.Server) string { return s.URL() + "/api/v3" },
	} {
		t.Run(name, func(t *testing.T) {
			f := newClientsFixture(t, base)
			gh, err := f.clients.Installation(context.Background(), f.insts["hilo"])
			if err != nil {
				t.Fatal(err)
			}
			if got, want := gh.BaseURL.String(), f.sim.URL()+"/api/v3/"; got != want {
				t.Errorf("BaseURL %s, want %s", got, want)
			}
			if got, want := gh.UploadURL.String(), f.sim.URL()+"/api/uploads/"; got != want {
				t.Errorf("UploadURL %s, want %s", got, want)
			}
			f.getRepo(t, "hilo")
		})
	}
}

func TestNewClientsDefaultsAndErrors(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClients(ClientsConfig{AppID: 1, PrivateKey: pemKey(key)})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.App(context.Background()).BaseURL.String(); got != DefaultBaseURL {
		t.Errorf("default BaseURL %s, want %s", got, DefaultBaseURL)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	if _, err := NewClients(ClientsConfig{AppID: 1, PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})}); err != nil {
		t.Errorf("PKCS #8 key refused: %v", err)
	}
	for name, cfg := range map[string]ClientsConfig{
		"no app id":   {PrivateKey: pemKey(key)},
		"no key":      {AppID: 1},
		"not a key":   {AppID: 1, PrivateKey: []byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")},
		"bad base":    {AppID: 1, PrivateKey: pemKey(key), BaseURL: "ftp://example.com/"},
		"no host URL": {AppID: 1, PrivateKey: pemKey(key), BaseURL: "api.github.com"},
	} {
		if _, err := NewClients(cfg); err == nil {
			t.Errorf("%s: NewClients accepted it", name)
		}
	}
	if _, err := c.Installation(context.Background(), 0); err == nil {
		t.Error("Installation(0) accepted")
	}
}

// TestClientsUnknownInstallation: a token GitHub refuses to mint is an
// error from Installation, and nothing is cached that would hide a later
// success.
func TestClientsUnknownInstallation(t *testing.T) {
	f := newClientsFixture(t, nil)
	_, err := f.clients.Installation(context.Background(), 999999)
	if err == nil || !strings.Contains(err.Error(), "installation 999999") {
		t.Fatalf("err = %v, want a failure naming the installation", err)
	}
	if c := f.sim.RouteCounter(mintRoute); c.Calls != 1 {
		t.Errorf("%d token requests, want 1", c.Calls)
	}
}

var _ http.RoundTripper = (*installationAuth)(nil)
