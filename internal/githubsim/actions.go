package githubsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Workflow runs of workflow_dispatch, their jobs, and the environment gate
// GitHub puts in front of a job that declares `environment:`.
//
// Lifecycle (what the emulator does, in GitHub's order):
//   - dispatch: run queued, workflow_run "requested"; for each job with an
//     environment GitHub (as github-actions[bot]) creates a deployment,
//     deployment "created".
//   - a job whose environment has protection rules (required reviewers, a
//     wait timer, custom rules) waits: job and run "waiting", deployment
//     status "waiting", deployment_review "requested" (reviewers),
//     deployment_protection_rule "requested" (this App's custom rule).
//   - every rule passed (one reviewer approved, every custom rule approved,
//     the wait timer, started when the job reached the environment, ran
//     out): run "in_progress" (workflow_run "in_progress"), deployment
//     "queued", "in_progress", "success", job and run completed "success"
//     (workflow_run "completed").
//   - a rejection (reviewer or custom rule): deployment "failure", job and
//     run completed "failure".
//
// Timers move on the emulator's clock: AdvanceActions makes due
// transitions happen, and every Actions route and Actions Go call does so
// first (lazily), so a client polling after ManualClock.Advance sees them.

// actionsBotLogin is the user GitHub Actions acts as.
const actionsBotLogin = "github-actions[bot]"

// Errors of the "Review deployments" dialog (ReviewPendingDeployments) and
// of custom rule reviews; wrapped with the details.
var (
	ErrNotReviewer   = errors.New("not a required reviewer of the environment")
	ErrSelfReview    = errors.New("the environment prevents self-review: the run's triggering actor cannot approve it")
	ErrNotWaiting    = errors.New("no deployment waiting on the environment")
	ErrReviewState   = errors.New("state must be approved or rejected")
	ErrRuleNotActive = errors.New("the App is not a custom deployment protection rule of the environment")
	ErrPlan          = errors.New("custom deployment protection rules in private repositories need GitHub Enterprise")
)

type workflowRun struct {
	ID       int64
	Workflow *workflow
	Name     string
	// Title is the run's display_title: its run-name with the inputs
	// filled in, else the workflow's name.
	Title           string
	RunNumber       int
	Event           string
	HeadSHA         string
	HeadBranch      string
	HeadIsTag       bool // dispatched on a tag (HeadBranch is its name)
	HeadCommit      map[string]any
	Actor           *user
	TriggeringActor *user
	Status          string // queued, waiting, in_progress, completed
	Conclusion      string
	Created         time.Time
	Updated         time.Time
	Inputs          map[string]string
	Jobs            []*actionsJob
	CheckSuiteID    int64
	Approvals       []*envApproval
}

type actionsJob struct {
	ID          int64
	Name        string
	Environment string
	Status      string // queued, waiting, in_progress, completed
	Conclusion  string
	Created     time.Time
	Started     time.Time
	Completed   *time.Time
	Deployment  *deployment
	Gate        *envGate // nil once passed, or when the environment has no rules
	run         *workflowRun
}

// envGate is a job waiting at its environment.
type envGate struct {
	Env         *environment
	Since       time.Time
	WaitTimer   int               // minutes
	NeedsReview bool              // required reviewers, until one approves
	Rules       map[string]string // custom rule App slug -> "" (pending), approved, rejected
}

type envApproval struct {
	State   string // approved, rejected
	Comment string
	User    *user
	Envs    []*environment
}

// hookOut is a webhook rendered under s.mu, delivered after unlocking.
type hookOut struct {
	r       *repo
	event   string
	payload map[string]any
}

func (s *Server) flushHooks(out []hookOut) {
	for _, h := range out {
		s.deliver(h.r, h.event, h.payload)
	}
}

func (s *Server) actionsBotLocked() *user { return s.userLocked(actionsBotLogin, "Bot") }

// dispatchError is a refused dispatch: GitHub's status and message.
type dispatchError struct {
	status int
	msg    string
}

func (e *dispatchError) Error() string { return fmt.Sprintf("%d %s", e.status, e.msg) }

// findWorkflow resolves a workflow id or file name on the default branch.
func (s *Server) findWorkflow(ctx context.Context, rp *repo, key string) (*workflowDef, *workflow) {
	defs, ws := s.defaultWorkflows(ctx, rp)
	for i, d := range defs {
		if strconv.FormatInt(ws[i].ID, 10) == key || d.Path == key || strings.TrimPrefix(d.Path, ".github/workflows/") == key {
			return d, ws[i]
		}
	}
	return nil, nil
}

