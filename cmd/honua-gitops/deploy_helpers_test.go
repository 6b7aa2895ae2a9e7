package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
	"github.com/honua-io/honua-gitops/reconciler/order"
)

// queueDeployment creates a deployment of sha to env of kailua-gis/config
// as the App does: an order signed with key, then a queued status (with the
// App's credentials in gh).
func queueDeployment(t testing.TB, gh *github.Client, key ed25519.PrivateKey, sha, env string) int64 {
	t.Helper()
	ctx := context.Background()
	payload, err := order.Sign(order.Order{Repo: "kailua-gis/config", SHA: sha, Environment: env, Task: "deploy",
		PlanDigest: strings.Repeat("ab", 32), PolicyDigest: "sha256:" + strings.Repeat("cd", 32), PR: 1,
		IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, key)
	if err != nil {
		t.Fatal(err)
	}
	var p any = json.RawMessage(payload)
	d, _, err := gh.Repositories.CreateDeployment(ctx, "kailua-gis", "config", &github.DeploymentRequest{
		Ref: github.String(sha), Environment: github.String(env), Task: github.String("deploy"),
		AutoMerge: github.Bool(false), RequiredContexts: &[]string{}, Payload: p})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := gh.Repositories.CreateDeploymentStatus(ctx, "kailua-gis", "config", d.GetID(), &github.DeploymentStatusRequest{State: github.String("queued")}); err != nil {
		t.Fatal(err)
	}
	return d.GetID()
}

// gitIn runs git in dir with a fixed identity and no user configuration.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	c := exec.Command("git", args...)
	c.Dir = dir
	c.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Kai", "GIT_AUTHOR_EMAIL=kai@kailua.example", "GIT_COMMITTER_NAME=Kai",
		"GIT_COMMITTER_EMAIL=kai@kailua.example", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(bytes.TrimSpace(out))
}

// sampleRemote makes a bare repository under dir holding the sample
// config repository on main, and a clone to push from; it returns both
// and the first commit.
func sampleRemote(t *testing.T, dir string) (bare, work, first string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	bare = filepath.Join(dir, "config.git")
	gitIn(t, dir, "init", "-q", "--bare", "-b", "main", bare)
	work = filepath.Join(dir, "work")
	if err := os.CopyFS(work, os.DirFS("../../samples/config")); err != nil {
		t.Fatal(err)
	}
	gitIn(t, work, "init", "-q", "-b", "main")
	gitIn(t, work, "add", "-A")
	gitIn(t, work, "commit", "-q", "-m", "base")
	gitIn(t, work, "remote", "add", "origin", bare)
	gitIn(t, work, "push", "-q", "origin", "main")
	return bare, work, gitIn(t, work, "rev-parse", "HEAD")
}

// tokenFixture is GitHub (the emulator) with the sample repository and the
// App installed, a token of the installation (as a runner's GITHUB_TOKEN)
// and a client with it, and an order-signing key whose public half is in
// keyFile under dir: what a runner command test starts from.
type tokenFixture struct {
	sim     *githubsim.Server
	tok     string
	gh      *github.Client
	key     ed25519.PrivateKey
	keyFile string
	sha     string // main's first commit
}

func newTokenFixture(t *testing.T, dir string) tokenFixture {
	t.Helper()
	sim := githubsim.New(t, githubsim.Options{})
	inst := sim.Install("kailua-gis")
	samples, err := filepath.Abs("../../samples/config")
	if err != nil {
		t.Fatal(err)
	}
	sha, err := sim.CreateRepo(context.Background(), "kailua-gis/config", "main", samples)
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
	pemBytes, err := order.PublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "order.pub.pem")
	write(t, keyFile, string(pemBytes))
	return tokenFixture{sim: sim, tok: tok, gh: gh, key: key, keyFile: keyFile, sha: sha}
}
