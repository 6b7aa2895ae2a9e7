package app

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/app/gate"
	"github.com/honua-io/honua-gitops/checks"
	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// The App's check runs on a pull request's head.
const (
	planRunName   = checks.PlanRunName
	policyRunName = checks.PolicyRunName
)

// deployRunName is the check run of a deployment on the merge commit.
func deployRunName(env string) string { return checks.DeployRunName(env) }

// prView is the GitHub-free view of a pull request (gate.Pull) built from
// go-github's.
func prView(repo repoName, pr *github.PullRequest) gate.Pull {
	p := gate.Pull{
		Repo: repo.String(), Number: pr.GetNumber(), Author: pr.GetUser().GetLogin(),
		BaseRef: pr.GetBase().GetRef(), HeadRef: pr.GetHead().GetRef(),
		BaseSHA: pr.GetBase().GetSHA(), HeadSHA: pr.GetHead().GetSHA(),
		Draft: pr.GetDraft(), Merged: pr.GetMerged(), State: pr.GetState(), HTMLURL: pr.GetHTMLURL(),
	}
	if pr.GetMerged() {
		p.MergeSHA = pr.GetMergeCommitSHA()
		p.Merger = pr.GetMergedBy().GetLogin()
	}
	for _, l := range pr.Labels {
		p.Labels = append(p.Labels, l.GetName())
	}
	return p
}

// judged is a pull request planned and judged at one head.
type judged struct {
	pull    gate.Pull
	base    config.Source // the merge base: what the PR changes is head against it
	policy  config.Source // the base branch's tip: the policy that judges
	report  *policy.Report
	digests map[string]string // environment → plan digest
	stale   []checks.StaleApproval
	envs    map[string]gate.Environment
	records []gate.Record
	reviews []gate.Review
}

// planPR plans pull request pr of repo at its head, judges it with the base
// branch's policy, and publishes honua/plan and honua/policy on the head.
// Planning an older head of the same PR is cancelled when a newer one
// starts.
func (a *App) planPR(parent context.Context, inst int64, repo repoName, pr *github.PullRequest) error {
	ctx, done, stale := a.supersede(parent, repo, pr.GetNumber(), pr.GetHead().GetSHA())
	defer done()
	if stale {
		return nil // this head is being planned already
	}
	err := a.planHead(ctx, inst, repo, pr)
	if err != nil && parent.Err() == nil && ctx.Err() != nil {
		// A newer head superseded this one: not a failure, its verdict
		// would only be out of date.
		return nil
	}
	return err
}

// planHead is planPR's work, under a context a newer head cancels.
func (a *App) planHead(ctx context.Context, inst int64, repo repoName, pr *github.PullRequest) error {
	gh, err := a.clients.Installation(ctx, inst)
	if err != nil {
		return err
	}
	j, err := a.judgePR(ctx, inst, gh, repo, pr)
	if err != nil {
		return err
	}
	runs, err := a.runsOnRef(ctx, gh, repo, j.pull.HeadSHA)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // superseded: never publish an older head's verdict
	}
	planRun, policyRun := a.prRuns(j)
	if _, err := a.publish(ctx, gh, repo, j.pull.HeadSHA, runs[planRunName], planRun); err != nil {
		return err
	}
	_, err = a.publish(ctx, gh, repo, j.pull.HeadSHA, runs[policyRunName], policyRun)
	return err
}

// prRuns renders the two check runs of a judged pull request.
func (a *App) prRuns(j *judged) (checks.CheckRun, checks.CheckRun) {
	local := fmt.Sprintf("honua-gitops plan --repo . --base %s --head %s --policy", short(j.pull.BaseSHA), short(j.pull.HeadSHA))
	planRun := checks.PlanRun(j.report, checks.PlanOptions{HeadSHA: j.pull.HeadSHA, LocalCommand: local})
	policyRun := checks.PolicyRun(j.report, checks.PolicyOptions{Stale: j.stale})
	return planRun, policyRun
}