// dispatch validates a workflow_dispatch as GitHub does and starts the run.
func (s *Server) dispatch(ctx context.Context, rp *repo, key, ref string, inputs map[string]any, actor *user) (*workflowRun, error) {
	def, wf := s.findWorkflow(ctx, rp, key)
	if def == nil {
		return nil, &dispatchError{404, "Not Found"}
	}
	if ref == "" {
		return nil, &dispatchError{422, "Invalid request.\n\n\"ref\" wasn't supplied."}
	}
	var sha, branch string
	isTag := false
	for _, cand := range []string{"refs/heads/" + strings.TrimPrefix(ref, "refs/heads/"), "refs/tags/" + strings.TrimPrefix(ref, "refs/tags/")} {
		if v, err := s.revParse(ctx, rp.GitDir, cand); err == nil {
			sha = v
			if b, ok := strings.CutPrefix(cand, "refs/heads/"); ok {
				branch = b
			} else {
				branch, isTag = strings.TrimPrefix(cand, "refs/tags/"), true
			}
			break
		}
	}
	if sha == "" {
		return nil, &dispatchError{422, "No ref found for: " + ref}
	}
	// The run uses the workflow file as it is at the ref.
	var atRef *workflowDef
	for _, d := range s.workflowFiles(ctx, rp, sha) {
		if d.Path == def.Path {
			atRef = d
		}
	}
	if atRef == nil || !atRef.Dispatch {
		return nil, &dispatchError{422, "Workflow does not have 'workflow_dispatch' trigger"}
	}
	if atRef.Err != nil {
		return nil, &dispatchError{422, fmt.Sprintf("Invalid workflow file: %s: %v", atRef.Path, atRef.Err)}
	}
	if len(inputs) > maxDispatchInputs {
		return nil, &dispatchError{422, fmt.Sprintf("Invalid request.\n\nToo many properties: %d, the maximum is %d.", len(inputs), maxDispatchInputs)}
	}
	declared := map[string]workflowInput{}
	for _, in := range atRef.Inputs {
		declared[in.Name] = in
	}
	var unexpected []string
	for k := range inputs {
		if _, ok := declared[k]; !ok {
			unexpected = append(unexpected, k)
		}
	}
	if len(unexpected) > 0 {
		sort.Strings(unexpected)
		list, _ := json.Marshal(unexpected)
		return nil, &dispatchError{422, "Unexpected inputs provided: " + string(list)}
	}
	values := map[string]string{}
	for _, in := range atRef.Inputs {
		v, ok := inputs[in.Name]
		if !ok || v == nil {
			if in.Required && in.Default == "" {
				return nil, &dispatchError{422, fmt.Sprintf("Required input '%s' not provided", in.Name)}
			}
			values[in.Name] = in.Default
			continue
		}
		sv := fmt.Sprint(v)
		if in.Type == "choice" && len(in.Options) > 0 {
			found := false
			for _, o := range in.Options {
				found = found || o == sv
			}
			if !found {
				return nil, &dispatchError{422, fmt.Sprintf("Provided value '%s' for input '%s' not in the list of allowed values", sv, in.Name)}
			}
		}
		values[in.Name] = sv
	}
	headCommit := s.simpleCommit(ctx, rp, sha)
	s.mu.Lock()
	var out []hookOut
	run := s.startRunLocked(rp, wf, atRef, sha, branch, isTag, headCommit, values, actor, &out)
	s.mu.Unlock()
	s.flushHooks(out)
	return run, nil
}

func (s *Server) startRunLocked(rp *repo, wf *workflow, def *workflowDef, sha, branch string, isTag bool, headCommit map[string]any, inputs map[string]string, actor *user, out *[]hookOut) *workflowRun {
	rp.nextRun++
	run := &workflowRun{
		ID: s.id(), Workflow: wf, Name: def.Name, Title: def.Name, RunNumber: rp.nextRun, Event: "workflow_dispatch",
		HeadSHA: sha, HeadBranch: branch, HeadIsTag: isTag, HeadCommit: headCommit, Actor: actor, TriggeringActor: actor,
		Status: "queued", Created: s.now(), Updated: s.now(), Inputs: inputs, CheckSuiteID: s.id(),
	}
	if def.RunName != "" {
		run.Title = resolveExpr(def.RunName, inputs)
	}
	rp.Runs = append(rp.Runs, run)
	for _, jd := range def.Jobs {
		run.Jobs = append(run.Jobs, &actionsJob{ID: s.id(), Name: jd.Name, Environment: strings.TrimSpace(resolveExpr(jd.Environment, inputs)), Status: "queued", Created: s.now()})
	}
	s.runHookLocked(rp, run, "requested", out)
	for _, j := range run.Jobs {
		s.enterEnvironmentLocked(rp, run, j, out)
	}
	s.finishRunLocked(rp, run, out)
	return run
}

