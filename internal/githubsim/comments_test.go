package githubsim_test

import (
	"context"
	"testing"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// TestReviewDismissAndEdit: a dismissed review reads DISMISSED in REST and
// "dismissed" in the webhook; only its author edits a review's body.
func TestReviewDismissAndEdit(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	sim := f.sim
	sim.SetCollaborator(f.repo, "bob", githubsim.PermWrite)
	sim.SetCollaborator(f.repo, "carol", githubsim.PermMaintain)
	sim.Push(ctx, f.repo, "topic", "alice", "t", githubsim.FileChange{Path: "t", Content: []byte("t")})
	n, _ := sim.OpenPR(ctx, f.repo, "topic", "", "alice", "t", "")
	approval, err := sim.Review(f.repo, n, "bob", "APPROVE", "looks good")
	if err != nil {
		t.Fatal(err)
	}
	note, _ := sim.Review(f.repo, n, "bob", "COMMENT", "a note")
	if err := sim.EditReview(f.repo, n, approval, "carol", "mine now"); err == nil {
		t.Error("someone else edited a review")
	}
	if err := sim.EditReview(f.repo, n, approval, "bob", "looks good to me"); err != nil {
		t.Fatal(err)
	}
	if err := sim.DismissReview(f.repo, n, approval, "alice", "stale"); err == nil {
		t.Error("the author without write access dismissed a review")
	}
	if err := sim.DismissReview(f.repo, n, note, "carol", "noise"); err == nil {
		t.Error("a comment review was dismissed")
	}
	if err := sim.DismissReview(f.repo, n, approval, "carol", "the plan changed"); err != nil {
		t.Fatal(err)
	}
	revs, _, err := f.gh.PullRequests.ListReviews(ctx, org, name, n, nil)
	if err != nil || len(revs) != 2 || revs[0].GetState() != "DISMISSED" || revs[0].GetBody() != "looks good to me" {
		t.Fatalf("reviews: %v %+v", err, revs)
	}
	// go-github v66's PullRequestReviewEvent has no changes: read them raw.
	type reviewEdit struct {
		github.PullRequestReviewEvent
		Changes struct {
			Body struct{ From string } `json:"body"`
		} `json:"changes"`
	}
	edited := payloads[reviewEdit](t, sim, "pull_request_review", "edited")
	if len(edited) != 1 || edited[0].Changes.Body.From != "looks good" || edited[0].GetSender().GetLogin() != "bob" {
		t.Errorf("edited: %d", len(edited))
	}
	dismissed := payloads[github.PullRequestReviewEvent](t, sim, "pull_request_review", "dismissed")
	if len(dismissed) != 1 || dismissed[0].GetReview().GetState() != "dismissed" || dismissed[0].GetSender().GetLogin() != "carol" || dismissed[0].GetReview().GetUser().GetLogin() != "bob" {
		t.Errorf("dismissed: %d", len(dismissed))
	}
}

// TestCommentEditAndDelete: issue_comment edited and deleted name who did
// it as sender; people with write access may change others' comments.
func TestCommentEditAndDelete(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	sim := f.sim
	sim.SetCollaborator(f.repo, "bob", githubsim.PermWrite)
	sim.SetCollaborator(f.repo, "tina", githubsim.PermTriage)
	sim.Push(ctx, f.repo, "topic", "alice", "t", githubsim.FileChange{Path: "t", Content: []byte("t")})
	n, _ := sim.OpenPR(ctx, f.repo, "topic", "", "alice", "t", "")
	cid, _ := sim.Comment(f.repo, n, "alice", "/approve production")
	if err := sim.EditComment(f.repo, cid, "tina", "/approve staging"); err == nil {
		t.Error("triage edited someone else's comment")
	}
	if err := sim.EditComment(f.repo, cid, "bob", "/approve staging"); err != nil {
		t.Fatal(err)
	}
	ed := payloads[github.IssueCommentEvent](t, sim, "issue_comment", "edited")
	if len(ed) != 1 || ed[0].GetSender().GetLogin() != "bob" || ed[0].GetComment().GetUser().GetLogin() != "alice" || ed[0].GetChanges().GetBody().GetFrom() != "/approve production" {
		t.Fatalf("edited: sender %s author %s", ed[0].GetSender().GetLogin(), ed[0].GetComment().GetUser().GetLogin())
	}
	if err := sim.DeleteComment(f.repo, cid, "tina"); err == nil {
		t.Error("triage deleted someone else's comment")
	}
	if err := sim.DeleteComment(f.repo, cid, "bob"); err != nil {
		t.Fatal(err)
	}
	del := payloads[github.IssueCommentEvent](t, sim, "issue_comment", "deleted")
	if len(del) != 1 || del[0].GetSender().GetLogin() != "bob" || del[0].GetComment().GetBody() != "/approve staging" {
		t.Fatalf("deleted: %d", len(del))
	}
	if _, resp, _ := f.gh.Issues.GetComment(ctx, org, name, cid); resp == nil || resp.StatusCode != 404 {
		t.Errorf("a deleted comment: %v, want 404", resp)
	}
	// The App deletes its own comments, not others'.
	mine, _, err := f.gh.Issues.CreateComment(ctx, org, name, n, &github.IssueComment{Body: github.String("plan")})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := sim.Comment(f.repo, n, "alice", "hi")
	if resp, err := f.gh.Issues.DeleteComment(ctx, org, name, mine.GetID()); err != nil || resp.StatusCode != 204 {
		t.Fatalf("deleting its own comment: %v", err)
	}
	if resp, _ := f.gh.Issues.DeleteComment(ctx, org, name, other); resp == nil || resp.StatusCode != 403 {
		t.Errorf("deleting another's comment: %v, want 403", resp)
	}
	if del := payloads[github.IssueCommentEvent](t, sim, "issue_comment", "deleted"); len(del) != 2 || del[1].GetSender().GetLogin() != sim.BotLogin() {
		t.Errorf("deleted via REST: %d", len(del))
	}
}
