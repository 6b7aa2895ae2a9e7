package githubsim_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// TestPullRequestLifecycle: drafts, edits, labels, closing and reopening
// send the pull_request events GitHub sends, and the REST API shows them.
func TestPullRequestLifecycle(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	sim := f.sim
	sim.SetCollaborator(f.repo, "bob", githubsim.PermWrite)
	sim.SetCollaborator(f.repo, "tina", githubsim.PermTriage)
	sim.Push(ctx, f.repo, "topic", "alice", "t", githubsim.FileChange{Path: "t", Content: []byte("t")})
	sim.Push(ctx, f.repo, "release", "bob", "r", githubsim.FileChange{Path: "r", Content: []byte("r")})
	n, err := sim.OpenDraftPR(ctx, f.repo, "topic", "", "alice", "Draft", "wip")
	if err != nil {
		t.Fatal(err)
	}
	pr, _, err := f.gh.PullRequests.Get(ctx, org, name, n)
	if err != nil || !pr.GetDraft() || pr.GetMergeableState() != "draft" {
		t.Fatalf("draft PR: %v draft=%v state=%s", err, pr.GetDraft(), pr.GetMergeableState())
	}
	if err := sim.MarkReadyForReview(f.repo, n, "mallory"); err == nil {
		t.Error("someone without access took a PR out of draft")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(sim.MarkReadyForReview(f.repo, n, "alice"))
	must(sim.EditPR(ctx, f.repo, n, "bob", githubsim.PREdit{Title: github.String("Add bike lanes"), Base: github.String("release")}))
	must(sim.EditPR(ctx, f.repo, n, "alice", githubsim.PREdit{Body: github.String("ready")}))
	if err := sim.EditPR(ctx, f.repo, n, "tina", githubsim.PREdit{Title: github.String("x")}); err == nil {
		t.Error("triage edited someone else's PR")
	}
	must(sim.AddLabel(f.repo, n, "tina", "needs-plan"))
	must(sim.AddLabel(f.repo, n, "bob", "production"))
	must(sim.AddLabel(f.repo, n, "bob", "production")) // already there: nothing sent
	if err := sim.AddLabel(f.repo, n, "alice", "x"); err == nil {
		t.Error("the author without triage access labelled")
	}
	labels, _, err := f.gh.Issues.ListLabelsByIssue(ctx, org, name, n, nil)
	if err != nil || len(labels) != 2 || labels[0].GetName() != "needs-plan" {
		t.Fatalf("issue labels: %v %v", err, labels)
	}
	pr, _, _ = f.gh.PullRequests.Get(ctx, org, name, n)
	if len(pr.Labels) != 2 || pr.GetBase().GetRef() != "release" || pr.GetTitle() != "Add bike lanes" || pr.GetDraft() {
		t.Errorf("PR after edits: labels %d base %s title %q draft %v", len(pr.Labels), pr.GetBase().GetRef(), pr.GetTitle(), pr.GetDraft())
	}
	cid, _ := sim.Comment(f.repo, n, "bob", "/plan")
	must(sim.RemoveLabel(f.repo, n, "tina", "needs-plan"))
	must(sim.ClosePR(ctx, f.repo, n, "bob"))
	if err := sim.ReopenPR(ctx, f.repo, n, "mallory"); err == nil {
		t.Error("someone without access reopened a PR")
	}
	must(sim.ReopenPR(ctx, f.repo, n, "alice"))
	if v, _ := sim.PullRequest(f.repo, n); v.State != "open" || v.Base != "release" || !cmp.Equal(v.Labels, []string{"production"}) {
		t.Errorf("reopened PR: %+v", v)
	}
	must(sim.ConvertToDraft(f.repo, n, "alice"))
	if _, err := sim.MergePR(ctx, f.repo, n, "bob"); err == nil {
		t.Error("a draft was merged")
	}
	must(sim.MarkReadyForReview(f.repo, n, "bob"))
	if _, err := sim.MergePR(ctx, f.repo, n, "alice"); err == nil {
		t.Error("the author without write access merged")
	}
	if _, err := sim.MergePR(ctx, f.repo, n, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := sim.ReopenPR(ctx, f.repo, n, "bob"); err == nil {
		t.Error("a merged PR was reopened")
	}

	var got []string
	for _, d := range sim.DeliveriesOf("pull_request", "") {
		got = append(got, d.Action)
	}
	want := []string{"opened", "ready_for_review", "edited", "edited", "labeled", "labeled", "unlabeled", "closed", "reopened", "converted_to_draft", "ready_for_review", "closed"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pull_request actions (-want +got):\n%s", diff)
	}
	evs := payloads[github.PullRequestEvent](t, sim, "pull_request", "")
	if !evs[0].GetPullRequest().GetDraft() || evs[1].GetPullRequest().GetDraft() {
		t.Error("draft flag in opened/ready_for_review payloads")
	}
	edit := evs[2]
	if edit.GetChanges().GetTitle().GetFrom() != "Draft" || edit.GetChanges().GetBase().GetRef().GetFrom() != "main" || edit.GetSender().GetLogin() != "bob" {
		t.Errorf("edited: %+v by %s", edit.GetChanges(), edit.GetSender().GetLogin())
	}
	if evs[3].GetChanges().GetBody().GetFrom() != "wip" {
		t.Errorf("edited body from %q", evs[3].GetChanges().GetBody().GetFrom())
	}
	if evs[4].GetLabel().GetName() != "needs-plan" || evs[4].GetSender().GetLogin() != "tina" || len(evs[5].GetPullRequest().Labels) != 2 {
		t.Errorf("labeled: %s by %s", evs[4].GetLabel().GetName(), evs[4].GetSender().GetLogin())
	}
	if evs[6].GetLabel().GetName() != "needs-plan" || len(evs[6].GetPullRequest().Labels) != 1 {
		t.Errorf("unlabeled: %s", evs[6].GetLabel().GetName())
	}
	if evs[8].GetSender().GetLogin() != "alice" || evs[8].GetPullRequest().GetState() != "open" {
		t.Errorf("reopened: by %s, %s", evs[8].GetSender().GetLogin(), evs[8].GetPullRequest().GetState())
	}
	ic := payloads[github.IssueCommentEvent](t, sim, "issue_comment", "created")
	if len(ic) != 1 || ic[0].GetComment().GetID() != cid || len(ic[0].GetIssue().Labels) != 2 {
		t.Errorf("issue_comment's issue carries the PR's labels")
	}
}