// enterEnvironmentLocked brings a job to its environment: GitHub creates
// the environment if it does not exist, and a deployment for the job.
func (s *Server) enterEnvironmentLocked(rp *repo, run *workflowRun, j *actionsJob, out *[]hookOut) {
	if j.Environment == "" {
		s.runJobLocked(rp, run, j, out)
		return
	}
	e := rp.Environments[j.Environment]
	if e == nil {
		e = &environment{ID: s.id(), Created: s.now(), Updated: s.now(), ruleIDs: [3]int64{s.id(), s.id(), s.id()}, Config: Environment{Name: j.Environment}}
		rp.Environments[j.Environment] = e
	}
	if !s.refMayDeployLocked(rp, e, run) {
		// GitHub fails the job: "Branch "x" is not allowed to deploy to
		// production due to environment protection rules." No deployment.
		now := s.now()
		j.Status, j.Conclusion, j.Started, j.Completed = "completed", "failure", now, &now
		return
	}
	bot := s.actionsBotLocked()
	d := &deployment{
		ID: s.id(), SHA: run.HeadSHA, Ref: run.HeadBranch, Task: "deploy", Environment: j.Environment, Payload: map[string]any{},
		Creator: bot, Created: s.now(), Updated: s.now(), Production: j.Environment == "production",
	}
	rp.Deployments = append(rp.Deployments, d)
	j.Deployment = d
	*out = append(*out, hookOut{rp, "deployment", map[string]any{
		"action": "created", "deployment": s.deploymentJSON(rp, d), "sender": s.userJSON(bot),
		"workflow": s.workflowJSON(rp, run.Workflow, &workflowDef{Name: run.Name}), "workflow_run": s.deployHookRunJSON(rp, run),
	}})
	j.run = run
	c := e.Config
	if c.WaitTimer == 0 && len(c.Reviewers) == 0 && len(c.CustomRules) == 0 {
		s.runJobLocked(rp, run, j, out)
		return
	}
	g := &envGate{Env: e, Since: s.now(), WaitTimer: c.WaitTimer, NeedsReview: len(c.Reviewers) > 0, Rules: map[string]string{}}
	for _, slug := range c.CustomRules {
		g.Rules[slug] = ""
	}
	j.Gate, j.Status = g, "waiting"
	run.Status, run.Updated = "waiting", s.now()
	s.deploymentStatusOfJobLocked(rp, j, "waiting", out)
	if g.NeedsReview {
		*out = append(*out, hookOut{rp, "deployment_review", map[string]any{
			"action": "requested", "since": ts(g.Since), "environment": e.Config.Name,
			"workflow_run": s.hookRunJSON(rp, run), "workflow_job_run": s.jobRunJSON(rp, run, j),
			"reviewers": s.reviewersJSON(e, reviewersHook), "requestor": s.userJSON(run.TriggeringActor), "sender": s.userJSON(run.TriggeringActor),
		}})
	}
	if _, ok := g.Rules[s.hosted.Slug]; ok {
		*out = append(*out, hookOut{rp, "deployment_protection_rule", map[string]any{
			"action": "requested", "environment": e.Config.Name, "event": run.Event,
			"deployment_callback_url": fmt.Sprintf("%s/repos/%s/actions/runs/%d/deployment_protection_rule", s.URL(), rp.FullName(), run.ID),
			"deployment":              s.deploymentJSON(rp, d), "pull_requests": []any{}, "sender": s.userJSON(run.TriggeringActor),
		}})
	}
	s.checkGateLocked(rp, run, j, out)
}

// refMayDeployLocked applies an environment's deployment branch policy to
// the run's ref: protected_branches admits branches with protection rules,
// custom policies the branches (or tags) matching a pattern, where "*"
// does not match "/", as GitHub's fnmatch patterns.
func (s *Server) refMayDeployLocked(rp *repo, e *environment, run *workflowRun) bool {
	bp := e.Config.BranchPolicy
	switch {
	case bp == nil:
		return true
	case bp.ProtectedBranches:
		return !run.HeadIsTag && rp.Protected[run.HeadBranch]
	}
	for _, p := range e.policies {
		if (p.Type == "tag") != run.HeadIsTag {
			continue
		}
		if ok, _ := path.Match(p.Name, run.HeadBranch); ok {
			return true
		}
	}
	return false
}

func (s *Server) deploymentStatusLocked(rp *repo, d *deployment, state, desc string, out *[]hookOut) {
	bot := s.actionsBotLocked()
	st := &deploymentStatus{ID: s.id(), State: state, Environment: d.Environment, Creator: bot, Created: s.now(), Description: desc}
	d.Statuses = append(d.Statuses, st)
	d.Updated = s.now()
	*out = append(*out, hookOut{rp, "deployment_status", map[string]any{
		"action": "created", "deployment_status": s.deploymentStatusJSON(rp, d, st),
		"deployment": s.deploymentJSON(rp, d), "sender": s.userJSON(bot),
		"workflow": nil, "workflow_run": nil, "check_run": nil,
	}})
}

// deploymentStatusOfJobLocked is deploymentStatusLocked for a job's
// deployment: the webhook names the workflow and its run, as GitHub's do.
func (s *Server) deploymentStatusOfJobLocked(rp *repo, j *actionsJob, state string, out *[]hookOut) {
	s.deploymentStatusLocked(rp, j.Deployment, state, "", out)
	h := (*out)[len(*out)-1].payload
	h["workflow"] = s.workflowJSON(rp, j.run.Workflow, &workflowDef{Name: j.run.Name})
	h["workflow_run"] = s.deployHookRunJSON(rp, j.run)
}

// deployHookRunJSON is the workflow_run of deployment and
// deployment_status payloads; their description has head_commit null.
func (s *Server) deployHookRunJSON(rp *repo, run *workflowRun) map[string]any {
	m := s.runJSON(rp, run)
	m["head_commit"] = nil
	return m
}

// checkGateLocked lets a waiting job through once every rule passed.
func (s *Server) checkGateLocked(rp *repo, run *workflowRun, j *actionsJob, out *[]hookOut) {
	g := j.Gate
	if g == nil || j.Status == "completed" {
		return
	}
	if g.NeedsReview {
		return
	}
	for _, st := range g.Rules {
		if st != "approved" {
			return
		}
	}
	if s.clock.Now().Before(g.Since.Add(time.Duration(g.WaitTimer) * time.Minute)) {
		return
	}
	j.Gate = nil
	s.runJobLocked(rp, run, j, out)
}

// runJobLocked runs a job that passed its gate: it succeeds at once.
func (s *Server) runJobLocked(rp *repo, run *workflowRun, j *actionsJob, out *[]hookOut) {
	if run.Status != "in_progress" {
		run.Status, run.Updated = "in_progress", s.now()
		s.runHookLocked(rp, run, "in_progress", out)
	}
	j.Status, j.Started = "in_progress", s.now()
	if j.Deployment != nil {
		for _, st := range []string{"queued", "in_progress", "success"} {
			s.deploymentStatusOfJobLocked(rp, j, st, out)
		}
	}
	now := s.now()
	j.Status, j.Conclusion, j.Completed = "completed", "success", &now
	s.finishRunLocked(rp, run, out)
}

