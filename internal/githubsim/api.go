package githubsim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// routes registers the REST surface. Patterns use GitHub's own path
// templates so fault and counter keys read like the documentation.
func (s *Server) routes() {
	// The App's own endpoints take its JWT (see appRoutes).
	s.handle("GET /app", anyToken, s.handleGetApp)
	s.handle("GET /repos/{owner}/{repo}/installation", anyToken, s.handleRepoInstallation)
	s.handle("GET /app/installations", anyToken, s.handleListInstallations)
	s.handle("POST /app/installations/{installation_id}/access_tokens", anyToken, s.handleAccessToken)
	s.handle("GET /rate_limit", anyToken, s.handleRateLimit)
	s.handle("GET /installation/repositories", anyToken, s.handleInstallationRepos)

	s.handle("GET /repos/{owner}/{repo}", metadataRead, s.withRepo(s.handleGetRepo))
	s.handle("GET /repos/{owner}/{repo}/branches", contentsRead, s.withRepo(s.handleListBranches))
	s.handle("GET /repos/{owner}/{repo}/branches/{branch}", contentsRead, s.withRepo(s.handleGetBranch))
	s.handle("GET /repos/{owner}/{repo}/commits/{ref}", contentsRead, s.withRepo(s.handleGetCommit))
	s.handle("GET /repos/{owner}/{repo}/contents/{path}", contentsRead, s.withRepo(s.handleGetContents))

	s.handle("GET /repos/{owner}/{repo}/pulls", pullsRead, s.withRepo(s.handleListPulls))
	s.handle("GET /repos/{owner}/{repo}/pulls/{pull_number}", pullsRead, s.withRepo(s.handleGetPull))
	s.handle("GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls", pullsRead, s.withRepo(s.handleCommitPulls))
	s.handle("GET /repos/{owner}/{repo}/pulls/{pull_number}/files", pullsRead, s.withRepo(s.handlePullFiles))
	s.handle("GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews", pullsRead, s.withRepo(s.handleListReviews))
	s.handle("POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews", pullsWrite, s.withRepo(s.handleCreateReview))

	// Comments and labels of a pull request are its issue's: either
	// permission reaches them.
	s.handle("GET /repos/{owner}/{repo}/issues/{issue_number}/comments", issueOrPullRead, s.withRepo(s.handleListComments))
	s.handle("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", issueOrPullWrite, s.withRepo(s.handleCreateComment))
	s.handle("GET /repos/{owner}/{repo}/issues/comments/{comment_id}", issueOrPullRead, s.withRepo(s.handleGetComment))
	s.handle("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", issueOrPullWrite, s.withRepo(s.handleEditComment))
	s.handle("DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}", issueOrPullWrite, s.withRepo(s.handleDeleteComment))
	s.handle("GET /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", issueOrPullRead, s.withRepo(s.handleListReactions))
	s.handle("POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", issueOrPullWrite, s.withRepo(s.handleCreateReaction))
	s.handle("GET /repos/{owner}/{repo}/issues/{issue_number}/labels", issueOrPullRead, s.withRepo(s.handleListIssueLabels))

	s.handle("GET /repos/{owner}/{repo}/collaborators/{username}/permission", metadataRead, s.withRepo(s.handlePermission))
	s.handle("GET /orgs/{org}/teams/{team_slug}/memberships/{username}", membersRead, s.handleTeamMembership)

	s.handle("POST /repos/{owner}/{repo}/check-runs", checksWrite, s.withRepo(s.handleCreateCheckRun))
	s.handle("GET /repos/{owner}/{repo}/check-runs/{check_run_id}", checksRead, s.withRepo(s.handleGetCheckRun))
	s.handle("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", checksWrite, s.withRepo(s.handleUpdateCheckRun))
	s.handle("GET /repos/{owner}/{repo}/check-runs/{check_run_id}/annotations", checksRead, s.withRepo(s.handleListAnnotations))
	s.handle("POST /repos/{owner}/{repo}/check-runs/{check_run_id}/rerequest", checksWrite, s.withRepo(s.handleRerequestCheckRun))
	s.handle("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", checksRead, s.withRepo(s.handleListCheckRunsForRef))
	s.handle("GET /repos/{owner}/{repo}/check-suites/{check_suite_id}", checksRead, s.withRepo(s.handleGetCheckSuite))
	s.handle("POST /repos/{owner}/{repo}/check-suites/{check_suite_id}/rerequest", checksWrite, s.withRepo(s.handleRerequestCheckSuite))
	s.handle("GET /repos/{owner}/{repo}/commits/{ref}/check-suites", checksRead, s.withRepo(s.handleListCheckSuitesForRef))

	s.handle("POST /repos/{owner}/{repo}/deployments", deploymentsWrite, s.withRepo(s.handleCreateDeployment))
	s.handle("GET /repos/{owner}/{repo}/deployments", deploymentsRead, s.withRepo(s.handleListDeployments))
	s.handle("GET /repos/{owner}/{repo}/deployments/{deployment_id}", deploymentsRead, s.withRepo(s.handleGetDeployment))
	s.handle("POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses", deploymentsWrite, s.withRepo(s.handleCreateDeploymentStatus))
	s.handle("GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses", deploymentsRead, s.withRepo(s.handleListDeploymentStatuses))
	s.handle("GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses/{status_id}", deploymentsRead, s.withRepo(s.handleGetDeploymentStatus))
	s.handle("POST /repos/{owner}/{repo}/statuses/{sha}", statusesWrite, s.withRepo(s.handleCreateCommitStatus))
	s.handle("GET /repos/{owner}/{repo}/commits/{ref}/statuses", statusesRead, s.withRepo(s.handleListCommitStatuses))
	s.handle("GET /repos/{owner}/{repo}/commits/{ref}/status", statusesRead, s.withRepo(s.handleCombinedStatus))

	s.handle("GET /repos/{owner}/{repo}/environments", actionsRead, s.withRepo(s.handleListEnvironments))
	s.handle("GET /repos/{owner}/{repo}/environments/{environment_name}", actionsRead, s.withRepo(s.handleGetEnvironment))
	s.handle("GET /repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies", actionsRead, s.withRepo(s.handleListBranchPolicies))
	s.handle("GET /repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies/{branch_policy_id}", actionsRead, s.withRepo(s.handleGetBranchPolicy))
	s.handle("GET /repos/{owner}/{repo}/environments/{environment_name}/deployment_protection_rules", actionsRead, s.withRepo(s.handleListCustomRules))

	// GitHub Actions: workflows of the default branch, workflow_dispatch,
	// runs and jobs, and the environment gate (actions.go).
	s.handle("GET /repos/{owner}/{repo}/actions/workflows", actionsRead, s.withRepo(s.handleListWorkflows))
	s.handle("GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}", actionsRead, s.withRepo(s.handleGetWorkflow))
	s.handle("POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", actionsWrite, s.withRepo(s.handleDispatch))
	s.handle("GET /repos/{owner}/{repo}/actions/runs", actionsRead, s.withRepo(s.handleListRuns))
	s.handle("GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs", actionsRead, s.withRepo(s.handleListWorkflowRuns))
	s.handle("GET /repos/{owner}/{repo}/actions/runs/{run_id}", actionsRead, s.withRepo(s.handleGetRun))
	s.handle("GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs", actionsRead, s.withRepo(s.handleListJobs))
	s.handle("GET /repos/{owner}/{repo}/actions/runs/{run_id}/pending_deployments", actionsRead, s.withRepo(s.handleListPendingDeployments))
	s.handle("POST /repos/{owner}/{repo}/actions/runs/{run_id}/pending_deployments", deploymentsWrite, s.withRepo(s.handleReviewPendingDeployments))
	s.handle("GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals", actionsRead, s.withRepo(s.handleListApprovals))
	s.handle("POST /repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule", deploymentsWrite, s.withRepo(s.handleCustomRuleCallback))
}

