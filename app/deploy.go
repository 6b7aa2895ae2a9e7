package app

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/app/gate"
	"github.com/honua-io/honua-gitops/checks"
	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/order"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// Deployment tasks.
const (
	taskDeploy   = "deploy"
	taskRollback = "deploy:rollback"
)

// mergeInfo is a commit to deploy on the default branch: a merged pull
// request's merge commit, or a commit pushed without one (pr zero).
type mergeInfo struct {
	repo     repoName
	sha      string
	parent   string // the default branch before the commit
	pull     gate.Pull
	rollback string // for a rollback: the sha it undoes
	// lookupPR asks GitHub for the pull request the commit merged, when
	// there is no deployment of it yet (a push).
	lookupPR bool
	// branch is the branch the commit is on (the default branch): the
	// environments' deployment branch policies judge it.
	branch string
}

// onBranch is the branch a merge deploys from: the one it was pushed to,
// else the pull request's base.
func (m mergeInfo) onBranch() string {
	if m.branch != "" {
		return m.branch
	}
	return m.pull.BaseRef
}

// deployMerge creates one deployment per environment whose document the
// commit changes, at most one per (sha, environment) however often and
// concurrently it is asked: the repository's merges are serialised and
// existing deployments are looked up before anything is created.
func (a *App) deployMerge(ctx context.Context, inst int64, m mergeInfo) error {
	unlock := a.locks.lock("deploy:" + m.repo.String())
	defer unlock()
	// A merge comes as two events, pull_request.closed and push: the
	// second finds the first's work done without asking GitHub.
	if a.deployed.has(m.repo.String() + "@" + m.sha) {
		return nil
	}
	gh, err := a.clients.Installation(ctx, inst)
	if err != nil {
		return err
	}
	existing, err := a.deploymentsOf(ctx, gh, m.repo, m.sha)
	if err != nil {
		return err
	}
	if m.lookupPR && len(existing) == 0 {
		// A push: the commit may be a pull request's merge, whose approvals
		// and labels count.
		pull, found, err := a.pullOfCommit(ctx, gh, m.repo, m.sha)
		if err != nil {
			return err
		}
		if found {
			m.pull = pull
		}
	}
	token, err := a.clients.Token(ctx, inst)
	if err != nil {
		return err
	}
	if err := a.mirror.Fetch(ctx, m.repo.String(), token, m.sha); err != nil {
		return err
	}
	if m.parent == "" {
		parents, err := a.mirror.Parents(ctx, m.repo.String(), m.sha)
		if err != nil {
			return err
		}
		if len(parents) == 0 {
			return nil // the first commit: nothing was deployed before it
		}
		m.parent = parents[0]
	}
	base, err := a.mirror.Source(ctx, m.repo.String(), m.parent)
	if err != nil {
		return err
	}
	head, err := a.mirror.Source(ctx, m.repo.String(), m.sha)
	if err != nil {
		return err
	}
	p, err := a.computePlan(ctx, base, head)
	if err != nil {
		return err
	}
	var todo []string
	for _, e := range p.Environments {
		if len(e.Changes) == 0 || existing[e.Name] != nil {
			continue
		}
		if len(e.Errors) > 0 {
			// An invalid environment is never deployed; the plan run of the
			// pull request said why.
			continue
		}
		todo = append(todo, e.Name)
	}
	if len(todo) == 0 {
		a.deployed.add(m.repo.String() + "@" + m.sha)
		return nil
	}
	ev, err := a.evaluateDeploy(ctx, gh, m, p, base, head, existing)
	if err != nil {
		return err
	}
	for _, env := range ev.report.Order {
		if !slices.Contains(todo, env) {
			continue
		}
		if err := a.createDeployment(ctx, gh, m, ev, env); err != nil {
			return err
		}
	}
	a.deployed.add(m.repo.String() + "@" + m.sha)
	return nil
}

