package githubsim_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// payloads decodes the recorded deliveries of one event and action.
func payloads[T any](t *testing.T, sim *githubsim.Server, event, action string) []*T {
	t.Helper()
	var out []*T
	for _, d := range sim.DeliveriesOf(event, action) {
		v := new(T)
		if err := json.Unmarshal(d.Body, v); err != nil {
			t.Fatalf("decoding %s.%s: %v", event, action, err)
		}
		out = append(out, v)
	}
	return out
}

// TestCheckSuiteRequestedPerCommit: GitHub requests a suite once per new
// head commit, with the pusher as sender, and not again for a commit that
// has one.
func TestCheckSuiteRequestedPerCommit(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	first, _ := f.sim.Push(ctx, f.repo, "topic", "alice", "one", githubsim.FileChange{Path: "a", Content: []byte("1")})
	second, _ := f.sim.Push(ctx, f.repo, "topic", "bob", "two", githubsim.FileChange{Path: "a", Content: []byte("2")})
	// A new branch at a commit that has its suite, and a branch moved back
	// to one: pushes, but no new suite.
	if err := f.sim.MoveBranch(ctx, f.repo, "copy", second, "carol"); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.MoveBranch(ctx, f.repo, "topic", first, "carol"); err != nil {
		t.Fatal(err)
	}
	evs := payloads[github.CheckSuiteEvent](t, f.sim, "check_suite", "requested")
	if len(evs) != 2 {
		t.Fatalf("check_suite.requested sent %d times, want 2 (one per new commit)", len(evs))
	}
	if got := len(f.sim.DeliveriesOf("push", "")); got != 4 {
		t.Errorf("push sent %d times, want 4", got)
	}
	for i, want := range []struct{ sha, sender, before string }{{first, "alice", ""}, {second, "bob", first}} {
		cs := evs[i].GetCheckSuite()
		if cs.GetHeadSHA() != want.sha || evs[i].GetSender().GetLogin() != want.sender || cs.GetHeadBranch() != "topic" || cs.GetBeforeSHA() != want.before || cs.GetApp().GetID() != f.sim.AppID() || cs.GetStatus() != "queued" {
			t.Errorf("requested %d: sha %s sender %s branch %s before %q app %d status %s", i, cs.GetHeadSHA(), evs[i].GetSender().GetLogin(), cs.GetHeadBranch(), cs.GetBeforeSHA(), cs.GetApp().GetID(), cs.GetStatus())
		}
		if cs.GetHeadCommit().GetMessage() == "" {
			t.Errorf("requested %d: head_commit without its message", i)
		}
	}
	// Without checks:write the App is not asked.
	g := newFixture(t, githubsim.Options{Permissions: map[string]string{"checks": "read"}})
	g.sim.Push(ctx, g.repo, "topic", "alice", "one", githubsim.FileChange{Path: "a", Content: []byte("1")})
	if n := len(g.sim.DeliveriesOf("check_suite", "requested")); n != 0 {
		t.Errorf("check_suite.requested to an App with checks:read: %d", n)
	}
}