type repoHandler func(w http.ResponseWriter, r *http.Request, rp *repo, c *caller)

// withRepo resolves {owner}/{repo} and checks that the caller's token
// covers it: GitHub answers 404, not 403, for repositories a token cannot
// see (authorize has answered already; this keeps handlers safe alone).
func (s *Server) withRepo(h repoHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := callerFrom(r)
		var rp *repo
		s.mu.Lock()
		if c != nil {
			rp = s.visibleRepoLocked(c, r.PathValue("owner")+"/"+r.PathValue("repo"))
		}
		s.mu.Unlock()
		if rp == nil {
			writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest")
			return
		}
		h(w, r, rp, c)
	}
}

func (s *Server) handleRateLimit(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r)
	s.mu.Lock()
	used, reset := 0, s.clock.Now().Add(time.Hour)
	if c != nil {
		win := s.windowLocked(c.rateKey)
		used, reset = win.used, win.reset
	}
	s.mu.Unlock()
	core := map[string]any{"limit": s.opts.RateLimit, "used": used, "remaining": max(s.opts.RateLimit-used, 0), "reset": reset.Unix()}
	other := map[string]any{"limit": 30, "used": 0, "remaining": 30, "reset": reset.Unix()}
	writeJSON(w, 200, map[string]any{
		"resources": map[string]any{"core": core, "search": other},
		"rate":      core,
	})
}

