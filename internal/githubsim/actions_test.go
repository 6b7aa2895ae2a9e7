package githubsim_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// gateWorkflow is the tiny workflow a GitHub App dispatches to put a
// deploy in front of an environment's required reviewers.
const gateWorkflow = `name: honua gate
on:
  workflow_dispatch:
    inputs:
      environment: {description: Environment to approve, required: true, type: string}
      sha: {description: Commit, required: true, type: string}
      deployment_id: {description: The App's deployment, required: true, type: string}
      order_digest: {description: Deploy order digest, required: true, type: string}
jobs:
  gate:
    runs-on: ubuntu-latest
    environment: ${{ inputs.environment }}
    steps:
      - run: echo "approving ${{ inputs.environment }} ${{ inputs.sha }}"
`

const gateFile = "honua-gate.yml"

// actionsEvents are the events an App gating deploys subscribes to.
var actionsEvents = []string{"deployment", "deployment_status", "workflow_run", "deployment_review", "deployment_protection_rule"}

// newActionsFixture is newFixture with actions: write, the Actions events
// and the gate workflow (plus a push-only workflow) on main.
func newActionsFixture(t *testing.T, opts githubsim.Options) *fixture {
	t.Helper()
	if opts.Permissions == nil {
		opts.Permissions = githubsim.DefaultPermissions()
		opts.Permissions["actions"] = "write"
	}
	if opts.Events == nil {
		opts.Events = append(githubsim.DefaultEvents(), actionsEvents...)
	}
	f := newFixture(t, opts)
	sha, err := f.sim.Push(context.Background(), f.repo, "main", "alice", "Add workflows",
		githubsim.FileChange{Path: ".github/workflows/" + gateFile, Content: []byte(gateWorkflow)},
		githubsim.FileChange{Path: ".github/workflows/ci.yaml", Content: []byte("name: ci\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps: [{run: 'true'}]\n")})
	if err != nil {
		t.Fatal(err)
	}
	f.base = sha
	return f
}

func (f *fixture) dispatchGate(t *testing.T, env string) int64 {
	t.Helper()
	ctx := context.Background()
	before := len(f.sim.WorkflowRuns(f.repo))
	_, err := f.gh.Actions.CreateWorkflowDispatchEventByFileName(ctx, org, name, gateFile, github.CreateWorkflowDispatchEventRequest{
		Ref: "main", Inputs: map[string]any{"environment": env, "sha": f.base, "deployment_id": "42", "order_digest": "sha256:abc"},
	})
	if err != nil {
		t.Fatalf("dispatch: %v", err)
	}
	runs := f.sim.WorkflowRuns(f.repo)
	if len(runs) != before+1 {
		t.Fatalf("runs: %d, want %d", len(runs), before+1)
	}
	return runs[len(runs)-1].ID
}