// judgePR fetches, plans and judges pr at its head.
func (a *App) judgePR(ctx context.Context, inst int64, gh *github.Client, repo repoName, pr *github.PullRequest) (*judged, error) {
	pull := prView(repo, pr)
	token, err := a.clients.Token(ctx, inst)
	if err != nil {
		return nil, err
	}
	if err := a.mirror.Fetch(ctx, repo.String(), token, pull.BaseSHA, pull.HeadSHA); err != nil {
		return nil, err
	}
	mb, err := a.mirror.MergeBase(ctx, repo.String(), pull.BaseSHA, pull.HeadSHA)
	if err != nil {
		return nil, err
	}
	j := &judged{pull: pull}
	if j.base, err = a.mirror.Source(ctx, repo.String(), mb); err != nil {
		return nil, err
	}
	if j.policy, err = a.mirror.Source(ctx, repo.String(), pull.BaseSHA); err != nil {
		return nil, err
	}
	head, err := a.mirror.Source(ctx, repo.String(), pull.HeadSHA)
	if err != nil {
		return nil, err
	}
	p, err := a.computePlan(ctx, j.base, head)
	if err != nil {
		return nil, err
	}
	j.digests = digestsOf(p)
	if j.envs, err = a.environments(ctx, gh, repo); err != nil {
		return nil, err
	}
	bundle, err := policy.LoadWithLimits(ctx, j.policy, a.limits)
	if err != nil {
		return nil, fmt.Errorf("loading the policy of %s: %w", short(pull.BaseSHA), err)
	}
	judge := func(approvals map[string][]policy.Approval) (*policy.Report, error) {
		return a.engine.Judge(ctx, p, policy.JudgeOptions{
			Complete: true,
			Bundle:   bundle, Base: j.policy, Head: head, Limits: a.limits, Now: a.now(),
			PR:        policy.PR{Number: pull.Number, Author: pull.Author, Labels: pull.Labels, BaseSHA: pull.BaseSHA, HeadSHA: pull.HeadSHA},
			SHA:       pull.HeadSHA,
			Approvals: approvals, Protection: protections(j.envs, p),
		})
	}
	// Judged once without approvals, the verdicts say whose approval is
	// needed: the teams they name are the memberships to look up.
	if j.report, err = judge(nil); err != nil {
		return nil, err
	}
	approvals, stale, records, reviews, err := a.prApprovals(ctx, gh, repo, pull, j.digests, requiredTeams(j.report, j.envs))
	if err != nil {
		return nil, err
	}
	j.stale, j.records, j.reviews = stale, records, reviews
	if len(approvals) > 0 {
		if j.report, err = judge(approvals); err != nil {
			return nil, err
		}
	}
	return j, nil
}

// computePlan loads two states and plans every environment.
func (a *App) computePlan(ctx context.Context, base, head config.Source) (*plan.Plan, error) {
	bs, err := a.loader.Load(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", base.Name(), err)
	}
	hs, err := a.loader.Load(ctx, head)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", head.Name(), err)
	}
	return plan.Compute(bs, hs, nil), nil
}

func digestsOf(p *plan.Plan) map[string]string {
	out := make(map[string]string, len(p.Environments))
	for i := range p.Environments {
		out[p.Environments[i].Name] = p.Environments[i].Digest()
	}
	return out
}

// protections gives the policy each environment's GitHub protection; an
// environment GitHub does not have has none (no reviewers), which the
// built-in rules refuse where approval is needed.
func protections(envs map[string]gate.Environment, p *plan.Plan) map[string]*policy.Protection {
	out := map[string]*policy.Protection{}
	for _, e := range p.Environments {
		g := envs[e.Name]
		out[e.Name] = &policy.Protection{Reviewers: g.Reviewers, PreventSelfReview: g.PreventSelfReview, WaitTimer: g.WaitTimer}
	}
	return out
}

// supersede registers the planning of sha for a PR and cancels the
// planning of an older head of the same PR. stale is true when sha is
// already being planned (a redelivery while it runs).
func (a *App) supersede(ctx context.Context, repo repoName, pr int, sha string) (context.Context, func(), bool) {
	key := fmt.Sprintf("%s#%d", repo, pr)
	ctx, cancel := context.WithCancel(ctx)
	a.mu.Lock()
	a.seq++
	seq := a.seq
	if cur, ok := a.inflight[key]; ok {
		if cur.sha == sha {
			a.mu.Unlock()
			cancel()
			return ctx, func() {}, true
		}
		cur.cancel()
	}
	a.inflight[key] = inflight{sha: sha, cancel: cancel, seq: seq}
	a.mu.Unlock()
	return ctx, func() {
		a.mu.Lock()
		if cur, ok := a.inflight[key]; ok && cur.seq == seq {
			delete(a.inflight, key)
		}
		a.mu.Unlock()
		cancel()
	}, false
}