func (s *Server) handleGetRepo(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.mu.Lock()
	body := s.repoJSON(rp, true)
	s.mu.Unlock()
	writeJSON(w, 200, body)
}

func (s *Server) handleListBranches(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	refs := s.refs(r.Context(), rp.GitDir)
	var names []string
	want := r.URL.Query().Get("protected")
	s.mu.Lock()
	for ref := range refs {
		n, ok := strings.CutPrefix(ref, "refs/heads/")
		if ok && (want == "" || want == fmt.Sprint(rp.Protected[n])) {
			names = append(names, n)
		}
	}
	s.mu.Unlock()
	sort.Strings(names)
	page, ok := paginate(w, r, names)
	if !ok {
		return
	}
	out := []any{}
	s.mu.Lock()
	for _, n := range page {
		out = append(out, map[string]any{"name": n, "commit": s.commitRefJSON(rp, refs["refs/heads/"+n]), "protected": rp.Protected[n]})
	}
	s.mu.Unlock()
	writeJSON(w, 200, out)
}

func (s *Server) handleGetBranch(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	name := r.PathValue("branch")
	sha, err := s.revParse(r.Context(), rp.GitDir, "refs/heads/"+name)
	if err != nil {
		writeError(w, 404, "Branch not found", "https://docs.github.com/rest/branches/branches#get-a-branch")
		return
	}
	commit, err := s.commitJSON(r, rp, sha)
	if err != nil {
		writeError(w, 500, err.Error(), "")
		return
	}
	api := s.URL() + "/repos/" + rp.FullName() + "/branches/" + name
	s.mu.Lock()
	protected := rp.Protected[name]
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{
		"name": name, "commit": commit, "protected": protected, "protection_url": api + "/protection",
		"protection": map[string]any{"enabled": protected, "required_status_checks": map[string]any{"enforcement_level": "off", "contexts": []any{}, "checks": []any{}}},
		"_links":     map[string]any{"self": api, "html": s.URL() + "/" + rp.FullName() + "/tree/" + name},
	})
}

func (s *Server) commitJSON(r *http.Request, rp *repo, sha string) (map[string]any, error) {
	out, err := s.git(r.Context(), rp.GitDir, nil, nil, "show", "-s", "--format=%H%x1f%T%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%cn%x1f%ce%x1f%cI%x1f%B", sha)
	if err != nil {
		return nil, err
	}
	f := strings.SplitN(out, "\x1f", 10)
	if len(f) != 10 {
		return nil, fmt.Errorf("parsing commit %s", sha)
	}
	api := s.URL() + "/repos/" + rp.FullName()
	parents := []any{}
	for _, p := range strings.Fields(f[2]) {
		parents = append(parents, map[string]any{"sha": p, "url": api + "/commits/" + p, "html_url": s.URL() + "/" + rp.FullName() + "/commit/" + p})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	byEmail := func(email string) any {
		for _, u := range s.users {
			if email == fmt.Sprintf("%d+%s@users.noreply.github.com", u.ID, u.Login) || (u.Email != "" && u.Email == email) {
				return s.userJSON(u)
			}
		}
		return nil
	}
	return map[string]any{
		"sha": f[0], "node_id": nodeID("C_", int64(len(f[0]))), "url": api + "/commits/" + f[0],
		"html_url": s.URL() + "/" + rp.FullName() + "/commit/" + f[0], "comments_url": api + "/commits/" + f[0] + "/comments",
		"commit": map[string]any{
			"url":           api + "/git/commits/" + f[0],
			"author":        map[string]any{"name": f[3], "email": f[4], "date": f[5]},
			"committer":     map[string]any{"name": f[6], "email": f[7], "date": f[8]},
			"message":       strings.TrimRight(f[9], "\n"),
			"comment_count": 0,
			"tree":          map[string]any{"sha": f[1], "url": api + "/git/trees/" + f[1]},
			"verification":  map[string]any{"verified": false, "reason": "unsigned", "signature": nil, "payload": nil, "verified_at": nil},
		},
		"author": byEmail(f[4]), "committer": byEmail(f[7]), "parents": parents,
	}, nil
}

func (s *Server) handleGetCommit(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	sha, err := s.resolveRef(r, rp, r.PathValue("ref"))
	if err != nil {
		writeError(w, 422, "No commit found for SHA: "+r.PathValue("ref"), "https://docs.github.com/rest/commits/commits#get-a-commit")
		return
	}
	body, err := s.commitJSON(r, rp, sha)
	if err != nil {
		writeError(w, 500, err.Error(), "")
		return
	}
	writeJSON(w, 200, body)
}

// resolveRef turns a SHA, branch or tag name into a commit SHA.
func (s *Server) resolveRef(r *http.Request, rp *repo, ref string) (string, error) {
	for _, cand := range []string{"refs/heads/" + ref, "refs/tags/" + ref, ref} {
		if sha, err := s.revParse(r.Context(), rp.GitDir, cand); err == nil {
			return sha, nil
		}
	}
	return "", fmt.Errorf("no commit %s", ref)
}

func pathInt(r *http.Request, name string) (int64, bool) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return n, err == nil
}