func (f *fixture) run(t *testing.T, id int64) githubsim.WorkflowRun {
	t.Helper()
	for _, r := range f.sim.WorkflowRuns(f.repo) {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no run %d", id)
	return githubsim.WorkflowRun{}
}

func (f *fixture) deploymentStates(t *testing.T, id int64) []string {
	t.Helper()
	for _, d := range f.sim.Deployments(f.repo) {
		if d.ID == id {
			return d.States
		}
	}
	t.Fatalf("no deployment %d", id)
	return nil
}

func actions(t *testing.T, sim *githubsim.Server, event string) []string {
	t.Helper()
	sim.FlushWebhooks(context.Background())
	var out []string
	for _, d := range sim.DeliveriesOf(event, "") {
		out = append(out, d.Action)
	}
	return out
}

// TestWorkflowsFromTree: the workflows are the default branch's
// .github/workflows files, by id or file name.
func TestWorkflowsFromTree(t *testing.T) {
	f := newActionsFixture(t, githubsim.Options{})
	ctx := context.Background()
	list, _, err := f.gh.Actions.ListWorkflows(ctx, org, name, nil)
	if err != nil || list.GetTotalCount() != 2 {
		t.Fatalf("workflows: %v %+v", err, list)
	}
	if w := list.Workflows[1]; w.GetName() != "honua gate" || w.GetPath() != ".github/workflows/"+gateFile || w.GetState() != "active" {
		t.Errorf("gate workflow %+v", w)
	}
	byName, _, err := f.gh.Actions.GetWorkflowByFileName(ctx, org, name, gateFile)
	if err != nil {
		t.Fatal(err)
	}
	byID, _, err := f.gh.Actions.GetWorkflowByID(ctx, org, name, byName.GetID())
	if err != nil || byID.GetPath() != byName.GetPath() {
		t.Errorf("by id: %v %+v", err, byID)
	}
	if _, resp, _ := f.gh.Actions.GetWorkflowByFileName(ctx, org, name, "nope.yml"); resp == nil || resp.StatusCode != 404 {
		t.Errorf("unknown workflow: %v, want 404", resp)
	}
}

// TestDispatchValidation: GitHub's 422s (and 404, 403) for a dispatch.
func TestDispatchValidation(t *testing.T) {
	f := newActionsFixture(t, githubsim.Options{})
	ctx := context.Background()
	full := map[string]any{"environment": "production", "sha": "abc", "deployment_id": "1", "order_digest": "d"}
	for _, tc := range []struct {
		desc, file, ref string
		inputs          map[string]any
		status          int
		msg             string
	}{
		{"no workflow_dispatch", "ci.yaml", "main", nil, 422, "Workflow does not have 'workflow_dispatch' trigger"},
		{"unknown ref", gateFile, "nowhere", full, 422, "No ref found for: nowhere"},
		{"missing input", gateFile, "main", map[string]any{"environment": "production", "sha": "abc", "deployment_id": "1"}, 422, "Required input 'order_digest' not provided"},
		{"unexpected input", gateFile, "main", map[string]any{"environment": "production", "sha": "abc", "deployment_id": "1", "order_digest": "d", "extra": "x", "more": 1}, 422, `Unexpected inputs provided: ["extra","more"]`},
		{"unknown workflow", "nope.yml", "main", full, 404, "Not Found"},
	} {
		resp, err := f.gh.Actions.CreateWorkflowDispatchEventByFileName(ctx, org, name, tc.file, github.CreateWorkflowDispatchEventRequest{Ref: tc.ref, Inputs: tc.inputs})
		var er *github.ErrorResponse
		if !errors.As(err, &er) || resp.StatusCode != tc.status || er.Message != tc.msg {
			t.Errorf("%s: %v (%v), want %d %q", tc.desc, err, resp, tc.status, tc.msg)
		}
	}
	if runs := f.sim.WorkflowRuns(f.repo); len(runs) != 0 {
		t.Errorf("refused dispatches made runs: %+v", runs)
	}
	// actions: read is not enough to dispatch.
	readOnly := githubsim.DefaultPermissions()
	readOnly["actions"] = "read"
	ro := newActionsFixture(t, githubsim.Options{Permissions: readOnly})
	resp, _ := ro.gh.Actions.CreateWorkflowDispatchEventByFileName(ctx, org, name, gateFile, github.CreateWorkflowDispatchEventRequest{Ref: "main", Inputs: full})
	if resp == nil || resp.StatusCode != 403 {
		t.Errorf("dispatch with actions: read: %v, want 403", resp)
	}
}

// TestUnprotectedEnvironmentRunsAtOnce: a job whose environment has no
// protection rules runs at once; GitHub still records a deployment for it.
func TestUnprotectedEnvironmentRunsAtOnce(t *testing.T) {
	f := newActionsFixture(t, githubsim.Options{})
	ctx := context.Background()
	f.sim.SetEnvironment(f.repo, githubsim.Environment{Name: "development"})
	id := f.dispatchGate(t, "development")
	run := f.run(t, id)
	if run.Status != "completed" || run.Conclusion != "success" || run.Actor != f.sim.BotLogin() || run.Event != "workflow_dispatch" ||
		run.HeadSHA != f.base || run.HeadBranch != "main" || run.Inputs["order_digest"] != "sha256:abc" || run.Environments[0] != "development" {
		t.Errorf("run %+v", run)
	}
	if got := f.deploymentStates(t, run.Jobs[0].DeploymentID); !slices.Equal(got, []string{"queued", "in_progress", "success"}) {
		t.Errorf("deployment states %v", got)
	}
	if got := actions(t, f.sim, "workflow_run"); !slices.Equal(got, []string{"requested", "in_progress", "completed"}) {
		t.Errorf("workflow_run actions %v", got)
	}
	if got := actions(t, f.sim, "deployment_review"); len(got) != 0 {
		t.Errorf("deployment_review for an unprotected environment: %v", got)
	}
	deps := payloads[github.DeploymentEvent](t, f.sim, "deployment", "created")
	if len(deps) != 1 || deps[0].GetDeployment().GetCreator().GetLogin() != "github-actions[bot]" || deps[0].GetDeployment().GetTask() != "deploy" ||
		deps[0].GetWorkflowRun().GetID() != id || deps[0].GetWorkflow().GetName() != "honua gate" {
		t.Errorf("deployment events %+v", deps)
	}
	sts := payloads[github.DeploymentStatusEvent](t, f.sim, "deployment_status", "created")
	if len(sts) != 3 || sts[2].GetDeploymentStatus().GetState() != "success" || !strings.Contains(string(f.sim.DeliveriesOf("deployment_status", "created")[2].Body), `"workflow_run":{`) {
		t.Errorf("deployment_status events %+v", sts)
	}
	got, _, err := f.gh.Actions.GetWorkflowRunByID(ctx, org, name, id)
	if err != nil || got.GetStatus() != "completed" || got.GetConclusion() != "success" || got.GetTriggeringActor().GetLogin() != f.sim.BotLogin() {
		t.Errorf("GET run: %v %+v", err, got)
	}
	jobs, _, err := f.gh.Actions.ListWorkflowJobs(ctx, org, name, id, nil)
	if err != nil || jobs.GetTotalCount() != 1 || jobs.Jobs[0].GetName() != "gate" || jobs.Jobs[0].GetConclusion() != "success" {
		t.Errorf("jobs: %v %+v", err, jobs)
	}
	list, _, err := f.gh.Actions.ListRepositoryWorkflowRuns(ctx, org, name, &github.ListWorkflowRunsOptions{Event: "workflow_dispatch", Status: "success", HeadSHA: f.base, Branch: "main"})
	if err != nil || list.GetTotalCount() != 1 {
		t.Errorf("list runs: %v %+v", err, list)
	}
	if list, _, _ := f.gh.Actions.ListRepositoryWorkflowRuns(ctx, org, name, &github.ListWorkflowRunsOptions{Status: "waiting"}); list.GetTotalCount() != 0 {
		t.Errorf("waiting runs: %d", list.GetTotalCount())
	}
	// An environment that does not exist is created by the run.
	f.dispatchGate(t, "preview")
	if env, _, err := f.gh.Repositories.GetEnvironment(ctx, org, name, "preview"); err != nil || env.GetName() != "preview" {
		t.Errorf("implicit environment: %v", err)
	}
}

// reviewFixture: production requires bob or the deployers team (whose
// child team oncall has carol; dave is only invited).
func reviewFixture(t *testing.T, opts githubsim.Options, env githubsim.Environment) *fixture {
	f := newActionsFixture(t, opts)
	sim := f.sim
	sim.SetTeam(org, "deployers")
	if err := sim.AddTeam(org, "oncall", "deployers"); err != nil {
		t.Fatal(err)
	}
	sim.AddTeamMember(org, "oncall", "carol", "")
	sim.InviteTeamMember(org, "deployers", "dave")
	env.Reviewers = []githubsim.Reviewer{{Type: "User", Name: "bob"}, {Type: "Team", Name: org + "/deployers"}}
	if err := sim.SetEnvironment(f.repo, env); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestRequiredReviewers: the job waits for one required reviewer; people
// who are not reviewers (invitations do not count) and installation tokens
// are refused; a child team's member approves.
func TestRequiredReviewers(t *testing.T) {
	f := reviewFixture(t, githubsim.Options{}, githubsim.Environment{Name: "production"})
	ctx := context.Background()
	id := f.dispatchGate(t, "production")
	run := f.run(t, id)
	if run.Status != "waiting" || run.Jobs[0].Status != "waiting" {
		t.Fatalf("run %+v", run)
	}
	dep := run.Jobs[0].DeploymentID
	if got := f.deploymentStates(t, dep); !slices.Equal(got, []string{"waiting"}) {
		t.Errorf("deployment states %v", got)
	}
	pend, _, err := f.gh.Actions.GetPendingDeployments(ctx, org, name, id)
	if err != nil || len(pend) != 1 || pend[0].GetEnvironment().GetName() != "production" || len(pend[0].Reviewers) != 2 || pend[0].GetCurrentUserCanApprove() || pend[0].WaitTimerStartedAt != nil {
		t.Fatalf("pending: %v %+v", err, pend)
	}
	reqs := payloads[github.DeploymentReviewEvent](t, f.sim, "deployment_review", "requested")
	if len(reqs) != 1 || reqs[0].GetEnvironment() != "production" || reqs[0].GetWorkflowRun().GetID() != id || len(reqs[0].Reviewers) != 2 ||
		reqs[0].GetWorkflowJobRun().GetEnvironment() != "production" {
		t.Errorf("deployment_review requested %+v", reqs)
	}
	for login, want := range map[string]error{"mallory": githubsim.ErrNotReviewer, "dave": githubsim.ErrNotReviewer} {
		if err := f.sim.ReviewPendingDeployments(f.repo, id, login, []string{"production"}, "approved", "lgtm"); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", login, err, want)
		}
	}
	// The App's installation token is not a reviewer.
	_, resp, _ := f.gh.Actions.PendingDeployments(ctx, org, name, id, &github.PendingDeploymentsRequest{
		EnvironmentIDs: []int64{pend[0].GetEnvironment().GetID()}, State: "approved", Comment: "by the App"})
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("review by installation token: %v, want 403", resp)
	}
	if f.run(t, id).Status != "waiting" {
		t.Fatal("refused reviews let the job through")
	}
	if err := f.sim.ReviewPendingDeployments(f.repo, id, "carol", []string{"production"}, "approved", "ship it"); err != nil {
		t.Fatal(err)
	}
	run = f.run(t, id)
	if run.Status != "completed" || run.Conclusion != "success" {
		t.Errorf("after approval: %+v", run)
	}
	if got := f.deploymentStates(t, dep); !slices.Equal(got, []string{"waiting", "queued", "in_progress", "success"}) {
		t.Errorf("deployment states %v", got)
	}
	appr := payloads[github.DeploymentReviewEvent](t, f.sim, "deployment_review", "approved")
	if len(appr) != 1 || appr[0].GetApprover().GetLogin() != "carol" || appr[0].GetSender().GetLogin() != "carol" || appr[0].GetComment() != "ship it" ||
		len(appr[0].WorkflowJobRuns) != 1 {
		t.Errorf("deployment_review approved %+v", appr)
	}
	req, _ := f.gh.NewRequest("GET", "repos/"+f.repo+"/actions/runs/"+jsonNum(id)+"/approvals", nil)
	var approvals []struct {
		State, Comment string
		User           struct{ Login string }
		Environments   []struct{ Name string }
	}
	if _, err := f.gh.Do(ctx, req, &approvals); err != nil || len(approvals) != 1 || approvals[0].State != "approved" ||
		approvals[0].User.Login != "carol" || approvals[0].Environments[0].Name != "production" || approvals[0].Comment != "ship it" {
		t.Errorf("approvals: %v %+v", err, approvals)
	}
	if pend, _, _ := f.gh.Actions.GetPendingDeployments(ctx, org, name, id); len(pend) != 0 {
		t.Errorf("still pending: %+v", pend)
	}
	// A second review has nothing to review.
	if err := f.sim.ReviewPendingDeployments(f.repo, id, "bob", []string{"production"}, "approved", ""); !errors.Is(err, githubsim.ErrNotWaiting) {
		t.Errorf("review after approval: %v", err)
	}
}

