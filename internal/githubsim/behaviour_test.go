package githubsim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

func TestSignatureTestVector(t *testing.T) {
	// GitHub's documented test vector (GITHUB.md).
	got := githubsim.Sign("It's a Secret to Everybody", []byte("Hello, World!"))
	want := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func tokenClient(t *testing.T, sim *githubsim.Server, tok string) *github.Client {
	t.Helper()
	c, err := github.NewClient(nil).WithAuthToken(tok).WithEnterpriseURLs(sim.APIURL(), sim.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTokenExpiry(t *testing.T) {
	clock := githubsim.NewManualClock(time.Now())
	f := newFixture(t, githubsim.Options{Clock: clock})
	ctx := context.Background()
	tok, exp, err := f.sim.IssueToken(f.inst)
	if err != nil {
		t.Fatal(err)
	}
	if d := exp.Sub(clock.Now()); d < 59*time.Minute || d > time.Hour {
		t.Errorf("token lives %v, want 1h", d)
	}
	c := tokenClient(t, f.sim, tok)
	if _, _, err := c.Repositories.Get(ctx, org, name); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	_, resp, err := c.Repositories.Get(ctx, org, name)
	if resp == nil || resp.StatusCode != 401 {
		t.Fatalf("expired token: %v", err)
	}
	_, resp, _ = tokenClient(t, f.sim, "ghs_unknown").Repositories.Get(ctx, org, name)
	if resp == nil || resp.StatusCode != 401 {
		t.Fatalf("unknown token: status %v", resp)
	}
	// ghinstallation, token from the real endpoint through the App JWT.
	if _, err := f.itr.Token(ctx); err != nil {
		t.Fatal(err)
	}
	// An expired JWT, and one signed by another key.
	for name, jwt := range map[string]string{
		"expired": f.sim.SignAppJWT(time.Now().Add(-20*time.Minute), time.Now().Add(-10*time.Minute)),
		"garbage": "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxIn0.c2ln",
	} {
		req, _ := http.NewRequest("GET", f.sim.URL()+"/app", nil)
		req.Header.Set("Authorization", "Bearer "+jwt)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("%s JWT: status %d, want 401", name, resp.StatusCode)
		}
	}
}

func TestETagAndRateAccounting(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	tok, _, _ := f.sim.IssueToken(f.inst)
	get := func(etag string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, "GET", f.sim.URL()+"/repos/"+f.repo, nil)
		req.Header.Set("Authorization", "token "+tok)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	first := get("")
	etag := first.Header.Get("ETag")
	if etag == "" || first.Header.Get("X-RateLimit-Remaining") != "4999" {
		t.Fatalf("first: etag %q remaining %q", etag, first.Header.Get("X-RateLimit-Remaining"))
	}
	second := get(etag)
	if second.StatusCode != 304 || second.Header.Get("X-RateLimit-Remaining") != "4999" {
		t.Errorf("conditional: %d remaining %s, want 304 and no cost", second.StatusCode, second.Header.Get("X-RateLimit-Remaining"))
	}
	// Another token gets another ETag: ETags are per token.
	tok2, _, _ := f.sim.IssueToken(f.inst)
	req, _ := http.NewRequest("GET", f.sim.URL()+"/repos/"+f.repo, nil)
	req.Header.Set("Authorization", "token "+tok2)
	req.Header.Set("If-None-Match", etag)
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("other token with first token's ETag: %d, want 200", resp.StatusCode)
	}
	want := githubsim.Counter{Calls: 2, NotModified: 1, RateUnits: 1}
	if diff := cmp.Diff(want, f.sim.TokenCounter(tok)); diff != "" {
		t.Errorf("token counter (-want +got):\n%s", diff)
	}
	if got := f.sim.RouteCounter("GET /repos/{owner}/{repo}"); got.Calls != 3 || got.NotModified != 1 || got.RateUnits != 2 {
		t.Errorf("route counter = %+v", got)
	}
}

func TestRateLimits(t *testing.T) {
	f := newFixture(t, githubsim.Options{RateLimit: 3})
	ctx := context.Background()
	tok, _, _ := f.sim.IssueToken(f.inst)
	c := tokenClient(t, f.sim, tok)
	for i := 0; i < 3; i++ {
		if _, _, err := c.Repositories.Get(ctx, org, name); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := c.Repositories.Get(ctx, org, name)
	var rle *github.RateLimitError
	if !errors.As(err, &rle) || rle.Rate.Remaining != 0 {
		t.Fatalf("exhausted: %v, want *RateLimitError", err)
	}

	g := newFixture(t, githubsim.Options{})
	route := "GET /repos/{owner}/{repo}/pulls"
	tok, _, _ = g.sim.IssueToken(g.inst)
	c = tokenClient(t, g.sim, tok)
	g.sim.ForceRateLimit(route, githubsim.SecondaryLimit, 1, 90*time.Second)
	_, _, err = c.PullRequests.List(ctx, org, name, nil)
	var abuse *github.AbuseRateLimitError
	if !errors.As(err, &abuse) || abuse.GetRetryAfter() != 90*time.Second {
		t.Fatalf("secondary: %v, want *AbuseRateLimitError with retry-after 90s", err)
	}
	// go-github now refuses requests until the retry-after passes; a fresh
	// client stands for the App after waiting.
	c = tokenClient(t, g.sim, tok)
	g.sim.ForceRateLimit(route, githubsim.PrimaryLimit429, 1, 0)
	// go-github v66 knows only 403 as a primary limit; a 429 arrives as a
	// plain *ErrorResponse, with the headers the App must honour.
	_, resp, err := c.PullRequests.List(ctx, org, name, nil)
	if resp == nil || resp.StatusCode != 429 || resp.Header.Get("X-RateLimit-Remaining") != "0" || resp.Header.Get("X-RateLimit-Reset") == "" {
		t.Fatalf("primary 429: %v", err)
	}
	c = tokenClient(t, g.sim, tok)
	if _, _, err := c.PullRequests.List(ctx, org, name, nil); err != nil {
		t.Fatalf("after the forced limits: %v", err)
	}
}

func TestPagination(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	if _, err := f.sim.Push(ctx, f.repo, "topic", "alice", "x", githubsim.FileChange{Path: "x", Content: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	n, _ := f.sim.OpenPR(ctx, f.repo, "topic", "", "alice", "t", "")
	for i := 0; i < 7; i++ {
		f.sim.Comment(f.repo, n, "bob", fmt.Sprintf("comment %d", i))
	}
	var bodies []string
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 3}}
	pages := 0
	for {
		cs, resp, err := f.gh.Issues.ListComments(ctx, org, name, n, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, c := range cs {
			bodies = append(bodies, c.GetBody())
		}
		if pages == 1 && (resp.LastPage != 3 || resp.NextPage != 2) {
			t.Errorf("first page links: next %d last %d", resp.NextPage, resp.LastPage)
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if pages != 3 || len(bodies) != 7 || bodies[6] != "comment 6" {
		t.Errorf("pages %d bodies %v", pages, bodies)
	}
}

func TestCheckRunLimits(t *testing.T) {
	// These requests break GitHub's description on purpose: collect the
	// contract violations instead of failing on them, and check that each
	// one was seen.
	var mu sync.Mutex
	var violations []githubsim.Violation
	f := newFixture(t, githubsim.Options{OnViolation: func(v githubsim.Violation) {
		mu.Lock()
		violations = append(violations, v)
		mu.Unlock()
	}})
	// Without GitHub's description (a clone without the fetched specs) the
	// emulator's 422s are still checked; the contract violations are not
	// (in CI the missing specs fail the test in newFixture).
	_, specErr := githubsim.LoadRESTSpec()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		if specErr != nil {
			t.Logf("contract violations not counted: %v", specErr)
			return
		}
		// Every 422 case but the unknown SHA breaks the schema of the body.
		if len(violations) != 7 {
			t.Errorf("contract violations = %d, want 7:\n%v", len(violations), violations)
		}
		for _, v := range violations {
			if !strings.Contains(v.What, "request body (checks/create)") {
				t.Errorf("unexpected violation: %s", v)
			}
		}
	}()
	ctx := context.Background()
	long := strings.Repeat("x", 65536)
	var many []*github.CheckRunAnnotation
	for i := 0; i < 51; i++ {
		many = append(many, &github.CheckRunAnnotation{Path: github.String("a"), StartLine: github.Int(1), EndLine: github.Int(1), AnnotationLevel: github.String("notice"), Message: github.String("m")})
	}
	out := func(o *github.CheckRunOutput) *github.CheckRunOutput {
		if o.Title == nil {
			o.Title = github.String("t")
		}
		if o.Summary == nil {
			o.Summary = github.String("s")
		}
		return o
	}
	cases := []struct {
		name string
		opts github.CreateCheckRunOptions
		want int
	}{
		{"ok", github.CreateCheckRunOptions{Output: out(&github.CheckRunOutput{Summary: github.String(long[:65535])})}, 201},
		{"summary too long", github.CreateCheckRunOptions{Output: out(&github.CheckRunOutput{Summary: github.String(long)})}, 422},
		{"text too long", github.CreateCheckRunOptions{Output: out(&github.CheckRunOutput{Text: github.String(long)})}, 422},
		{"51 annotations", github.CreateCheckRunOptions{Output: out(&github.CheckRunOutput{Annotations: many})}, 422},
		{"4 actions", github.CreateCheckRunOptions{Actions: []*github.CheckRunAction{{Label: "a", Description: "a", Identifier: "a"}, {Label: "b", Description: "b", Identifier: "b"}, {Label: "c", Description: "c", Identifier: "c"}, {Label: "d", Description: "d", Identifier: "d"}}}, 422},
		{"label 21", github.CreateCheckRunOptions{Actions: []*github.CheckRunAction{{Label: strings.Repeat("l", 21), Description: "a", Identifier: "a"}}}, 422},
		{"description 41", github.CreateCheckRunOptions{Actions: []*github.CheckRunAction{{Label: "a", Description: strings.Repeat("d", 41), Identifier: "a"}}}, 422},
		{"identifier 21", github.CreateCheckRunOptions{Actions: []*github.CheckRunAction{{Label: "a", Description: "a", Identifier: strings.Repeat("i", 21)}}}, 422},
		{"unknown sha", github.CreateCheckRunOptions{HeadSHA: strings.Repeat("a", 40)}, 422},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.Name = "honua/plan"
			if o.HeadSHA == "" {
				o.HeadSHA = f.base
			}
			_, resp, err := f.gh.Checks.CreateCheckRun(ctx, org, name, o)
			if resp == nil || resp.StatusCode != tc.want {
				t.Errorf("status = %v (%v), want %d", resp, err, tc.want)
			}
		})
	}
}

func TestDeploymentSemantics(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	// A topic branch behind main: auto_merge (default true) merges main in
	// and answers 202, which go-github reports as *AcceptedError.
	if _, err := f.sim.Push(ctx, f.repo, "topic", "alice", "t", githubsim.FileChange{Path: "t", Content: []byte("t")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sim.Push(ctx, f.repo, "main", "alice", "m", githubsim.FileChange{Path: "m", Content: []byte("m")}); err != nil {
		t.Fatal(err)
	}
	_, resp, err := f.gh.Repositories.CreateDeployment(ctx, org, name, &github.DeploymentRequest{Ref: github.String("topic"), RequiredContexts: &[]string{}})
	var accepted *github.AcceptedError
	if !errors.As(err, &accepted) || resp.StatusCode != 202 {
		t.Fatalf("auto-merge: %v, want 202", err)
	}
	// A failing check blocks deployments unless required_contexts is [].
	sha, _ := f.sim.Push(ctx, f.repo, "main", "alice", "n", githubsim.FileChange{Path: "n", Content: []byte("n")})
	if _, _, err := f.gh.Checks.CreateCheckRun(ctx, org, name, github.CreateCheckRunOptions{Name: "honua/policy", HeadSHA: sha, Conclusion: github.String("failure"), Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String("s")}}); err != nil {
		t.Fatal(err)
	}
	_, resp, _ = f.gh.Repositories.CreateDeployment(ctx, org, name, &github.DeploymentRequest{Ref: github.String(sha), AutoMerge: github.Bool(false)})
	if resp == nil || resp.StatusCode != 409 {
		t.Errorf("failing check, contexts omitted: %v, want 409", resp)
	}
	_, resp, _ = f.gh.Repositories.CreateDeployment(ctx, org, name, &github.DeploymentRequest{Ref: github.String(sha), AutoMerge: github.Bool(false), RequiredContexts: &[]string{"honua/policy"}})
	if resp == nil || resp.StatusCode != 409 {
		t.Errorf("failing named context: %v, want 409", resp)
	}
	d, resp, err := f.gh.Repositories.CreateDeployment(ctx, org, name, &github.DeploymentRequest{Ref: github.String(sha), AutoMerge: github.Bool(false), RequiredContexts: &[]string{}, Environment: github.String("development")})
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("contexts []: %v", err)
	}
	_, resp, _ = f.gh.Repositories.CreateDeployment(ctx, org, name, &github.DeploymentRequest{Ref: github.String("no-such-ref")})
	if resp == nil || resp.StatusCode != 422 {
		t.Errorf("unknown ref: %v, want 422", resp)
	}
	// auto_inactive: a second success in the same environment makes the
	// first deployment inactive, without a webhook.
	succeed := func(id int64) {
		if _, _, err := f.gh.Repositories.CreateDeploymentStatus(ctx, org, name, id, &github.DeploymentStatusRequest{State: github.String("success")}); err != nil {
			t.Fatal(err)
		}
	}
	succeed(d.GetID())
	d2, _, err := f.gh.Repositories.CreateDeployment(ctx, org, name, &github.DeploymentRequest{Ref: github.String(sha), AutoMerge: github.Bool(false), RequiredContexts: &[]string{}, Environment: github.String("development")})
	if err != nil {
		t.Fatal(err)
	}
	succeed(d2.GetID())
	var states []string
	for _, dep := range f.sim.Deployments(f.repo) {
		states = append(states, strings.Join(dep.States, ","))
	}
	if diff := cmp.Diff([]string{"success,inactive", "success"}, states); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	f.sim.FlushWebhooks(ctx)
	for _, dl := range f.sim.DeliveriesOf("deployment_status", "") {
		if strings.Contains(string(dl.Body), `"state":"inactive"`) {
			t.Error("an inactive deployment_status webhook was sent")
		}
	}
}

func TestFaults(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	tok, _, _ := f.sim.IssueToken(f.inst)
	c := tokenClient(t, f.sim, tok)
	route := "GET /repos/{owner}/{repo}"
	f.sim.InjectFault(route, githubsim.Fault{Status: 502, Times: 1})
	_, resp, err := c.Repositories.Get(ctx, org, name)
	if resp == nil || resp.StatusCode != 502 {
		t.Fatalf("5xx fault: %v", err)
	}
	if _, _, err := c.Repositories.Get(ctx, org, name); err != nil {
		t.Fatalf("after a one-shot fault: %v", err)
	}
	// Go's transport retries an idempotent request once on a reset reused
	// connection, so the reset stays until cleared.
	f.sim.InjectFault(route, githubsim.Fault{Reset: true})
	if _, _, err := c.Repositories.Get(ctx, org, name); err == nil {
		t.Fatal("connection reset: no error")
	}
	f.sim.ClearFaults()
	f.sim.InjectFault(route, githubsim.Fault{Latency: 300 * time.Millisecond, Times: 1})
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, _, err := c.Repositories.Get(tctx, org, name); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("latency: %v, want deadline exceeded", err)
	}
	f.sim.InjectFault("*", githubsim.Fault{Status: 503})
	if _, _, err := c.PullRequests.List(ctx, org, name, nil); err == nil {
		t.Fatal("wildcard fault: no error")
	}
	f.sim.ClearFaults()
	if _, _, err := c.PullRequests.List(ctx, org, name, nil); err != nil {
		t.Fatalf("after ClearFaults: %v", err)
	}
	if got := f.sim.RouteCounter(route).Faults; got < 3 {
		t.Errorf("faults counted = %d, want >= 3", got)
	}
}

// receiver is a webhook endpoint that checks signatures as the App will.
type receiver struct {
	mu     sync.Mutex
	events []string
	ids    []string
	errs   []error
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	body, err := github.ValidatePayload(r, []byte("s3cret"))
	if err != nil {
		rc.errs = append(rc.errs, err)
		http.Error(w, err.Error(), 400)
		return
	}
	if !strings.HasPrefix(r.Header.Get("User-Agent"), "GitHub-Hookshot/") {
		rc.errs = append(rc.errs, fmt.Errorf("user agent %q", r.Header.Get("User-Agent")))
	}
	ev, err := github.ParseWebHook(github.WebHookType(r), body)
	if err != nil {
		rc.errs = append(rc.errs, fmt.Errorf("ParseWebHook %s: %w", github.WebHookType(r), err))
	}
	if i, ok := ev.(interface{ GetInstallation() *github.Installation }); ok && i.GetInstallation().GetID() == 0 {
		rc.errs = append(rc.errs, fmt.Errorf("%s without installation", github.WebHookType(r)))
	}
	var head struct {
		Action string `json:"action"`
	}
	json.Unmarshal(body, &head)
	action := head.Action
	rc.events = append(rc.events, github.WebHookType(r)+"."+action)
	rc.ids = append(rc.ids, github.DeliveryID(r))
	w.WriteHeader(http.StatusAccepted)
}

func TestWebhooks(t *testing.T) {
	rc := &receiver{}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	f := newFixture(t, githubsim.Options{WebhookURL: hook.URL, WebhookSecret: "s3cret"})
	ctx := context.Background()
	sim := f.sim
	sim.SetCollaborator(f.repo, "bob", githubsim.PermWrite)
	sim.Push(ctx, f.repo, "topic", "alice", "t", githubsim.FileChange{Path: "t", Content: []byte("t")})
	n, _ := sim.OpenPR(ctx, f.repo, "topic", "", "alice", "T", "")
	sim.Push(ctx, f.repo, "topic", "alice", "t2", githubsim.FileChange{Path: "t", Content: []byte("t2")})
	cid, _ := sim.Comment(f.repo, n, "bob", "/plan")
	sim.EditComment(f.repo, cid, "bob", "/plan please")
	sim.Review(f.repo, n, "bob", "APPROVE", "")
	pr, _ := sim.PullRequest(f.repo, n)
	run, _, err := f.gh.Checks.CreateCheckRun(ctx, org, name, github.CreateCheckRunOptions{
		Name: "honua/deploy (production)", HeadSHA: pr.HeadSHA, Conclusion: github.String("action_required"),
		Output:  &github.CheckRunOutput{Title: github.String("Waiting"), Summary: github.String("needs approval")},
		Actions: []*github.CheckRunAction{{Label: "Approve", Description: "Approve production", Identifier: "approve"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sim.ClickCheckRunAction(f.repo, run.GetID(), "approve", "bob")
	merge, _ := sim.MergePR(ctx, f.repo, n, "bob")
	d, _, err := f.gh.Repositories.CreateDeployment(ctx, org, name, &github.DeploymentRequest{Ref: github.String(merge), AutoMerge: github.Bool(false), RequiredContexts: &[]string{}, Environment: github.String("production")})
	if err != nil {
		t.Fatal(err)
	}
	f.gh.Repositories.CreateDeploymentStatus(ctx, org, name, d.GetID(), &github.DeploymentStatusRequest{State: github.String("queued")})
	if err := sim.FlushWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	got := append([]string(nil), rc.events...)
	errs := append([]error(nil), rc.errs...)
	rc.mu.Unlock()
	for _, err := range errs {
		t.Error(err)
	}
	want := []string{
		"push.", "check_suite.requested", // topic created
		"pull_request.opened",
		"push.", "check_suite.requested", "pull_request.synchronize",
		"issue_comment.created", "issue_comment.edited",
		"pull_request_review.submitted",
		// The run is the suite's only one: completing it completes the suite.
		"check_run.created", "check_run.completed", "check_suite.completed", "check_run.requested_action",
		"pull_request.closed", "push.", "check_suite.requested",
		// No deployment.created: app.yml does not subscribe to deployment.
		"deployment_status.created",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	// Redelivery keeps the id.
	first := sim.Deliveries()[0]
	if err := sim.Redeliver(first.ID); err != nil {
		t.Fatal(err)
	}
	sim.FlushWebhooks(ctx)
	rc.mu.Lock()
	last := rc.ids[len(rc.ids)-1]
	rc.mu.Unlock()
	if last != first.ID {
		t.Errorf("redelivery id = %s, want %s", last, first.ID)
	}
	// Review state is lowercase in webhooks.
	rv := sim.DeliveriesOf("pull_request_review", "submitted")
	if len(rv) != 1 || !strings.Contains(string(rv[0].Body), `"state":"approved"`) {
		t.Errorf("review webhook state not lowercase")
	}
	ic := sim.DeliveriesOf("issue_comment", "created")
	if len(ic) != 1 || !strings.Contains(string(ic[0].Body), `"pull_request":{`) {
		t.Errorf("issue_comment on a PR lacks issue.pull_request")
	}
}
