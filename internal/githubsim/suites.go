package githubsim

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// checkSuite is one App's suite of check runs on one commit: GitHub keeps
// one per (App, head SHA).
type checkSuite struct {
	ID         int64
	App        *ghApp
	HeadSHA    string
	HeadBranch string // "" when no branch pointed at the commit
	Before     string // the previous head of the branch, when a push created it
	Status     string // queued, in_progress, completed
	Conclusion string
	HeadCommit map[string]any // simple-commit, read from git once
	Created    time.Time
	Updated    time.Time
}

// suiteLocked returns app's suite on sha, or nil.
func (s *Server) suiteLocked(r *repo, app *ghApp, sha string) *checkSuite {
	for _, cs := range r.CheckSuites {
		if cs.App == app && cs.HeadSHA == sha {
			return cs
		}
	}
	return nil
}

func (s *Server) suiteByIDLocked(r *repo, id int64) *checkSuite {
	for _, cs := range r.CheckSuites {
		if cs.ID == id {
			return cs
		}
	}
	return nil
}

// suiteOrigin is what GitHub records about the commit a suite is for.
type suiteOrigin struct {
	branch, before string
	headCommit     map[string]any
}

// originOf reads the head commit of sha and a branch pointing at it.
func (s *Server) originOf(ctx context.Context, r *repo, sha string) suiteOrigin {
	o := suiteOrigin{headCommit: s.simpleCommit(ctx, r, sha)}
	refs := s.refs(ctx, r.GitDir)
	names := make([]string, 0, len(refs))
	for ref, at := range refs {
		if at == sha && strings.HasPrefix(ref, "refs/heads/") {
			names = append(names, strings.TrimPrefix(ref, "refs/heads/"))
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if n == r.DefaultBranch || o.branch == "" {
			o.branch = n
		}
	}
	return o
}

// ensureSuiteLocked returns app's suite on sha, creating it (queued).
func (s *Server) ensureSuiteLocked(r *repo, app *ghApp, sha string, o suiteOrigin) (cs *checkSuite, created bool) {
	if cs := s.suiteLocked(r, app, sha); cs != nil {
		return cs, false
	}
	cs = &checkSuite{ID: s.id(), App: app, HeadSHA: sha, HeadBranch: o.branch, Before: o.before, Status: "queued", HeadCommit: o.headCommit, Created: s.now(), Updated: s.now()}
	r.CheckSuites = append(r.CheckSuites, cs)
	return cs, true
}

// simpleCommit renders GitHub's simple-commit of sha (the head_commit of
// check suites).
func (s *Server) simpleCommit(ctx context.Context, r *repo, sha string) map[string]any {
	out, err := s.git(ctx, r.GitDir, nil, nil, "show", "-s", "--format=%T%x1f%an%x1f%ae%x1f%cn%x1f%ce%x1f%cI%x1f%B", sha)
	f := strings.SplitN(out, "\x1f", 7)
	if err != nil || len(f) != 7 {
		return map[string]any{"id": sha, "tree_id": sha, "message": "", "timestamp": ts(s.now()),
			"author": map[string]any{"name": "", "email": ""}, "committer": map[string]any{"name": "", "email": ""}}
	}
	return map[string]any{
		"id": sha, "tree_id": f[0], "message": strings.TrimRight(f[6], "\n"), "timestamp": f[5],
		"author":    map[string]any{"name": f[1], "email": f[2]},
		"committer": map[string]any{"name": f[3], "email": f[4]},
	}
}

// suiteRunsLocked lists a suite's check runs, oldest first.
func (s *Server) suiteRunsLocked(r *repo, cs *checkSuite) []*checkRun {
	var out []*checkRun
	for _, run := range r.CheckRuns {
		if run.SuiteID == cs.ID {
			out = append(out, run)
		}
	}
	return out
}

// refreshSuiteLocked recomputes a suite's status from its runs after one of
// them was created or changed status. It reports whether the suite has just
// completed (every run completed), which GitHub announces.
func (s *Server) refreshSuiteLocked(r *repo, cs *checkSuite) bool {
	runs := s.suiteRunsLocked(r, cs)
	if len(runs) == 0 {
		return false
	}
	status, started := "completed", false
	for _, run := range runs {
		if run.Status != "completed" {
			status = "queued"
			if run.Status != "queued" {
				started = true
			}
		}
	}
	if status != "completed" {
		if started {
			status = "in_progress"
		}
		cs.Status, cs.Conclusion, cs.Updated = status, "", s.now()
		return false
	}
	if cs.Status == "completed" {
		return false
	}
	cs.Status, cs.Conclusion, cs.Updated = "completed", suiteConclusion(runs), s.now()
	return true
}

// suiteConclusion sums up the conclusions of a suite's runs: the most
// severe wins, success beats neutral and skipped.
func suiteConclusion(runs []*checkRun) string {
	order := []string{"action_required", "startup_failure", "cancelled", "timed_out", "failure", "stale", "success", "neutral", "skipped"}
	best := len(order)
	for _, run := range runs {
		for i, c := range order {
			if run.Conclusion == c && i < best {
				best = i
			}
		}
	}
	if best == len(order) {
		return "neutral"
	}
	return order[best]
}

// suitePullsLocked are the open pull requests a suite matches: the same
// head branch (or, without one, the same head SHA).
func (s *Server) suitePullsLocked(r *repo, cs *checkSuite) []any {
	prs := []any{}
	for _, p := range r.Pulls {
		if p.State != "open" {
			continue
		}
		if (cs.HeadBranch != "" && p.Head == cs.HeadBranch) || (cs.HeadBranch == "" && p.HeadSHA == cs.HeadSHA) {
			prs = append(prs, s.prMinimalJSON(r, p))
		}
	}
	return prs
}

// suiteJSON renders a suite as webhooks carry it; rest adds the repository,
// as the REST check-suite schema has it.
func (s *Server) suiteJSON(r *repo, cs *checkSuite, rest bool) map[string]any {
	api := fmt.Sprintf("%s/repos/%s/check-suites/%d", s.URL(), r.FullName(), cs.ID)
	latest := map[string]bool{}
	for _, run := range s.suiteRunsLocked(r, cs) {
		latest[run.Name] = true
	}
	m := map[string]any{
		"id": cs.ID, "node_id": nodeID("CS_", cs.ID), "head_branch": strOrNil(cs.HeadBranch), "head_sha": cs.HeadSHA,
		"status": cs.Status, "conclusion": strOrNil(cs.Conclusion), "url": api,
		"before": strOrNil(cs.Before), "after": cs.HeadSHA, "pull_requests": s.suitePullsLocked(r, cs),
		"app": s.appJSON(cs.App), "created_at": ts(cs.Created), "updated_at": ts(cs.Updated),
		"head_commit": cs.HeadCommit, "latest_check_runs_count": len(latest),
		"check_runs_url": api + "/check-runs", "rerequestable": true, "runs_rerequestable": true,
	}
	if rest {
		m["repository"] = s.repoJSON(r, false)
	}
	return m
}

// simpleSuiteJSON is the check_suite of a check_run webhook.
func (s *Server) simpleSuiteJSON(r *repo, cs *checkSuite) map[string]any {
	m := s.suiteJSON(r, cs, true)
	for _, k := range []string{"head_commit", "latest_check_runs_count", "check_runs_url", "rerequestable", "runs_rerequestable"} {
		delete(m, k)
	}
	return m
}

// emitCheckSuite announces a suite event. requested and rerequested go to
// the suite's own App only; completed to every App subscribed.
func (s *Server) emitCheckSuite(r *repo, cs *checkSuite, action string, sender *user) {
	if action != "completed" && !cs.App.hosted {
		return
	}
	s.mu.Lock()
	pl := map[string]any{"action": action, "check_suite": s.suiteJSON(r, cs, false), "sender": s.userJSON(sender)}
	s.mu.Unlock()
	s.deliver(r, "check_suite", pl)
}

// requestSuite is GitHub's answer to a branch moving to sha: the App (with
// checks:write) gets a new suite and check_suite "requested", once per
// commit; moving a branch to a commit that has its suite sends nothing.
func (s *Server) requestSuite(ctx context.Context, r *repo, branch, before, sha string, pusher *user) {
	s.mu.Lock()
	has := s.suiteLocked(r, s.hosted, sha) != nil
	canCheck := levelRank(s.opts.Permissions["checks"]) >= levelRank("write")
	s.mu.Unlock()
	if has || !canCheck {
		return
	}
	o := suiteOrigin{branch: branch, before: before, headCommit: s.simpleCommit(ctx, r, sha)}
	s.mu.Lock()
	cs, created := s.ensureSuiteLocked(r, s.hosted, sha, o)
	s.mu.Unlock()
	if created {
		s.emitCheckSuite(r, cs, "requested", pusher)
	}
}

func (s *Server) suiteFrom(w http.ResponseWriter, r *http.Request, rp *repo) *checkSuite {
	id, _ := pathInt(r, "check_suite_id")
	if cs := s.suiteByIDLocked(rp, id); cs != nil {
		return cs
	}
	writeError(w, 404, "Not Found", "https://docs.github.com/rest/checks/suites#get-a-check-suite")
	return nil
}

func (s *Server) handleGetCheckSuite(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cs := s.suiteFrom(w, r, rp); cs != nil {
		writeJSON(w, 200, s.suiteJSON(rp, cs, true))
	}
}

func (s *Server) handleListCheckSuitesForRef(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	sha, err := s.resolveRef(r, rp, r.PathValue("ref"))
	if err != nil {
		validationFailed(w, "Commit", "ref", "invalid", "No commit found for SHA: "+r.PathValue("ref"))
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	var list []*checkSuite
	for _, cs := range rp.CheckSuites {
		if cs.HeadSHA != sha {
			continue
		}
		if a := q.Get("app_id"); a != "" && a != fmt.Sprint(cs.App.ID) {
			continue
		}
		if n := q.Get("check_name"); n != "" {
			found := false
			for _, run := range s.suiteRunsLocked(rp, cs) {
				found = found || run.Name == n
			}
			if !found {
				continue
			}
		}
		list = append(list, cs)
	}
	s.mu.Unlock()
	total := len(list)
	page, ok := paginate(w, r, list)
	if !ok {
		return
	}
	out := []any{}
	s.mu.Lock()
	for _, cs := range page {
		out = append(out, s.suiteJSON(rp, cs, true))
	}
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"total_count": total, "check_suites": out})
}

