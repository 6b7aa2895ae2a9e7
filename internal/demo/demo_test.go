package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestDemo plays the whole demo, as `go run ./cmd/honua-gitops demo` does,
// and checks the timeline tells the story: the plan, development deployed
// by its runner, staging deployed after an approval, production held
// honestly, a bad change rolled back with the live document byte-identical,
// and /rollback deployed.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := Run(ctx, Options{Out: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	t.Log("\n" + s)
	for _, want := range []string{
		"check honua/plan: success — development: 2 to add",
		"(1 breaking)",
		"check honua/policy: success",
		"deployment development  queued",
		"deployment development  success: deployed and healthy",
		`GET /ogc/collections/transportation::bike-lanes on development's Honua: 200 "Bike Lanes and Paths"`,
		"deployment staging      pending: needs 1 approval",
		"deployment staging      queued: approved by ana",
		"deployment staging      success: deployed and healthy",
		`GET /ogc/collections/transportation::bike-lanes on staging's Honua: 200`,
		"approved deploying",
		"production is held by",
		"deployment development  failure: rolled back: collection transportation::bike-parking",
		"live document of development: byte-identical to before the deployment",
		"transportation::bike-parking on development's Honua: 404",
		`on development's Honua: 200 "Bike Lanes (pilot)"`,
		"(task deploy:rollback) of",
		"the development runner polls: deploy:rollback to development → success: deployed and healthy",
		"notification (Slack, to the demo's local receiver): #gis-staging [honua-gitops] staging: approval required",
		"notification (Slack, to the demo's local receiver): #gis-dev [honua-gitops] development: deployment failed (rolled back)",
		"Summary",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the timeline lacks %q", want)
		}
	}
	if strings.Contains(s, "production   success") || strings.Contains(s, "CHANGED") {
		t.Errorf("the timeline claims what did not happen")
	}
	// After the rollback, development serves PR #1's layer again.
	i := strings.LastIndex(s, "bike-lanes on development's Honua")
	if i < 0 || !strings.Contains(s[i:], `"Bike Lanes and Paths"`) {
		t.Errorf("development does not serve PR #1's bike lanes after /rollback")
	}
}

// TestDemoReviewInGitHub: with --approvals github-environment, production
// is approved in GitHub's own dialog of the App's gate run, and the App
// counts the approval.
func TestDemoReviewInGitHub(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := Run(ctx, Options{Out: &out, Approvals: "github-environment"}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		`the App dispatched the gate workflow "honua gate"`,
		`GitHub holds the job "gate" at the environment production: waiting`,
		"deployment status: pending: waiting for review in GitHub",
		`lkeawe approves in GitHub's "Review deployments" dialog`,
		"approved deploying",
		"production is held by",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the timeline lacks %q\n%s", want, s)
		}
	}
	if strings.Contains(s, `lkeawe clicks Approve on "honua/deploy (production)"`) {
		t.Errorf("the dialog story clicks the App's button")
	}
}
