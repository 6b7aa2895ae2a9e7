package app

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v66/github"
)

// DefaultBaseURL is GitHub's REST API.
const DefaultBaseURL = "https://api.github.com/"

// ClientsConfig configures Clients.
type ClientsConfig struct {
	// BaseURL is the REST API: DefaultBaseURL when empty; for GitHub
	// Enterprise Server https://host/api/v3/; for the emulator its URL.
	BaseURL string
	// AppID and PrivateKey (PEM) authenticate the App.
	AppID      int64
	PrivateKey []byte
	// Transport sends every request, the App's and each installation's:
	// normally a *Transport, so that all of them share its ETag cache,
	// rate-limit state and connections. http.DefaultTransport when nil.
	Transport http.RoundTripper
	// Now is the clock that decides when an installation token is renewed
	// (a minute before it expires, as ghinstallation does); time.Now when
	// nil. Tests pass the emulator's manual clock.
	Now func() time.Time
}

// Clients hands out go-github clients authenticated as the App and as its
// installations. An installation's client and token are cached, so the App
// mints one token per installation per hour, not one per event. Clients is
// safe for concurrent use.
type Clients struct {
	apiURL    string // go-github's BaseURL, with its trailing slash
	uploadURL string
	dotCom    bool // api.github.com: no enterprise URLs
	appID     int64
	key       *rsa.PrivateKey
	atr       *ghinstallation.AppsTransport // the App's own requests
	base      http.RoundTripper
	app       *github.Client
	now       func() time.Time

	mu       sync.Mutex
	installs map[int64]*installationAuth // never evicted: an App has few installations

	botMu    sync.Mutex
	botLogin string
}

// NewClients checks cfg and parses the App's key; it makes no request.
func NewClients(cfg ClientsConfig) (*Clients, error) {
	if cfg.AppID <= 0 {
		return nil, errors.New("configuring github clients: an App id is required")
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("configuring github clients: base URL %q is not an http(s) URL", cfg.BaseURL)
	}
	key, err := parseRSAKey(cfg.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("configuring github clients: App private key: %w", err)
	}
	c := &Clients{
		appID:    cfg.AppID,
		key:      key,
		base:     cfg.Transport,
		now:      cfg.Now,
		dotCom:   u.Host == "api.github.com",
		installs: map[int64]*installationAuth{},
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	c.apiURL = u.String()
	if !c.dotCom {
		// go-github completes an enterprise URL with api/v3/ (and the
		// upload URL with api/uploads/); the token requests must go to the
		// same API, so its result is the one used everywhere.
		up := *u
		up.Path = strings.TrimSuffix(up.Path, "api/v3/")
		gh, err := github.NewClient(nil).WithEnterpriseURLs(c.apiURL, up.String())
		if err != nil {
			return nil, fmt.Errorf("configuring github clients: %w", err)
		}
		c.apiURL, c.uploadURL = gh.BaseURL.String(), gh.UploadURL.String()
	}
	c.atr = c.newAppsTransport()
	c.app, err = c.newClient(appAuth{atr: c.atr})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// newAppsTransport signs requests as the App. Each installation has its
// own: ghinstallation writes BaseURL and Client into the AppsTransport on
// every token request, which would race between installations sharing one.
func (c *Clients) newAppsTransport() *ghinstallation.AppsTransport {
	atr := ghinstallation.NewAppsTransportFromPrivateKey(c.base, c.appID, c.key)
	atr.BaseURL = strings.TrimSuffix(c.apiURL, "/")
	return atr
}

// parseRSAKey reads a PEM RSA private key, PKCS #1 (what GitHub hands out)
// or PKCS #8.
func parseRSAKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an RSA key", k)
	}
	return rk, nil
}

func (c *Clients) newClient(rt http.RoundTripper) (*github.Client, error) {
	gh := github.NewClient(&http.Client{Transport: rt})
	if c.dotCom {
		return gh, nil
	}
	gh, err := gh.WithEnterpriseURLs(c.apiURL, c.uploadURL)
	if err != nil {
		return nil, fmt.Errorf("configuring github client for %s: %w", c.apiURL, err)
	}
	return gh, nil
}

// App returns the client authenticated as the App itself (a JWT signed per
// request), for the /app endpoints.
func (c *Clients) App(_ context.Context) *github.Client { return c.app }

// Installation returns the client of one installation, making sure a token
// can be had for it (minting one only when there is none or it is due).
func (c *Clients) Installation(ctx context.Context, id int64) (*github.Client, error) {
	ia, err := c.installation(id)
	if err != nil {
		return nil, err
	}
	if _, _, err := ia.token(ctx); err != nil {
		return nil, err
	}
	return ia.client, nil
}

// Token returns an installation token, e.g. for git over HTTPS (user
// x-access-token). It is the token the installation's client uses; never
// log it or write it to disk.
func (c *Clients) Token(ctx context.Context, id int64) (string, error) {
	ia, err := c.installation(id)
	if err != nil {
		return "", err
	}
	tok, _, err := ia.token(ctx)
	return tok, err
}