// pullOfCommit finds the merged pull request whose merge commit sha is.
func (a *App) pullOfCommit(ctx context.Context, gh *github.Client, repo repoName, sha string) (gate.Pull, bool, error) {
	prs, _, err := gh.PullRequests.ListPullRequestsWithCommit(ctx, repo.Owner, repo.Name, sha, nil)
	if err != nil {
		return gate.Pull{}, false, fmt.Errorf("finding the pull request of %s@%s: %w", repo, short(sha), err)
	}
	for _, pr := range prs {
		if pr.GetMergeCommitSHA() != sha || pr.MergedAt == nil {
			continue
		}
		// The list gives no merger: read the pull request itself.
		full, _, err := gh.PullRequests.Get(ctx, repo.Owner, repo.Name, pr.GetNumber())
		if err != nil {
			return gate.Pull{}, false, fmt.Errorf("reading %s#%d: %w", repo, pr.GetNumber(), err)
		}
		return prView(repo, full), true, nil
	}
	return gate.Pull{}, false, nil
}

// shaSet remembers the last few thousand keys added.
type shaSet struct {
	mu    sync.Mutex
	m     map[string]bool
	order []string
}

const shaSetSize = 4096

func (s *shaSet) has(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k]
}

func (s *shaSet) add(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]bool{}
	}
	if s.m[k] {
		return
	}
	s.m[k] = true
	s.order = append(s.order, k)
	if len(s.order) > shaSetSize {
		delete(s.m, s.order[0])
		s.order = s.order[1:]
	}
}

// evaluation is a merge commit judged for deployment.
type evaluation struct {
	report  *policy.Report
	bundle  *policy.Bundle
	envs    map[string]gate.Environment
	digests map[string]string
	records []gate.Record
	appr    map[string][]policy.Approval
	// deployed are the successful deployments the promotion rules read.
	deployed map[string]policy.Deployment
	// base and head are the sources the plan was computed between.
	base, head config.Source
	// branchRefused says, per environment, why its deployment branch
	// policy refuses the commit's branch.
	branchRefused map[string]string
}

// evaluateDeploy judges the deployment of a merge commit: the policy of the
// default branch before the merge, the approvals bound to each
// environment's plan digest, GitHub's environment protection, and the last
// successful deployments for promotion.
func (a *App) evaluateDeploy(ctx context.Context, gh *github.Client, m mergeInfo, p *plan.Plan, base, head config.Source, existing map[string]*github.Deployment) (*evaluation, error) {
	ev := &evaluation{digests: digestsOf(p), base: base, head: head}
	var err error
	if ev.bundle, err = policy.LoadWithLimits(ctx, base, a.limits); err != nil {
		return nil, fmt.Errorf("loading the policy of %s: %w", short(m.parent), err)
	}
	if ev.envs, err = a.environments(ctx, gh, m.repo); err != nil {
		return nil, err
	}
	if ev.branchRefused, err = a.branchPolicies(ctx, gh, m.repo, m.onBranch(), ev.envs, envNames(p)); err != nil {
		return nil, err
	}
	deployed, err := a.succeeded(ctx, gh, m.repo, existing, promotedFrom(ev.bundle, envNames(p)))
	if err != nil {
		return nil, err
	}
	ev.deployed = deployed
	if m.pull.Number != 0 {
		comments, err := a.comments(ctx, gh, m.repo, m.pull.Number)
		if err != nil {
			return nil, err
		}
		ev.records = a.parseRecords(m.repo.String(), m.pull.Number, comments)
	}
	judge := func(appr map[string][]policy.Approval) (*policy.Report, error) {
		return a.engine.Judge(ctx, p, policy.JudgeOptions{
			Complete: true,
			// The policy of the branch before the commit judges it; the
			// commit's own .gitops/ only tells whether it changes the
			// policy (which then needs a policy owner).
			Bundle: ev.bundle, Base: base, Head: ev.head, Limits: a.limits, Now: a.now(), SHA: m.sha,
			PR:          policy.PR{Number: m.pull.Number, Author: m.pull.Author, Labels: m.pull.Labels, BaseSHA: m.parent, HeadSHA: m.pull.HeadSHA},
			Deployments: deployed, Approvals: appr, Protection: protections(ev.envs, p),
			Rollback: m.rollback != "",
		})
	}
	if ev.report, err = judge(nil); err != nil {
		return nil, err
	}
	if ev.appr, err = a.recordedApprovals(ctx, gh, m, ev); err != nil {
		return nil, err
	}
	if len(ev.appr) > 0 {
		if ev.report, err = judge(ev.appr); err != nil {
			return nil, err
		}
	}
	return ev, nil
}

