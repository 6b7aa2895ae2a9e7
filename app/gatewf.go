package app

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/app/gate"
	"github.com/honua-io/honua-gitops/checks"
	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/order"
)

// GateWorkflow is the gate workflow a repository needs for approvals in
// GitHub's own "Review deployments" dialog (approvals: github-environment):
// `honua-gitops init` writes it to GateWorkflowPath.
//
//go:embed honua-gate.yml
var GateWorkflow []byte

// GateWorkflowPath is where the gate workflow lives in a config repository.
const GateWorkflowPath = ".github/workflows/" + gateWorkflowFile

const (
	gateWorkflowFile = "honua-gate.yml"
	gateTitlePrefix  = "honua gate: "
)

// gateRef is what a gate workflow run was dispatched for, as its run-name
// (the run's display_title) says: "honua gate: production #42 <sha>
// sha256:<order digest>". Anyone who may dispatch workflows can write such
// a title; the App acts on one only when it names the App's own
// deployment, with its commit and the digest of its signed order.
type gateRef struct {
	env          string
	deploymentID int64
	sha          string
	orderDigest  string
}

func (g gateRef) title() string {
	return fmt.Sprintf("%s%s #%d %s %s", gateTitlePrefix, g.env, g.deploymentID, g.sha, g.orderDigest)
}

var gateTitleRe = regexp.MustCompile(`^honua gate: (.+) #([1-9][0-9]{0,18}) ([0-9a-f]{40}|[0-9a-f]{64}) (sha256:[0-9a-f]{64})$`)

// parseGateTitle reads a gate run's display title.
func parseGateTitle(s string) (gateRef, bool) {
	m := gateTitleRe.FindStringSubmatch(s)
	if m == nil {
		return gateRef{}, false
	}
	id, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil {
		return gateRef{}, false
	}
	return gateRef{env: m[1], deploymentID: id, sha: m[3], orderDigest: m[4]}, true
}

// reviewInGitHub reports whether env is approved in GitHub's dialog.
func (ev *evaluation) reviewInGitHub(env string) bool {
	return ev != nil && ev.bundle != nil && ev.bundle.File != nil && ev.bundle.File.Env(env).Approvals == policy.ApprovalsGitHubEnvironment
}

// orderOf reads the App's signed order of its deployment d.
func (a *App) orderOf(d *github.Deployment) (order.Order, string, error) {
	raw, err := json.Marshal(d.Payload)
	if err != nil {
		return order.Order{}, "", err
	}
	o, err := a.verifyOrder(raw, d.GetCreatedAt().Time)
	if err != nil {
		return order.Order{}, "", err
	}
	digest, err := order.Digest(o)
	return o, digest, err
}

// requestReview dispatches the gate workflow for the App's deployment d of
// env, so that GitHub holds its job for the environment's reviewers. When
// GitHub refuses the dispatch for a reason only a person can fix (no gate
// workflow on the branch, a gate workflow with other inputs, no actions:
// write permission), the deployment stays pending and its status says what
// to do; nothing deploys without the review.
func (a *App) requestReview(ctx context.Context, gh *github.Client, repo repoName, branch, env string, d *github.Deployment) error {
	_, digest, err := a.orderOf(d)
	if err != nil {
		return fmt.Errorf("reading the order of deployment %d: %w", d.GetID(), err)
	}
	if branch == "" {
		r, _, err := gh.Repositories.Get(ctx, repo.Owner, repo.Name)
		if err != nil {
			return fmt.Errorf("reading %s: %w", repo, err)
		}
		branch = r.GetDefaultBranch()
	}
	_, err = gh.Actions.CreateWorkflowDispatchEventByFileName(ctx, repo.Owner, repo.Name, gateWorkflowFile, github.CreateWorkflowDispatchEventRequest{
		Ref: branch,
		Inputs: map[string]any{
			"environment": env, "sha": d.GetSHA(), "deployment_id": strconv.FormatInt(d.GetID(), 10), "order_digest": digest,
		},
	})
	if err == nil {
		return nil
	}
	var ge *github.ErrorResponse
	if !errors.As(err, &ge) || ge.Response == nil {
		return fmt.Errorf("dispatching the gate workflow for deployment %d: %w", d.GetID(), err)
	}
	var why string
	switch ge.Response.StatusCode {
	case http.StatusNotFound:
		why = fmt.Sprintf("no gate workflow %s on %s: add it (honua-gitops init)", GateWorkflowPath, branch)
	case http.StatusForbidden:
		why = "the App may not dispatch workflows: accept its actions: write permission"
	case http.StatusUnprocessableEntity:
		why = fmt.Sprintf("GitHub refuses the gate workflow (%s): update %s (honua-gitops init)", ge.Message, GateWorkflowPath)
	default:
		return fmt.Errorf("dispatching the gate workflow for deployment %d: %w", d.GetID(), err)
	}
	LoggerFrom(ctx).Warn("gate workflow not dispatched", "repo", repo.String(), "env", env, "deployment", d.GetID(), "why", why)
	_, _, err = gh.Repositories.CreateDeploymentStatus(ctx, repo.Owner, repo.Name, d.GetID(), &github.DeploymentStatusRequest{
		State: github.String(gate.StatePending), Description: github.String(truncate("cannot ask for review in GitHub: "+why, 140)),
	})
	return err
}

