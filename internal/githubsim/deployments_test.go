package githubsim_test

import (
	"context"
	"testing"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// TestDeploymentStatusWebhook: deployment_status carries who set it, its
// state, description and URLs, and the deployment; target_url stands in
// for log_url; an inactive status sends nothing.
func TestDeploymentStatusWebhook(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	d, _, err := f.gh.Repositories.CreateDeployment(ctx, org, name, &github.DeploymentRequest{
		Ref: github.String("main"), AutoMerge: github.Bool(false), RequiredContexts: &[]string{},
		Environment: github.String("staging"), Payload: map[string]any{"plan": "abc"}, Description: github.String("Deploy abc"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []*github.DeploymentStatusRequest{
		{State: github.String("in_progress"), Description: github.String("applying"), LogURL: github.String("https://honua.example/log/1")},
		{State: github.String("success"), Description: github.String("applied"), EnvironmentURL: github.String("https://staging.honua.example")},
		{State: github.String("inactive")},
	} {
		if st.GetState() == "success" {
			// go-github has no target_url: send it raw, as older clients do.
			req, _ := f.gh.NewRequest("POST", "repos/"+f.repo+"/deployments/"+jsonNum(d.GetID())+"/statuses", map[string]any{
				"state": "success", "description": "applied", "environment_url": "https://staging.honua.example", "target_url": "https://honua.example/log/2",
			})
			if _, err := f.gh.Do(ctx, req, nil); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, _, err := f.gh.Repositories.CreateDeploymentStatus(ctx, org, name, d.GetID(), st); err != nil {
			t.Fatal(err)
		}
	}
	evs := payloads[github.DeploymentStatusEvent](t, f.sim, "deployment_status", "created")
	if len(evs) != 2 {
		t.Fatalf("deployment_status events: %d, want 2 (none for inactive)", len(evs))
	}
	for i, want := range []struct{ state, desc, log, env string }{
		{"in_progress", "applying", "https://honua.example/log/1", ""},
		{"success", "applied", "https://honua.example/log/2", "https://staging.honua.example"},
	} {
		e := evs[i]
		st, dep := e.GetDeploymentStatus(), e.GetDeployment()
		if st.GetState() != want.state || st.GetDescription() != want.desc || st.GetLogURL() != want.log || st.GetTargetURL() != want.log || st.GetEnvironmentURL() != want.env {
			t.Errorf("status %d: %s %q log %q target %q env %q", i, st.GetState(), st.GetDescription(), st.GetLogURL(), st.GetTargetURL(), st.GetEnvironmentURL())
		}
		if st.GetCreator().GetLogin() != f.sim.BotLogin() || e.GetSender().GetLogin() != f.sim.BotLogin() || st.GetEnvironment() != "staging" {
			t.Errorf("status %d: creator %s sender %s environment %s", i, st.GetCreator().GetLogin(), e.GetSender().GetLogin(), st.GetEnvironment())
		}
		if dep.GetID() != d.GetID() || dep.GetSHA() != f.base || dep.GetRef() != "main" || dep.GetEnvironment() != "staging" || dep.GetCreator().GetLogin() != f.sim.BotLogin() || dep.GetDescription() != "Deploy abc" || string(dep.Payload) != `{"plan":"abc"}` {
			t.Errorf("status %d: deployment %+v", i, dep)
		}
	}
}
