package app

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/app/command"
	"github.com/honua-io/honua-gitops/app/gate"
	"github.com/honua-io/honua-gitops/checks"
	"github.com/honua-io/honua-gitops/policy"
)

// onComment runs the command of a new PR comment. Only created comments
// count: anyone with write access can edit someone else's comment, so an
// edit never approves anything. Bots are ignored.
func (a *App) onComment(ctx context.Context, ev Event) error {
	e, ok := ev.Payload.(*github.IssueCommentEvent)
	if !ok || ev.Action != "created" || !e.GetIssue().IsPullRequest() {
		return nil
	}
	c := e.GetComment()
	if strings.EqualFold(c.GetUser().GetType(), "Bot") || strings.HasSuffix(strings.ToLower(c.GetUser().GetLogin()), "[bot]") {
		return nil
	}
	cmd, ok := command.Parse(c.GetBody())
	if !ok {
		return nil
	}
	repo, err := parseRepo(e.GetRepo().GetFullName())
	if err != nil {
		return err
	}
	gh, err := a.clients.Installation(ctx, ev.InstallationID)
	if err != nil {
		return err
	}
	number := e.GetIssue().GetNumber()
	login := c.GetUser().GetLogin()
	// A command is answered once: redelivered, it finds its answer.
	comments, err := a.comments(ctx, gh, repo, number)
	if err != nil {
		return err
	}
	if a.replied(comments, c.GetID()) {
		return nil
	}
	reply := func(body string) error {
		return a.comment(ctx, gh, repo, number, body+"\n"+replyMarker(c.GetID()))
	}
	if cmd.Err != nil {
		return reply(fmt.Sprintf("%s\n\n%s", checks.RefusalComment(cmd.Err.Error()), checks.HelpText()))
	}
	if cmd.Name == "help" {
		return reply(checks.HelpText())
	}
	// Every other command needs write access.
	person, err := a.person(ctx, gh, repo, login, nil)
	if err != nil {
		return err
	}
	if !canWrite(person) {
		return reply(checks.RefusalComment(fmt.Sprintf("@%s, commands need write access to %s.", login, repo)))
	}
	if cmd.Env != "" {
		// "/reject risky change": is "risky" an environment? The
		// repository's GitHub environments say.
		envs, err := a.environments(ctx, gh, repo)
		if err != nil {
			return err
		}
		if cmd = cmd.Resolve(slices.Collect(maps.Keys(envs))); cmd.Err != nil {
			return reply(fmt.Sprintf("%s\n\n%s", checks.RefusalComment(cmd.Err.Error()), checks.HelpText()))
		}
	}
	_, _, _ = gh.Reactions.CreateIssueCommentReaction(ctx, repo.Owner, repo.Name, c.GetID(), "eyes")
	pr, _, err := gh.PullRequests.Get(ctx, repo.Owner, repo.Name, number)
	if err != nil {
		return fmt.Errorf("reading %s#%d: %w", repo, number, err)
	}
	switch cmd.Name {
	case "plan":
		if pr.GetState() != "open" {
			return reply(checks.RefusalComment("the pull request is closed: there is nothing to plan."))
		}
		return a.planPR(withRerun(ctx), ev.InstallationID, repo, pr)
	case "approve", "reject":
		if pr.GetMerged() {
			return a.commandOnMerge(ctx, ev.InstallationID, repo, pr, cmd, login, c.GetID(), reply)
		}
		if pr.GetState() != "open" {
			return reply(checks.RefusalComment("the pull request was closed without merging: there is nothing to " + cmd.Name + "."))
		}
		return a.commandOnOpen(ctx, ev.InstallationID, gh, repo, pr, cmd, login, c.GetID(), comments, reply)
	case "rollback":
		if !pr.GetMerged() {
			return reply(checks.RefusalComment("/rollback works on a merged pull request: this one is not merged."))
		}
		return a.rollback(ctx, ev.InstallationID, repo, pr, cmd, login, c.GetID(), reply)
	}
	return reply(checks.HelpText())
}

