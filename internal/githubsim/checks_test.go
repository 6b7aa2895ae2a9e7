package githubsim_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

func checkOutput(title string) *github.CheckRunOutput {
	return &github.CheckRunOutput{Title: github.String(title), Summary: github.String("s")}
}

// TestCompletedCheckRunIsFinal: GitHub does not let a completed run's
// status, conclusion or completed_at change; integrators create a new run.
func TestCompletedCheckRunIsFinal(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	run, _, err := f.gh.Checks.CreateCheckRun(ctx, org, name, github.CreateCheckRunOptions{
		Name: "honua/plan", HeadSHA: f.base, Conclusion: github.String("failure"), Output: checkOutput("Plan"),
	})
	if err != nil {
		t.Fatal(err)
	}
	id := run.GetID()
	when := github.Timestamp{Time: time.Now().Add(-time.Minute)}
	for what, opts := range map[string]github.UpdateCheckRunOptions{
		"back to in_progress": {Name: "honua/plan", Status: github.String("in_progress")},
		"another conclusion":  {Name: "honua/plan", Conclusion: github.String("success")},
		"the same conclusion": {Name: "honua/plan", Conclusion: github.String("failure")},
		"completed_at":        {Name: "honua/plan", CompletedAt: &when},
	} {
		if _, resp, _ := f.gh.Checks.UpdateCheckRun(ctx, org, name, id, opts); resp == nil || resp.StatusCode != 422 {
			t.Errorf("%s on a completed run: %v, want 422", what, resp)
		}
	}
	// Output, name, actions, details_url and external_id still change;
	// annotations accumulate.
	ann := []*github.CheckRunAnnotation{{Path: github.String("a"), StartLine: github.Int(1), EndLine: github.Int(1), AnnotationLevel: github.String("notice"), Message: github.String("m")}}
	out := checkOutput("Plan (stale)")
	out.Annotations = ann
	got, _, err := f.gh.Checks.UpdateCheckRun(ctx, org, name, id, github.UpdateCheckRunOptions{
		Name: "honua/plan", Output: out, DetailsURL: github.String("https://honua.example/plan"), ExternalID: github.String("plan:2"),
		Actions: []*github.CheckRunAction{{Label: "Re-plan", Description: "Plan again", Identifier: "replan"}},
	})
	if err != nil {
		t.Fatalf("updating a completed run's output: %v", err)
	}
	if got.GetConclusion() != "failure" || got.GetOutput().GetTitle() != "Plan (stale)" || got.GetExternalID() != "plan:2" {
		t.Errorf("after update: %s %q %q", got.GetConclusion(), got.GetOutput().GetTitle(), got.GetExternalID())
	}
	f.gh.Checks.UpdateCheckRun(ctx, org, name, id, github.UpdateCheckRunOptions{Name: "honua/plan", Output: out})
	if runs := f.sim.CheckRuns(f.repo, f.base); len(runs) != 1 || runs[0].Annotations != 2 {
		t.Errorf("annotations = %+v, want 2 accumulated", runs)
	}
}

// TestConclusionRequired: GitHub requires a conclusion with completed_at
// or status completed, in the same request.
func TestConclusionRequired(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	when := github.Timestamp{Time: time.Now()}
	if _, resp, _ := f.gh.Checks.CreateCheckRun(ctx, org, name, github.CreateCheckRunOptions{Name: "a", HeadSHA: f.base, CompletedAt: &when}); resp == nil || resp.StatusCode != 422 {
		t.Errorf("create with completed_at alone: %v, want 422", resp)
	}
	run, _, err := f.gh.Checks.CreateCheckRun(ctx, org, name, github.CreateCheckRunOptions{Name: "a", HeadSHA: f.base, Status: github.String("in_progress")})
	if err != nil {
		t.Fatal(err)
	}
	if _, resp, _ := f.gh.Checks.UpdateCheckRun(ctx, org, name, run.GetID(), github.UpdateCheckRunOptions{Name: "a", CompletedAt: &when}); resp == nil || resp.StatusCode != 422 {
		t.Errorf("update with completed_at alone: %v, want 422", resp)
	}
	if _, _, err := f.gh.Checks.UpdateCheckRun(ctx, org, name, run.GetID(), github.UpdateCheckRunOptions{Name: "a", CompletedAt: &when, Conclusion: github.String("success")}); err != nil {
		t.Errorf("completed_at with a conclusion: %v", err)
	}
}

// TestRequiredContextsMustSucceed: a deployment's contexts must be
// success; neutral and skipped are not.
func TestRequiredContextsMustSucceed(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	for _, c := range []string{"neutral", "skipped"} {
		if _, _, err := f.gh.Checks.CreateCheckRun(ctx, org, name, github.CreateCheckRunOptions{Name: "ci/" + c, HeadSHA: f.base, Conclusion: github.String(c), Output: checkOutput(c)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, contexts := range []*[]string{nil, {"ci/neutral"}, {"ci/skipped"}} {
		_, resp, _ := f.gh.Repositories.CreateDeployment(ctx, org, name, &github.DeploymentRequest{Ref: github.String(f.base), AutoMerge: github.Bool(false), RequiredContexts: contexts})
		if resp == nil || resp.StatusCode != 409 {
			t.Errorf("required contexts %v neutral/skipped: %v, want 409", contexts, resp)
		}
	}
	if _, _, err := f.gh.Checks.CreateCheckRun(ctx, org, name, github.CreateCheckRunOptions{Name: "ci/ok", HeadSHA: f.base, Conclusion: github.String("success"), Output: checkOutput("ok")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.gh.Repositories.CreateDeployment(ctx, org, name, &github.DeploymentRequest{Ref: github.String(f.base), AutoMerge: github.Bool(false), RequiredContexts: &[]string{"ci/ok"}}); err != nil {
		t.Errorf("a successful required context: %v", err)
	}
}