// onWorkflowRun links a gate run, once GitHub made it, from the
// deployment it asks a review for: the deployment status's log link, the
// deploy check run and a comment on the pull request.
func (a *App) onWorkflowRun(ctx context.Context, ev Event) error {
	e, ok := ev.Payload.(*github.WorkflowRunEvent)
	if !ok || ev.Action != "requested" {
		return nil
	}
	run := e.GetWorkflowRun()
	ref, ok := parseGateTitle(run.GetDisplayTitle())
	if !ok || !strings.HasSuffix(run.GetPath(), gateWorkflowFile) {
		return nil
	}
	repo, err := parseRepo(e.GetRepo().GetFullName())
	if err != nil {
		return err
	}
	unlock := a.locks.lock("deploy:" + repo.String())
	defer unlock()
	st, err := a.loadMerge(ctx, ev.InstallationID, repo, ref.sha)
	if err != nil {
		return err
	}
	d := st.deployments[ref.env]
	if why := a.gateMismatch(d, ref); why != "" {
		// Not a run the App asked for: nothing to link.
		LoggerFrom(ctx).Info("a gate run names no deployment of the App", "repo", repo.String(), "run", run.GetID(), "why", why)
		return nil
	}
	latest, err := a.latestStatus(ctx, st.gh, repo, d.GetID())
	if err != nil {
		return err
	}
	if latest.GetState() != gate.StatePending {
		LoggerFrom(ctx).Info("a gate run for a deployment that no longer waits", "repo", repo.String(), "run", run.GetID(), "state", latest.GetState())
		return nil
	}
	if _, _, err := st.gh.Repositories.CreateDeploymentStatus(ctx, repo.Owner, repo.Name, d.GetID(), &github.DeploymentStatusRequest{
		State: github.String(gate.StatePending), Description: github.String(latest.GetDescription()), LogURL: github.String(run.GetHTMLURL()),
	}); err != nil {
		return fmt.Errorf("linking gate run %d from deployment %d: %w", run.GetID(), d.GetID(), err)
	}
	if err := a.reevaluateEnv(ctx, st, ref.env); err != nil {
		return err
	}
	if st.m.pull.Number == 0 {
		return nil
	}
	return a.comment(ctx, st.gh, repo, st.m.pull.Number, checks.ReviewRequestedComment(ref.env, ref.sha, run.GetHTMLURL()))
}

// gateMismatch says why a gate run's inputs do not name the App's own
// pending deployment d ("" when they do).
func (a *App) gateMismatch(d *github.Deployment, ref gateRef) string {
	switch {
	case d == nil || d.GetID() != ref.deploymentID:
		return fmt.Sprintf("deployment %d is not the App's latest deployment of %s to %s (superseded?)", ref.deploymentID, short(ref.sha), ref.env)
	case !a.ownDeployment(d):
		return fmt.Sprintf("deployment %d is not the App's", ref.deploymentID)
	case !strings.EqualFold(d.GetSHA(), ref.sha) || d.GetEnvironment() != ref.env:
		return fmt.Sprintf("deployment %d deploys %s to %s, not %s to %s", d.GetID(), short(d.GetSHA()), d.GetEnvironment(), short(ref.sha), ref.env)
	}
	_, digest, err := a.orderOf(d)
	if err != nil {
		return fmt.Sprintf("the order of deployment %d does not verify", d.GetID())
	}
	if digest != ref.orderDigest {
		return fmt.Sprintf("the gate run was asked for another deploy order of deployment %d", d.GetID())
	}
	return ""
}