func (s *Server) pullFrom(w http.ResponseWriter, r *http.Request, rp *repo) *pull {
	n, ok := pathInt(r, "pull_number")
	var p *pull
	if ok {
		p = s.pullLocked(rp, int(n))
	}
	if p == nil {
		writeError(w, 404, "Not Found", "https://docs.github.com/rest/pulls/pulls#get-a-pull-request")
	}
	return p
}

func (s *Server) handleListPulls(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	s.mu.Lock()
	var list []*pull
	for _, p := range rp.Pulls {
		if state != "all" && p.State != state {
			continue
		}
		if h := q.Get("head"); h != "" && h != rp.Owner.Login+":"+p.Head {
			continue
		}
		if b := q.Get("base"); b != "" && b != p.Base {
			continue
		}
		list = append(list, p)
	}
	s.mu.Unlock()
	// GitHub's default order: newest first.
	sort.Slice(list, func(i, j int) bool { return list[i].Number > list[j].Number })
	if q.Get("direction") == "asc" {
		sort.Slice(list, func(i, j int) bool { return list[i].Number < list[j].Number })
	}
	page, ok := paginate(w, r, list)
	if !ok {
		return
	}
	out := []any{}
	s.mu.Lock()
	for _, p := range page {
		out = append(out, s.prJSON(rp, p, false))
	}
	s.mu.Unlock()
	writeJSON(w, 200, out)
}

// handleCommitPulls lists the pull requests a commit belongs to: those it
// is the head of, and the one it is the merge commit of.
func (s *Server) handleCommitPulls(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	sha := r.PathValue("commit_sha")
	s.mu.Lock()
	var list []*pull
	for _, p := range rp.Pulls {
		if p.HeadSHA == sha || p.MergeCommitSHA == sha {
			list = append(list, p)
		}
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].Number > list[j].Number })
	page, ok := paginate(w, r, list)
	if !ok {
		return
	}
	out := []any{}
	s.mu.Lock()
	for _, p := range page {
		out = append(out, s.prJSON(rp, p, false))
	}
	s.mu.Unlock()
	writeJSON(w, 200, out)
}

func (s *Server) handleGetPull(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.mu.Lock()
	p := s.pullFrom(w, r, rp)
	if p == nil {
		s.mu.Unlock()
		return
	}
	body := s.prJSON(rp, p, true)
	base, head := p.BaseSHA, p.HeadSHA
	s.mu.Unlock()
	if files, err := s.diff(r.Context(), rp.GitDir, base, head); err == nil {
		add, del := 0, 0
		for _, f := range files {
			add += f.Additions
			del += f.Deletions
		}
		body["additions"], body["deletions"], body["changed_files"] = add, del, len(files)
	}
	if n, err := s.git(r.Context(), rp.GitDir, nil, nil, "rev-list", "--count", base+".."+head); err == nil {
		body["commits"], _ = strconv.Atoi(n)
	}
	writeJSON(w, 200, body)
}