// handleRerequestCheckSuite: an App may re-request its own suites only.
func (s *Server) handleRerequestCheckSuite(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.mu.Lock()
	cs := s.suiteFrom(w, r, rp)
	if cs == nil {
		s.mu.Unlock()
		return
	}
	if cs.App != s.hosted {
		s.mu.Unlock()
		writeError(w, 403, msgNotAccessible, "https://docs.github.com/rest/checks/suites#rerequest-a-check-suite")
		return
	}
	s.rerequestSuiteLocked(cs)
	s.mu.Unlock()
	s.emitCheckSuite(rp, cs, "rerequested", c.user)
	writeJSON(w, 201, map[string]any{})
}

func (s *Server) rerequestSuiteLocked(cs *checkSuite) {
	cs.Status, cs.Conclusion, cs.Updated = "queued", "", s.now()
}

// handleRerequestCheckRun: an App may re-request its own completed runs;
// the run stays as it is, its suite goes back to queued.
func (s *Server) handleRerequestCheckRun(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	const doc = "https://docs.github.com/rest/checks/runs#rerequest-a-check-run"
	s.mu.Lock()
	run := s.checkRunFrom(w, r, rp)
	if run == nil {
		s.mu.Unlock()
		return
	}
	if run.App != s.hosted {
		s.mu.Unlock()
		writeError(w, 403, msgNotAccessible, doc)
		return
	}
	if run.Status != "completed" {
		s.mu.Unlock()
		writeError(w, 422, "This check run is not rerequestable: it has not completed.", doc)
		return
	}
	if cs := s.suiteByIDLocked(rp, run.SuiteID); cs != nil {
		s.rerequestSuiteLocked(cs)
	}
	s.mu.Unlock()
	s.emitCheckRun(rp, run, "rerequested", c.user, nil)
	writeJSON(w, 201, map[string]any{})
}