// recordedApprovals are the approvals the App recorded for the merged pull
// request that are bound to the merge commit's plan digest of each
// environment, by people who may approve there.
func (a *App) recordedApprovals(ctx context.Context, gh *github.Client, m mergeInfo, ev *evaluation) (map[string][]policy.Approval, error) {
	if len(ev.records) == 0 {
		return nil, nil
	}
	people := map[string]gate.Person{}
	teams := requiredTeams(ev.report, ev.envs)
	for _, login := range approverLogins(nil, ev.records) {
		p, err := a.person(ctx, gh, m.repo, login, teams)
		if err != nil {
			return nil, err
		}
		people[strings.ToLower(login)] = p
	}
	out := map[string][]policy.Approval{}
	for env, d := range ev.digests {
		valid, _ := gate.Approvals(m.pull, env, d, nil, ev.records, people)
		// The policy drops the author's own approval; the merger's goes
		// too where self-approval is forbidden.
		pol := policy.EnvPolicy{}
		if ev.bundle.File != nil {
			pol = ev.bundle.File.Env(env)
		}
		valid, _ = gate.WithoutSelf(valid, m.pull, ev.envs[env], pol)
		if ev.reviewInGitHub(env) {
			// Approved in GitHub's dialog: reviews, buttons and comments
			// do not count there (a rollback's own approval does).
			valid = slices.DeleteFunc(valid, func(ap policy.Approval) bool {
				return ap.Via != gate.ViaGitHubEnvironment && ap.Via != gate.ViaRollback
			})
		}
		for i := range valid {
			valid[i].Teams = people[strings.ToLower(valid[i].Login)].Teams
		}
		if len(valid) > 0 {
			out[env] = valid
		}
	}
	return out, nil
}