// TestSelfReviewRefused: with prevent_self_review the run's triggering
// actor cannot approve; another reviewer can.
func TestSelfReviewRefused(t *testing.T) {
	f := reviewFixture(t, githubsim.Options{}, githubsim.Environment{Name: "production", PreventSelfReview: true})
	ctx := context.Background()
	f.sim.SetCollaborator(f.repo, "bob", githubsim.PermWrite)
	id, err := f.sim.DispatchWorkflow(ctx, f.repo, gateFile, "main", "bob", map[string]string{"environment": "production", "sha": f.base, "deployment_id": "1", "order_digest": "d"})
	if err != nil {
		t.Fatal(err)
	}
	if run := f.run(t, id); run.Actor != "bob" {
		t.Errorf("actor %s", run.Actor)
	}
	if err := f.sim.ReviewPendingDeployments(f.repo, id, "bob", []string{"production"}, "approved", ""); !errors.Is(err, githubsim.ErrSelfReview) {
		t.Errorf("self-review: %v, want ErrSelfReview", err)
	}
	if err := f.sim.ReviewPendingDeployments(f.repo, id, "carol", []string{"production"}, "approved", ""); err != nil {
		t.Errorf("carol: %v", err)
	}
	if run := f.run(t, id); run.Conclusion != "success" {
		t.Errorf("run %+v", run)
	}
	// Without write access nobody dispatches.
	if _, err := f.sim.DispatchWorkflow(ctx, f.repo, gateFile, "main", "mallory", nil); err == nil {
		t.Error("mallory dispatched without write access")
	}
}

