package githubsim_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// TestRateLimitPerInstallation: GitHub counts the primary limit per
// installation, so a second token buys no budget; ETags stay per token.
func TestRateLimitPerInstallation(t *testing.T) {
	f := newFixture(t, githubsim.Options{RateLimit: 4})
	ctx := context.Background()
	tok1, _, _ := f.sim.IssueToken(f.inst)
	tok2, _, _ := f.sim.IssueToken(f.inst)
	c1, c2 := tokenClient(t, f.sim, tok1), tokenClient(t, f.sim, tok2)
	for i := 0; i < 2; i++ {
		if _, _, err := c1.Repositories.Get(ctx, org, name); err != nil {
			t.Fatal(err)
		}
	}
	_, resp, err := c2.Repositories.Get(ctx, org, name)
	if err != nil || resp.Rate.Remaining != 1 || resp.Header.Get("X-RateLimit-Used") != "3" {
		t.Fatalf("second token: %v remaining %d used %s, want the installation's 1 and 3", err, resp.Rate.Remaining, resp.Header.Get("X-RateLimit-Used"))
	}
	c2.Repositories.Get(ctx, org, name)
	tok3, _, _ := f.sim.IssueToken(f.inst)
	_, _, err = tokenClient(t, f.sim, tok3).Repositories.Get(ctx, org, name)
	var rle *github.RateLimitError
	if !errors.As(err, &rle) {
		t.Fatalf("a fresh token after the installation's budget is spent: %v, want *RateLimitError", err)
	}
	// Another installation has its own budget.
	other := f.sim.Install("other")
	f.sim.CreateRepo(ctx, "other/repo", "main", "")
	tok4, _, _ := f.sim.IssueToken(other)
	if _, _, err := tokenClient(t, f.sim, tok4).Repositories.Get(ctx, "other", "repo"); err != nil {
		t.Errorf("another installation: %v", err)
	}
}

// TestSecondaryLimitModes: GitHub answers a secondary limit with 403 or
// 429, with or without Retry-After, always pointing at its documentation.
func TestSecondaryLimitModes(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	tok, _, _ := f.sim.IssueToken(f.inst)
	route := "GET /repos/{owner}/{repo}/pulls"
	const doc = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	for _, tc := range []struct {
		kind       githubsim.RateLimitKind
		status     int
		retryAfter string
	}{
		{githubsim.SecondaryLimit, 403, "30"},
		{githubsim.SecondaryLimit429, 429, "30"},
		{githubsim.SecondaryLimitNoRetryAfter, 403, ""},
		{githubsim.SecondaryLimit429NoRetryAfter, 429, ""},
	} {
		f.sim.ForceRateLimit(route, tc.kind, 1, 30*time.Second)
		_, resp, err := tokenClient(t, f.sim, tok).PullRequests.List(ctx, org, name, nil)
		if resp == nil || resp.StatusCode != tc.status || resp.Header.Get("Retry-After") != tc.retryAfter {
			t.Errorf("kind %d: %v, want %d with Retry-After %q", tc.kind, resp, tc.status, tc.retryAfter)
			continue
		}
		var er *github.ErrorResponse
		var abuse *github.AbuseRateLimitError
		switch {
		case errors.As(err, &abuse):
			if tc.status != 403 {
				t.Errorf("kind %d: a 429 read as *AbuseRateLimitError", tc.kind)
			}
		case errors.As(err, &er):
			if er.DocumentationURL != doc {
				t.Errorf("kind %d: documentation_url %q", tc.kind, er.DocumentationURL)
			}
		default:
			t.Errorf("kind %d: %T %v", tc.kind, err, err)
		}
		if resp.Header.Get("X-RateLimit-Remaining") == "0" {
			t.Errorf("kind %d: a secondary limit reports the primary one spent", tc.kind)
		}
	}
}
