package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v66/github"

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
