package app

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/app/gate"
	"github.com/honua-io/honua-gitops/checks"
	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/order"
)

// mergeState is a merge commit with its deployments, read back from GitHub:
// what approving, rejecting and re-evaluating one of them starts from.
type mergeState struct {
	gh          *github.Client
	m           mergeInfo
	deployments map[string]*github.Deployment
	orders      map[string]order.Order
	ev          *evaluation
}

// loadMerge reads the App's deployments of sha, the pull request their
// orders name, and judges the commit again as the deployment did.
func (a *App) loadMerge(ctx context.Context, inst int64, repo repoName, sha string) (*mergeState, error) {
	gh, err := a.clients.Installation(ctx, inst)
	if err != nil {
		return nil, err
	}
	st := &mergeState{gh: gh, orders: map[string]order.Order{}}
	if st.deployments, err = a.deploymentsOf(ctx, gh, repo, sha); err != nil {
		return nil, err
	}
	st.m = mergeInfo{repo: repo, sha: sha}
	for env, d := range st.deployments {
		raw, err := json.Marshal(d.Payload)
		if err != nil {
			continue
		}
		// Only the App's own, signed orders say anything; expiry does not
		// matter for reading what was ordered.
		o, err := a.verifyOrder(raw, d.GetCreatedAt().Time)
		if err != nil {
			continue
		}
		st.orders[env] = o
		if o.PR != 0 {
			st.m.pull.Number = o.PR
		}
		if o.RollbackOf != "" {
			st.m.rollback = o.RollbackOf
		}
	}
	if st.m.pull.Number != 0 {
		pr, _, err := gh.PullRequests.Get(ctx, repo.Owner, repo.Name, st.m.pull.Number)
		if err != nil {
			return nil, fmt.Errorf("reading %s#%d: %w", repo, st.m.pull.Number, err)
		}
		st.m.pull = prView(repo, pr)
	}
	token, err := a.clients.Token(ctx, inst)
	if err != nil {
		return nil, err
	}
	if err := a.mirror.Fetch(ctx, repo.String(), token, sha); err != nil {
		return nil, err
	}
	parents, err := a.mirror.Parents(ctx, repo.String(), sha)
	if err != nil {
		return nil, err
	}
	if len(parents) == 0 {
		return nil, fmt.Errorf("%s@%s has no parent to plan against", repo, short(sha))
	}
	st.m.parent = parents[0]
	if st.m.rollback != "" {
		st.m.parent = st.m.rollback
	}
	base, err := a.mirror.Source(ctx, repo.String(), st.m.parent)
	if err != nil {
		return nil, err
	}
	head, err := a.mirror.Source(ctx, repo.String(), sha)
	if err != nil {
		return nil, err
	}
	p, err := a.computePlan(ctx, base, head)
	if err != nil {
		return nil, err
	}
	if st.ev, err = a.evaluateDeploy(ctx, gh, st.m, p, base, head, st.deployments); err != nil {
		return nil, err
	}
	return st, nil
}

// verifyOrder reads a deploy order the App signed, as of at (the
// deployment's creation: what it ordered then, whatever its expiry).
func (a *App) verifyOrder(raw []byte, at time.Time) (order.Order, error) {
	pub := a.key.Public().(ed25519.PublicKey)
	return order.Verify(raw, order.Keys(pub), at)
}

// approveDeployment records login's approval of the deployment of sha to
// env (given with the Approve button or /approve) and queues it when it may
// go. A person who may not approve gets a polite refusal instead.
func (a *App) approveDeployment(ctx context.Context, inst int64, repo repoName, sha, env, login, via string, commentID int64) error {
	return a.decideDeployment(ctx, inst, repo, sha, env, login, via, "approve", "", commentID)
}

// rejectDeployment records login's rejection of the deployment of sha to
// env: it will not run.
func (a *App) rejectDeployment(ctx context.Context, inst int64, repo repoName, sha, env, login, via, reason string, commentID int64) error {
	return a.decideDeployment(ctx, inst, repo, sha, env, login, via, "reject", reason, commentID)
}