// BotLogin returns the login of the App's bot user, its slug and "[bot]"
// (e.g. "honua-gitops[bot]"), from GET /app, asked once.
func (c *Clients) BotLogin(ctx context.Context) (string, error) {
	c.botMu.Lock()
	defer c.botMu.Unlock()
	if c.botLogin != "" {
		return c.botLogin, nil
	}
	app, _, err := c.app.Apps.Get(ctx, "")
	if err != nil {
		return "", fmt.Errorf("getting the App's slug: %w", err)
	}
	if app.GetSlug() == "" {
		return "", errors.New("getting the App's slug: GET /app returned none")
	}
	c.botLogin = app.GetSlug() + "[bot]"
	return c.botLogin, nil
}

func (c *Clients) installation(id int64) (*installationAuth, error) {
	if id <= 0 {
		return nil, fmt.Errorf("github installation id %d: not an installation", id)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ia, ok := c.installs[id]; ok {
		return ia, nil
	}
	ia := &installationAuth{c: c, id: id, identity: "installation/" + strconv.FormatInt(id, 10)}
	client, err := c.newClient(ia)
	if err != nil {
		return nil, err
	}
	ia.client = client
	c.installs[id] = ia
	return ia, nil
}

// appAuth authenticates requests as the App, marking them as the App's for
// the Transport's rate-limit accounting.
type appAuth struct{ atr *ghinstallation.AppsTransport }

func (a appAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	// AppsTransport sets its header on the request it is given: give it a
	// copy, as the RoundTripper contract asks.
	return a.atr.RoundTrip(req.Clone(withIdentity(req.Context(), "app")))
}

// installationAuth authenticates requests as one installation. Its
// ghinstallation.Transport serves only as the token source, always under
// mu: ghinstallation reads its token unlocked in Expiry, and this way no
// request races a renewal.
type installationAuth struct {
	c        *Clients
	id       int64
	identity string
	client   *github.Client

	mu  sync.Mutex
	itr *ghinstallation.Transport // nil: mint on next use
}

// token returns the installation's token and the source it came from,
// renewing it when c.now says it is due (ghinstallation renews by the wall
// clock alone).
func (ia *installationAuth) token(ctx context.Context) (string, *ghinstallation.Transport, error) {
	ia.mu.Lock()
	defer ia.mu.Unlock()
	if ia.itr != nil {
		if _, refreshAt, err := ia.itr.Expiry(); err == nil && !ia.c.now().Before(refreshAt) {
			ia.itr = nil
		}
	}
	if ia.itr == nil {
		ia.itr = ghinstallation.NewFromAppsTransport(ia.c.newAppsTransport(), ia.id)
	}
	tok, err := ia.itr.Token(withIdentity(ctx, "app"))
	if err != nil {
		closeFailedMint(err)
		return "", nil, fmt.Errorf("getting a token for installation %d: %w", ia.id, err)
	}
	return tok, ia.itr, nil
}

// discard drops src as the token source, unless it was already replaced.
func (ia *installationAuth) discard(src *ghinstallation.Transport) {
	ia.mu.Lock()
	defer ia.mu.Unlock()
	if ia.itr == src {
		ia.itr = nil
	}
}

// RoundTrip sends req with the installation's token. When GitHub answers
// 401 Bad credentials (the token was revoked, or GitHub's clock is ahead of
// ours), the token is renewed and the request sent once more.
func (ia *installationAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, src, err := ia.send(req, req.Body)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !badCredentials(resp) {
		return resp, err
	}
	var body io.ReadCloser
	switch {
	case req.Body == nil || req.Body == http.NoBody:
	case req.GetBody != nil:
		if body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	default:
		return resp, nil // cannot be sent again
	}
	drain(resp)
	ia.discard(src)
	resp, _, err = ia.send(req, body)
	return resp, err
}

func (ia *installationAuth) send(req *http.Request, body io.ReadCloser) (*http.Response, *ghinstallation.Transport, error) {
	tok, src, err := ia.token(req.Context())
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, nil, err
	}
	out := req.Clone(withIdentity(req.Context(), ia.identity))
	out.Body = body
	out.Header.Set("Authorization", "token "+tok)
	if out.Header.Get("Accept") == "" {
		out.Header.Set("Accept", "application/vnd.github.v3+json")
	}
	resp, err := ia.c.base.RoundTrip(out)
	return resp, src, err
}

// badCredentials reports whether a 401 is GitHub's answer to an unknown or
// expired token, leaving the body readable.
func badCredentials(resp *http.Response) bool {
	buf, _ := io.ReadAll(io.LimitReader(resp.Body, peekLimit))
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(buf), resp.Body), resp.Body}
	var e struct {
		Message string `json:"message"`
	}
	return json.Unmarshal(buf, &e) == nil && e.Message == "Bad credentials"
}

// closeFailedMint closes the body of a refused token request, which
// ghinstallation v2.12.0 leaves open on a non-2xx answer (leaking the
// connection).
func closeFailedMint(err error) {
	var he *ghinstallation.HTTPError
	if errors.As(err, &he) && he.Response != nil && he.Response.Body != nil {
		he.Response.Body.Close()
	}
}