func (s *Server) handlePullFiles(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.mu.Lock()
	p := s.pullFrom(w, r, rp)
	if p == nil {
		s.mu.Unlock()
		return
	}
	base, head := p.BaseSHA, p.HeadSHA
	s.mu.Unlock()
	files, err := s.diff(r.Context(), rp.GitDir, base, head)
	if err != nil {
		writeError(w, 500, err.Error(), "")
		return
	}
	page, ok := paginate(w, r, files)
	if !ok {
		return
	}
	out := []any{}
	for _, f := range page {
		e := map[string]any{
			"sha": f.BlobSHA, "filename": f.Filename, "status": f.Status,
			"additions": f.Additions, "deletions": f.Deletions, "changes": f.Additions + f.Deletions,
			"blob_url":     fmt.Sprintf("%s/%s/blob/%s/%s", s.URL(), rp.FullName(), head, f.Filename),
			"raw_url":      fmt.Sprintf("%s/%s/raw/%s/%s", s.URL(), rp.FullName(), head, f.Filename),
			"contents_url": fmt.Sprintf("%s/repos/%s/contents/%s?ref=%s", s.URL(), rp.FullName(), f.Filename, head),
		}
		if f.Patch != "" {
			e["patch"] = f.Patch
		}
		out = append(out, e)
	}
	writeJSON(w, 200, out)
}

func (s *Server) handleListReviews(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.mu.Lock()
	p := s.pullFrom(w, r, rp)
	if p == nil {
		s.mu.Unlock()
		return
	}
	revs := append([]*review(nil), p.Reviews...)
	s.mu.Unlock()
	page, ok := paginate(w, r, revs)
	if !ok {
		return
	}
	out := []any{}
	s.mu.Lock()
	for _, rv := range page {
		out = append(out, s.reviewJSON(rp, p, rv))
	}
	s.mu.Unlock()
	writeJSON(w, 200, out)
}