// prApprovals gathers the approvals of a pull request, per environment:
// approving reviews and the App's records of approvals given with the
// Approve button or /approve, each bound to the plan digest it was given
// for, by people who may approve.
func (a *App) prApprovals(ctx context.Context, gh *github.Client, repo repoName, pull gate.Pull, digests map[string]string, teams []string) (map[string][]policy.Approval, []checks.StaleApproval, []gate.Record, []gate.Review, error) {
	reviews, err := a.reviews(ctx, gh, repo, pull.Number)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	pull.Reviews = reviews
	comments, err := a.comments(ctx, gh, repo, pull.Number)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	records := a.parseRecords(repo.String(), pull.Number, comments)
	if len(reviews) == 0 && !slices.ContainsFunc(records, func(r gate.Record) bool { return r.Kind == "approve" }) {
		return nil, nil, records, reviews, nil
	}
	// Who are the approvers? Their permission, and the teams the policy
	// and GitHub's reviewers name.
	lookup := a.digestLookup(ctx, gh, repo, pull.HeadSHA, digests, records)
	people := map[string]gate.Person{}
	for _, login := range approverLogins(reviews, records) {
		p, err := a.person(ctx, gh, repo, login, teams)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		people[strings.ToLower(login)] = p
	}
	out := map[string][]policy.Approval{}
	var stale []checks.StaleApproval
	for env, d := range digests {
		valid, st := gate.Approvals(pull, env, d, lookup, records, people)
		out[env] = valid
		for _, s := range st {
			stale = append(stale, checks.StaleApproval{Env: env, Login: s.Approval.Login})
		}
	}
	return out, stale, records, reviews, nil
}

// digestLookup answers the plan digest of an environment at a commit: the
// current head's from the plan just computed, an older commit's from the
// records or the App's own honua/plan run on it.
func (a *App) digestLookup(ctx context.Context, gh *github.Client, repo repoName, head string, current map[string]string, records []gate.Record) gate.DigestLookup {
	cache := map[string]map[string]string{head: current}
	return func(sha, env string) (string, bool) {
		if m, ok := cache[sha]; ok {
			d, ok := m[env]
			return d, ok
		}
		m := map[string]string{}
		runs, err := a.runsOnRef(ctx, gh, repo, sha)
		if err == nil {
			if r := runs[planRunName]; r != nil {
				if s, ds, ok := checks.ParseDigests(r.GetOutput().GetText()); ok && s == sha {
					m = ds
				}
			}
		}
		cache[sha] = m
		d, ok := m[env]
		return d, ok
	}
}

// reviews lists the reviews of a pull request (all pages).
func (a *App) reviews(ctx context.Context, gh *github.Client, repo repoName, pr int) ([]gate.Review, error) {
	var out []gate.Review
	opts := &github.ListOptions{PerPage: 100}
	for {
		rs, resp, err := gh.PullRequests.ListReviews(ctx, repo.Owner, repo.Name, pr, opts)
		if err != nil {
			return nil, fmt.Errorf("listing reviews of %s#%d: %w", repo, pr, err)
		}
		for _, r := range rs {
			out = append(out, gate.Review{ID: r.GetID(), Login: r.GetUser().GetLogin(), State: strings.ToUpper(r.GetState()), CommitID: r.GetCommitID(), SubmittedAt: r.GetSubmittedAt().Time})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

func approverLogins(reviews []gate.Review, records []gate.Record) []string {
	var out []string
	add := func(l string) {
		if l != "" && !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, l) }) {
			out = append(out, l)
		}
	}
	for _, r := range reviews {
		if r.State == "APPROVED" {
			add(r.Login)
		}
	}
	for _, r := range records {
		add(r.Login)
	}
	return out
}

// teamSlugs are the teams GitHub's environments name as reviewers.
func teamSlugs(envs map[string]gate.Environment) []string {
	var out []string
	for _, e := range envs {
		for _, r := range e.Reviewers {
			if r.Type == "Team" && !slices.Contains(out, r.Slug) {
				out = append(out, r.Slug)
			}
		}
	}
	return out
}
