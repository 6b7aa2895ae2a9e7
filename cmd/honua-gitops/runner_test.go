package main

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
	"github.com/honua-io/honua-gitops/internal/honuasim"
	"github.com/honua-io/honua-gitops/reconciler/order"
)

// TestRunnerCommandOnce: `runner --once` with a token applies the
// deployment the App queued, and refuses without an order key.
func TestRunnerCommandOnce(t *testing.T) {
	ctx := context.Background()
	sim := githubsim.New(t, githubsim.Options{})
	inst := sim.Install("kailua-gis")
	samples, err := filepath.Abs("../../samples/config")
	if err != nil {
		t.Fatal(err)
	}
	sha, err := sim.CreateRepo(ctx, "kailua-gis/config", "main", samples)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := sim.IssueToken(inst)
	if err != nil {
		t.Fatal(err)
	}
	gh, err := github.NewClient(http.DefaultClient).WithAuthToken(tok).WithEnterpriseURLs(sim.APIURL(), sim.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	pub, key, _ := ed25519.GenerateKey(nil)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "order.pub.pem")
	pemBytes, err := order.PublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	write(t, keyFile, string(pemBytes))
	id := queueDeployment(t, gh, key, sha, "development")
	live := filepath.Join(dir, "honua", "metadata.json")
	if err := os.MkdirAll(filepath.Dir(live), 0o755); err != nil {
		t.Fatal(err)
	}
	honua := honuasim.New(t, honuasim.Options{MetadataPath: live})
	t.Setenv("GITHUB_TOKEN", tok)
	t.Setenv("HONUA_SECRET_KAILUA_PG_PASSWORD_DEV", "dev-secret")
	args := []string{"runner", "--once", "--repo", "kailua-gis/config", "--env", "development",
		"--github-url", sim.APIURL(), "--app-bot", sim.BotLogin(), "--honua-url", honua.URL(),
		"--metadata-path", live, "--state-dir", filepath.Join(dir, "state"), "--log-format", "text"}

	_, stderr, code := runCmd(t, args...)
	if code != exitUsage || !strings.Contains(stderr, "--order-public-key-file") {
		t.Errorf("without an order key: exit %d, %s", code, stderr)
	}
	_, stderr, code = runCmd(t, append(args, "--order-public-key-file", keyFile)...)
	if code != exitOK {
		t.Fatalf("runner --once: exit %d\n%s", code, stderr)
	}
	var states []string
	for _, dd := range sim.Deployments("kailua-gis/config") {
		if dd.ID == id {
			states = dd.States
		}
	}
	if len(states) == 0 || states[len(states)-1] != "success" {
		t.Errorf("deployment statuses %v, want … success\n%s", states, stderr)
	}
	if !strings.Contains(string(honua.Loaded()), "dev-secret") {
		t.Errorf("Honua does not serve the rendered document with its secret filled")
	}
	if strings.Contains(stderr, "dev-secret") {
		t.Errorf("the runner logged a secret")
	}
}