// TestRejectionFailsRun: a rejection fails the job, its deployment and the
// run.
func TestRejectionFailsRun(t *testing.T) {
	f := reviewFixture(t, githubsim.Options{}, githubsim.Environment{Name: "production"})
	id := f.dispatchGate(t, "production")
	if err := f.sim.ReviewPendingDeployments(f.repo, id, "bob", []string{"production"}, "rejected", "not today"); err != nil {
		t.Fatal(err)
	}
	run := f.run(t, id)
	if run.Status != "completed" || run.Conclusion != "failure" || run.Jobs[0].Conclusion != "failure" {
		t.Errorf("run %+v", run)
	}
	if got := f.deploymentStates(t, run.Jobs[0].DeploymentID); !slices.Equal(got, []string{"waiting", "failure"}) {
		t.Errorf("deployment states %v", got)
	}
	rej := payloads[github.DeploymentReviewEvent](t, f.sim, "deployment_review", "rejected")
	if len(rej) != 1 || rej[0].GetComment() != "not today" || rej[0].GetApprover().GetLogin() != "bob" {
		t.Errorf("deployment_review rejected %+v", rej)
	}
	if got := actions(t, f.sim, "workflow_run"); !slices.Equal(got, []string{"requested", "completed"}) {
		t.Errorf("workflow_run actions %v", got)
	}
	if err := f.sim.ReviewPendingDeployments(f.repo, id, "bob", []string{"production"}, "maybe", ""); !errors.Is(err, githubsim.ErrReviewState) {
		t.Errorf("bad state: %v", err)
	}
}

