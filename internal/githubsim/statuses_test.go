package githubsim_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// TestCommitStatuses: statuses need the statuses permission; the list is
// newest first; the combined status takes each context's latest (pending
// with none, failure when any is error or failure); an unknown commit is
// 422. (An unknown state breaks the OpenAPI contract: the checks catch it.)
func TestCommitStatuses(t *testing.T) {
	ctx := context.Background()
	none := newFixture(t, githubsim.Options{})
	_, _, err := none.gh.Repositories.CreateStatus(ctx, org, name, none.base, &github.RepoStatus{State: github.String("success")})
	var ge *github.ErrorResponse
	if !errors.As(err, &ge) || ge.Response.StatusCode != http.StatusForbidden {
		t.Fatalf("a status without the statuses permission: %v, want 403", err)
	}

	perms := githubsim.DefaultPermissions()
	perms["statuses"] = "write"
	f := newFixture(t, githubsim.Options{Permissions: perms})
	combined, _, err := f.gh.Repositories.GetCombinedStatus(ctx, org, name, "main", nil)
	if err != nil || combined.GetState() != "pending" || combined.GetTotalCount() != 0 {
		t.Fatalf("combined with no status: %v %s %d, want pending, 0", err, combined.GetState(), combined.GetTotalCount())
	}
	for _, st := range []struct{ ctx, state, desc string }{
		{"honua/health (production)", "failure", "Unhealthy"},
		{"ci/build", "success", "built"},
		{"honua/health (production)", "success", "Healthy, Synced"},
	} {
		got, _, err := f.gh.Repositories.CreateStatus(ctx, org, name, f.base, &github.RepoStatus{
			State: github.String(st.state), Context: github.String(st.ctx), Description: github.String(st.desc), TargetURL: github.String("https://gis.example")})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetCreator().GetLogin() != f.sim.BotLogin() || got.GetContext() != st.ctx || got.GetState() != st.state {
			t.Errorf("created %+v", got)
		}
	}
	list, _, err := f.gh.Repositories.ListStatuses(ctx, org, name, "main", nil)
	if err != nil || len(list) != 3 || list[0].GetDescription() != "Healthy, Synced" || list[2].GetDescription() != "Unhealthy" {
		t.Fatalf("list: %v %d, want 3 newest first", err, len(list))
	}
	combined, _, err = f.gh.Repositories.GetCombinedStatus(ctx, org, name, f.base, nil)
	if err != nil || combined.GetState() != "success" || combined.GetTotalCount() != 2 {
		t.Fatalf("combined: %v %s %d, want success over 2 contexts (the health failure was superseded)", err, combined.GetState(), combined.GetTotalCount())
	}
	if _, _, err := f.gh.Repositories.CreateStatus(ctx, org, name, f.base, &github.RepoStatus{State: github.String("error"), Context: github.String("ci/build")}); err != nil {
		t.Fatal(err)
	}
	if combined, _, _ = f.gh.Repositories.GetCombinedStatus(ctx, org, name, f.base, nil); combined.GetState() != "failure" {
		t.Errorf("combined after an error: %s, want failure", combined.GetState())
	}
	_, _, err = f.gh.Repositories.CreateStatus(ctx, org, name, "0123456789012345678901234567890123456789", &github.RepoStatus{State: github.String("success")})
	if !errors.As(err, &ge) || ge.Response.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("a status on an unknown commit: %v, want 422", err)
	}
}