// failJobLocked fails a waiting job (a rejection).
func (s *Server) failJobLocked(rp *repo, run *workflowRun, j *actionsJob, out *[]hookOut) {
	j.Gate = nil
	if j.Deployment != nil {
		s.deploymentStatusOfJobLocked(rp, j, "failure", out)
	}
	now := s.now()
	j.Status, j.Conclusion, j.Completed = "completed", "failure", &now
	s.finishRunLocked(rp, run, out)
}

// finishRunLocked completes a run whose jobs all completed.
func (s *Server) finishRunLocked(rp *repo, run *workflowRun, out *[]hookOut) {
	if run.Status == "completed" {
		return
	}
	concl := "success"
	waiting := false
	for _, j := range run.Jobs {
		switch {
		case j.Status == "waiting":
			waiting = true
		case j.Status != "completed":
			return
		case j.Conclusion == "failure":
			concl = "failure"
		}
	}
	if waiting {
		// Jobs still wait: the run completes when they have been reviewed.
		return
	}
	run.Status, run.Conclusion, run.Updated = "completed", concl, s.now()
	s.runHookLocked(rp, run, "completed", out)
}

func (s *Server) runHookLocked(rp *repo, run *workflowRun, action string, out *[]hookOut) {
	*out = append(*out, hookOut{rp, "workflow_run", map[string]any{
		"action": action, "workflow": s.workflowJSON(rp, run.Workflow, &workflowDef{Name: run.Name}),
		"workflow_run": s.runJSON(rp, run), "sender": s.userJSON(run.TriggeringActor),
	}})
}

// advanceActionsLocked makes due wait timers pass.
func (s *Server) advanceActionsLocked(out *[]hookOut) {
	for _, rp := range s.repos {
		for _, run := range rp.Runs {
			for _, j := range run.Jobs {
				if j.Gate != nil {
					s.checkGateLocked(rp, run, j, out)
				}
			}
		}
	}
}

// AdvanceActions lets every job whose gate has passed on the emulator's
// clock (a wait timer ran out after ManualClock.Advance) run, sending the
// webhooks. Actions routes and Go calls do this first on their own.
func (s *Server) AdvanceActions(ctx context.Context) error {
	s.mu.Lock()
	var out []hookOut
	s.advanceActionsLocked(&out)
	s.mu.Unlock()
	s.flushHooks(out)
	return ctx.Err()
}

func (s *Server) advance() { s.AdvanceActions(context.Background()) }

// DispatchWorkflow is a person with write access running a workflow from
// the "Run workflow" button (or their own token): workflow is its id or
// file name, ref a branch or tag. It returns the run's id.
func (s *Server) DispatchWorkflow(ctx context.Context, fullName, workflow, ref, login string, inputs map[string]string) (int64, error) {
	r, err := s.repo(fullName)
	if err != nil {
		return 0, err
	}
	s.advance()
	s.mu.Lock()
	u := s.userLocked(login, "User")
	err = s.requirePermLocked(r, u, PermWrite)
	s.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("dispatching %s: %w", workflow, err)
	}
	in := map[string]any{}
	for k, v := range inputs {
		in[k] = v
	}
	run, err := s.dispatch(ctx, r, workflow, ref, in, u)
	if err != nil {
		return 0, fmt.Errorf("dispatching %s: %w", workflow, err)
	}
	return run.ID, nil
}

// WorkflowRun is a read-only view of a workflow run, for assertions.
type WorkflowRun struct {
	ID           int64
	WorkflowID   int64
	WorkflowPath string
	Name         string
	Event        string
	HeadSHA      string
	HeadBranch   string
	Actor        string // triggering actor's login
	Status       string
	Conclusion   string
	Inputs       map[string]string
	// Environments are the jobs' environments, in job order ("" for none).
	Environments []string
	Jobs         []WorkflowJob
}

// WorkflowJob is a read-only view of a job.
type WorkflowJob struct {
	ID           int64
	Name         string
	Environment  string
	Status       string
	Conclusion   string
	DeploymentID int64 // the deployment GitHub made for the job, 0 without an environment
}

// WorkflowRuns lists a repository's workflow runs, oldest first.
func (s *Server) WorkflowRuns(fullName string) []WorkflowRun {
	s.advance()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[fullName]
	if r == nil {
		return nil
	}
	var out []WorkflowRun
	for _, run := range r.Runs {
		v := WorkflowRun{ID: run.ID, WorkflowID: run.Workflow.ID, WorkflowPath: run.Workflow.Path, Name: run.Name, Event: run.Event,
			HeadSHA: run.HeadSHA, HeadBranch: run.HeadBranch, Actor: run.TriggeringActor.Login, Status: run.Status, Conclusion: run.Conclusion,
			Inputs: map[string]string{}}
		for k, x := range run.Inputs {
			v.Inputs[k] = x
		}
		for _, j := range run.Jobs {
			wj := WorkflowJob{ID: j.ID, Name: j.Name, Environment: j.Environment, Status: j.Status, Conclusion: j.Conclusion}
			if j.Deployment != nil {
				wj.DeploymentID = j.Deployment.ID
			}
			v.Environments = append(v.Environments, j.Environment)
			v.Jobs = append(v.Jobs, wj)
		}
		out = append(out, v)
	}
	return out
}

func (s *Server) runLocked(rp *repo, id int64) *workflowRun {
	for _, run := range rp.Runs {
		if run.ID == id {
			return run
		}
	}
	return nil
}