// onDeploymentReview acts on a review given in GitHub's dialog of a gate
// run: an approval counts as the reviewer's approval of the App's
// deployment (the policy's approvers are checked as for any approval); a
// rejection fails it with the reviewer's comment. A review of a run whose
// inputs no longer name a pending deployment of the App does nothing, and
// the pull request is told why.
func (a *App) onDeploymentReview(ctx context.Context, ev Event) error {
	e, ok := ev.Payload.(*github.DeploymentReviewEvent)
	if !ok || (ev.Action != "approved" && ev.Action != "rejected") {
		return nil
	}
	run := e.GetWorkflowRun()
	ref, ok := parseGateTitle(run.GetDisplayTitle())
	if !ok {
		return nil
	}
	repo, err := parseRepo(e.GetRepo().GetFullName())
	if err != nil {
		return err
	}
	reviewer := e.GetApprover().GetLogin()
	if reviewer == "" {
		reviewer = e.GetSender().GetLogin()
	}
	kind := gate.KindApprove
	if ev.Action == "rejected" {
		kind = gate.KindReject
	}
	return a.actOnGateReview(ctx, ev.InstallationID, repo, run.GetID(), ref, reviewer, kind, e.GetComment())
}

// actOnGateReview acts once on the review of gate run runID (which asks
// for ref): from its deployment_review webhook, or from the run's
// approvals when the sweeper finds a webhook was missed. The App's reply
// in the pull request marks the run as handled, for every replica and
// after restarts.
func (a *App) actOnGateReview(ctx context.Context, inst int64, repo repoName, runID int64, ref gateRef, reviewer, kind, comment string) error {
	unlock := a.locks.lock("deploy:" + repo.String())
	st, err := a.loadMerge(ctx, inst, repo, ref.sha)
	if err != nil {
		unlock()
		return err
	}
	if st.m.pull.Number != 0 {
		comments, err := a.comments(ctx, st.gh, repo, st.m.pull.Number)
		if err != nil {
			unlock()
			return err
		}
		if a.replied(comments, -runID) {
			unlock()
			return nil
		}
	}
	if why := a.gateMismatch(st.deployments[ref.env], ref); why != "" {
		defer unlock()
		LoggerFrom(ctx).Info("a review of a gate run that names no pending deployment", "repo", repo.String(), "run", runID, "why", why)
		return a.replyOnce(ctx, st, -runID, checks.RefusalComment(fmt.Sprintf("the %s by %s in GitHub (gate run %d) does nothing: %s.", reviewWord(kind), reviewer, runID, why)))
	}
	unlock()
	return a.decideDeployment(ctx, inst, repo, ref.sha, ref.env, reviewer, gate.ViaGitHubEnvironment, kind, comment, -runID)
}

// runApproval is one review of GET …/actions/runs/{run_id}/approvals
// (go-github v66 has no method for it).
type runApproval struct {
	Environments []struct {
		Name string `json:"name"`
	} `json:"environments"`
	State   string `json:"state"`
	Comment string `json:"comment"`
	User    struct {
		Login string `json:"login"`
	} `json:"user"`
}

// sweepGateReviews acts on reviews given in GitHub's dialog whose
// deployment_review webhooks were missed: for each recent gate run whose
// App deployment still waits, the run's approvals say who decided.
func (a *App) sweepGateReviews(ctx context.Context, inst int64, gh *github.Client, repo repoName) error {
	runs, err := a.listGateRuns(ctx, gh, repo, &github.ListWorkflowRunsOptions{Event: "workflow_dispatch", ListOptions: github.ListOptions{PerPage: 30}})
	if err != nil {
		return err
	}
	var errs []error
	for _, run := range runs {
		ref, ok := parseGateTitle(run.GetDisplayTitle())
		if !ok {
			continue
		}
		latest, err := a.latestStatus(ctx, gh, repo, ref.deploymentID)
		if err != nil || latest.GetState() != gate.StatePending {
			continue // gone, or no longer waiting for a review
		}
		req, err := gh.NewRequest("GET", fmt.Sprintf("repos/%s/%s/actions/runs/%d/approvals", repo.Owner, repo.Name, run.GetID()), nil)
		if err != nil {
			return err
		}
		var approvals []runApproval
		if _, err := gh.Do(ctx, req, &approvals); err != nil {
			errs = append(errs, fmt.Errorf("reading the approvals of gate run %d: %w", run.GetID(), err))
			continue
		}
		for _, ap := range approvals {
			named := false
			for _, e := range ap.Environments {
				named = named || e.Name == ref.env
			}
			if !named || (ap.State != "approved" && ap.State != "rejected") {
				continue
			}
			kind := gate.KindApprove
			if ap.State == "rejected" {
				kind = gate.KindReject
			}
			if err := a.actOnGateReview(ctx, inst, repo, run.GetID(), ref, ap.User.Login, kind, ap.Comment); err != nil {
				errs = append(errs, err)
			}
			break // one review decides a gate run
		}
	}
	return errors.Join(errs...)
}

