package githubsim_test

import (
	"context"
	"testing"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// TestTeamMembership: pending members are invited, not members; a member
// of a child team is a member of its parents.
func TestTeamMembership(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	sim := f.sim
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(sim.AddTeam(org, "platform", ""))
	must(sim.AddTeam(org, "gis", "platform"))
	must(sim.AddTeam(org, "gis-admins", "gis"))
	must(sim.AddTeamMember(org, "platform", "olga", "maintainer"))
	must(sim.AddTeamMember(org, "gis-admins", "carol", ""))
	must(sim.InviteTeamMember(org, "gis", "dave"))
	if err := sim.AddTeam(org, "platform", "gis-admins"); err == nil {
		t.Error("a team became its own ancestor")
	}
	if err := sim.AddTeam(org, "x", "nope"); err == nil {
		t.Error("a team under an unknown parent")
	}
	type want struct {
		team, login string
		status      int
		role, state string
	}
	check := func(cases []want) {
		t.Helper()
		for _, w := range cases {
			m, resp, err := f.gh.Teams.GetTeamMembershipBySlug(ctx, org, w.team, w.login)
			if resp == nil || resp.StatusCode != w.status {
				t.Errorf("%s in %s: %v, want %d", w.login, w.team, err, w.status)
				continue
			}
			if w.status == 200 && (m.GetRole() != w.role || m.GetState() != w.state) {
				t.Errorf("%s in %s: %s/%s, want %s/%s", w.login, w.team, m.GetRole(), m.GetState(), w.role, w.state)
			}
		}
	}
	check([]want{
		{"platform", "olga", 200, "maintainer", "active"},
		{"gis-admins", "carol", 200, "member", "active"},
		{"gis", "carol", 200, "member", "active"},      // child team's member
		{"platform", "carol", 200, "member", "active"}, // grandchild's
		{"gis", "dave", 200, "member", "pending"},      // invited
		{"platform", "dave", 404, "", ""},              // pending counts for nothing
		{"gis-admins", "olga", 404, "", ""},            // parents' members are not the child's
	})
	if sim.IsTeamMember(org, "gis", "dave") || !sim.IsTeamMember(org, "platform", "carol") {
		t.Error("IsTeamMember disagrees")
	}
	// A pending member is not an organization member either.
	sim.Push(ctx, f.repo, "topic", "dave", "t", githubsim.FileChange{Path: "t", Content: []byte("t")})
	n, _ := sim.OpenPR(ctx, f.repo, "topic", "", "dave", "t", "")
	pr, _, _ := f.gh.PullRequests.Get(ctx, org, name, n)
	if pr.GetAuthorAssociation() != "NONE" {
		t.Errorf("pending member's association %s, want NONE", pr.GetAuthorAssociation())
	}
	must(sim.AcceptTeamInvitation(org, "gis", "dave"))
	check([]want{{"gis", "dave", 200, "member", "active"}, {"platform", "dave", 200, "member", "active"}})
	pr, _, _ = f.gh.PullRequests.Get(ctx, org, name, n)
	if pr.GetAuthorAssociation() != "MEMBER" {
		t.Errorf("member's association %s, want MEMBER", pr.GetAuthorAssociation())
	}
	must(sim.RemoveTeamMember(org, "gis-admins", "carol"))
	check([]want{{"platform", "carol", 404, "", ""}})
	// Teams of another organization are not the installation's to read.
	sim.SetTeam("elsewhere", "ops", "carol")
	check([]want{{"gis", "nobody", 404, "", ""}})
	if _, resp, _ := f.gh.Teams.GetTeamMembershipBySlug(ctx, "elsewhere", "ops", "carol"); resp == nil || resp.StatusCode != 404 {
		t.Errorf("another organization's team: %v, want 404", resp)
	}
	// The parent shows in an environment's team reviewer.
	must(sim.SetEnvironment(f.repo, githubsim.Environment{Name: "production", Reviewers: []githubsim.Reviewer{{Type: "Team", Name: org + "/gis"}}}))
	env, _, err := f.gh.Repositories.GetEnvironment(ctx, org, name, "production")
	if err != nil {
		t.Fatal(err)
	}
	var parent string
	for _, r := range env.ProtectionRules {
		for _, rv := range r.Reviewers {
			if tm, ok := rv.Reviewer.(*github.Team); ok {
				parent = tm.GetParent().GetSlug()
			}
		}
	}
	if parent != "platform" {
		t.Errorf("reviewer team's parent %q, want platform", parent)
	}
}