// isReviewerLocked: a required reviewer of e, directly or as an active
// member of a reviewer team (or of one of its child teams).
func (s *Server) isReviewerLocked(e *environment, login string) bool {
	for _, rv := range e.Config.Reviewers {
		switch rv.Type {
		case "User":
			if rv.Name == login {
				return true
			}
		case "Team":
			if t := s.teams[rv.Name]; t != nil {
				if m, ok := s.membershipLocked(t, login); ok && m.State == MembershipActive {
					return true
				}
			}
		}
	}
	return false
}

// ReviewPendingDeployments is login using the "Review deployments" dialog
// of a waiting run: state "approved" or "rejected" for the jobs waiting on
// envNames. GitHub's rules: login must be a required reviewer of every
// environment named (a user, or an active member of a reviewer team or its
// child teams; invitations do not count), and not the run's triggering
// actor where the environment prevents self-review. One approval
// satisfies the reviewers rule; a rejection fails the job and the run.
// deployment_review "approved"/"rejected" follows, and the review shows in
// GET …/actions/runs/{run_id}/approvals.
func (s *Server) ReviewPendingDeployments(fullName string, runID int64, login string, envNames []string, state, comment string) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	s.advance()
	s.mu.Lock()
	u := s.userLocked(login, "User")
	var out []hookOut
	_, err = s.deploymentReviewLocked(r, runID, u, envNames, state, comment, &out)
	s.mu.Unlock()
	s.flushHooks(out)
	if err != nil {
		return fmt.Errorf("%s reviewing run %d: %w", login, runID, err)
	}
	return nil
}

func (s *Server) deploymentReviewLocked(rp *repo, runID int64, u *user, envNames []string, state, comment string, out *[]hookOut) ([]*actionsJob, error) {
	if state != "approved" && state != "rejected" {
		return nil, ErrReviewState
	}
	run := s.runLocked(rp, runID)
	if run == nil {
		return nil, fmt.Errorf("no workflow run %d", runID)
	}
	var jobs []*actionsJob
	var envs []*environment
	for _, name := range envNames {
		var found []*actionsJob
		for _, j := range run.Jobs {
			if j.Gate != nil && j.Gate.NeedsReview && j.Environment == name {
				found = append(found, j)
			}
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: %w", name, ErrNotWaiting)
		}
		e := found[0].Gate.Env
		if !s.isReviewerLocked(e, u.Login) {
			return nil, fmt.Errorf("%s: %w", name, ErrNotReviewer)
		}
		if e.Config.PreventSelfReview && run.TriggeringActor != nil && run.TriggeringActor.Login == u.Login {
			return nil, fmt.Errorf("%s: %w", name, ErrSelfReview)
		}
		jobs = append(jobs, found...)
		envs = append(envs, e)
	}
	if len(jobs) == 0 {
		return nil, ErrNotWaiting
	}
	run.Approvals = append(run.Approvals, &envApproval{State: state, Comment: comment, User: u, Envs: envs})
	var jobRuns []any
	for _, j := range jobs {
		jobRuns = append(jobRuns, s.jobRunJSON(rp, run, j))
	}
	since := jobs[0].Gate.Since
	*out = append(*out, hookOut{rp, "deployment_review", map[string]any{
		"action": state, "since": ts(since), "workflow_run": s.hookRunJSON(rp, run),
		"approver": s.userJSON(u), "comment": comment, "reviewers": s.reviewersJSON(envs[0], reviewersHookUsers),
		"workflow_job_runs": jobRuns, "sender": s.userJSON(u),
	}})
	for _, j := range jobs {
		if state == "rejected" {
			s.failJobLocked(rp, run, j, out)
		} else {
			j.Gate.NeedsReview = false
			s.checkGateLocked(rp, run, j, out)
		}
	}
	return jobs, nil
}

// ReviewCustomProtectionRule is another App (appSlug, enabled as a custom
// rule on env) answering its deployment_protection_rule, as that App's
// POST …/deployment_protection_rule would. The hosted App answers through
// the REST API.
func (s *Server) ReviewCustomProtectionRule(fullName string, runID int64, appSlug, env, state, comment string) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	s.advance()
	s.mu.Lock()
	var out []hookOut
	err = s.ruleReviewLocked(r, runID, appSlug, env, state, &out)
	s.mu.Unlock()
	s.flushHooks(out)
	if err != nil {
		return fmt.Errorf("%s reviewing run %d: %w", appSlug, runID, err)
	}
	return nil
}

func (s *Server) ruleReviewLocked(rp *repo, runID int64, slug, env, state string, out *[]hookOut) error {
	if state != "approved" && state != "rejected" {
		return ErrReviewState
	}
	run := s.runLocked(rp, runID)
	if run == nil {
		return fmt.Errorf("no workflow run %d", runID)
	}
	e := rp.Environments[env]
	if e == nil {
		return fmt.Errorf("%s: %w", env, ErrNotWaiting)
	}
	enabled := false
	for _, a := range e.Config.CustomRules {
		enabled = enabled || a == slug
	}
	if !enabled {
		return fmt.Errorf("%s: %w", env, ErrRuleNotActive)
	}
	var jobs []*actionsJob
	for _, j := range run.Jobs {
		if j.Gate != nil && j.Environment == env {
			if st, ok := j.Gate.Rules[slug]; ok && st == "" {
				jobs = append(jobs, j)
			}
		}
	}
	if len(jobs) == 0 {
		return fmt.Errorf("%s: %w", env, ErrNotWaiting)
	}
	for _, j := range jobs {
		if state == "rejected" {
			s.failJobLocked(rp, run, j, out)
			continue
		}
		j.Gate.Rules[slug] = "approved"
		s.checkGateLocked(rp, run, j, out)
	}
	return nil
}