func reviewWord(kind string) string {
	if kind == gate.KindReject {
		return "rejection"
	}
	return "approval"
}

// callbackRunRe finds the run id in a deployment_callback_url.
var callbackRunRe = regexp.MustCompile(`/actions/runs/([0-9]+)/deployment_protection_rule$`)

// onDeploymentProtectionRule answers GitHub when the App is an
// environment's custom deployment protection rule and a job waits on it:
// with the policy's verdict on the App's deployment that the gate run
// names. A change the policy denies is rejected with the reason; one held
// by a gate of time (a window, a blackout, a soak) is left waiting and
// approved by the sweeper when the gate opens; otherwise the rule
// approves (approvals are the reviewers' part, in the same dialog). A job
// that is not a gate run the App asked for is rejected: the rule is how
// the policy guards the environment against any other workflow.
func (a *App) onDeploymentProtectionRule(ctx context.Context, ev Event) error {
	e, ok := ev.Payload.(*github.DeploymentProtectionRuleEvent)
	if !ok || ev.Action != "requested" {
		return nil
	}
	m := callbackRunRe.FindStringSubmatch(e.GetDeploymentCallbackURL())
	if m == nil {
		return fmt.Errorf("deployment_protection_rule without a run in its callback URL %q", e.GetDeploymentCallbackURL())
	}
	runID, _ := strconv.ParseInt(m[1], 10, 64)
	repo, err := parseRepo(e.GetRepo().GetFullName())
	if err != nil {
		return err
	}
	gh, err := a.clients.Installation(ctx, ev.InstallationID)
	if err != nil {
		return err
	}
	return a.answerProtectionRule(ctx, ev.InstallationID, gh, repo, runID, e.GetEnvironment())
}

// answerProtectionRule decides the App's protection rule on env of run
// runID, or leaves it waiting for a gate of time.
func (a *App) answerProtectionRule(ctx context.Context, inst int64, gh *github.Client, repo repoName, runID int64, env string) error {
	answer := func(state, comment string) error {
		_, err := gh.Actions.ReviewCustomDeploymentProtectionRule(ctx, repo.Owner, repo.Name, runID, &github.ReviewCustomDeploymentProtectionRuleRequest{
			EnvironmentName: env, State: state, Comment: truncate(comment, 1000),
		})
		if err != nil {
			return fmt.Errorf("answering the protection rule of %s on run %d: %w", env, runID, err)
		}
		LoggerFrom(ctx).Info("answered a deployment protection rule", "repo", repo.String(), "run", runID, "env", env, "state", state, "comment", comment)
		return nil
	}
	run, _, err := gh.Actions.GetWorkflowRunByID(ctx, repo.Owner, repo.Name, runID)
	if err != nil {
		return fmt.Errorf("reading run %d: %w", runID, err)
	}
	ref, ok := parseGateTitle(run.GetDisplayTitle())
	if !ok || !strings.HasSuffix(run.GetPath(), gateWorkflowFile) {
		return answer("rejected", fmt.Sprintf("honua-gitops: only the gate runs of the honua-gitops App's own deployments deploy to %s; this run (%s) is not one", env, run.GetName()))
	}
	if ref.env != env {
		return answer("rejected", fmt.Sprintf("honua-gitops: this gate run was asked for %s, not %s", ref.env, env))
	}
	unlock := a.locks.lock("deploy:" + repo.String())
	defer unlock()
	st, err := a.loadMerge(ctx, inst, repo, ref.sha)
	if err != nil {
		return err
	}
	d := st.deployments[env]
	if why := a.gateMismatch(d, ref); why != "" {
		return answer("rejected", "honua-gitops: "+why)
	}
	v, _ := st.ev.report.Verdict(env)
	dec := a.decide(v, st.ev.envs[env], st.ev, env)
	switch {
	case dec.State == gate.Denied:
		return answer("rejected", "honua-gitops: "+dec.Description)
	case blackout(v) != nil:
		// A blackout lasts days: the job is not left waiting through it.
		// The App's deployment waits; when the blackout ends and it still
		// needs a review, a new gate run asks for it.
		f := blackout(v)
		return answer("rejected", "honua-gitops: "+f.Message+"; the App asks for review again when it ends")
	case v.Gated():
		// A window or a soak: the answer waits for it (Sweep answers).
		LoggerFrom(ctx).Info("protection rule waits for a gate of time", "repo", repo.String(), "run", runID, "env", env, "until", dec.Until)
		return nil
	}
	return answer("approved", fmt.Sprintf("honua-gitops: the deployment policy (%s) allows deploying %s to %s", shortDigest(st.ev.report.PolicyDigest), short(ref.sha), env))
}