// requiredTeams are the teams whose membership decides an approval: those
// the verdicts' requirements name and GitHub's team reviewers.
func requiredTeams(r *policy.Report, envs map[string]gate.Environment) []string {
	out := teamSlugs(envs)
	for _, v := range r.Verdicts {
		for _, req := range v.Approval.Requirements {
			for _, f := range req.From {
				if strings.Contains(f, "/") && !slices.Contains(out, f) {
					out = append(out, f)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func envNames(p *plan.Plan) []string {
	out := make([]string, len(p.Environments))
	for i, e := range p.Environments {
		out[i] = e.Name
	}
	return out
}

// createDeployment creates the deployment of env with its signed order,
// its first status and its honua/deploy check run.
func (a *App) createDeployment(ctx context.Context, gh *github.Client, m mergeInfo, ev *evaluation, env string) error {
	v, _ := ev.report.Verdict(env)
	genv := ev.envs[env]
	dec := a.decide(v, genv, ev, env)
	task := taskDeploy
	if m.rollback != "" {
		task = taskRollback
	}
	o := order.Order{
		Repo: m.repo.String(), SHA: m.sha, Environment: env, Task: task,
		PlanDigest: ev.digests[env], PolicyDigest: ev.report.PolicyDigest, PR: m.pull.Number,
		RollbackOf: m.rollback, IssuedAt: a.now(), ExpiresAt: a.now().Add(a.orderTTL),
	}
	for _, ap := range ev.appr[env] {
		o.Approvals = append(o.Approvals, order.Approval{Login: ap.Login, Via: ap.Via, At: ap.SubmittedAt})
	}
	payload, err := order.Sign(o, a.key)
	if err != nil {
		return fmt.Errorf("signing the deploy order of %s: %w", env, err)
	}
	var payloadAny any = json.RawMessage(payload)
	d, _, err := gh.Repositories.CreateDeployment(ctx, m.repo.Owner, m.repo.Name, &github.DeploymentRequest{
		Ref:                   github.String(m.sha),
		Task:                  github.String(task),
		AutoMerge:             github.Bool(false),
		RequiredContexts:      &[]string{},
		Payload:               payloadAny,
		Environment:           github.String(env),
		Description:           github.String(truncate(fmt.Sprintf("%s of %s to %s", task, short(m.sha), env), 140)),
		ProductionEnvironment: github.Bool(isProduction(env)),
	})
	if err != nil {
		return fmt.Errorf("creating the deployment of %s to %s: %w", short(m.sha), env, err)
	}
	// The run first, then the status: a deployment whose creation is cut
	// short has no status, and the sweeper finishes exactly those.
	run := checks.DeployRun(checks.Deploy{
		Env: env, SHA: m.sha, State: deployState(dec.State), Verdict: &v,
		Description: dec.Description, Approvals: approvalRecords(ev.appr[env]),
		Until: dec.Until, Rollback: m.rollback != "", RollbackOf: m.rollback,
		ReviewInGitHub: ev.reviewInGitHub(env),
	})
	if _, err := a.publish(ctx, gh, m.repo, m.sha, nil, run); err != nil {
		return err
	}
	if err := a.setStatus(ctx, gh, m.repo, d.GetID(), dec, ""); err != nil {
		return err
	}
	if dec.State == gate.WaitingApproval {
		a.notifyApproval(ctx, gh, m, ev, env, d, dec)
		if ev.reviewInGitHub(env) {
			return a.requestReview(ctx, gh, m.repo, m.onBranch(), env, d)
		}
	}
	return nil
}

// decide turns a verdict into the deployment's state.
func (a *App) decide(v policy.Verdict, env gate.Environment, ev *evaluation, name string) gate.Decision {
	if why := ev.branchRefused[name]; why != "" {
		// GitHub does not enforce deployment branch policies on API-made
		// deployments: the App does.
		return gate.Decision{State: gate.Denied, Description: truncate(why, 140)}
	}
	dec := gate.DeployState(v, env, gate.LastApproval(ev.appr[name]), a.now())
	if dec.State == gate.WaitingApproval && ev.reviewInGitHub(name) {
		dec.Description = truncate("waiting for review in GitHub: "+dec.Description, 140)
	}
	return dec
}

// setStatus writes a deployment's state as GitHub deployment status;
// logURL, when set, is its link (the gate run a review is asked in).
func (a *App) setStatus(ctx context.Context, gh *github.Client, repo repoName, id int64, dec gate.Decision, logURL string) error {
	state := dec.State.GitHubState()
	req := &github.DeploymentStatusRequest{
		State:       github.String(state),
		Description: github.String(truncate(dec.Description, 140)),
	}
	if logURL != "" {
		req.LogURL = github.String(logURL)
	}
	_, _, err := gh.Repositories.CreateDeploymentStatus(ctx, repo.Owner, repo.Name, id, req)
	if err != nil {
		return fmt.Errorf("setting the status of deployment %d: %w", id, err)
	}
	return nil
}

// deploymentsOf lists the App's deployments of sha, by environment (the
// newest of each).
func (a *App) deploymentsOf(ctx context.Context, gh *github.Client, repo repoName, sha string) (map[string]*github.Deployment, error) {
	out := map[string]*github.Deployment{}
	opts := &github.DeploymentsListOptions{SHA: sha, ListOptions: github.ListOptions{PerPage: 100}}
	for {
		ds, resp, err := gh.Repositories.ListDeployments(ctx, repo.Owner, repo.Name, opts)
		if err != nil {
			return nil, fmt.Errorf("listing deployments of %s@%s: %w", repo, short(sha), err)
		}
		for _, d := range ds {
			if !a.ownDeployment(d) {
				continue
			}
			if prev := out[d.GetEnvironment()]; prev == nil || d.GetID() > prev.GetID() {
				out[d.GetEnvironment()] = d
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// ownDeployment reports whether d was created by this App (others', such
// as github-actions[bot]'s, are not its to count).
func (a *App) ownDeployment(d *github.Deployment) bool {
	return a.isBot(d.GetCreator().GetLogin())
}

func isProduction(env string) bool {
	switch strings.ToLower(env) {
	case "production", "prod", "live":
		return true
	}
	return false
}

// truncate shortens s to at most n bytes on a rune boundary, with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

func approvalRecords(as []policy.Approval) []checks.ApprovalRecord {
	out := make([]checks.ApprovalRecord, len(as))
	for i, ap := range as {
		out[i] = checks.ApprovalRecord{Login: ap.Login, Via: ap.Via, At: ap.SubmittedAt}
	}
	return out
}

// deployState maps a gate decision to the deploy run's state. A
// deployment the policy denies never runs: the run says so as a failure.
func deployState(s gate.State) checks.DeployState {
	switch s {
	case gate.Queued:
		return checks.DeployQueued
	case gate.WaitingApproval:
		return checks.DeployWaitingApproval
	case gate.Blocked:
		return checks.DeployBlocked
	}
	return checks.DeployFailure
}

// promotedFrom are the environments the promotion rules of envs name: where
// a commit must have succeeded first.
func promotedFrom(b *policy.Bundle, envs []string) []string {
	var out []string
	for _, e := range envs {
		if b.File == nil {
			break
		}
		if p := b.File.Env(e).Promotion; p != nil && p.After != "" && !slices.Contains(out, p.After) {
			out = append(out, p.After)
		}
	}
	return out
}

// succeeded gives, for each environment of envs that has a deployment of
// the commit (existing), when it succeeded there: the input of the
// promotion rules, which ask whether this very commit ran there long
// enough. One call per such environment.
func (a *App) succeeded(ctx context.Context, gh *github.Client, repo repoName, existing map[string]*github.Deployment, envs []string) (map[string]policy.Deployment, error) {
	out := map[string]policy.Deployment{}
	for _, env := range envs {
		d := existing[env]
		if d == nil {
			continue
		}
		st, err := a.latestStatus(ctx, gh, repo, d.GetID())
		if err != nil {
			return nil, err
		}
		if st != nil && st.GetState() == "success" {
			out[env] = policy.Deployment{SHA: d.GetSHA(), SucceededAt: st.GetCreatedAt().Time}
		}
	}
	return out, nil
}

// latestStatus is a deployment's newest status, nil when it has none.
func (a *App) latestStatus(ctx context.Context, gh *github.Client, repo repoName, id int64) (*github.DeploymentStatus, error) {
	ss, err := a.statuses(ctx, gh, repo, id)
	if err != nil || len(ss) == 0 {
		return nil, err
	}
	return ss[len(ss)-1], nil
}

// statuses lists a deployment's statuses (all pages), oldest first: by id,
// since GitHub does not document the order of the list.
func (a *App) statuses(ctx context.Context, gh *github.Client, repo repoName, id int64) ([]*github.DeploymentStatus, error) {
	var out []*github.DeploymentStatus
	opts := &github.ListOptions{PerPage: 100}
	for {
		ss, resp, err := gh.Repositories.ListDeploymentStatuses(ctx, repo.Owner, repo.Name, id, opts)
		if err != nil {
			return nil, fmt.Errorf("listing the statuses of deployment %d: %w", id, err)
		}
		out = append(out, ss...)
		if resp.NextPage == 0 {
			slices.SortFunc(out, func(x, y *github.DeploymentStatus) int { return cmp.Compare(x.GetID(), y.GetID()) })
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// branchPolicies applies the deployment branch policies of the GitHub
// environments of envs to branch, and returns why each refusing one
// refuses. GitHub is asked only what a policy needs: whether the branch is
// protected, or an environment's branch name patterns.
func (a *App) branchPolicies(ctx context.Context, gh *github.Client, repo repoName, branch string, genvs map[string]gate.Environment, envs []string) (map[string]string, error) {
	out := map[string]string{}
	var protected *bool
	for _, name := range envs {
		env, ok := genvs[name]
		if !ok || env.BranchPolicy == nil {
			continue
		}
		if branch == "" {
			out[name] = "the branch of the commit is not known: the deployment branch policy cannot be checked"
			continue
		}
		if env.BranchPolicy.ProtectedBranches && protected == nil {
			b, _, err := gh.Repositories.GetBranch(ctx, repo.Owner, repo.Name, branch, 0)
			if err != nil {
				return nil, fmt.Errorf("reading branch %s of %s: %w", branch, repo, err)
			}
			protected = github.Bool(b.GetProtected())
		}
		if !env.BranchPolicy.ProtectedBranches {
			res, _, err := gh.Repositories.ListDeploymentBranchPolicies(ctx, repo.Owner, repo.Name, name)
			if err != nil {
				return nil, fmt.Errorf("reading the deployment branch policies of %s: %w", name, err)
			}
			env.BranchPolicy.Patterns = nil
			for _, p := range res.BranchPolicies {
				if p.GetType() == "" || p.GetType() == "branch" {
					env.BranchPolicy.Patterns = append(env.BranchPolicy.Patterns, p.GetName())
				}
			}
		}
		if ok, why := gate.BranchAllowed(env, branch, protected != nil && *protected); !ok {
			out[name] = why
		}
	}
	return out, nil
}