// Renderers.

func (s *Server) runJSON(rp *repo, run *workflowRun) map[string]any {
	api := fmt.Sprintf("%s/repos/%s/actions/runs/%d", s.URL(), rp.FullName(), run.ID)
	html := fmt.Sprintf("%s/%s/actions/runs/%d", s.URL(), rp.FullName(), run.ID)
	repoJSON := s.repoJSON(rp, false)
	return map[string]any{
		"id": run.ID, "name": run.Name, "node_id": nodeID("WFR_", run.ID), "check_suite_id": run.CheckSuiteID,
		"check_suite_node_id": nodeID("CS_", run.CheckSuiteID), "head_branch": run.HeadBranch, "head_sha": run.HeadSHA,
		"path": run.Workflow.Path, "run_number": run.RunNumber, "run_attempt": 1, "referenced_workflows": []any{},
		"event": run.Event, "status": run.Status, "conclusion": strOrNil(run.Conclusion), "workflow_id": run.Workflow.ID,
		"url": api, "html_url": html, "pull_requests": []any{}, "created_at": ts(run.Created), "updated_at": ts(run.Updated),
		"actor": s.userJSON(run.Actor), "triggering_actor": s.userJSON(run.TriggeringActor), "run_started_at": ts(run.Created),
		"jobs_url": api + "/jobs", "logs_url": api + "/logs", "check_suite_url": fmt.Sprintf("%s/repos/%s/check-suites/%d", s.URL(), rp.FullName(), run.CheckSuiteID),
		"artifacts_url": api + "/artifacts", "cancel_url": api + "/cancel", "rerun_url": api + "/rerun", "previous_attempt_url": nil,
		"workflow_url": fmt.Sprintf("%s/repos/%s/actions/workflows/%d", s.URL(), rp.FullName(), run.Workflow.ID),
		"head_commit":  run.HeadCommit, "repository": repoJSON, "head_repository": repoJSON, "head_repository_id": rp.ID,
		"display_title": run.Title,
	}
}

// hookRunJSON is the short workflow_run of deployment_review payloads.
func (s *Server) hookRunJSON(rp *repo, run *workflowRun) map[string]any {
	m := s.runJSON(rp, run)
	keep := map[string]bool{"id": true, "name": true, "node_id": true, "head_branch": true, "head_sha": true, "run_number": true, "event": true,
		"status": true, "conclusion": true, "workflow_id": true, "check_suite_id": true, "check_suite_node_id": true, "url": true, "html_url": true,
		"path": true, "pull_requests": true, "created_at": true, "updated_at": true, "actor": true, "triggering_actor": true, "run_attempt": true,
		"run_started_at": true, "display_title": true, "jobs_url": true, "logs_url": true, "check_suite_url": true, "artifacts_url": true,
		"cancel_url": true, "rerun_url": true, "workflow_url": true, "head_commit": true, "previous_attempt_url": true}
	for k := range m {
		if !keep[k] {
			delete(m, k)
		}
	}
	return m
}

func (s *Server) jobRunJSON(rp *repo, run *workflowRun, j *actionsJob) map[string]any {
	return map[string]any{
		"id": j.ID, "name": j.Name, "status": j.Status, "conclusion": strOrNil(j.Conclusion), "environment": j.Environment,
		"html_url":   fmt.Sprintf("%s/%s/actions/runs/%d/job/%d", s.URL(), rp.FullName(), run.ID, j.ID),
		"created_at": ts(j.Created), "updated_at": ts(run.Updated),
	}
}

func (s *Server) jobJSON(rp *repo, run *workflowRun, j *actionsJob) map[string]any {
	api := fmt.Sprintf("%s/repos/%s/actions/jobs/%d", s.URL(), rp.FullName(), j.ID)
	var started any = ts(j.Created)
	if !j.Started.IsZero() {
		started = ts(j.Started)
	}
	return map[string]any{
		"id": j.ID, "run_id": run.ID, "run_url": fmt.Sprintf("%s/repos/%s/actions/runs/%d", s.URL(), rp.FullName(), run.ID),
		"run_attempt": 1, "node_id": nodeID("CR_", j.ID), "head_sha": run.HeadSHA, "url": api,
		"html_url": fmt.Sprintf("%s/%s/actions/runs/%d/job/%d", s.URL(), rp.FullName(), run.ID, j.ID),
		"status":   j.Status, "conclusion": strOrNil(j.Conclusion), "created_at": ts(j.Created), "started_at": started,
		"completed_at": tsPtr(j.Completed), "name": j.Name, "steps": []any{},
		"check_run_url": fmt.Sprintf("%s/repos/%s/check-runs/%d", s.URL(), rp.FullName(), j.ID),
		"labels":        []any{"ubuntu-latest"}, "runner_id": nil, "runner_name": nil, "runner_group_id": nil, "runner_group_name": nil,
		"workflow_name": run.Name, "head_branch": run.HeadBranch,
	}
}

// Shapes of reviewersJSON: REST's team objects carry "type"; the webhook
// description's reviewer object admits only user types there, and for
// deployment_review approved/rejected only users at all.
const (
	reviewersREST = iota
	reviewersHook
	reviewersHookUsers
)