// TestWaitTimer: the timer starts when the job reaches the environment;
// after approval the job still waits until the clock passes it.
func TestWaitTimer(t *testing.T) {
	clock := githubsim.NewManualClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	f := reviewFixture(t, githubsim.Options{Clock: clock}, githubsim.Environment{Name: "production", WaitTimer: 30})
	ctx := context.Background()
	id := f.dispatchGate(t, "production")
	pend, _, err := f.gh.Actions.GetPendingDeployments(ctx, org, name, id)
	if err != nil || len(pend) != 1 || pend[0].GetWaitTimer() != 30 || !pend[0].GetWaitTimerStartedAt().Time.Equal(clock.Now()) {
		t.Fatalf("pending: %v %+v", err, pend)
	}
	clock.Advance(10 * time.Minute)
	if err := f.sim.ReviewPendingDeployments(f.repo, id, "bob", []string{"production"}, "approved", ""); err != nil {
		t.Fatal(err)
	}
	if run := f.run(t, id); run.Status != "waiting" {
		t.Fatalf("approved before the timer ran out: %+v", run)
	}
	clock.Advance(19 * time.Minute)
	f.sim.AdvanceActions(ctx)
	if run := f.run(t, id); run.Status != "waiting" {
		t.Fatalf("29 minutes in: %+v", run)
	}
	clock.Advance(time.Minute)
	// Lazily, on the next Actions request.
	got, _, err := f.gh.Actions.GetWorkflowRunByID(ctx, org, name, id)
	if err != nil || got.GetStatus() != "completed" || got.GetConclusion() != "success" {
		t.Errorf("30 minutes in: %v %s %s", err, got.GetStatus(), got.GetConclusion())
	}
	// A timer alone holds the job too.
	f.sim.SetEnvironment(f.repo, githubsim.Environment{Name: "staging", WaitTimer: 5})
	id = f.dispatchGate(t, "staging")
	if run := f.run(t, id); run.Status != "waiting" {
		t.Fatalf("staging: %+v", run)
	}
	if got := actions(t, f.sim, "deployment_review"); slices.Contains(got[1:], "requested") {
		t.Errorf("deployment_review requested for a timer-only environment: %v", got)
	}
	clock.Advance(5 * time.Minute)
	if err := f.sim.AdvanceActions(ctx); err != nil {
		t.Fatal(err)
	}
	if run := f.run(t, id); run.Conclusion != "success" {
		t.Errorf("staging after 5 minutes: %+v", run)
	}
}

