package githubsim_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// TestDefaultPermissionsMatchManifest keeps the emulator's default grant
// and subscription in step with the repository's app.yml.
func TestDefaultPermissionsMatchManifest(t *testing.T) {
	root, err := githubsim.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	perms, err := githubsim.ManifestPermissions(filepath.Join(root, "app.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(perms, githubsim.DefaultPermissions()); diff != "" {
		t.Errorf("DefaultPermissions differ from app.yml (-manifest +default):\n%s", diff)
	}
	events, err := githubsim.ManifestEvents(filepath.Join(root, "app.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(events, githubsim.DefaultEvents()); diff != "" {
		t.Errorf("DefaultEvents differ from app.yml (-manifest +default):\n%s", diff)
	}
	if _, err := githubsim.ManifestPermissions(filepath.Join(root, "no-such.yml")); err == nil {
		t.Error("a missing manifest gave no error")
	}
}

func withoutPermission(name string) map[string]string {
	p := githubsim.DefaultPermissions()
	delete(p, name)
	return p
}

// TestPermissionsEnforced: a route needs the permission GitHub documents
// for it; without it the App gets GitHub's 403.
func TestPermissionsEnforced(t *testing.T) {
	f := newFixture(t, githubsim.Options{Permissions: withoutPermission("deployments")})
	ctx := context.Background()
	_, resp, err := f.gh.Repositories.CreateDeployment(ctx, org, name, &github.DeploymentRequest{Ref: github.String("main"), AutoMerge: github.Bool(false), RequiredContexts: &[]string{}})
	var er *github.ErrorResponse
	if resp == nil || resp.StatusCode != 403 || !errors.As(err, &er) || er.Message != "Resource not accessible by integration" {
		t.Fatalf("deployment without deployments permission: %v, want 403 Resource not accessible by integration", err)
	}
	if _, resp, _ := f.gh.Repositories.ListDeployments(ctx, org, name, nil); resp == nil || resp.StatusCode != 403 {
		t.Errorf("listing deployments: %v, want 403", resp)
	}
	// The rest of the grant still works, and the App's own description says
	// what it was granted.
	if _, _, err := f.gh.Checks.CreateCheckRun(ctx, org, name, github.CreateCheckRunOptions{Name: "honua/plan", HeadSHA: f.base}); err != nil {
		t.Fatal(err)
	}
	app, _, err := f.app.Apps.Get(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if app.GetPermissions().Deployments != nil || app.GetPermissions().GetChecks() != "write" {
		t.Errorf("app permissions = %+v", app.GetPermissions())
	}

	// Each route with its permission: read is not write; issues or
	// pull_requests reach a pull request's comments.
	for _, tc := range []struct {
		perm   string
		call   func(c *github.Client) (*github.Response, error)
		status int
	}{
		{"checks", func(c *github.Client) (*github.Response, error) {
			_, r, err := c.Checks.ListCheckRunsForRef(ctx, org, name, "main", nil)
			return r, err
		}, 403},
		{"contents", func(c *github.Client) (*github.Response, error) {
			_, r, err := c.Repositories.GetCommit(ctx, org, name, "main", nil)
			return r, err
		}, 403},
		{"metadata", func(c *github.Client) (*github.Response, error) {
			_, r, err := c.Repositories.Get(ctx, org, name)
			return r, err
		}, 200}, // every App has metadata:read
		{"pull_requests", func(c *github.Client) (*github.Response, error) {
			_, r, err := c.PullRequests.List(ctx, org, name, nil)
			return r, err
		}, 403},
		{"actions", func(c *github.Client) (*github.Response, error) {
			_, r, err := c.Repositories.ListEnvironments(ctx, org, name, nil)
			return r, err
		}, 403},
		{"members", func(c *github.Client) (*github.Response, error) {
			_, r, err := c.Teams.GetTeamMembershipBySlug(ctx, org, "admins", "carol")
			return r, err
		}, 403},
		{"issues", func(c *github.Client) (*github.Response, error) {
			_, r, err := c.Issues.ListComments(ctx, org, name, 1, nil)
			return r, err
		}, 200}, // pull_requests still reaches them
	} {
		g := newFixture(t, githubsim.Options{Permissions: withoutPermission(tc.perm)})
		g.sim.SetTeam(org, "admins", "carol")
		g.sim.Push(ctx, g.repo, "topic", "alice", "t", githubsim.FileChange{Path: "t", Content: []byte("t")})
		g.sim.OpenPR(ctx, g.repo, "topic", "", "alice", "t", "")
		resp, err := tc.call(g.gh)
		if resp == nil || resp.StatusCode != tc.status {
			t.Errorf("without %s: %v, want %d", tc.perm, err, tc.status)
		}
	}
	// Reading is not writing.
	g := newFixture(t, githubsim.Options{Permissions: map[string]string{"checks": "read"}})
	if _, resp, _ := g.gh.Checks.CreateCheckRun(ctx, org, name, github.CreateCheckRunOptions{Name: "x", HeadSHA: g.base}); resp == nil || resp.StatusCode != 403 {
		t.Errorf("creating a check run with checks:read: %v, want 403", resp)
	}
	if _, _, err := g.gh.Checks.ListCheckRunsForRef(ctx, org, name, "main", nil); err != nil {
		t.Errorf("listing with checks:read: %v", err)
	}
	if _, err := githubsim.NewServer(githubsim.Options{Permissions: map[string]string{"checks": "owner"}}); err == nil {
		t.Error("a permission level GitHub lacks was accepted")
	}
}

// TestScopedTokens: a token asked for fewer permissions or repositories
// gets exactly those; asking for more than the App has is 422.
func TestScopedTokens(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	other, err := f.sim.CreateRepo(ctx, org+"/other", "main", "")
	if err != nil || other == "" {
		t.Fatal(err)
	}
	tok, resp, err := f.app.Apps.CreateInstallationToken(ctx, f.inst, &github.InstallationTokenOptions{
		Repositories: []string{name},
		Permissions:  &github.InstallationPermissions{Checks: github.String("read")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 201 || tok.GetPermissions().GetChecks() != "read" || tok.GetPermissions().PullRequests != nil || len(tok.Repositories) != 1 {
		t.Errorf("scoped token: %+v", tok)
	}
	if tok.GetPermissions().GetMetadata() != "read" {
		t.Errorf("a scoped token without metadata:read")
	}
	c := tokenClient(t, f.sim, tok.GetToken())
	if _, _, err := c.Checks.ListCheckRunsForRef(ctx, org, name, "main", nil); err != nil {
		t.Errorf("within scope: %v", err)
	}
	if _, resp, _ := c.Checks.CreateCheckRun(ctx, org, name, github.CreateCheckRunOptions{Name: "x", HeadSHA: f.base}); resp == nil || resp.StatusCode != 403 {
		t.Errorf("write with a read token: %v, want 403", resp)
	}
	if _, resp, _ := c.PullRequests.List(ctx, org, name, nil); resp == nil || resp.StatusCode != 403 {
		t.Errorf("pull requests with a checks token: %v, want 403", resp)
	}
	if _, resp, _ := c.Repositories.Get(ctx, org, "other"); resp == nil || resp.StatusCode != 404 {
		t.Errorf("a repository outside the token: %v, want 404", resp)
	}
	irs, _, err := c.Apps.ListRepos(ctx, nil)
	if err != nil || irs.GetTotalCount() != 1 {
		t.Errorf("installation repositories of a scoped token: %v %d", err, irs.GetTotalCount())
	}
	// By id, too.
	r, _, err := f.gh.Repositories.Get(ctx, org, "other")
	if err != nil {
		t.Fatal(err)
	}
	byID, _, err := f.app.Apps.CreateInstallationToken(ctx, f.inst, &github.InstallationTokenOptions{RepositoryIDs: []int64{r.GetID()}})
	if err != nil {
		t.Fatal(err)
	}
	c = tokenClient(t, f.sim, byID.GetToken())
	if _, _, err := c.Repositories.Get(ctx, org, "other"); err != nil {
		t.Errorf("repository by id: %v", err)
	}
	if _, resp, _ := c.Repositories.Get(ctx, org, name); resp == nil || resp.StatusCode != 404 {
		t.Errorf("repository outside the ids: %v, want 404", resp)
	}
	// More than the App was granted, or a repository it cannot see: 422.
	for what, opts := range map[string]*github.InstallationTokenOptions{
		"contents:write": {Permissions: &github.InstallationPermissions{Contents: github.String("write")}},
		"administration": {Permissions: &github.InstallationPermissions{Administration: github.String("read")}},
		"unknown repo":   {Repositories: []string{"nope"}},
	} {
		_, resp, err := f.app.Apps.CreateInstallationToken(ctx, f.inst, opts)
		if resp == nil || resp.StatusCode != 422 {
			t.Errorf("%s: %v, want 422", what, err)
		}
	}
	if _, _, err := f.sim.IssueScopedToken(f.inst, githubsim.TokenScope{Permissions: map[string]string{"contents": "write"}}); !errors.Is(err, githubsim.ErrPermissionsScope) {
		t.Errorf("IssueScopedToken beyond the grant: %v", err)
	}
}

// signJWT signs claims with the App's key, as ghinstallation does.
func signJWT(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	h := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	p := enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(h + "." + p))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return h + "." + p + "." + enc.EncodeToString(sig)
}

// TestAppJWT: GitHub's rules for the App's JWT.
func TestAppJWT(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	if id := f.sim.ClientID(); len(id) != 20 || id[:6] != "Iv23li" {
		t.Errorf("client id %q, want GitHub's Iv23li… shape", id)
	}
	// ghinstallation v2.12.0 (iat 30 s back, exp 2 minutes later) works.
	if _, _, err := f.app.Apps.Get(ctx, ""); err != nil {
		t.Fatalf("ghinstallation's JWT: %v", err)
	}
	now := time.Now().Unix()
	id := f.sim.AppID()
	for _, tc := range []struct {
		name   string
		claims map[string]any
		want   int
	}{
		{"app id", map[string]any{"iss": id, "iat": now - 60, "exp": now + 600}, 200},
		{"app id as string", map[string]any{"iss": "" + jsonNum(id), "iat": now - 60, "exp": now + 540}, 200},
		{"client id", map[string]any{"iss": f.sim.ClientID(), "iat": now - 60, "exp": now + 540}, 200},
		{"slug", map[string]any{"iss": "honua-gitops", "iat": now - 60, "exp": now + 540}, 401},
		{"other app", map[string]any{"iss": id + 1, "iat": now - 60, "exp": now + 540}, 401},
		{"exp beyond 10 minutes", map[string]any{"iss": id, "iat": now - 10, "exp": now + 620}, 401},
		{"iat in the future", map[string]any{"iss": id, "iat": now + 30, "exp": now + 300}, 401},
		{"expired", map[string]any{"iss": id, "iat": now - 700, "exp": now - 100}, 401},
		{"fractional exp", map[string]any{"iss": id, "iat": now - 60, "exp": float64(now) + 300.5}, 401},
	} {
		req, _ := http.NewRequest("GET", f.sim.URL()+"/app", nil)
		req.Header.Set("Authorization", "Bearer "+signJWT(t, f.sim.AppKey(), tc.claims))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestEventSubscription: GitHub sends an App only the events it subscribes
// to (app.yml's by default, which leave out deployment).
func TestEventSubscription(t *testing.T) {
	ctx := context.Background()
	deploy := func(f *fixture) {
		t.Helper()
		if _, _, err := f.gh.Repositories.CreateDeployment(ctx, org, name, &github.DeploymentRequest{Ref: github.String("main"), AutoMerge: github.Bool(false), RequiredContexts: &[]string{}}); err != nil {
			t.Fatal(err)
		}
	}
	f := newFixture(t, githubsim.Options{})
	deploy(f)
	if n := len(f.sim.DeliveriesOf("deployment", "")); n != 0 {
		t.Errorf("deployment delivered to an App not subscribed to it: %d", n)
	}
	g := newFixture(t, githubsim.Options{Events: append(githubsim.DefaultEvents(), "deployment")})
	deploy(g)
	if n := len(g.sim.DeliveriesOf("deployment", "created")); n != 1 {
		t.Errorf("deployment delivered %d times to a subscribed App", n)
	}
	app, _, err := g.app.Apps.Get(ctx, "")
	// deployment added, deployment_protection_rule left out of the App
	// object (the webhook schema's App cannot list it).
	if err != nil || len(app.Events) != len(githubsim.DefaultEvents()) {
		t.Errorf("the App's events: %v %v", err, app.Events)
	}
}
