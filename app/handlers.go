package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-github/v66/github"
)

// Register registers the App's handler of each event it subscribes to on
// s. Other events are acknowledged and ignored by the server.
func (a *App) Register(s *Server) {
	s.Handle("pull_request", HandlerFunc(a.onPullRequest))
	s.Handle("pull_request_review", HandlerFunc(a.onReview))
	s.Handle("issue_comment", HandlerFunc(a.onComment))
	s.Handle("check_run", HandlerFunc(a.onCheckRun))
	s.Handle("check_suite", HandlerFunc(a.onCheckSuite))
	s.Handle("push", HandlerFunc(a.onPush))
	s.Handle("deployment_status", HandlerFunc(a.onDeploymentStatus))
	s.Handle("workflow_run", HandlerFunc(a.onWorkflowRun))
	s.Handle("deployment_review", HandlerFunc(a.onDeploymentReview))
	s.Handle("deployment_protection_rule", HandlerFunc(a.onDeploymentProtectionRule))
}

// onPullRequest plans a pull request when its head, base, labels or
// readiness change, and deploys it when it is merged.
func (a *App) onPullRequest(ctx context.Context, ev Event) error {
	e, ok := ev.Payload.(*github.PullRequestEvent)
	if !ok {
		return nil
	}
	repo, err := parseRepo(e.GetRepo().GetFullName())
	if err != nil {
		return err
	}
	pr := e.GetPullRequest()
	switch ev.Action {
	case "opened", "synchronize", "reopened", "ready_for_review", "labeled", "unlabeled":
		if pr.GetState() != "open" {
			return nil
		}
		return a.planPR(ctx, ev.InstallationID, repo, pr)
	case "edited":
		// Only a new base changes the plan.
		if e.GetChanges().GetBase() == nil || pr.GetState() != "open" {
			return nil
		}
		return a.planPR(ctx, ev.InstallationID, repo, pr)
	case "closed":
		if !pr.GetMerged() || pr.GetMergeCommitSHA() == "" {
			return nil
		}
		if pr.GetBase().GetRef() != e.GetRepo().GetDefaultBranch() {
			return nil // merged into another branch: nothing deploys
		}
		return a.deployMerge(ctx, ev.InstallationID, mergeInfo{repo: repo, sha: pr.GetMergeCommitSHA(), pull: prView(repo, pr)})
	}
	return nil
}

// onPush deploys a commit pushed to the default branch. A merge commit's
// pull request is looked up, so that its approvals and labels count
// whichever of push and pull_request arrives first.
func (a *App) onPush(ctx context.Context, ev Event) error {
	e, ok := ev.Payload.(*github.PushEvent)
	if !ok {
		return nil
	}
	repo, err := parseRepo(e.GetRepo().GetFullName())
	if err != nil {
		return err
	}
	if e.GetDeleted() || e.GetRef() != "refs/heads/"+e.GetRepo().GetDefaultBranch() {
		return nil
	}
	m := mergeInfo{repo: repo, sha: e.GetAfter(), lookupPR: true, branch: e.GetRepo().GetDefaultBranch()}
	if b := e.GetBefore(); b != "" && strings.Trim(b, "0") != "" {
		m.parent = b
	}
	return a.deployMerge(ctx, ev.InstallationID, m)
}