// TestCustomProtectionRule: the App enabled as a custom rule hears
// deployment_protection_rule and answers at the callback URL.
func TestCustomProtectionRule(t *testing.T) {
	f := newActionsFixture(t, githubsim.Options{})
	ctx := context.Background()
	slug := strings.TrimSuffix(f.sim.BotLogin(), "[bot]")
	if err := f.sim.SetEnvironment(f.repo, githubsim.Environment{Name: "production", CustomRules: []string{slug}}); err != nil {
		t.Fatal(err)
	}
	rules, _, err := f.gh.Repositories.GetAllDeploymentProtectionRules(ctx, org, name, "production")
	if err != nil || rules.GetTotalCount() != 1 || rules.ProtectionRules[0].GetApp().GetSlug() != slug || !rules.ProtectionRules[0].GetEnabled() {
		t.Fatalf("rules: %v %+v", err, rules)
	}
	id := f.dispatchGate(t, "production")
	evs := payloads[github.DeploymentProtectionRuleEvent](t, f.sim, "deployment_protection_rule", "requested")
	if len(evs) != 1 || evs[0].GetEnvironment() != "production" || evs[0].GetEvent() != "workflow_dispatch" ||
		!strings.HasSuffix(evs[0].GetDeploymentCallbackURL(), "/actions/runs/"+jsonNum(id)+"/deployment_protection_rule") ||
		evs[0].GetDeployment().GetCreator().GetLogin() != "github-actions[bot]" || evs[0].GetDeployment().GetSHA() != f.base {
		t.Fatalf("deployment_protection_rule %+v", evs)
	}
	if f.run(t, id).Status != "waiting" {
		t.Fatal("not waiting on the rule")
	}
	// The callback needs deployments: write.
	tok, _, err := f.sim.IssueScopedToken(f.inst, githubsim.TokenScope{Permissions: map[string]string{"actions": "read", "deployments": "read"}})
	if err != nil {
		t.Fatal(err)
	}
	ro := mustClient(t, &http.Client{Transport: &bearer{tok}}, f.sim)
	if resp, _ := ro.Actions.ReviewCustomDeploymentProtectionRule(ctx, org, name, id, &github.ReviewCustomDeploymentProtectionRuleRequest{EnvironmentName: "production", State: "approved"}); resp == nil || resp.StatusCode != 403 {
		t.Errorf("callback with deployments: read: %v, want 403", resp)
	}
	if pend, _, err := ro.Actions.GetPendingDeployments(ctx, org, name, id); err != nil || len(pend) != 1 || len(pend[0].Reviewers) != 0 {
		t.Errorf("pending with actions: read: %v %+v", err, pend)
	}
	// A comment alone changes nothing.
	req, _ := f.gh.NewRequest("POST", "repos/"+f.repo+"/actions/runs/"+jsonNum(id)+"/deployment_protection_rule", map[string]any{"environment_name": "production", "comment": "checking"})
	if resp, err := f.gh.Do(ctx, req, nil); err != nil || resp.StatusCode != 204 || f.run(t, id).Status != "waiting" {
		t.Errorf("comment only: %v", err)
	}
	if _, err := f.gh.Actions.ReviewCustomDeploymentProtectionRule(ctx, org, name, id, &github.ReviewCustomDeploymentProtectionRuleRequest{EnvironmentName: "production", State: "approved", Comment: "healthy"}); err != nil {
		t.Fatal(err)
	}
	if run := f.run(t, id); run.Conclusion != "success" {
		t.Errorf("after approval %+v", run)
	}
	// Nothing waits any more.
	resp, _ := f.gh.Actions.ReviewCustomDeploymentProtectionRule(ctx, org, name, id, &github.ReviewCustomDeploymentProtectionRuleRequest{EnvironmentName: "production", State: "approved", Comment: "again"})
	if resp == nil || resp.StatusCode != 422 {
		t.Errorf("second answer: %v, want 422", resp)
	}
	// Rules leave no approvals.
	req, _ = f.gh.NewRequest("GET", "repos/"+f.repo+"/actions/runs/"+jsonNum(id)+"/approvals", nil)
	var approvals []any
	if _, err := f.gh.Do(ctx, req, &approvals); err != nil || len(approvals) != 0 {
		t.Errorf("approvals %v %v", err, approvals)
	}
	id = f.dispatchGate(t, "production")
	if _, err := f.gh.Actions.ReviewCustomDeploymentProtectionRule(ctx, org, name, id, &github.ReviewCustomDeploymentProtectionRuleRequest{EnvironmentName: "production", State: "rejected", Comment: "error budget spent"}); err != nil {
		t.Fatal(err)
	}
	if run := f.run(t, id); run.Conclusion != "failure" {
		t.Errorf("after rejection %+v", run)
	}
}