// reviewersJSON renders an environment's required reviewers.
func (s *Server) reviewersJSON(e *environment, shape int) []any {
	usersOnly := shape == reviewersHookUsers
	out := []any{}
	for _, rv := range e.Config.Reviewers {
		switch rv.Type {
		case "Team":
			if t := s.teams[rv.Name]; t != nil && !usersOnly {
				tj := s.teamJSON(t)
				if shape == reviewersREST {
					tj["type"] = "organization"
				}
				out = append(out, map[string]any{"type": "Team", "reviewer": tj})
			}
		default:
			if u := s.users[rv.Name]; u != nil {
				out = append(out, map[string]any{"type": "User", "reviewer": s.userJSON(u)})
			}
		}
	}
	return out
}

func (s *Server) envRefJSON(rp *repo, e *environment, dates bool) map[string]any {
	m := map[string]any{
		"id": e.ID, "node_id": nodeID("EN_", e.ID), "name": e.Config.Name,
		"url":      fmt.Sprintf("%s/repos/%s/environments/%s", s.URL(), rp.FullName(), e.Config.Name),
		"html_url": fmt.Sprintf("%s/%s/deployments/activity_log?environments_filter=%s", s.URL(), rp.FullName(), e.Config.Name),
	}
	if dates {
		m["created_at"], m["updated_at"] = ts(e.Created), ts(e.Updated)
	}
	return m
}

// REST handlers.

func (s *Server) handleListWorkflows(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	defs, ws := s.defaultWorkflows(r.Context(), rp)
	idx := make([]int, len(defs))
	for i := range idx {
		idx[i] = i
	}
	page, ok := paginate(w, r, idx)
	if !ok {
		return
	}
	out := []any{}
	s.mu.Lock()
	for _, i := range page {
		out = append(out, s.workflowJSON(rp, ws[i], defs[i]))
	}
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"total_count": len(defs), "workflows": out})
}

func (s *Server) handleGetWorkflow(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	def, wf := s.findWorkflow(r.Context(), rp, r.PathValue("workflow_id"))
	if def == nil {
		writeError(w, 404, "Not Found", "https://docs.github.com/rest/actions/workflows#get-a-workflow")
		return
	}
	s.mu.Lock()
	body := s.workflowJSON(rp, wf, def)
	s.mu.Unlock()
	writeJSON(w, 200, body)
}

func (s *Server) handleDispatch(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	const doc = "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event"
	var req struct {
		Ref              *string        `json:"ref"`
		Inputs           map[string]any `json:"inputs"`
		ReturnRunDetails bool           `json:"return_run_details"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	s.advance()
	ref := ""
	if req.Ref != nil {
		ref = *req.Ref
	}
	run, err := s.dispatch(r.Context(), rp, r.PathValue("workflow_id"), ref, req.Inputs, c.user)
	if err != nil {
		var de *dispatchError
		if errors.As(err, &de) {
			writeError(w, de.status, de.msg, doc)
			return
		}
		writeError(w, 500, err.Error(), "")
		return
	}
	if req.ReturnRunDetails {
		writeJSON(w, 200, map[string]any{
			"workflow_run_id": run.ID,
			"run_url":         fmt.Sprintf("%s/repos/%s/actions/runs/%d", s.URL(), rp.FullName(), run.ID),
			"html_url":        fmt.Sprintf("%s/%s/actions/runs/%d", s.URL(), rp.FullName(), run.ID),
		})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleListRuns(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.listRuns(w, r, rp, nil)
}

// handleListWorkflowRuns lists the runs of one workflow ({workflow_id}:
// its id or file name), with the filters of handleListRuns.
func (s *Server) handleListWorkflowRuns(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	def, wf := s.findWorkflow(r.Context(), rp, r.PathValue("workflow_id"))
	if def == nil || wf == nil {
		writeError(w, 404, "Not Found", "https://docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-workflow")
		return
	}
	s.listRuns(w, r, rp, wf)
}

// listRuns lists rp's runs (of workflow wf, when set), newest first.
func (s *Server) listRuns(w http.ResponseWriter, r *http.Request, rp *repo, wf *workflow) {
	s.advance()
	q := r.URL.Query()
	s.mu.Lock()
	var list []*workflowRun
	for _, run := range rp.Runs {
		if wf != nil && run.Workflow.ID != wf.ID {
			continue
		}
		st := q.Get("status")
		if (q.Get("event") == "" || q.Get("event") == run.Event) && (q.Get("head_sha") == "" || q.Get("head_sha") == run.HeadSHA) &&
			(q.Get("branch") == "" || q.Get("branch") == run.HeadBranch) && (q.Get("actor") == "" || q.Get("actor") == run.Actor.Login) &&
			(st == "" || st == run.Status || st == run.Conclusion) {
			list = append(list, run)
		}
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].ID > list[j].ID }) // newest first
	page, ok := paginate(w, r, list)
	if !ok {
		return
	}
	out := []any{}
	s.mu.Lock()
	for _, run := range page {
		out = append(out, s.runJSON(rp, run))
	}
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"total_count": len(list), "workflow_runs": out})
}

// runFrom resolves {run_id}, answering 404 itself.
func (s *Server) runFrom(w http.ResponseWriter, r *http.Request, rp *repo) *workflowRun {
	id, _ := pathInt(r, "run_id")
	run := s.runLocked(rp, id)
	if run == nil {
		writeError(w, 404, "Not Found", "https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run")
	}
	return run
}

func (s *Server) handleGetRun(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.advance()
	s.mu.Lock()
	defer s.mu.Unlock()
	if run := s.runFrom(w, r, rp); run != nil {
		writeJSON(w, 200, s.runJSON(rp, run))
	}
}

func (s *Server) handleListJobs(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.advance()
	s.mu.Lock()
	run := s.runFrom(w, r, rp)
	if run == nil {
		s.mu.Unlock()
		return
	}
	jobs := append([]*actionsJob(nil), run.Jobs...)
	s.mu.Unlock()
	page, ok := paginate(w, r, jobs)
	if !ok {
		return
	}
	out := []any{}
	s.mu.Lock()
	for _, j := range page {
		out = append(out, s.jobJSON(rp, run, j))
	}
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"total_count": len(jobs), "jobs": out})
}

func (s *Server) handleListPendingDeployments(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.advance()
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.runFrom(w, r, rp)
	if run == nil {
		return
	}
	out := []any{}
	seen := map[string]bool{}
	for _, j := range run.Jobs {
		g := j.Gate
		if g == nil || seen[j.Environment] {
			continue
		}
		seen[j.Environment] = true
		var started any
		if g.WaitTimer > 0 {
			started = ts(g.Since)
		}
		out = append(out, map[string]any{
			"environment": s.envRefJSON(rp, g.Env, false), "wait_timer": g.WaitTimer, "wait_timer_started_at": started,
			// An installation is never a required reviewer.
			"current_user_can_approve": c.kind != callerToken && c.user != nil && s.isReviewerLocked(g.Env, c.user.Login),
			"reviewers":                s.reviewersJSON(g.Env, reviewersREST),
		})
	}
	writeJSON(w, 200, out)
}

// handleReviewPendingDeployments: only required reviewers (people) may
// use this endpoint; an installation token is not one.
func (s *Server) handleReviewPendingDeployments(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	const doc = "https://docs.github.com/rest/actions/workflow-runs#review-pending-deployments-for-a-workflow-run"
	var req struct {
		EnvironmentIDs []int64 `json:"environment_ids"`
		State          string  `json:"state"`
		Comment        *string `json:"comment"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.EnvironmentIDs == nil || req.State == "" || req.Comment == nil {
		validationFailed(w, "DeploymentReview", "environment_ids", "missing_field", "")
		return
	}
	s.advance()
	s.mu.Lock()
	run := s.runFrom(w, r, rp)
	if run == nil {
		s.mu.Unlock()
		return
	}
	if c.kind == callerToken {
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, msgNotAccessible, doc)
		return
	}
	var names []string
	for _, id := range req.EnvironmentIDs {
		for n, e := range rp.Environments {
			if e.ID == id {
				names = append(names, n)
			}
		}
	}
	var out []hookOut
	jobs, err := s.deploymentReviewLocked(rp, run.ID, c.user, names, req.State, *req.Comment, &out)
	var body []any
	for _, j := range jobs {
		if j.Deployment != nil {
			body = append(body, s.deploymentJSON(rp, j.Deployment))
		}
	}
	s.mu.Unlock()
	s.flushHooks(out)
	if err != nil {
		writeError(w, 422, err.Error(), doc)
		return
	}
	if body == nil {
		body = []any{}
	}
	writeJSON(w, 200, body)
}