// checkRunPayload is the part of a check_run delivery the App reads. It
// is decoded from the raw body: go-github cannot decode some genuine
// deliveries (an app.created_at without a time zone), and the App must
// still act on them.
type checkRunPayload struct {
	Action   string `json:"action"`
	CheckRun struct {
		ID         int64  `json:"id"`
		Name       string `json:"name"`
		HeadSHA    string `json:"head_sha"`
		ExternalID string `json:"external_id"`
		App        struct {
			ID int64 `json:"id"`
		} `json:"app"`
		PullRequests []struct {
			Number int `json:"number"`
		} `json:"pull_requests"`
	} `json:"check_run"`
	RequestedAction struct {
		Identifier string `json:"identifier"`
	} `json:"requested_action"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
}

// onCheckRun handles the Approve and Reject buttons of honua/deploy and
// "Re-run" of the App's runs. Other Apps' runs are not its business.
func (a *App) onCheckRun(ctx context.Context, ev Event) error {
	var e checkRunPayload
	if err := json.Unmarshal(ev.Raw, &e); err != nil {
		return fmt.Errorf("reading a check_run delivery: %w", err)
	}
	if e.CheckRun.App.ID != a.appID {
		return nil
	}
	repo, err := parseRepo(e.Repository.FullName)
	if err != nil {
		return err
	}
	name := e.CheckRun.Name
	switch e.Action {
	case "requested_action":
		env, ok := deployRunEnv(name)
		if !ok {
			return nil
		}
		switch e.RequestedAction.Identifier {
		case "approve":
			return a.approveDeployment(ctx, ev.InstallationID, repo, e.CheckRun.HeadSHA, env, ev.Sender, "button", 0)
		case "reject":
			return a.rejectDeployment(ctx, ev.InstallationID, repo, e.CheckRun.HeadSHA, env, ev.Sender, "button", "rejected with the Reject button", 0)
		}
	case "rerequested":
		if env, ok := deployRunEnv(name); ok {
			return a.reevaluate(ctx, ev.InstallationID, repo, e.CheckRun.HeadSHA, env)
		}
		// Any other run of the App is one of a pull request's: plan it
		// again. GitHub lists the run's pull requests; when it lists none
		// (a fork's, or an old delivery), they are looked up by commit.
		numbers := make([]int, 0, len(e.CheckRun.PullRequests))
		for _, pr := range e.CheckRun.PullRequests {
			numbers = append(numbers, pr.Number)
		}
		if len(numbers) == 0 {
			found, err := a.openPullsOf(ctx, ev.InstallationID, repo, e.CheckRun.HeadSHA)
			if err != nil {
				return err
			}
			numbers = found
		}
		for _, n := range numbers {
			if err := a.replan(ctx, ev.InstallationID, repo, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// onCheckSuite re-plans the pull requests of a suite whose "Re-run all" was
// clicked. check_suite.requested is not used to notice pushes: GitHub sends
// about one per commit, and push and pull_request say more.
func (a *App) onCheckSuite(ctx context.Context, ev Event) error {
	if ev.Action != "rerequested" {
		return nil
	}
	var e struct {
		CheckSuite struct {
			App struct {
				ID int64 `json:"id"`
			} `json:"app"`
			PullRequests []struct {
				Number int `json:"number"`
			} `json:"pull_requests"`
		} `json:"check_suite"`
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(ev.Raw, &e); err != nil {
		return fmt.Errorf("reading a check_suite delivery: %w", err)
	}
	if e.CheckSuite.App.ID != a.appID {
		return nil
	}
	repo, err := parseRepo(e.Repository.FullName)
	if err != nil {
		return err
	}
	for _, pr := range e.CheckSuite.PullRequests {
		if err := a.replan(ctx, ev.InstallationID, repo, pr.Number); err != nil {
			return err
		}
	}
	return nil
}

// replan plans an open pull request again at its current head.
func (a *App) replan(ctx context.Context, inst int64, repo repoName, number int) error {
	gh, err := a.clients.Installation(ctx, inst)
	if err != nil {
		return err
	}
	pr, _, err := gh.PullRequests.Get(ctx, repo.Owner, repo.Name, number)
	if err != nil {
		return fmt.Errorf("reading %s#%d: %w", repo, number, err)
	}
	if pr.GetState() != "open" {
		return nil
	}
	return a.planPR(withRerun(ctx), inst, repo, pr)
}

// deployRunEnv reads the environment of a honua/deploy (<env>) run's name.
func deployRunEnv(name string) (string, bool) {
	env, ok := strings.CutPrefix(name, "honua/deploy (")
	if !ok {
		return "", false
	}
	env, ok = strings.CutSuffix(env, ")")
	return env, ok && env != ""
}

// openPullsOf lists the open pull requests whose head is sha.
func (a *App) openPullsOf(ctx context.Context, inst int64, repo repoName, sha string) ([]int, error) {
	gh, err := a.clients.Installation(ctx, inst)
	if err != nil {
		return nil, err
	}
	prs, _, err := gh.PullRequests.ListPullRequestsWithCommit(ctx, repo.Owner, repo.Name, sha, nil)
	if err != nil {
		return nil, fmt.Errorf("finding the pull requests of %s@%s: %w", repo, short(sha), err)
	}
	var out []int
	for _, pr := range prs {
		if pr.GetState() == "open" && pr.GetHead().GetSHA() == sha {
			out = append(out, pr.GetNumber())
		}
	}
	return out, nil
}
