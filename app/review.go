package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/app/gate"
	"github.com/honua-io/honua-gitops/checks"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// recordWithdraw is the kind of record of a dismissed approving review.
const recordWithdraw = "withdraw"

// onReview updates the policy check of a pull request when a review is
// submitted, edited or dismissed, and records approving reviews (and their
// dismissal) in the PR, bound to each environment's plan digest at the
// reviewed commit: the merge reads the approvals from those records.
func (a *App) onReview(ctx context.Context, ev Event) error {
	e, ok := ev.Payload.(*github.PullRequestReviewEvent)
	if !ok {
		return nil
	}
	repo, err := parseRepo(e.GetRepo().GetFullName())
	if err != nil {
		return err
	}
	pr := e.GetPullRequest()
	if pr.GetState() != "open" {
		return nil
	}
	review := e.GetReview()
	state := strings.ToUpper(review.GetState())
	approving := ev.Action == "submitted" && state == "APPROVED"
	dismissed := ev.Action == "dismissed"
	gh, err := a.clients.Installation(ctx, ev.InstallationID)
	if err != nil {
		return err
	}
	if !approving && !dismissed {
		if ev.Action == "submitted" || ev.Action == "edited" {
			return a.planPR(ctx, ev.InstallationID, repo, pr)
		}
		return nil
	}
	j, err := a.judgePR(ctx, ev.InstallationID, gh, repo, pr)
	if err != nil {
		return err
	}
	login := review.GetUser().GetLogin()
	var recs []gate.Record
	lookup := a.digestLookup(ctx, gh, repo, j.pull.HeadSHA, j.digests, nil)
	for _, env := range j.report.Environments() {
		if len(env.Changes) == 0 {
			continue
		}
		r := gate.Record{Env: env.Name, Login: login, Via: "review", SHA: review.GetCommitID(), At: review.GetSubmittedAt().Time}
		if dismissed {
			r.Kind, r.At = recordWithdraw, a.now()
		} else {
			d, ok := lookup(review.GetCommitID(), env.Name)
			if !ok {
				continue // a commit the App never planned: nothing to bind to
			}
			r.Kind, r.PlanDigest = "approve", d
		}
		if r.At.IsZero() {
			r.At = a.now()
		}
		recs = append(recs, r)
	}
	if len(recs) > 0 && !a.recorded(j.records, recs) {
		var b strings.Builder
		for _, r := range recs {
			if dismissed {
				fmt.Fprintf(&b, "The approving review of %s was dismissed: it no longer counts for %s.\n", plan.MarkdownText("@"+login), plan.MarkdownCode(r.Env))
				continue
			}
			b.WriteString(checks.ApprovalRecordComment(checks.ApprovalRecord{Env: r.Env, Login: login, Via: r.Via, At: r.At, SHA: r.SHA, PlanDigest: r.PlanDigest}, nil))
		}
		body := b.String()
		if err := a.comment(ctx, gh, repo, pr.GetNumber(), body+"\n"+a.recordMarker(repo.String(), pr.GetNumber(), recs...)); err != nil {
			return err
		}
	}
	runs, err := a.runsOnRef(ctx, gh, repo, j.pull.HeadSHA)
	if err != nil {
		return err
	}
	planRun, policyRun := a.prRuns(j)
	if _, err := a.publish(ctx, gh, repo, j.pull.HeadSHA, runs[planRunName], planRun); err != nil {
		return err
	}
	_, err = a.publish(ctx, gh, repo, j.pull.HeadSHA, runs[policyRunName], policyRun)
	return err
}

// recorded reports whether every record of recs is already among have
// (a redelivered review).
func (a *App) recorded(have, recs []gate.Record) bool {
	for _, r := range recs {
		found := false
		for _, h := range have {
			if h.Env == r.Env && strings.EqualFold(h.Login, r.Login) && h.Kind == r.Kind && h.Via == r.Via && h.SHA == r.SHA && h.PlanDigest == r.PlanDigest && (r.Kind == recordWithdraw || h.At.Equal(r.At.UTC().Truncate(1e9))) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// effective drops approvals withdrawn later (a dismissed review) from
// records, and the withdrawals themselves.
func effective(records []gate.Record) []gate.Record {
	var out []gate.Record
	for i, r := range records {
		if r.Kind == recordWithdraw {
			continue
		}
		withdrawn := false
		for _, w := range records[i+1:] {
			if w.Kind == recordWithdraw && w.Env == r.Env && strings.EqualFold(w.Login, r.Login) && r.Via == "review" {
				withdrawn = true
			}
		}
		if !withdrawn {
			out = append(out, r)
		}
	}
	return out
}