func (s *Server) handleListApprovals(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.advance()
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.runFrom(w, r, rp)
	if run == nil {
		return
	}
	out := []any{}
	for i := len(run.Approvals) - 1; i >= 0; i-- { // newest first
		a := run.Approvals[i]
		envs := []any{}
		for _, e := range a.Envs {
			envs = append(envs, s.envRefJSON(rp, e, true))
		}
		out = append(out, map[string]any{"environments": envs, "state": a.State, "user": s.userJSON(a.User), "comment": a.Comment})
	}
	writeJSON(w, 200, out)
}

// handleCustomRuleCallback is the App answering deployment_protection_rule
// at its deployment_callback_url. Only an App enabled as a custom rule of
// the environment, with a job waiting on it, may answer (422 otherwise).
// A comment without a state is accepted and changes nothing.
func (s *Server) handleCustomRuleCallback(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	const doc = "https://docs.github.com/rest/actions/workflow-runs#review-custom-deployment-protection-rules-for-a-workflow-run"
	var req struct {
		EnvironmentName string  `json:"environment_name"`
		State           string  `json:"state"`
		Comment         *string `json:"comment"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.EnvironmentName == "" {
		validationFailed(w, "DeploymentProtectionRule", "environment_name", "missing_field", "")
		return
	}
	if req.State == "" && req.Comment == nil {
		validationFailed(w, "DeploymentProtectionRule", "comment", "missing_field", "")
		return
	}
	s.advance()
	s.mu.Lock()
	run := s.runFrom(w, r, rp)
	if run == nil {
		s.mu.Unlock()
		return
	}
	var err error
	var out []hookOut
	if req.State == "" {
		err = s.ruleCommentCheckLocked(rp, run, s.hosted.Slug, req.EnvironmentName)
	} else {
		err = s.ruleReviewLocked(rp, run.ID, s.hosted.Slug, req.EnvironmentName, req.State, &out)
	}
	s.mu.Unlock()
	s.flushHooks(out)
	if err != nil {
		writeError(w, 422, err.Error(), doc)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) ruleCommentCheckLocked(rp *repo, run *workflowRun, slug, env string) error {
	for _, j := range run.Jobs {
		if j.Gate != nil && j.Environment == env {
			if _, ok := j.Gate.Rules[slug]; ok {
				return nil
			}
		}
	}
	return fmt.Errorf("%s: %w", env, ErrNotWaiting)
}
