package app

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
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
	state := strings.ToUpper(e.GetReview().GetState())
	// A review that approves, or that may withdraw an approval (changes
	// requested, a dismissal), is recorded; others only update the checks.
	approving := ev.Action == "submitted" && state == "APPROVED"
	dismissed := ev.Action == "dismissed" || (ev.Action == "submitted" && state == "CHANGES_REQUESTED")
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
	lookup := a.digestLookup(ctx, gh, repo, j.pull.HeadSHA, j.digests, nil)
	if err := a.syncReviews(ctx, gh, repo, pr.GetNumber(), j.reviews, j.records, slices.Sorted(maps.Keys(j.digests)), lookup); err != nil {
		return err
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

// syncReviews records in the pull request what its reviews say and the
// App's records do not yet: the approving review that is its author's
// latest, bound to each environment's plan digest at the reviewed commit;
// and the withdrawal of a recorded review approval whose author's latest
// review no longer approves (changes requested, or the review dismissed).
// The merge reads approvals from these records only; the sweeper calls this
// for open pull requests, so that a review whose webhook was missed still
// counts (or stops counting).
func (a *App) syncReviews(ctx context.Context, gh *github.Client, repo repoName, number int, reviews []gate.Review, records []gate.Record, envs []string, lookup gate.DigestLookup) error {
	latest := map[string]gate.Review{}
	for _, r := range reviews {
		switch r.State {
		case "APPROVED", "CHANGES_REQUESTED", "DISMISSED":
		default:
			continue // a comment review changes nothing
		}
		k := strings.ToLower(r.Login)
		if p, ok := latest[k]; !ok || r.SubmittedAt.After(p.SubmittedAt) || (r.SubmittedAt.Equal(p.SubmittedAt) && r.ID > p.ID) {
			latest[k] = r
		}
	}
	logins := make([]string, 0, len(latest))
	for k := range latest {
		logins = append(logins, k)
	}
	sort.Strings(logins)
	var recs []gate.Record
	var text strings.Builder
	for _, k := range logins {
		r := latest[k]
		for _, env := range envs {
			has := slices.ContainsFunc(records, func(h gate.Record) bool {
				return h.Kind == gate.KindApprove && h.Via == gate.ViaReview && h.Env == env && strings.EqualFold(h.Login, r.Login) && (r.State != "APPROVED" || h.SHA == r.CommitID)
			})
			switch {
			case r.State == "APPROVED" && !has:
				d, ok := lookup(r.CommitID, env)
				if !ok {
					continue // a commit the App never planned: nothing to bind to
				}
				at := r.SubmittedAt
				if at.IsZero() {
					at = a.now()
				}
				rec := gate.Record{Env: env, Login: r.Login, Via: gate.ViaReview, Kind: gate.KindApprove, SHA: r.CommitID, PlanDigest: d, At: at}
				recs = append(recs, rec)
				text.WriteString(checks.ApprovalRecordComment(checks.ApprovalRecord{Env: env, Login: r.Login, Via: gate.ViaReview, At: at, SHA: r.CommitID, PlanDigest: d}, nil))
			case r.State != "APPROVED" && has:
				recs = append(recs, gate.Record{Env: env, Login: r.Login, Via: gate.ViaReview, Kind: recordWithdraw, SHA: r.CommitID, At: a.now()})
				fmt.Fprintf(&text, "The approving review of %s no longer counts for %s: %s.\n", plan.MarkdownText("@"+r.Login), plan.MarkdownCode(env), withdrawnWhy(r.State))
			}
		}
	}
	if len(recs) == 0 {
		return nil
	}
	return a.comment(ctx, gh, repo, number, text.String()+"\n"+a.recordMarker(repo.String(), number, recs...))
}

func withdrawnWhy(state string) string {
	if state == "DISMISSED" {
		return "the review was dismissed"
	}
	return "its author requested changes since"
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