func (s *Server) handleCreateReview(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	var req struct {
		CommitID string `json:"commit_id"`
		Body     string `json:"body"`
		Event    string `json:"event"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	s.mu.Lock()
	p := s.pullFrom(w, r, rp)
	if p == nil {
		s.mu.Unlock()
		return
	}
	if (req.Event == "REQUEST_CHANGES" || req.Event == "COMMENT") && req.Body == "" {
		s.mu.Unlock()
		writeJSON(w, 422, map[string]any{"message": "Unprocessable Entity", "errors": []any{"Body is required for this event"}, "documentation_url": "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request", "status": "422"})
		return
	}
	if req.Event == "APPROVE" && c.user != nil && p.User.Login == c.user.Login {
		s.mu.Unlock()
		writeJSON(w, 422, map[string]any{"message": "Unprocessable Entity", "errors": []any{"Can not approve your own pull request"}, "documentation_url": "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request", "status": "422"})
		return
	}
	rv, err := s.addReviewLocked(p, c.user, req.Event, req.Body, req.CommitID)
	if err != nil {
		s.mu.Unlock()
		validationFailed(w, "PullRequestReview", "event", "invalid", err.Error())
		return
	}
	body := s.reviewJSON(rp, p, rv)
	s.mu.Unlock()
	if rv.State != "PENDING" {
		s.emitReview(rp, p, rv, "submitted", rv.User, nil)
	}
	writeJSON(w, 200, body)
}

func (s *Server) handleListComments(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	n, _ := pathInt(r, "issue_number")
	s.mu.Lock()
	if s.pullLocked(rp, int(n)) == nil {
		s.mu.Unlock()
		writeError(w, 404, "Not Found", "")
		return
	}
	var list []*issueComment
	for _, cm := range rp.Comments {
		if cm.Issue == int(n) {
			list = append(list, cm)
		}
	}
	s.mu.Unlock()
	page, ok := paginate(w, r, list)
	if !ok {
		return
	}
	out := []any{}
	s.mu.Lock()
	for _, cm := range page {
		out = append(out, s.commentJSON(rp, cm))
	}
	s.mu.Unlock()
	writeJSON(w, 200, out)
}

const maxCommentBody = 65536

func (s *Server) handleCreateComment(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	n, _ := pathInt(r, "issue_number")
	var req struct {
		Body *string `json:"body"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Body == nil {
		validationFailed(w, "IssueComment", "body", "missing_field", "")
		return
	}
	if utf8.RuneCountInString(*req.Body) > maxCommentBody {
		validationFailed(w, "IssueComment", "body", "custom", "body is too long (maximum is 65536 characters)")
		return
	}
	s.mu.Lock()
	if s.pullLocked(rp, int(n)) == nil {
		s.mu.Unlock()
		writeError(w, 404, "Not Found", "")
		return
	}
	cm := &issueComment{ID: s.id(), Issue: int(n), User: c.user, Body: *req.Body, Created: s.now(), Updated: s.now(), ViaApp: true}
	rp.Comments = append(rp.Comments, cm)
	body := s.commentJSON(rp, cm)
	s.mu.Unlock()
	w.Header().Set("Location", body["url"].(string))
	s.emitComment(rp, cm, "created", cm.User, nil)
	writeJSON(w, 201, body)
}

func (s *Server) commentFrom(w http.ResponseWriter, r *http.Request, rp *repo) *issueComment {
	id, _ := pathInt(r, "comment_id")
	for _, cm := range rp.Comments {
		if cm.ID == id {
			return cm
		}
	}
	writeError(w, 404, "Not Found", "")
	return nil
}

func (s *Server) handleGetComment(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cm := s.commentFrom(w, r, rp); cm != nil {
		writeJSON(w, 200, s.commentJSON(rp, cm))
	}
}

func (s *Server) handleEditComment(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	var req struct {
		Body *string `json:"body"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Body == nil {
		validationFailed(w, "IssueComment", "body", "missing_field", "")
		return
	}
	s.mu.Lock()
	cm := s.commentFrom(w, r, rp)
	if cm == nil {
		s.mu.Unlock()
		return
	}
	if c.user == nil || cm.User.Login != c.user.Login {
		s.mu.Unlock()
		writeError(w, 403, "Resource not accessible by integration", "")
		return
	}
	old := cm.Body
	cm.Body, cm.Updated = *req.Body, s.now()
	body := s.commentJSON(rp, cm)
	s.mu.Unlock()
	s.emitComment(rp, cm, "edited", c.user, map[string]any{"body": map[string]any{"from": old}})
	writeJSON(w, 200, body)
}

var reactionContents = map[string]bool{"+1": true, "-1": true, "laugh": true, "confused": true, "heart": true, "hooray": true, "rocket": true, "eyes": true}

func (s *Server) handleListReactions(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.mu.Lock()
	cm := s.commentFrom(w, r, rp)
	if cm == nil {
		s.mu.Unlock()
		return
	}
	var list []*reaction
	for _, re := range cm.Reactions {
		if ct := r.URL.Query().Get("content"); ct == "" || ct == re.Content {
			list = append(list, re)
		}
	}
	s.mu.Unlock()
	page, ok := paginate(w, r, list)
	if !ok {
		return
	}
	out := []any{}
	s.mu.Lock()
	for _, re := range page {
		out = append(out, s.reactionJSON(re))
	}
	s.mu.Unlock()
	writeJSON(w, 200, out)
}

func (s *Server) handleCreateReaction(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	var req struct {
		Content string `json:"content"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if !reactionContents[req.Content] {
		validationFailed(w, "Reaction", "content", "invalid", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cm := s.commentFrom(w, r, rp)
	if cm == nil {
		return
	}
	// GitHub answers 200 with the existing reaction when the same user
	// reacts the same way twice.
	for _, re := range cm.Reactions {
		if re.Content == req.Content && re.User.Login == c.user.Login {
			writeJSON(w, 200, s.reactionJSON(re))
			return
		}
	}
	re := &reaction{ID: s.id(), User: c.user, Content: req.Content, Created: s.now()}
	cm.Reactions = append(cm.Reactions, re)
	writeJSON(w, 201, s.reactionJSON(re))
}

// Reactions lists the reaction contents on a comment, for assertions.
func (s *Server) Reactions(fullName string, commentID int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[fullName]
	if r == nil {
		return nil
	}
	var out []string
	for _, cm := range r.Comments {
		if cm.ID == commentID {
			for _, re := range cm.Reactions {
				out = append(out, re.Content)
			}
		}
	}
	return out
}

func (s *Server) handlePermission(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	login := r.PathValue("username")
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[login]
	if u == nil {
		writeError(w, 404, "Not Found", "")
		return
	}
	role := rp.Collaborators[login]
	if login == rp.Owner.Login {
		role = PermAdmin
	}
	// The REST "permission" field keeps the legacy names: maintain reads as
	// write, triage as read; role_name has the real one.
	perm := map[string]string{PermAdmin: "admin", PermMaintain: "write", PermWrite: "write", PermTriage: "read", PermRead: "read", "": "none"}[role]
	roleName := role
	if roleName == "" {
		roleName = "none"
	}
	uj := s.userJSON(u)
	uj["role_name"] = roleName
	uj["permissions"] = map[string]any{
		"admin": role == PermAdmin, "maintain": role == PermAdmin || role == PermMaintain,
		"push": perm == "admin" || perm == "write", "triage": role != "" && role != PermRead, "pull": role != "",
	}
	writeJSON(w, 200, map[string]any{"permission": perm, "role_name": roleName, "user": uj})
}

// handleGetContents serves a file (base64, as GitHub does) at ?ref= or the
// default branch. Directories are not served.
func (s *Server) handleGetContents(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	path := strings.Trim(r.PathValue("path"), "/")
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		ref = rp.DefaultBranch
	}
	sha, err := s.resolveRef(r, rp, ref)
	if err != nil {
		writeError(w, 404, "No commit found for the ref "+ref, "https://docs.github.com/rest/repos/contents#get-repository-content")
		return
	}
	blob, err := s.git(r.Context(), rp.GitDir, nil, nil, "rev-parse", "--verify", "--quiet", sha+":"+path)
	typ, _ := s.git(r.Context(), rp.GitDir, nil, nil, "cat-file", "-t", blob)
	if err != nil || typ != "blob" {
		writeError(w, 404, "Not Found", "https://docs.github.com/rest/repos/contents#get-repository-content")
		return
	}
	content, err := s.gitBytes(r, rp.GitDir, "cat-file", "blob", blob)
	if err != nil {
		writeError(w, 500, err.Error(), "")
		return
	}
	api := fmt.Sprintf("%s/repos/%s/contents/%s?ref=%s", s.URL(), rp.FullName(), path, ref)
	html := fmt.Sprintf("%s/%s/blob/%s/%s", s.URL(), rp.FullName(), ref, path)
	gitURL := fmt.Sprintf("%s/repos/%s/git/blobs/%s", s.URL(), rp.FullName(), blob)
	enc := base64.StdEncoding.EncodeToString(content)
	var lines []string
	for len(enc) > 60 {
		lines, enc = append(lines, enc[:60]), enc[60:]
	}
	lines = append(lines, enc)
	name := path[strings.LastIndex(path, "/")+1:]
	writeJSON(w, 200, map[string]any{
		"type": "file", "encoding": "base64", "size": len(content), "name": name, "path": path,
		"content": strings.Join(lines, "\n") + "\n", "sha": blob, "url": api, "git_url": gitURL, "html_url": html,
		"download_url": fmt.Sprintf("%s/%s/raw/%s/%s", s.URL(), rp.FullName(), ref, path),
		"_links":       map[string]any{"self": api, "git": gitURL, "html": html},
	})
}

func (s *Server) gitBytes(r *http.Request, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(r.Context(), "git", args...)
	cmd.Dir = dir
	return cmd.Output()
}

// handleInstallationRepos lists the repositories the token can see: every
// repository of the installation's account (repository_selection "all"),
// or those the token was narrowed to ("selected").
func (s *Server) handleInstallationRepos(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r)
	if c == nil || c.kind != callerToken {
		writeError(w, 403, "Resource not accessible by integration", "")
		return
	}
	s.mu.Lock()
	var list []*repo
	for full := range s.repos {
		if rp := s.visibleRepoLocked(c, full); rp != nil {
			list = append(list, rp)
		}
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	total := len(list)
	page, ok := paginate(w, r, list)
	if !ok {
		return
	}
	out := []any{}
	s.mu.Lock()
	for _, rp := range page {
		m := s.repoJSON(rp, false)
		m["permissions"] = map[string]any{"admin": false, "maintain": false, "push": false, "triage": false, "pull": true}
		out = append(out, m)
	}
	s.mu.Unlock()
	selection := "all"
	if c.repos != nil {
		selection = "selected"
	}
	writeJSON(w, 200, map[string]any{"total_count": total, "repository_selection": selection, "repositories": out})
}