// blackout is the verdict's blackout gate, if one holds the deployment.
func blackout(v policy.Verdict) *policy.Finding {
	for i := range v.Deny {
		if v.Deny[i].Gate == policy.GateBlackout {
			return &v.Deny[i]
		}
	}
	return nil
}

// listGateRuns lists repo's runs of the gate workflow (newest first, one
// page of opts); none when the repository has no gate workflow (the
// App-enforced mode).
func (a *App) listGateRuns(ctx context.Context, gh *github.Client, repo repoName, opts *github.ListWorkflowRunsOptions) ([]*github.WorkflowRun, error) {
	runs, _, err := gh.Actions.ListWorkflowRunsByFileName(ctx, repo.Owner, repo.Name, gateWorkflowFile, opts)
	if err != nil {
		var ge *github.ErrorResponse
		if errors.As(err, &ge) && ge.Response != nil && ge.Response.StatusCode == http.StatusNotFound {
			return nil, nil
		}
		return nil, fmt.Errorf("listing gate runs: %w", err)
	}
	return runs.WorkflowRuns, nil
}

// maxGateRuns bounds the gate runs the App dispatches for one deployment:
// past it, something keeps ending them without a decision, and asking
// again would only spend the rate limit.
const maxGateRuns = 10

// gateRuns counts the gate runs of deployment id among the latest 100,
// and those not completed yet.
func (a *App) gateRuns(ctx context.Context, gh *github.Client, repo repoName, id int64) (all, active int, err error) {
	runs, err := a.listGateRuns(ctx, gh, repo, &github.ListWorkflowRunsOptions{Event: "workflow_dispatch", ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		return 0, 0, err
	}
	for _, r := range runs {
		if ref, ok := parseGateTitle(r.GetDisplayTitle()); ok && ref.deploymentID == id {
			all++
			if r.GetStatus() != "completed" {
				active++
			}
		}
	}
	return all, active, nil
}

// reviewAgain dispatches a new gate run for the App's deployment d of env
// unless one is still active (another would only ask twice), or
// maxGateRuns were dispatched already.
func (a *App) reviewAgain(ctx context.Context, gh *github.Client, repo repoName, env string, d *github.Deployment) error {
	all, active, err := a.gateRuns(ctx, gh, repo, d.GetID())
	if err != nil || active > 0 {
		return err
	}
	if all >= maxGateRuns {
		LoggerFrom(ctx).Warn("not asking for review again", "repo", repo.String(), "deployment", d.GetID(), "gate_runs", all)
		return nil
	}
	return a.requestReview(ctx, gh, repo, "", env, d)
}

// sweepProtectionRules answers the App's protection rules that wait on a
// gate of time which has opened since: every gate run of repo still
// waiting is looked at again (GitHub answers 422 for one that no longer
// waits on the App, which is fine).
func (a *App) sweepProtectionRules(ctx context.Context, inst int64, gh *github.Client, repo repoName) error {
	runs, err := a.listGateRuns(ctx, gh, repo, &github.ListWorkflowRunsOptions{Status: "waiting", ListOptions: github.ListOptions{PerPage: 50}})
	if err != nil {
		return err
	}
	var errs []error
	for _, run := range runs {
		ref, ok := parseGateTitle(run.GetDisplayTitle())
		if !ok {
			continue
		}
		err := a.answerProtectionRule(ctx, inst, gh, repo, run.GetID(), ref.env)
		var ge *github.ErrorResponse
		if errors.As(err, &ge) && ge.Response != nil && ge.Response.StatusCode == http.StatusUnprocessableEntity {
			continue // nothing of the App's waits there
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// shortDigest is a policy digest as the check runs show it.
func shortDigest(d string) string {
	if h, ok := strings.CutPrefix(d, "sha256:"); ok && len(h) > 12 {
		return "sha256:" + h[:12]
	}
	return d
}
