package app

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// gateMode commits the gate workflow and a policy that approves production
// in GitHub's dialog (the repository's mode) and staging with the App's
// buttons (its own), to main.
func (e *e2e) gateMode() {
	e.t.Helper()
	pol, err := os.ReadFile("../samples/config/.gitops/deployment-policy.yaml")
	if err != nil {
		e.t.Fatal(err)
	}
	p := strings.Replace(string(pol), "  staging:\n", "  staging:\n    approvals: app\n", 1)
	p += "\napprovals: github-environment\n"
	if _, err := e.sim.Push(e.ctx, e2eRepo, "main", "mkalani", "Approve production in GitHub's dialog",
		githubsim.FileChange{Path: GateWorkflowPath, Content: GateWorkflow},
		githubsim.FileChange{Path: ".gitops/deployment-policy.yaml", Content: []byte(p)}); err != nil {
		e.t.Fatal(err)
	}
	e.flush()
}

// gateRuns are the gate runs of the App's deployment id.
func (e *e2e) gateRuns(id int64) []githubsim.WorkflowRun {
	var out []githubsim.WorkflowRun
	for _, r := range e.sim.WorkflowRuns(e2eRepo) {
		if r.WorkflowPath == GateWorkflowPath && r.Inputs["deployment_id"] == strconv.FormatInt(id, 10) {
			out = append(out, r)
		}
	}
	return out
}

// review gives a review in GitHub's dialog of run.
func (e *e2e) review(runID int64, login, state, comment string) error {
	e.t.Helper()
	err := e.sim.ReviewPendingDeployments(e2eRepo, runID, login, []string{"production"}, state, comment)
	e.flush()
	return err
}

