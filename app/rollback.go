package app

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/app/command"
	"github.com/honua-io/honua-gitops/app/gate"
	"github.com/honua-io/honua-gitops/checks"
	"github.com/honua-io/honua-gitops/policy"
)

// rollback answers /rollback [env] [--to SHA] on a merged pull request:
// the last commit that deployed successfully to env before this pull
// request's deployment (or SHA, an earlier successful deployment there) is
// deployed again, with task deploy:rollback, judged with rollback: true and
// the requester's approval.
func (a *App) rollback(ctx context.Context, inst int64, repo repoName, pr *github.PullRequest, cmd command.Command, login string, commentID int64, reply func(string) error) error {
	unlock := a.locks.lock("deploy:" + repo.String())
	defer unlock()
	gh, err := a.clients.Installation(ctx, inst)
	if err != nil {
		return err
	}
	merge := pr.GetMergeCommitSHA()
	mine, err := a.deploymentsOf(ctx, gh, repo, merge)
	if err != nil {
		return err
	}
	env := cmd.Env
	if env == "" {
		if len(mine) != 1 {
			var names []string
			for n := range mine {
				names = append(names, n)
			}
			if len(names) == 0 {
				return reply(checks.RefusalComment("this pull request deployed nowhere: there is nothing to roll back."))
			}
			return reply(checks.RefusalComment(fmt.Sprintf("this pull request deployed to %s: name the one to roll back, as in `/rollback %s`.", strings.Join(names, ", "), names[0])))
		}
		for n := range mine {
			env = n
		}
	}
	d := mine[env]
	if d == nil {
		return reply(checks.RefusalComment(fmt.Sprintf("this pull request has no deployment to %s to roll back.", env)))
	}
	history, err := a.history(ctx, gh, repo, env)
	if err != nil {
		return err
	}
	target, err := gate.RollbackTarget(history, gate.RollbackRequest{Env: env, PR: pr.GetNumber(), SHA: merge, To: cmd.SHA})
	if err != nil {
		return reply(checks.RefusalComment(err.Error()))
	}
	// Judge the rollback as a deployment of target over what runs now.
	token, err := a.clients.Token(ctx, inst)
	if err != nil {
		return err
	}
	if err := a.mirror.Fetch(ctx, repo.String(), token, merge, target); err != nil {
		return err
	}
	base, err := a.mirror.Source(ctx, repo.String(), merge)
	if err != nil {
		return err
	}
	head, err := a.mirror.Source(ctx, repo.String(), target)
	if err != nil {
		return err
	}
	p, err := a.computePlan(ctx, base, head)
	if err != nil {
		return err
	}
	m := mergeInfo{repo: repo, sha: target, parent: merge, pull: prView(repo, pr), rollback: merge}
	ev, err := a.evaluateDeploy(ctx, gh, m, p, base, head, nil)
	if err != nil {
		return err
	}
	pol := policy.EnvPolicy{}
	if ev.bundle.File != nil {
		pol = ev.bundle.File.Env(env)
	}
	person, err := a.person(ctx, gh, repo, login, requiredTeams(ev.report, ev.envs))
	if err != nil {
		return err
	}
	v, _ := ev.report.Verdict(env)
	if ok, why := gate.MayRollback(person, m.pull, ev.envs[env], eligiblePolicy(pol, v)); !ok {
		return reply(checks.RefusalComment(why))
	}
	// The requester's own approval: one eligible approval is enough for a
	// rollback (the built-in policy's rule).
	ap := policy.Approval{Login: login, Teams: person.Teams, Commit: target, SubmittedAt: a.now(), PlanDigest: ev.digests[env], Via: "rollback"}
	ev.appr = map[string][]policy.Approval{env: {ap}}
	if ev.report, err = a.engine.Judge(ctx, p, policy.JudgeOptions{
		Complete: true,
		Bundle:   ev.bundle, Base: base, Head: head, Limits: a.limits, Now: a.now(), SHA: target,
		PR:        policy.PR{Number: m.pull.Number, Author: m.pull.Author, Labels: m.pull.Labels, BaseSHA: merge, HeadSHA: m.pull.HeadSHA},
		Approvals: ev.appr, Protection: protections(ev.envs, p), Deployments: ev.deployed, Rollback: true,
	}); err != nil {
		return err
	}
	if err := reply(checks.RollbackComment(checks.RollbackRecord{Env: env, To: target, Of: merge, Login: login, At: a.now()})); err != nil {
		return err
	}
	return a.createDeployment(ctx, gh, m, ev, env)
}

// history lists the App's deployments to env with their outcome, newest
// first, for rollbacks: at most the 30 newest.
func (a *App) history(ctx context.Context, gh *github.Client, repo repoName, env string) ([]gate.DeploymentInfo, error) {
	ds, _, err := gh.Repositories.ListDeployments(ctx, repo.Owner, repo.Name, &github.DeploymentsListOptions{Environment: env, ListOptions: github.ListOptions{PerPage: 30}})
	if err != nil {
		return nil, fmt.Errorf("listing deployments to %s: %w", env, err)
	}
	var out []gate.DeploymentInfo
	for _, d := range ds {
		if !a.ownDeployment(d) {
			continue
		}
		state, err := a.outcome(ctx, gh, repo, d.GetID())
		if err != nil {
			return nil, err
		}
		out = append(out, gate.DeploymentInfo{ID: d.GetID(), SHA: d.GetSHA(), Env: env, State: state, CreatedAt: d.GetCreatedAt().Time})
	}
	return out, nil
}

// outcome is how a deployment ended: its latest status, except that a
// deployment GitHub made inactive after it succeeded (auto_inactive, when
// a newer one succeeded) counts as the success it was.
func (a *App) outcome(ctx context.Context, gh *github.Client, repo repoName, id int64) (string, error) {
	ss, err := a.statuses(ctx, gh, repo, id)
	if err != nil || len(ss) == 0 {
		return "", err
	}
	latest := ss[len(ss)-1].GetState()
	succeeded := slices.ContainsFunc(ss, func(s *github.DeploymentStatus) bool { return s.GetState() == "success" })
	if latest == "inactive" && succeeded {
		return "success", nil
	}
	return latest, nil
}