func (a *App) decideDeployment(ctx context.Context, inst int64, repo repoName, sha, env, login, via, kind, reason string, commentID int64) error {
	unlock := a.locks.lock("deploy:" + repo.String())
	defer unlock()
	st, err := a.loadMerge(ctx, inst, repo, sha)
	if err != nil {
		return err
	}
	d := st.deployments[env]
	if d == nil || st.m.pull.Number == 0 {
		return a.replyOnce(ctx, st, commentID, checks.RefusalComment(fmt.Sprintf("there is no deployment of %s to %s to %s.", short(sha), env, verb(kind))))
	}
	latest, err := a.latestStatus(ctx, st.gh, repo, d.GetID())
	if err != nil {
		return err
	}
	if s := latest.GetState(); s != "pending" && s != "queued" {
		return a.replyOnce(ctx, st, commentID, checks.RefusalComment(fmt.Sprintf("the deployment of %s to %s is %s: there is nothing to %s.", short(sha), env, s, verb(kind))))
	}
	pol := policy.EnvPolicy{}
	if st.ev.bundle.File != nil {
		pol = st.ev.bundle.File.Env(env)
	}
	person, err := a.person(ctx, st.gh, repo, login, requiredTeams(st.ev.report, st.ev.envs))
	if err != nil {
		return err
	}
	v, _ := st.ev.report.Verdict(env)
	if st.ev.reviewInGitHub(env) && via != gate.ViaGitHubEnvironment && via != gate.ViaRollback {
		where := "in GitHub's Review deployments dialog of the gate workflow run"
		if u := latest.GetLogURL(); u != "" {
			where += " (" + u + ")"
		}
		return a.replyOnce(ctx, st, commentID, checks.RefusalComment(fmt.Sprintf("%s is approved and rejected %s, by the environment's required reviewers.", env, where)))
	}
	if ok, why := gate.MayApprove(person, st.m.pull, st.ev.envs[env], eligiblePolicy(pol, v)); !ok {
		if err := a.replyOnce(ctx, st, commentID, checks.RefusalComment(why)); err != nil {
			return err
		}
		if via == gate.ViaGitHubEnvironment && kind == gate.KindApprove {
			// GitHub let the gate run go on; the deployment needs another
			// review: a new gate run asks for it.
			return a.reviewAgain(ctx, st.gh, st.m.repo, env, d)
		}
		return nil
	}
	rec := gate.Record{Env: env, Login: login, Via: via, Kind: kind, SHA: sha, PlanDigest: st.ev.digests[env], At: a.now(), Reason: reason}
	cr := checks.ApprovalRecord{Env: env, Login: login, Via: via, At: rec.At, SHA: sha, PlanDigest: rec.PlanDigest, Reason: reason}
	body := checks.ApprovalRecordComment(cr, nil)
	if kind == "reject" {
		body = checks.RejectionComment(cr)
	}
	if err := a.comment(ctx, st.gh, repo, st.m.pull.Number, body+"\n"+a.recordMarker(repo.String(), st.m.pull.Number, rec)+replyMarker(commentID)); err != nil {
		return err
	}
	st.ev.records = append(st.ev.records, rec)
	if kind == "reject" {
		return a.finishRejected(ctx, st, env, rec)
	}
	return a.reevaluateEnv(ctx, st, env)
}

func verb(kind string) string {
	if kind == "reject" {
		return "reject"
	}
	return "approve"
}

// reevaluate judges the pending deployment of sha to env again (after an
// approval, when a window may have opened, on "Re-run") and moves it on.
func (a *App) reevaluate(ctx context.Context, inst int64, repo repoName, sha, env string) error {
	unlock := a.locks.lock("deploy:" + repo.String())
	defer unlock()
	st, err := a.loadMerge(ctx, inst, repo, sha)
	if err != nil {
		return err
	}
	return a.reevaluateEnv(ctx, st, env)
}

