package githubsim_test

import (
	"context"
	"testing"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// TestEnvironmentRules: protection rules set from Go are served per spec,
// and custom branch policies are listed only for environments that use
// them (GitHub answers 404 otherwise).
func TestEnvironmentRules(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	sim := f.sim
	for _, bad := range []githubsim.Environment{
		{Name: "x", BranchPolicy: &githubsim.BranchPolicy{ProtectedBranches: true, CustomBranchPolicies: true}},
		{Name: "x", BranchPolicy: &githubsim.BranchPolicy{}},
		{Name: "x", BranchPolicy: &githubsim.BranchPolicy{ProtectedBranches: true, Patterns: []githubsim.BranchPattern{{Name: "main"}}}},
		{Name: "x", BranchPolicy: &githubsim.BranchPolicy{CustomBranchPolicies: true, Patterns: []githubsim.BranchPattern{{Name: "v*", Type: "release"}}}},
		{Name: "x", WaitTimer: 43201},
		{Name: "x", Reviewers: []githubsim.Reviewer{{Type: "Team", Name: org + "/nobody"}}},
	} {
		if err := sim.SetEnvironment(f.repo, bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	if err := sim.SetEnvironment(f.repo, githubsim.Environment{
		Name: "production", WaitTimer: 30, PreventSelfReview: true,
		Reviewers: []githubsim.Reviewer{{Type: "User", Name: "bob"}},
		BranchPolicy: &githubsim.BranchPolicy{CustomBranchPolicies: true, Patterns: []githubsim.BranchPattern{
			{Name: "main"}, {Name: "release/*"}, {Name: "v*", Type: "tag"},
		}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetEnvironment(f.repo, githubsim.Environment{Name: "staging", BranchPolicy: &githubsim.BranchPolicy{ProtectedBranches: true}}); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetEnvironment(f.repo, githubsim.Environment{Name: "development"}); err != nil {
		t.Fatal(err)
	}
	envs, _, err := f.gh.Repositories.ListEnvironments(ctx, org, name, nil)
	if err != nil || envs.GetTotalCount() != 3 {
		t.Fatalf("environments: %v %d", err, envs.GetTotalCount())
	}
	prod, _, err := f.gh.Repositories.GetEnvironment(ctx, org, name, "production")
	if err != nil {
		t.Fatal(err)
	}
	var wait int
	var selfReview bool
	for _, r := range prod.ProtectionRules {
		switch r.GetType() {
		case "wait_timer":
			wait = r.GetWaitTimer()
		case "required_reviewers":
			selfReview = r.GetPreventSelfReview()
		}
	}
	bp := prod.GetDeploymentBranchPolicy()
	if wait != 30 || !selfReview || !bp.GetCustomBranchPolicies() || bp.GetProtectedBranches() {
		t.Errorf("production: wait %d prevent_self_review %v policy %+v", wait, selfReview, bp)
	}
	pols, _, err := f.gh.Repositories.ListDeploymentBranchPolicies(ctx, org, name, "production")
	if err != nil || pols.GetTotalCount() != 3 {
		t.Fatalf("branch policies: %v %+v", err, pols)
	}
	var got []string
	for _, p := range pols.BranchPolicies {
		got = append(got, p.GetName()+":"+p.GetType())
	}
	if len(got) != 3 || got[0] != "main:branch" || got[2] != "v*:tag" {
		t.Errorf("branch policies %v", got)
	}
	one, _, err := f.gh.Repositories.GetDeploymentBranchPolicy(ctx, org, name, "production", pols.BranchPolicies[1].GetID())
	if err != nil || one.GetName() != "release/*" {
		t.Errorf("one policy: %v %+v", err, one)
	}
	// Replacing the environment keeps the ids of unchanged policies.
	sim.SetEnvironment(f.repo, githubsim.Environment{Name: "production", BranchPolicy: &githubsim.BranchPolicy{CustomBranchPolicies: true, Patterns: []githubsim.BranchPattern{{Name: "release/*"}}}})
	if again, _, err := f.gh.Repositories.GetDeploymentBranchPolicy(ctx, org, name, "production", one.GetID()); err != nil || again.GetName() != "release/*" {
		t.Errorf("policy id after replacing: %v", err)
	}
	for _, env := range []string{"staging", "development", "nowhere"} {
		if _, resp, _ := f.gh.Repositories.ListDeploymentBranchPolicies(ctx, org, name, env); resp == nil || resp.StatusCode != 404 {
			t.Errorf("branch policies of %s: %v, want 404", env, resp)
		}
	}
	// protected_branches: which branches are protected shows on them.
	if err := sim.SetBranchProtected(f.repo, "main", true); err != nil {
		t.Fatal(err)
	}
	sim.Push(ctx, f.repo, "topic", "alice", "t", githubsim.FileChange{Path: "t", Content: []byte("t")})
	if b, _, err := f.gh.Repositories.GetBranch(ctx, org, name, "main", 0); err != nil || !b.GetProtected() {
		t.Errorf("main: %v protected=%v", err, b.GetProtected())
	}
	if b, _, err := f.gh.Repositories.GetBranch(ctx, org, name, "topic", 0); err != nil || b.GetProtected() {
		t.Errorf("topic: %v protected=%v", err, b.GetProtected())
	}
	prot, _, err := f.gh.Repositories.ListBranches(ctx, org, name, &github.BranchListOptions{Protected: github.Bool(true)})
	if err != nil || len(prot) != 1 || prot[0].GetName() != "main" {
		t.Errorf("protected branches: %v %v", err, prot)
	}
	staging, _, _ := f.gh.Repositories.GetEnvironment(ctx, org, name, "staging")
	if !staging.GetDeploymentBranchPolicy().GetProtectedBranches() {
		t.Errorf("staging policy %+v", staging.GetDeploymentBranchPolicy())
	}
	dev, _, _ := f.gh.Repositories.GetEnvironment(ctx, org, name, "development")
	if dev.DeploymentBranchPolicy != nil || len(dev.ProtectionRules) != 0 {
		t.Errorf("development: %+v %v", dev.DeploymentBranchPolicy, dev.ProtectionRules)
	}
}