// TestCustomRuleOfAnotherApp: the hosted App cannot answer for an
// environment that enables another App; that App can.
func TestCustomRuleOfAnotherApp(t *testing.T) {
	f := newActionsFixture(t, githubsim.Options{})
	ctx := context.Background()
	f.sim.SetEnvironment(f.repo, githubsim.Environment{Name: "production", CustomRules: []string{"other-gate"}, Reviewers: []githubsim.Reviewer{{Type: "User", Name: "bob"}}})
	id := f.dispatchGate(t, "production")
	if got := actions(t, f.sim, "deployment_protection_rule"); len(got) != 0 {
		t.Errorf("hosted App heard another App's rule: %v", got)
	}
	resp, _ := f.gh.Actions.ReviewCustomDeploymentProtectionRule(ctx, org, name, id, &github.ReviewCustomDeploymentProtectionRuleRequest{EnvironmentName: "production", State: "approved", Comment: "me too"})
	if resp == nil || resp.StatusCode != 422 {
		t.Errorf("callback of an App not enabled: %v, want 422", resp)
	}
	if err := f.sim.ReviewCustomProtectionRule(f.repo, id, f.sim.BotLogin(), "production", "approved", ""); !errors.Is(err, githubsim.ErrRuleNotActive) {
		t.Errorf("Go review by a stranger: %v", err)
	}
	if err := f.sim.ReviewCustomProtectionRule(f.repo, id, "other-gate", "production", "approved", "ok"); err != nil {
		t.Fatal(err)
	}
	// The reviewers' rule still holds the job.
	if run := f.run(t, id); run.Status != "waiting" {
		t.Fatalf("passed without the reviewer: %+v", run)
	}
	if err := f.sim.ReviewPendingDeployments(f.repo, id, "bob", []string{"production"}, "approved", ""); err != nil {
		t.Fatal(err)
	}
	if run := f.run(t, id); run.Conclusion != "success" {
		t.Errorf("run %+v", run)
	}
}

// TestCustomRulePlans: custom rules in a private repository need GitHub
// Enterprise; the event is delivered only when subscribed.
func TestCustomRulePlans(t *testing.T) {
	var noRule []string
	for _, ev := range githubsim.DefaultEvents() {
		if ev != "deployment_protection_rule" {
			noRule = append(noRule, ev)
		}
	}
	f := newActionsFixture(t, githubsim.Options{Plan: githubsim.PlanTeam, Events: noRule})
	slug := strings.TrimSuffix(f.sim.BotLogin(), "[bot]")
	f.sim.SetRepoPrivate(f.repo, true)
	if err := f.sim.SetEnvironment(f.repo, githubsim.Environment{Name: "production", CustomRules: []string{slug}}); !errors.Is(err, githubsim.ErrPlan) {
		t.Errorf("private repo on team: %v, want ErrPlan", err)
	}
	f.sim.SetRepoPrivate(f.repo, false)
	if err := f.sim.SetEnvironment(f.repo, githubsim.Environment{Name: "production", CustomRules: []string{slug}}); err != nil {
		t.Fatalf("public repo: %v", err)
	}
	f.dispatchGate(t, "production")
	if got := actions(t, f.sim, "deployment_protection_rule"); len(got) != 0 {
		t.Errorf("delivered without subscription: %v", got)
	}
	e := newActionsFixture(t, githubsim.Options{Plan: githubsim.PlanEnterprise})
	e.sim.SetRepoPrivate(e.repo, true)
	if err := e.sim.SetEnvironment(e.repo, githubsim.Environment{Name: "production", CustomRules: []string{slug}}); err != nil {
		t.Errorf("private repo on enterprise: %v", err)
	}
}

// TestDispatchByIDWithRunDetails: a workflow id works as well as its file
// name; return_run_details answers 200 with the run's id.
func TestDispatchByIDWithRunDetails(t *testing.T) {
	f := newActionsFixture(t, githubsim.Options{})
	ctx := context.Background()
	w, _, err := f.gh.Actions.GetWorkflowByFileName(ctx, org, name, gateFile)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := f.gh.NewRequest("POST", "repos/"+f.repo+"/actions/workflows/"+jsonNum(w.GetID())+"/dispatches", map[string]any{
		"ref": "main", "return_run_details": true, "inputs": map[string]any{"environment": "", "sha": f.base, "deployment_id": "7", "order_digest": "d"},
	})
	var details struct {
		WorkflowRunID int64 `json:"workflow_run_id"`
	}
	resp, err := f.gh.Do(ctx, req, &details)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("dispatch: %v", err)
	}
	run := f.run(t, details.WorkflowRunID)
	// An empty environment expression leaves the job without one.
	if run.WorkflowID != w.GetID() || run.Conclusion != "success" || run.Jobs[0].Environment != "" || run.Jobs[0].DeploymentID != 0 {
		t.Errorf("run %+v", run)
	}
}