// reevaluateEnv moves a pending deployment on: queued when it may go now,
// else pending with what it waits for. A deployment superseded by a newer
// one to the same environment becomes inactive instead.
func (a *App) reevaluateEnv(ctx context.Context, st *mergeState, env string) error {
	d := st.deployments[env]
	if d == nil {
		return nil
	}
	repo := st.m.repo
	latest, err := a.latestStatus(ctx, st.gh, repo, d.GetID())
	if err != nil {
		return err
	}
	if s := latest.GetState(); s != "pending" && s != "" {
		// Queued, running, done: not the App's to move. A deployment
		// without a status is one whose creation was cut short: it is
		// finished here.
		return nil
	}
	if newer, err := a.superseded(ctx, st.gh, repo, d); err != nil {
		return err
	} else if newer {
		const desc = "superseded by a newer deployment"
		if _, _, err := st.gh.Repositories.CreateDeploymentStatus(ctx, repo.Owner, repo.Name, d.GetID(), &github.DeploymentStatusRequest{
			State: github.String("inactive"), Description: github.String(desc),
		}); err != nil {
			return fmt.Errorf("making deployment %d inactive: %w", d.GetID(), err)
		}
		// The run's buttons go: there is nothing left to approve.
		runs, err := a.runsOnRef(ctx, st.gh, repo, st.m.sha)
		if err != nil {
			return err
		}
		run := checks.DeployRun(checks.Deploy{Env: env, SHA: st.m.sha, State: checks.DeployInactive, Description: desc})
		_, err = a.publish(ctx, st.gh, repo, st.m.sha, runs[deployRunName(env)], run)
		return err
	}
	if rejected(st.ev.records, env, st.m.sha) {
		return nil
	}
	if st.ev.appr, err = a.recordedApprovals(ctx, st.gh, st.m, st.ev); err != nil {
		return err
	}
	if st.ev.report, err = a.rejudge(ctx, st); err != nil {
		return err
	}
	v, _ := st.ev.report.Verdict(env)
	dec := a.decide(v, st.ev.envs[env], st.ev, env)
	inGitHub := st.ev.reviewInGitHub(env)
	var reviewURL string
	if inGitHub {
		reviewURL = latest.GetLogURL() // the gate run, once linked
	}
	unchanged := latest != nil && latest.GetState() == dec.State.GitHubState() && latest.GetDescription() == truncate(dec.Description, 140)
	if !unchanged {
		if err := a.setStatus(ctx, st.gh, repo, d.GetID(), dec, reviewURL); err != nil {
			return err
		}
	}
	if inGitHub && dec.State == gate.WaitingApproval {
		// Still waiting for a review and no gate run asks for it (the last
		// one's review did not suffice, a protection rule rejected it
		// during a blackout, it timed out): a new gate run asks.
		if err := a.reviewAgain(ctx, st.gh, repo, env, d); err != nil {
			return err
		}
	}
	run := checks.DeployRun(checks.Deploy{
		Env: env, SHA: st.m.sha, State: deployState(dec.State), Verdict: &v,
		Description: dec.Description, Approvals: approvalRecords(st.ev.appr[env]),
		Until: dec.Until, Rollback: st.m.rollback != "", RollbackOf: st.m.rollback,
		ReviewInGitHub: inGitHub, ReviewURL: reviewURL,
	})
	runs, err := a.runsOnRef(ctx, st.gh, repo, st.m.sha)
	if err != nil {
		return err
	}
	// publish writes nothing when the run already shows this.
	_, err = a.publish(ctx, st.gh, repo, st.m.sha, runs[deployRunName(env)], run)
	return err
}

// rejudge evaluates the merge again with the approvals now recorded.
func (a *App) rejudge(ctx context.Context, st *mergeState) (*policy.Report, error) {
	m := st.m
	return a.engine.Judge(ctx, st.ev.report.Plan, policy.JudgeOptions{
		Complete: true,
		Bundle:   st.ev.bundle, Base: st.ev.base, Head: st.ev.head, Limits: a.limits, Now: a.now(), SHA: m.sha,
		PR:        policy.PR{Number: m.pull.Number, Author: m.pull.Author, Labels: m.pull.Labels, BaseSHA: m.parent, HeadSHA: m.pull.HeadSHA},
		Approvals: st.ev.appr, Protection: protections(st.ev.envs, st.ev.report.Plan),
		Deployments: st.ev.deployed, Rollback: m.rollback != "",
	})
}