// RerequestCheckRun is a person clicking "Re-run" on a completed check run:
// its suite goes back to queued and the run's App gets check_run
// "rerequested" with the person as sender (nothing reaches this App for
// another App's run).
func (s *Server) RerequestCheckRun(fullName string, runID int64, login string) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	s.mu.Lock()
	run := s.checkRunLocked(r, runID)
	if run == nil {
		s.mu.Unlock()
		return fmt.Errorf("no check run %d in %s", runID, fullName)
	}
	if run.Status != "completed" {
		s.mu.Unlock()
		return fmt.Errorf("check run %d has not completed: GitHub offers Re-run only on completed runs", runID)
	}
	if cs := s.suiteByIDLocked(r, run.SuiteID); cs != nil {
		s.rerequestSuiteLocked(cs)
	}
	u := s.userLocked(login, "User")
	hosted := run.App.hosted
	s.mu.Unlock()
	if hosted {
		s.emitCheckRun(r, run, "rerequested", u, nil)
	}
	return nil
}

// RerequestCheckSuite is a person clicking "Re-run all checks": the suite
// goes back to queued and its App gets check_suite "rerequested" with the
// person as sender.
func (s *Server) RerequestCheckSuite(fullName string, suiteID int64, login string) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	s.mu.Lock()
	cs := s.suiteByIDLocked(r, suiteID)
	if cs == nil {
		s.mu.Unlock()
		return fmt.Errorf("no check suite %d in %s", suiteID, fullName)
	}
	s.rerequestSuiteLocked(cs)
	u := s.userLocked(login, "User")
	s.mu.Unlock()
	s.emitCheckSuite(r, cs, "rerequested", u)
	return nil
}

// CheckSuite is a read-only view of a check suite, for assertions.
type CheckSuite struct {
	ID         int64
	AppSlug    string
	HeadSHA    string
	HeadBranch string
	Status     string
	Conclusion string
	Runs       []int64 // check run ids, oldest first
}

// CheckSuites lists a repository's check suites on sha (all when "").
func (s *Server) CheckSuites(fullName, sha string) []CheckSuite {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[fullName]
	if r == nil {
		return nil
	}
	var out []CheckSuite
	for _, cs := range r.CheckSuites {
		if sha != "" && cs.HeadSHA != sha {
			continue
		}
		v := CheckSuite{ID: cs.ID, AppSlug: cs.App.Slug, HeadSHA: cs.HeadSHA, HeadBranch: cs.HeadBranch, Status: cs.Status, Conclusion: cs.Conclusion}
		for _, run := range s.suiteRunsLocked(r, cs) {
			v.Runs = append(v.Runs, run.ID)
		}
		out = append(out, v)
	}
	return out
}
