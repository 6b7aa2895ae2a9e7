package app

import (
	"context"
	"encoding/json"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/checks"
)

// onDeploymentStatus follows what the runner reports: honua/deploy (<env>)
// shows the state, and the pull request gets one comment when the
// deployment succeeds or fails. A success may also let other deployments
// of the commit through their promotion rule (the sweeper moves them once
// their soak ends).
func (a *App) onDeploymentStatus(ctx context.Context, ev Event) error {
	e, ok := ev.Payload.(*github.DeploymentStatusEvent)
	if !ok {
		return nil
	}
	d, s := e.GetDeployment(), e.GetDeploymentStatus()
	if !a.ownDeployment(d) {
		return nil
	}
	state := s.GetState()
	switch state {
	case "in_progress", "success", "failure", "error":
	default:
		return nil // pending, queued, inactive: the App's own
	}
	repo, err := parseRepo(e.GetRepo().GetFullName())
	if err != nil {
		return err
	}
	gh, err := a.clients.Installation(ctx, ev.InstallationID)
	if err != nil {
		return err
	}
	env, sha := d.GetEnvironment(), d.GetSHA()
	o, okOrder := a.readOrder(d)
	run := checks.DeployRun(checks.Deploy{
		Env: env, SHA: sha, State: runnerState(state), Description: s.GetDescription(),
		LogURL: s.GetLogURL(), EnvironmentURL: s.GetEnvironmentURL(),
		Rollback: d.GetTask() == taskRollback, RollbackOf: o.RollbackOf,
	})
	runs, err := a.runsOnRef(ctx, gh, repo, sha)
	if err != nil {
		return err
	}
	existing := runs[deployRunName(env)]
	if state == "in_progress" && existing.GetStatus() == "completed" {
		// Deliveries come in any order: progress that arrives after the
		// outcome it led to must not make a finished deployment look like
		// it is running again. (A new deployment of the commit starts with a
		// queued run of its own, which is not completed.)
		return nil
	}
	if _, err := a.publish(ctx, gh, repo, sha, existing, run); err != nil {
		return err
	}
	if state == "in_progress" || !okOrder || o.PR == 0 {
		return nil
	}
	// One comment per outcome: a redelivered status finds its comment.
	comments, err := a.comments(ctx, gh, repo, o.PR)
	if err != nil {
		return err
	}
	if a.announced(comments, s.GetID()) {
		return nil
	}
	body := checks.DeployResultComment(env, sha, runnerState(state), s.GetDescription(), s.GetLogURL())
	return a.comment(ctx, gh, repo, o.PR, body+"\n"+checks.Marker(statusKind, map[string]int64{"status": s.GetID()}))
}

// statusKind marks the App's comment on a deployment's outcome.
const statusKind = "status"

func (a *App) announced(comments []*github.IssueComment, id int64) bool {
	for _, c := range comments {
		if !a.isBot(c.GetUser().GetLogin()) {
			continue
		}
		for _, m := range checks.ParseMarkers(c.GetBody()) {
			var v struct {
				Status int64 `json:"status"`
			}
			if m.Kind == statusKind && json.Unmarshal(m.JSON, &v) == nil && v.Status == id {
				return true
			}
		}
	}
	return false
}

// runnerState maps a deployment status set by the runner to the deploy
// run's state.
func runnerState(s string) checks.DeployState {
	switch s {
	case "in_progress":
		return checks.DeployInProgress
	case "success":
		return checks.DeploySuccess
	case "error":
		return checks.DeployError
	}
	return checks.DeployFailure
}

// readOrder reads the App's signed order of a deployment.
func (a *App) readOrder(d *github.Deployment) (orderView, bool) {
	raw, err := json.Marshal(d.Payload)
	if err != nil {
		return orderView{}, false
	}
	o, err := a.verifyOrder(raw, d.GetCreatedAt().Time)
	if err != nil {
		return orderView{}, false
	}
	return orderView{PR: o.PR, RollbackOf: o.RollbackOf}, true
}

type orderView struct {
	PR         int
	RollbackOf string
}