// commandOnMerge approves or rejects the pending deployments of a merged
// pull request: the named environment's, or every one pending when none is
// named.
func (a *App) commandOnMerge(ctx context.Context, inst int64, repo repoName, pr *github.PullRequest, cmd command.Command, login string, commentID int64, reply func(string) error) error {
	sha := pr.GetMergeCommitSHA()
	envs := []string{cmd.Env}
	if cmd.Env == "" {
		gh, err := a.clients.Installation(ctx, inst)
		if err != nil {
			return err
		}
		ds, err := a.deploymentsOf(ctx, gh, repo, sha)
		if err != nil {
			return err
		}
		envs = envs[:0]
		for env, d := range ds {
			st, err := a.latestStatus(ctx, gh, repo, d.GetID())
			if err != nil {
				return err
			}
			if st.GetState() == "pending" {
				envs = append(envs, env)
			}
		}
		if len(envs) == 0 {
			return reply(checks.RefusalComment("no deployment of this pull request waits for approval."))
		}
	}
	for _, env := range envs {
		var err error
		if cmd.Name == "approve" {
			err = a.approveDeployment(ctx, inst, repo, sha, env, login, "comment", commentID)
		} else {
			err = a.rejectDeployment(ctx, inst, repo, sha, env, login, "comment", cmd.Reason, commentID)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// commandOnOpen records an approval or rejection given before the merge,
// bound to each environment's plan as it is now, and updates the policy
// check.
func (a *App) commandOnOpen(ctx context.Context, inst int64, gh *github.Client, repo repoName, pr *github.PullRequest, cmd command.Command, login string, commentID int64, comments []*github.IssueComment, reply func(string) error) error {
	j, err := a.judgePR(ctx, inst, gh, repo, pr)
	if err != nil {
		return err
	}
	person, err := a.person(ctx, gh, repo, login, requiredTeams(j.report, j.envs))
	if err != nil {
		return err
	}
	var recs []gate.Record
	var refusals []string
	bundle, err := policy.LoadWithLimits(ctx, j.policy, a.limits)
	if err != nil {
		return err
	}
	for _, e := range j.report.Environments() {
		if cmd.Env != "" && !strings.EqualFold(cmd.Env, e.Name) {
			continue
		}
		if len(e.Changes) == 0 {
			continue
		}
		pol := policy.EnvPolicy{}
		if bundle.File != nil {
			pol = bundle.File.Env(e.Name)
		}
		v, _ := j.report.Verdict(e.Name)
		if ok, why := gate.MayApprove(person, j.pull, j.envs[e.Name], eligiblePolicy(pol, v)); !ok {
			refusals = append(refusals, why)
			continue
		}
		recs = append(recs, gate.Record{Env: e.Name, Login: login, Via: "comment", Kind: cmd.Name, SHA: j.pull.HeadSHA, PlanDigest: j.digests[e.Name], At: a.now(), Reason: cmd.Reason})
	}
	if len(recs) == 0 {
		if len(refusals) == 0 {
			return reply(checks.RefusalComment(fmt.Sprintf("nothing to %s: no environment named %q changes in this pull request.", cmd.Name, cmd.Env)))
		}
		return reply(checks.RefusalComment(strings.Join(refusals, " ")))
	}
	var body strings.Builder
	for _, r := range recs {
		cr := checks.ApprovalRecord{Env: r.Env, Login: login, Via: r.Via, At: r.At, SHA: r.SHA, PlanDigest: r.PlanDigest, Reason: r.Reason}
		if cmd.Name == "reject" {
			body.WriteString(checks.RejectionComment(cr))
		} else {
			body.WriteString(checks.ApprovalRecordComment(cr, nil))
		}
	}
	if err := reply(body.String() + "\n" + a.recordMarker(repo.String(), pr.GetNumber(), recs...)); err != nil {
		return err
	}
	return a.planPR(ctx, inst, repo, pr)
}