// TestCheckSuiteLifecycle: runs join their App's suite on the commit; the
// suite completes when all its runs have, and can be re-requested.
func TestCheckSuiteLifecycle(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	sha, _ := f.sim.Push(ctx, f.repo, "topic", "alice", "one", githubsim.FileChange{Path: "a", Content: []byte("1")})
	req := payloads[github.CheckSuiteEvent](t, f.sim, "check_suite", "requested")
	if len(req) != 1 {
		t.Fatalf("requested: %d", len(req))
	}
	suiteID := req[0].GetCheckSuite().GetID()
	plan, _, err := f.gh.Checks.CreateCheckRun(ctx, org, name, github.CreateCheckRunOptions{Name: "honua/plan", HeadSHA: sha, Status: github.String("in_progress")})
	if err != nil {
		t.Fatal(err)
	}
	policy, _, err := f.gh.Checks.CreateCheckRun(ctx, org, name, github.CreateCheckRunOptions{Name: "honua/policy", HeadSHA: sha})
	if err != nil {
		t.Fatal(err)
	}
	if plan.GetCheckSuite().GetID() != suiteID || policy.GetCheckSuite().GetID() != suiteID {
		t.Fatalf("runs in suites %d and %d, want %d", plan.GetCheckSuite().GetID(), policy.GetCheckSuite().GetID(), suiteID)
	}
	cs, _, err := f.gh.Checks.GetCheckSuite(ctx, org, name, suiteID)
	if err != nil || cs.GetStatus() != "in_progress" || cs.Conclusion != nil {
		t.Fatalf("suite while running: %v %s %v", err, cs.GetStatus(), cs.Conclusion)
	}
	done := func(run *github.CheckRun, conclusion string) {
		t.Helper()
		if _, _, err := f.gh.Checks.UpdateCheckRun(ctx, org, name, run.GetID(), github.UpdateCheckRunOptions{Name: run.GetName(), Conclusion: github.String(conclusion), Output: checkOutput("t")}); err != nil {
			t.Fatal(err)
		}
	}
	done(plan, "success")
	if n := len(f.sim.DeliveriesOf("check_suite", "completed")); n != 0 {
		t.Fatalf("check_suite.completed before every run completed: %d", n)
	}
	done(policy, "failure")
	comp := payloads[github.CheckSuiteEvent](t, f.sim, "check_suite", "completed")
	if len(comp) != 1 || comp[0].GetCheckSuite().GetConclusion() != "failure" || comp[0].GetCheckSuite().GetID() != suiteID {
		t.Fatalf("check_suite.completed: %d events", len(comp))
	}
	list, _, err := f.gh.Checks.ListCheckSuitesForRef(ctx, org, name, sha, &github.ListCheckSuiteOptions{AppID: github.Int(int(f.sim.AppID()))})
	if err != nil || list.GetTotal() != 1 || list.CheckSuites[0].GetConclusion() != "failure" || list.CheckSuites[0].GetLatestCheckRunsCount() != 2 {
		t.Fatalf("suites for ref: %v %+v", err, list)
	}

	// Re-running: through the REST API (the App's own) and as people.
	if _, err := f.gh.Checks.ReRequestCheckSuite(ctx, org, name, suiteID); err != nil {
		t.Fatal(err)
	}
	cs, _, _ = f.gh.Checks.GetCheckSuite(ctx, org, name, suiteID)
	if cs.GetStatus() != "queued" || cs.Conclusion != nil {
		t.Errorf("rerequested suite: %s %v, want queued without a conclusion", cs.GetStatus(), cs.Conclusion)
	}
	if err := f.sim.RerequestCheckSuite(f.repo, suiteID, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.gh.Checks.ReRequestCheckRun(ctx, org, name, policy.GetID()); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.RerequestCheckRun(f.repo, plan.GetID(), "carol"); err != nil {
		t.Fatal(err)
	}
	suites := payloads[github.CheckSuiteEvent](t, f.sim, "check_suite", "rerequested")
	runs := payloads[github.CheckRunEvent](t, f.sim, "check_run", "rerequested")
	if len(suites) != 2 || suites[0].GetSender().GetLogin() != f.sim.BotLogin() || suites[1].GetSender().GetLogin() != "bob" {
		t.Errorf("check_suite.rerequested: %d", len(suites))
	}
	if len(runs) != 2 || runs[0].GetCheckRun().GetID() != policy.GetID() || runs[1].GetSender().GetLogin() != "carol" || runs[1].GetCheckRun().GetCheckSuite().GetID() != suiteID {
		t.Errorf("check_run.rerequested: %d", len(runs))
	}
	// The run itself is not updated; the App answers with a new run, whose
	// completion completes the suite again.
	if r, _, _ := f.gh.Checks.GetCheckRun(ctx, org, name, plan.GetID()); r.GetConclusion() != "success" {
		t.Errorf("rerequested run changed: %s", r.GetConclusion())
	}
	again, _, err := f.gh.Checks.CreateCheckRun(ctx, org, name, github.CreateCheckRunOptions{Name: "honua/policy", HeadSHA: sha, Conclusion: github.String("success"), Output: checkOutput("t")})
	if err != nil || again.GetCheckSuite().GetID() != suiteID {
		t.Fatalf("new run: %v", err)
	}
	if comp := payloads[github.CheckSuiteEvent](t, f.sim, "check_suite", "completed"); len(comp) != 2 || comp[1].GetCheckSuite().GetConclusion() != "failure" {
		t.Errorf("second check_suite.completed: %d", len(comp))
	}
	// A run still in progress cannot be re-run.
	busy, _, _ := f.gh.Checks.CreateCheckRun(ctx, org, name, github.CreateCheckRunOptions{Name: "honua/deploy", HeadSHA: sha})
	if resp, _ := f.gh.Checks.ReRequestCheckRun(ctx, org, name, busy.GetID()); resp == nil || resp.StatusCode != 422 {
		t.Errorf("rerequesting a queued run: %v, want 422", resp)
	}
	if err := f.sim.RerequestCheckRun(f.repo, busy.GetID(), "bob"); err == nil {
		t.Error("RerequestCheckRun of a queued run: no error")
	}
}

// TestForeignCheckRuns: an App hears about other Apps' runs (created,
// completed) with their App in check_run.app, but not their rerequests or
// button clicks, and cannot change them.
func TestForeignCheckRuns(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	sha, _ := f.sim.Push(ctx, f.repo, "topic", "alice", "one", githubsim.FileChange{Path: "a", Content: []byte("1")})
	id, err := f.sim.CreateForeignCheckRun(f.repo, sha, "ci-bot", "ci/build")
	if err != nil {
		t.Fatal(err)
	}
	own, _, err := f.gh.Checks.CreateCheckRun(ctx, org, name, github.CreateCheckRunOptions{Name: "honua/plan", HeadSHA: sha, Conclusion: github.String("success"), Output: checkOutput("t")})
	if err != nil {
		t.Fatal(err)
	}
	created := payloads[github.CheckRunEvent](t, f.sim, "check_run", "created")
	if len(created) != 2 {
		t.Fatalf("check_run.created: %d", len(created))
	}
	foreign := created[0].GetCheckRun()
	if foreign.GetID() != id || foreign.GetApp().GetSlug() != "ci-bot" || foreign.GetApp().GetID() == f.sim.AppID() || created[0].GetSender().GetLogin() != "ci-bot[bot]" {
		t.Errorf("foreign run: app %s (%d) sender %s", foreign.GetApp().GetSlug(), foreign.GetApp().GetID(), created[0].GetSender().GetLogin())
	}
	if foreign.GetCheckSuite().GetID() == own.GetCheckSuite().GetID() {
		t.Error("two Apps' runs share a suite")
	}
	if created[1].GetCheckRun().GetApp().GetID() != f.sim.AppID() {
		t.Error("the App's own run is not its own")
	}
	all, _, _ := f.gh.Checks.ListCheckRunsForRef(ctx, org, name, sha, nil)
	mine, _, _ := f.gh.Checks.ListCheckRunsForRef(ctx, org, name, sha, &github.ListCheckRunsOptions{AppID: github.Int64(f.sim.AppID())})
	if all.GetTotal() != 2 || mine.GetTotal() != 1 {
		t.Errorf("runs for ref: all %d, the App's %d", all.GetTotal(), mine.GetTotal())
	}
	// Not the App's to change or re-run.
	if _, resp, _ := f.gh.Checks.UpdateCheckRun(ctx, org, name, id, github.UpdateCheckRunOptions{Name: "ci/build", Conclusion: github.String("success")}); resp == nil || resp.StatusCode != 403 {
		t.Errorf("updating another App's run: %v, want 403", resp)
	}
	// Deploying waits for every App's checks.
	if _, resp, _ := f.gh.Repositories.CreateDeployment(ctx, org, name, &github.DeploymentRequest{Ref: github.String(sha), AutoMerge: github.Bool(false)}); resp == nil || resp.StatusCode != 409 {
		t.Errorf("deploying with another App's run queued: %v, want 409", resp)
	}
	if err := f.sim.UpdateForeignCheckRun(f.repo, id, "completed", "success"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := f.gh.Checks.ReRequestCheckRun(ctx, org, name, id); resp == nil || resp.StatusCode != 403 {
		t.Errorf("rerequesting another App's run: %v, want 403", resp)
	}
	if err := f.sim.RerequestCheckRun(f.repo, id, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.UpdateForeignCheckRun(f.repo, id, "in_progress", ""); err == nil {
		t.Error("a completed foreign run changed status")
	}
	completed := payloads[github.CheckRunEvent](t, f.sim, "check_run", "completed")
	if len(completed) != 2 || completed[1].GetCheckRun().GetApp().GetSlug() != "ci-bot" {
		t.Errorf("check_run.completed: %d", len(completed))
	}
	suites := payloads[github.CheckSuiteEvent](t, f.sim, "check_suite", "completed")
	if len(suites) != 2 || suites[1].GetCheckSuite().GetApp().GetSlug() != "ci-bot" {
		t.Errorf("check_suite.completed: %d", len(suites))
	}
	if n := len(f.sim.DeliveriesOf("check_run", "rerequested")); n != 0 {
		t.Errorf("another App's rerequest reached this App: %d", n)
	}
	if _, _, err := f.gh.Repositories.CreateDeployment(ctx, org, name, &github.DeploymentRequest{Ref: github.String(sha), AutoMerge: github.Bool(false)}); err != nil {
		t.Errorf("deploying once every App's checks succeeded: %v", err)
	}
}