// TestReviewInGitHubDialog: production is approved in GitHub's own
// dialog. The merge dispatches a gate run and links it; GitHub refuses a
// non-reviewer; the App refuses the author's own approval (the policy
// forbids it) and asks again with a new gate run; /approve is pointed at
// the dialog; a lead's approval queues the deployment. Staging, in the
// App's mode on the same repository, still has its buttons. GitHub's own
// deployments for the gate jobs are not the App's.
func TestReviewInGitHubDialog(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	e.gateMode()
	n, _ := e.openPR("bike-lanes", "kai", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	merge := e.merge(n, "bob")

	// Staging: the App's buttons.
	if r, _ := e.run(merge, "honua/deploy (staging)"); len(r.Actions) != 2 {
		t.Errorf("staging (approvals: app) has no buttons: %+v", r.Actions)
	}
	e.click(merge, "staging", "approve", "ana")
	e.report(merge, "staging", "success", "deployed")
	e.clock.Advance(3 * 60 * 60 * 1e9) // production's 2h soak after staging

	// Production: a gate run, linked from the deployment and the PR.
	prod := e.deployments(merge)["production"][0]
	runs := e.gateRuns(prod.ID)
	if len(runs) != 1 || runs[0].Inputs["environment"] != "production" || runs[0].Inputs["sha"] != merge || !strings.HasPrefix(runs[0].Inputs["order_digest"], "sha256:") {
		t.Fatalf("gate runs for production: %+v", runs)
	}
	first := runs[0]
	st, desc := e.state(merge, "production")
	if st != "pending" || !strings.HasPrefix(desc, "waiting for review in GitHub") {
		t.Errorf("production: %s %q, want pending, waiting for review in GitHub", st, desc)
	}
	if d := e.deployments(merge)["production"][0]; !strings.Contains(d.LogURL, "/actions/runs/"+strconv.FormatInt(first.ID, 10)) {
		t.Errorf("the deployment does not link the gate run: %q", d.LogURL)
	}
	if r, _ := e.run(merge, "honua/deploy (production)"); len(r.Actions) != 0 || !strings.Contains(r.Summary, "Review deployments") {
		t.Errorf("production's deploy run: buttons %v, summary %q", r.Actions, r.Summary)
	}
	if cs := e.botComments(n); !strings.Contains(strings.Join(cs, "\n"), "waiting for review in GitHub") {
		t.Errorf("no PR comment links the review")
	}
	githubMade := 0
	for _, d := range e.sim.Deployments(e2eRepo) {
		if d.Creator == "github-actions[bot]" && d.Environment == "production" {
			githubMade++
		}
	}
	if githubMade != 1 || len(e.deployments(merge)["production"]) != 1 {
		t.Errorf("GitHub's deployments for the gate job: %d; the App's: %d", githubMade, len(e.deployments(merge)["production"]))
	}

	// /approve is pointed at the dialog.
	e.comment(n, "lkeawe", "/approve production")
	if cs := e.botComments(n); !strings.Contains(cs[len(cs)-1], "Review deployments dialog") {
		t.Errorf("/approve in the dialog's mode: %q", cs[len(cs)-1])
	}
	if st, _ := e.state(merge, "production"); st != "pending" {
		t.Fatalf("production after /approve: %s", st)
	}

	// GitHub refuses a non-reviewer.
	if err := e.review(first.ID, "bob", "approved", ""); !errors.Is(err, githubsim.ErrNotReviewer) {
		t.Errorf("bob's review: %v, want GitHub's not-a-reviewer refusal", err)
	}
	// kai, a lead, wrote the change: GitHub lets him approve (the App
	// dispatched the run), the App's policy does not, and asks again.
	if err := e.review(first.ID, "kai", "approved", "lgtm"); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.state(merge, "production"); st != "pending" {
		t.Fatalf("production after the author's own approval: %s", st)
	}
	if cs := e.botComments(n); !strings.Contains(cs[len(cs)-1], "kai") {
		t.Errorf("the refusal of kai's approval does not say why: %q", cs[len(cs)-1])
	}
	runs = e.gateRuns(prod.ID)
	if len(runs) != 2 || runs[1].Status == "completed" {
		t.Fatalf("after a refused approval: %d gate runs %+v, want a second, waiting", len(runs), runs)
	}
	// lkeawe approves the new run in the dialog: the deployment is queued.
	if err := e.review(runs[1].ID, "lkeawe", "approved", "ship it"); err != nil {
		t.Fatal(err)
	}
	st, desc = e.state(merge, "production")
	if st != "queued" || !strings.Contains(desc, "lkeawe") {
		t.Fatalf("production after lkeawe's approval: %s %q, want queued", st, desc)
	}
	if r, _ := e.run(merge, "honua/deploy (production)"); !strings.Contains(r.Summary, "github-environment") {
		t.Errorf("the deploy run does not say where the approval came from: %q", r.Summary)
	}
	// The runner applies the App's deployment, not GitHub's own.
	r, honua := e.runner("production")
	if err := r.Poll(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.flush()
	if st, desc := e.state(merge, "production"); st != "success" || !strings.Contains(string(honua.Loaded()), `"bike-lanes"`) {
		t.Errorf("production after the runner: %s %q", st, desc)
	}
	for _, d := range e.sim.Deployments(e2eRepo) {
		if d.Creator == "github-actions[bot]" && contains(d.States, "in_progress") && len(d.Descriptions) > 0 && strings.Contains(strings.Join(d.Descriptions, " "), "kailua-dc1") {
			t.Errorf("the runner claimed GitHub's gate deployment %d: %v", d.ID, d.Descriptions)
		}
	}
	// Redelivered, the review does nothing more.
	before := len(e.botComments(n))
	for _, d := range e.sim.DeliveriesOf("deployment_review", "approved") {
		if err := e.sim.Redeliver(d.ID); err != nil {
			t.Fatal(err)
		}
	}
	e.flush()
	if after := len(e.botComments(n)); after != before {
		t.Errorf("redelivered webhooks wrote %d more comments", after-before)
	}
}

// TestReviewInGitHubRejectAndSuperseded: a rejection in the dialog fails
// the deployment with the reviewer's words; an approval of a gate run
// whose deployment a newer merge superseded does nothing, and says why.
func TestReviewInGitHubRejectAndSuperseded(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	e.gateMode()
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	merge := e.merge(n, "bob")
	prod := e.deployments(merge)["production"][0]
	runs := e.gateRuns(prod.ID)
	if len(runs) != 1 {
		t.Fatalf("%d gate runs", len(runs))
	}
	if err := e.review(runs[0].ID, "lkeawe", "rejected", "wait for the assessor"); err != nil {
		t.Fatal(err)
	}
	if st, desc := e.state(merge, "production"); st != "failure" || !strings.Contains(desc, "rejected by lkeawe: wait for the assessor") {
		t.Errorf("production after the rejection: %s %q", st, desc)
	}

	// A second change supersedes the first's production deployment before
	// its (new) gate run is reviewed.
	n2, _ := e.openPR("bike-lanes-2", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": strings.Replace(bikeLanes, "title: Bike lanes", "title: Bike lanes and paths", 1)})
	merge2 := e.merge(n2, "bob")
	prod2 := e.deployments(merge2)["production"][0]
	runs2 := e.gateRuns(prod2.ID)
	n3, _ := e.openPR("bike-lanes-3", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": strings.Replace(bikeLanes, "title: Bike lanes", "title: Bike routes", 1)})
	e.merge(n3, "bob")
	if err := e.svc.app.Sweep(e.ctx, e.svc.clients); err != nil {
		t.Fatal(err)
	}
	if err := e.review(runs2[0].ID, "lkeawe", "approved", ""); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.state(merge2, "production"); st == "queued" {
		t.Errorf("a superseded deployment was queued by its late gate approval")
	}
	cs := e.botComments(n2)
	if !strings.Contains(cs[len(cs)-1], "nothing to approve") && !strings.Contains(cs[len(cs)-1], "does nothing") {
		t.Errorf("the late approval is not answered with why: %q", cs[len(cs)-1])
	}
}

// protectedByApp makes the App production's custom deployment protection
// rule, beside its required reviewers.
func (e *e2e) protectedByApp() {
	e.t.Helper()
	slug := strings.TrimSuffix(e.sim.BotLogin(), "[bot]")
	if err := e.sim.SetEnvironment(e2eRepo, githubsim.Environment{Name: "production", PreventSelfReview: true, CustomRules: []string{slug},
		Reviewers: []githubsim.Reviewer{{Type: "Team", Name: "kailua-gis/gis-leads"}, {Type: "User", Name: "lkeawe"}}}); err != nil {
		e.t.Fatal(err)
	}
}

// gateRun is the gate run id, as the emulator has it now.
func (e *e2e) gateRun(id int64) githubsim.WorkflowRun {
	for _, r := range e.sim.WorkflowRuns(e2eRepo) {
		if r.ID == id {
			return r
		}
	}
	e.t.Fatalf("no run %d", id)
	return githubsim.WorkflowRun{}
}

// TestProtectionRuleWaitsForTheWindow: with the App as production's
// protection rule, a gate run on a Monday (production's windows are
// Tuesday to Thursday) waits on the App even after a reviewer approved;
// when the window opens, the sweeper approves the rule and the job runs,
// and the App's deployment is queued.
func TestProtectionRuleWaitsForTheWindow(t *testing.T) {
	monday := nextTuesday10HST(time.Now()).AddDate(0, 0, 6)
	e := newE2E(t, e2eOptions{start: monday})
	e.gateMode()
	e.protectedByApp()
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	merge := e.merge(n, "bob")
	e.click(merge, "staging", "approve", "ana")
	e.report(merge, "staging", "success", "deployed")
	prod := e.deployments(merge)["production"][0]
	runs := e.gateRuns(prod.ID)
	if len(runs) != 1 {
		t.Fatalf("%d gate runs", len(runs))
	}
	if got := len(e.sim.DeliveriesOf("deployment_protection_rule", "requested")); got != 1 {
		t.Fatalf("%d protection-rule requests, want 1", got)
	}
	if err := e.review(runs[0].ID, "lkeawe", "approved", ""); err != nil {
		t.Fatal(err)
	}
	if r := e.gateRun(runs[0].ID); r.Status == "completed" {
		t.Fatalf("the gate run went on on a Monday: %+v", r)
	}
	if st, desc := e.state(merge, "production"); st != "pending" || !strings.Contains(desc, "window") {
		t.Errorf("production on Monday: %s %q, want pending for the window", st, desc)
	}
	// Tuesday 10:00: the window is open, the soak over, lkeawe's approval
	// (24h approvalExpiry) still counts.
	e.clock.Advance(24 * time.Hour)
	if err := e.svc.app.Sweep(e.ctx, e.svc.clients); err != nil {
		t.Fatal(err)
	}
	e.flush()
	if err := e.sim.AdvanceActions(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.flush()
	if r := e.gateRun(runs[0].ID); r.Status != "completed" || r.Conclusion != "success" {
		t.Errorf("the gate run after the window opened: %s %s, want completed success", r.Status, r.Conclusion)
	}
	if st, desc := e.state(merge, "production"); st != "queued" {
		t.Errorf("production on Tuesday: %s %q, want queued", st, desc)
	}
}

// TestProtectionRuleRejectsDuringABlackout: during a blackout the App's
// rule rejects the gate job (it would wait for days) with the blackout's
// reason; when the blackout ends the App asks for review again, approves
// the new run's rule, and a reviewer's approval queues the deployment. A
// job of another workflow is rejected: the rule keeps production for the
// App's deployments.
func TestProtectionRuleRejectsDuringABlackout(t *testing.T) {
	start := nextTuesday10HST(time.Now())
	e := newE2E(t, e2eOptions{start: start})
	day := start.In(mustZone(t, "Pacific/Honolulu")).Format("2006-01-02")
	pol, err := os.ReadFile("../samples/config/.gitops/deployment-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := strings.Replace(string(pol), "      blackoutPeriods:\n", "      blackoutPeriods:\n        - name: Map drill\n          startDate: "+day+"\n          endDate: "+day+"\n          reason: Emergency-management drill.\n", 1)
	p = strings.Replace(p, "  staging:\n", "  staging:\n    approvals: app\n", 1) + "\napprovals: github-environment\n"
	if _, err := e.sim.Push(e.ctx, e2eRepo, "main", "mkalani", "Drill; dialog approvals",
		githubsim.FileChange{Path: GateWorkflowPath, Content: GateWorkflow},
		githubsim.FileChange{Path: ".gitops/deployment-policy.yaml", Content: []byte(p)},
		githubsim.FileChange{Path: ".github/workflows/other.yml", Content: []byte("name: other\non: workflow_dispatch\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    environment: production\n    steps:\n      - run: echo hi\n")}); err != nil {
		t.Fatal(err)
	}
	e.flush()
	e.protectedByApp()
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	merge := e.merge(n, "bob")
	e.click(merge, "staging", "approve", "ana")
	e.report(merge, "staging", "success", "deployed")
	prod := e.deployments(merge)["production"][0]
	runs := e.gateRuns(prod.ID)
	if len(runs) != 1 {
		t.Fatalf("%d gate runs", len(runs))
	}
	if r := e.gateRun(runs[0].ID); r.Status != "completed" || r.Conclusion != "failure" {
		t.Errorf("the gate run during the blackout: %s %s, want rejected (failure)", r.Status, r.Conclusion)
	}
	if st, desc := e.state(merge, "production"); st != "pending" {
		t.Errorf("production during the blackout: %s %q, want pending", st, desc)
	}
	// Another workflow's job to production is rejected by the rule.
	otherID, err := e.sim.DispatchWorkflow(e.ctx, e2eRepo, "other.yml", "main", "mkalani", nil)
	if err != nil {
		t.Fatal(err)
	}
	e.flush()
	if r := e.gateRun(otherID); r.Conclusion != "failure" {
		t.Errorf("another workflow's production job: %s %s, want rejected", r.Status, r.Conclusion)
	}
	// Wednesday 10:00: the blackout is over; the sweeper asks again.
	e.clock.Advance(24 * time.Hour)
	if err := e.svc.app.Sweep(e.ctx, e.svc.clients); err != nil {
		t.Fatal(err)
	}
	e.flush()
	runs = e.gateRuns(prod.ID)
	if len(runs) != 2 {
		t.Fatalf("after the blackout: %d gate runs, want a second", len(runs))
	}
	if err := e.review(runs[1].ID, "lkeawe", "approved", ""); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.AdvanceActions(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.flush()
	if r := e.gateRun(runs[1].ID); r.Status != "completed" || r.Conclusion != "success" {
		t.Errorf("the second gate run: %s %s, want completed success", r.Status, r.Conclusion)
	}
	if st, desc := e.state(merge, "production"); st != "queued" {
		t.Errorf("production after the blackout and the approval: %s %q, want queued", st, desc)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestMissedGateReviewIsSwept: a review given in GitHub's dialog while the
// App was down (its deployment_review webhook lost) is found by the
// sweeper in the run's approvals, and acted on once.
func TestMissedGateReviewIsSwept(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	e.gateMode()
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	merge := e.merge(n, "bob")
	e.click(merge, "staging", "approve", "ana")
	e.report(merge, "staging", "success", "deployed")
	e.clock.Advance(3 * time.Hour)
	prod := e.deployments(merge)["production"][0]
	runs := e.gateRuns(prod.ID)
	if len(runs) != 1 {
		t.Fatalf("%d gate runs", len(runs))
	}
	e.down.Store(true)
	if err := e.review(runs[0].ID, "lkeawe", "approved", "ok"); err != nil {
		t.Fatal(err)
	}
	e.down.Store(false)
	if st, _ := e.state(merge, "production"); st != "pending" {
		t.Fatalf("production while the App was down: %s", st)
	}
	for range 2 { // a second sweep finds nothing more to do
		if err := e.svc.app.Sweep(e.ctx, e.svc.clients); err != nil {
			t.Fatal(err)
		}
		e.flush()
	}
	if st, desc := e.state(merge, "production"); st != "queued" || !strings.Contains(desc, "lkeawe") {
		t.Errorf("production after the sweep: %s %q, want queued, approved by lkeawe", st, desc)
	}
	records := 0
	for _, c := range e.botComments(n) {
		if strings.Contains(c, "lkeawe") && strings.Contains(c, "approved deploying") {
			records++
		}
	}
	if records != 1 {
		t.Errorf("%d approval records for lkeawe, want 1", records)
	}
	if got := len(e.gateRuns(prod.ID)); got != 1 {
		t.Errorf("%d gate runs, want 1: the sweeper asked again for a review it had", got)
	}
}

// TestGateWaitTimer: production's wait timer holds both GitHub's gate job
// (counted from when the job reached the environment, as GitHub does) and
// the App's deployment (counted from the approval: at least the timer
// between the approval and the deployment); both go on once it ran out.
func TestGateWaitTimer(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	e.gateMode()
	if err := e.sim.SetEnvironment(e2eRepo, githubsim.Environment{Name: "production", PreventSelfReview: true, WaitTimer: 200,
		Reviewers: []githubsim.Reviewer{{Type: "Team", Name: "kailua-gis/gis-leads"}, {Type: "User", Name: "lkeawe"}}}); err != nil {
		t.Fatal(err)
	}
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	merge := e.merge(n, "bob")
	e.click(merge, "staging", "approve", "ana")
	e.report(merge, "staging", "success", "deployed")
	e.clock.Advance(2*time.Hour + time.Minute) // the soak; 12:01, inside the window
	prod := e.deployments(merge)["production"][0]
	runs := e.gateRuns(prod.ID)
	if err := e.review(runs[0].ID, "lkeawe", "approved", ""); err != nil {
		t.Fatal(err)
	}
	if st, desc := e.state(merge, "production"); st != "pending" || !strings.Contains(desc, "wait timer") {
		t.Errorf("production just after the approval: %s %q, want pending on the wait timer", st, desc)
	}
	if r := e.gateRun(runs[0].ID); r.Status == "completed" {
		t.Errorf("GitHub ran the gate job before its wait timer: %+v", r)
	}
	e.clock.Advance(201 * time.Minute) // 15:22: both timers ran out, the window is open
	if err := e.sim.AdvanceActions(e.ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.app.Sweep(e.ctx, e.svc.clients); err != nil {
		t.Fatal(err)
	}
	e.flush()
	if st, desc := e.state(merge, "production"); st != "queued" {
		t.Errorf("production after the wait timer: %s %q, want queued", st, desc)
	}
	if r := e.gateRun(runs[0].ID); r.Status != "completed" || r.Conclusion != "success" {
		t.Errorf("the gate job after its wait timer: %s %s", r.Status, r.Conclusion)
	}
}

// TestHandDispatchedGateDoesNothing: someone with write access dispatches
// the gate workflow by hand for the App's deployment with another order
// digest; a reviewer's approval of that run does nothing, and the pull
// request is told why.
func TestHandDispatchedGateDoesNothing(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	e.gateMode()
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	merge := e.merge(n, "bob")
	prod := e.deployments(merge)["production"][0]
	id, err := e.sim.DispatchWorkflow(e.ctx, e2eRepo, "honua-gate.yml", "main", "bob", map[string]string{
		"environment": "production", "sha": merge, "deployment_id": strconv.FormatInt(prod.ID, 10),
		"order_digest": "sha256:" + strings.Repeat("0", 64),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.flush()
	if err := e.review(id, "lkeawe", "approved", ""); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.state(merge, "production"); st != "pending" {
		t.Errorf("production after an approval of a hand-made gate run: %s, want pending", st)
	}
	cs := e.botComments(n)
	if last := cs[len(cs)-1]; !strings.Contains(last, "does nothing") || !strings.Contains(last, "another deploy order") {
		t.Errorf("the approval is not answered with why: %q", last)
	}
}