// TestBranchPolicyFailsJob: a ref the environment's deployment branch
// policy does not admit fails the job without a deployment.
func TestBranchPolicyFailsJob(t *testing.T) {
	f := newActionsFixture(t, githubsim.Options{})
	ctx := context.Background()
	f.sim.SetEnvironment(f.repo, githubsim.Environment{Name: "production", BranchPolicy: &githubsim.BranchPolicy{
		CustomBranchPolicies: true, Patterns: []githubsim.BranchPattern{{Name: "release/*"}}}})
	f.sim.SetEnvironment(f.repo, githubsim.Environment{Name: "staging", BranchPolicy: &githubsim.BranchPolicy{ProtectedBranches: true}})
	f.sim.Push(ctx, f.repo, "release/1", "alice", "r", githubsim.FileChange{Path: "r", Content: []byte("r")})
	in := map[string]string{"environment": "production", "sha": f.base, "deployment_id": "1", "order_digest": "d"}
	f.sim.SetCollaborator(f.repo, "alice", githubsim.PermWrite)
	for _, tc := range []struct {
		ref, env, want string
	}{
		{"main", "production", "failure"},
		{"release/1", "production", "success"},
		{"main", "staging", "failure"},
	} {
		in["environment"] = tc.env
		id, err := f.sim.DispatchWorkflow(ctx, f.repo, gateFile, tc.ref, "alice", in)
		if err != nil {
			t.Fatal(err)
		}
		run := f.run(t, id)
		if run.Conclusion != tc.want || (tc.want == "failure") != (run.Jobs[0].DeploymentID == 0) {
			t.Errorf("%s to %s: %+v, want %s", tc.ref, tc.env, run, tc.want)
		}
	}
	f.sim.SetBranchProtected(f.repo, "main", true)
	in["environment"] = "staging"
	if id, _ := f.sim.DispatchWorkflow(ctx, f.repo, gateFile, "main", "alice", in); f.run(t, id).Conclusion != "success" {
		t.Errorf("protected main to staging: %+v", f.run(t, id))
	}
}

// bearer authenticates with a fixed installation token.
type bearer struct{ tok string }

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "token "+b.tok)
	return http.DefaultTransport.RoundTrip(r)
}

// TestWorkflowShapes: environment as a mapping, github.event.inputs
// expressions, defaults of optional inputs, choice inputs, several jobs.
func TestWorkflowShapes(t *testing.T) {
	f := newActionsFixture(t, githubsim.Options{})
	ctx := context.Background()
	const deploy = `name: deploy
on:
  push:
  workflow_dispatch:
    inputs:
      target: {required: false, default: staging}
      mode: {type: choice, options: [fast, safe], default: safe}
jobs:
  build:
    runs-on: ubuntu-latest
    steps: [{run: make}]
  ship:
    name: Ship it
    environment:
      name: ${{ github.event.inputs.target }}
      url: https://example.com
    steps: [{run: ship}]
`
	f.sim.Push(ctx, f.repo, "main", "alice", "deploy", githubsim.FileChange{Path: ".github/workflows/deploy.yaml", Content: []byte(deploy)})
	f.sim.SetCollaborator(f.repo, "alice", githubsim.PermWrite)
	id, err := f.sim.DispatchWorkflow(ctx, f.repo, "deploy.yaml", "main", "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	run := f.run(t, id)
	if len(run.Jobs) != 2 || run.Jobs[0].Environment != "" || run.Jobs[1].Name != "Ship it" || run.Jobs[1].Environment != "staging" ||
		run.Inputs["mode"] != "safe" || run.Conclusion != "success" {
		t.Errorf("run %+v", run)
	}
	if _, err := f.sim.DispatchWorkflow(ctx, f.repo, "deploy.yaml", "main", "alice", map[string]string{"mode": "yolo"}); err == nil ||
		!strings.Contains(err.Error(), "Provided value 'yolo' for input 'mode' not in the list of allowed values") {
		t.Errorf("choice outside its options: %v", err)
	}
	id, _ = f.sim.DispatchWorkflow(ctx, f.repo, "deploy.yaml", "main", "alice", map[string]string{"target": "production", "mode": "fast"})
	if run := f.run(t, id); run.Jobs[1].Environment != "production" {
		t.Errorf("target production: %+v", run)
	}
}