// finishRejected ends a rejected deployment: it never runs.
func (a *App) finishRejected(ctx context.Context, st *mergeState, env string, rec gate.Record) error {
	d := st.deployments[env]
	repo := st.m.repo
	desc := fmt.Sprintf("rejected by %s", rec.Login)
	if rec.Reason != "" {
		desc += ": " + rec.Reason
	}
	if _, _, err := st.gh.Repositories.CreateDeploymentStatus(ctx, repo.Owner, repo.Name, d.GetID(), &github.DeploymentStatusRequest{
		State: github.String("failure"), Description: github.String(truncate(desc, 140)),
	}); err != nil {
		return fmt.Errorf("rejecting deployment %d: %w", d.GetID(), err)
	}
	v, _ := st.ev.report.Verdict(env)
	rj := checks.ApprovalRecord{Env: env, Login: rec.Login, Via: rec.Via, At: rec.At, SHA: rec.SHA, Reason: rec.Reason}
	run := checks.DeployRun(checks.Deploy{Env: env, SHA: st.m.sha, State: checks.DeployRejected, Verdict: &v, Description: desc, Rejection: &rj})
	runs, err := a.runsOnRef(ctx, st.gh, repo, st.m.sha)
	if err != nil {
		return err
	}
	_, err = a.publish(ctx, st.gh, repo, st.m.sha, runs[deployRunName(env)], run)
	return err
}

// rejected reports whether a rejection of sha in env was recorded.
func rejected(records []gate.Record, env, sha string) bool {
	for _, r := range records {
		if r.Kind == "reject" && r.Env == env && r.SHA == sha {
			return true
		}
	}
	return false
}

// superseded reports whether a newer deployment of the App to d's
// environment exists.
func (a *App) superseded(ctx context.Context, gh *github.Client, repo repoName, d *github.Deployment) (bool, error) {
	ds, _, err := gh.Repositories.ListDeployments(ctx, repo.Owner, repo.Name, &github.DeploymentsListOptions{Environment: d.GetEnvironment(), ListOptions: github.ListOptions{PerPage: 30}})
	if err != nil {
		return false, fmt.Errorf("listing deployments to %s: %w", d.GetEnvironment(), err)
	}
	for _, o := range ds {
		if a.ownDeployment(o) && o.GetID() > d.GetID() {
			return true, nil
		}
	}
	return false, nil
}

// comment writes a PR comment.
func (a *App) comment(ctx context.Context, gh *github.Client, repo repoName, pr int, body string) error {
	if _, _, err := gh.Issues.CreateComment(ctx, repo.Owner, repo.Name, pr, &github.IssueComment{Body: github.String(body)}); err != nil {
		return fmt.Errorf("commenting on %s#%d: %w", repo, pr, err)
	}
	return nil
}

// replyKind marks the App's reply to a command comment, so that a command
// is answered once however often its delivery comes.
const replyKind = "reply"

func replyMarker(commentID int64) string {
	if commentID == 0 {
		return ""
	}
	return checks.Marker(replyKind, map[string]int64{"comment": commentID})
}

// replied reports whether the App already answered comment id.
func (a *App) replied(comments []*github.IssueComment, id int64) bool {
	if id == 0 {
		return false
	}
	for _, c := range comments {
		if !a.isBot(c.GetUser().GetLogin()) {
			continue
		}
		for _, m := range checks.ParseMarkers(c.GetBody()) {
			var v struct {
				Comment int64 `json:"comment"`
			}
			if m.Kind == replyKind && json.Unmarshal(m.JSON, &v) == nil && v.Comment == id {
				return true
			}
		}
	}
	return false
}

// replyOnce answers a command comment once (its reply carries the
// comment's id); a button's click is answered in the pull request too, once
// per delivery.
func (a *App) replyOnce(ctx context.Context, st *mergeState, commentID int64, body string) error {
	if st.m.pull.Number == 0 {
		return nil
	}
	return a.comment(ctx, st.gh, st.m.repo, st.m.pull.Number, body+"\n"+replyMarker(commentID))
}
