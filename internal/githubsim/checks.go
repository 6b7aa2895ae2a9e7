package githubsim

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"
	"unicode/utf8"
)

// GitHub's check-run limits.
const (
	maxOutputText         = 65535
	maxAnnotationsPerCall = 50
	maxActions            = 3
	maxActionLabel        = 20
	maxActionDescription  = 40
	maxActionIdentifier   = 20
)

type checkRunRequest struct {
	Name        *string          `json:"name"`
	HeadSHA     *string          `json:"head_sha"`
	DetailsURL  *string          `json:"details_url"`
	ExternalID  *string          `json:"external_id"`
	Status      *string          `json:"status"`
	Conclusion  *string          `json:"conclusion"`
	StartedAt   *time.Time       `json:"started_at"`
	CompletedAt *time.Time       `json:"completed_at"`
	Output      *checkRunOutput  `json:"output"`
	Actions     []map[string]any `json:"actions"`
}

type checkRunOutput struct {
	Title       *string          `json:"title"`
	Summary     *string          `json:"summary"`
	Text        *string          `json:"text"`
	Annotations []map[string]any `json:"annotations"`
}

var checkConclusions = map[string]bool{"action_required": true, "cancelled": true, "failure": true, "neutral": true, "success": true, "skipped": true, "stale": true, "timed_out": true}

// validateCheckRun enforces GitHub's limits; it returns the field at fault
// and a message, or "".
func validateCheckRun(req *checkRunRequest) (field, msg string) {
	if req.Status != nil {
		switch *req.Status {
		case "queued", "in_progress", "completed", "waiting", "requested", "pending":
		default:
			return "status", "status is not included in the list"
		}
	}
	if req.Conclusion != nil && !checkConclusions[*req.Conclusion] {
		return "conclusion", "conclusion is not included in the list"
	}
	// GitHub: conclusion is required if you provide completed_at or a
	// status of completed.
	if req.Conclusion == nil && req.CompletedAt != nil {
		return "conclusion", "conclusion is required when completed_at is provided"
	}
	if req.Conclusion == nil && req.Status != nil && *req.Status == "completed" {
		return "conclusion", "conclusion is required when status is completed"
	}
	if o := req.Output; o != nil {
		if o.Summary != nil && utf8.RuneCountInString(*o.Summary) > maxOutputText {
			return "output.summary", fmt.Sprintf("summary is too long (maximum is %d characters)", maxOutputText)
		}
		if o.Text != nil && utf8.RuneCountInString(*o.Text) > maxOutputText {
			return "output.text", fmt.Sprintf("text is too long (maximum is %d characters)", maxOutputText)
		}
		if len(o.Annotations) > maxAnnotationsPerCall {
			return "output.annotations", fmt.Sprintf("Only %d annotations may be sent per request", maxAnnotationsPerCall)
		}
		for _, a := range o.Annotations {
			for _, k := range []string{"path", "start_line", "end_line", "annotation_level", "message"} {
				if a[k] == nil {
					return "output.annotations", "annotation is missing " + k
				}
			}
		}
	}
	if len(req.Actions) > maxActions {
		return "actions", fmt.Sprintf("Only %d actions may be set", maxActions)
	}
	for _, a := range req.Actions {
		for k, limit := range map[string]int{"label": maxActionLabel, "description": maxActionDescription, "identifier": maxActionIdentifier} {
			v, _ := a[k].(string)
			if v == "" {
				return "actions", "action is missing " + k
			}
			if utf8.RuneCountInString(v) > limit {
				return "actions", fmt.Sprintf("%s is too long (maximum is %d characters)", k, limit)
			}
		}
	}
	return "", ""
}

func (s *Server) handleCreateCheckRun(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	var req checkRunRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Name == nil || *req.Name == "" {
		validationFailed(w, "CheckRun", "name", "missing_field", "")
		return
	}
	if req.HeadSHA == nil {
		validationFailed(w, "CheckRun", "head_sha", "missing_field", "")
		return
	}
	if f, msg := validateCheckRun(&req); f != "" {
		validationFailed(w, "CheckRun", f, "invalid", msg)
		return
	}
	sha, err := s.revParse(r.Context(), rp.GitDir, *req.HeadSHA)
	if err != nil || sha != *req.HeadSHA {
		validationFailed(w, "CheckRun", "head_sha", "invalid", "No commit found for SHA: "+*req.HeadSHA)
		return
	}
	run := &checkRun{Name: *req.Name, HeadSHA: sha, Status: "queued", App: s.hosted}
	if msg := s.applyCheckRun(run, &req); msg != "" {
		validationFailed(w, "CheckRun", "conclusion", "invalid", msg)
		return
	}
	s.addCheckRun(r.Context(), rp, run, c.user)
	s.mu.Lock()
	body := s.checkRunJSON(rp, run)
	s.mu.Unlock()
	writeJSON(w, 201, body)
}

// addCheckRun files a new run in its App's suite on the commit (creating
// the suite) and announces it: check_run created, then completed when it
// was created completed, then check_suite completed when that completes
// the suite.
func (s *Server) addCheckRun(ctx context.Context, rp *repo, run *checkRun, sender *user) {
	s.mu.Lock()
	has := s.suiteLocked(rp, run.App, run.HeadSHA) != nil
	s.mu.Unlock()
	var o suiteOrigin
	if !has {
		o = s.originOf(ctx, rp, run.HeadSHA)
	}
	s.mu.Lock()
	cs, _ := s.ensureSuiteLocked(rp, run.App, run.HeadSHA, o)
	run.ID, run.SuiteID = s.id(), cs.ID
	if run.Started.IsZero() {
		run.Started = s.now()
	}
	rp.CheckRuns = append(rp.CheckRuns, run)
	suiteDone := s.refreshSuiteLocked(rp, cs)
	completed := run.Status == "completed"
	s.mu.Unlock()
	s.emitCheckRun(rp, run, "created", sender, nil)
	if completed {
		s.emitCheckRun(rp, run, "completed", sender, nil)
	}
	if suiteDone {
		s.emitCheckSuite(rp, cs, "completed", sender)
	}
}

// applyCheckRun merges a create/update request into run; annotations
// accumulate across calls, actions are replaced.
func (s *Server) applyCheckRun(run *checkRun, req *checkRunRequest) string {
	if req.Name != nil && *req.Name != "" {
		run.Name = *req.Name
	}
	if req.DetailsURL != nil {
		run.DetailsURL = *req.DetailsURL
	}
	if req.ExternalID != nil {
		run.ExternalID = *req.ExternalID
	}
	if req.StartedAt != nil {
		run.Started = req.StartedAt.UTC()
	}
	if req.Status != nil {
		run.Status = *req.Status
	}
	if req.Conclusion != nil {
		run.Conclusion = *req.Conclusion
		run.Status = "completed"
	}
	if run.Status == "completed" {
		if run.Conclusion == "" {
			return "conclusion must be provided when status is completed"
		}
		if run.Completed == nil {
			t := s.now()
			if req.CompletedAt != nil {
				t = req.CompletedAt.UTC()
			}
			run.Completed = &t
		}
	}
	if o := req.Output; o != nil {
		if o.Title != nil {
			run.Title = *o.Title
		}
		if o.Summary != nil {
			run.Summary = *o.Summary
		}
		if o.Text != nil {
			run.Text = *o.Text
		}
		run.Annotations = append(run.Annotations, o.Annotations...)
	}
	if req.Actions != nil {
		run.Actions = req.Actions
	}
	return ""
}

func (s *Server) checkRunLocked(rp *repo, id int64) *checkRun {
	for _, c := range rp.CheckRuns {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func (s *Server) checkRunFrom(w http.ResponseWriter, r *http.Request, rp *repo) *checkRun {
	id, _ := pathInt(r, "check_run_id")
	if c := s.checkRunLocked(rp, id); c != nil {
		return c
	}
	writeError(w, 404, "Not Found", "https://docs.github.com/rest/checks/runs#get-a-check-run")
	return nil
}

func (s *Server) handleGetCheckRun(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if run := s.checkRunFrom(w, r, rp); run != nil {
		writeJSON(w, 200, s.checkRunJSON(rp, run))
	}
}

// handleUpdateCheckRun: an App updates its own runs only. A completed run
// keeps its status, conclusion and completed_at (GitHub wants a new run);
// its output, name, actions, details_url and external_id may still change.
func (s *Server) handleUpdateCheckRun(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	var req checkRunRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if f, msg := validateCheckRun(&req); f != "" {
		validationFailed(w, "CheckRun", f, "invalid", msg)
		return
	}
	s.mu.Lock()
	run := s.checkRunFrom(w, r, rp)
	if run == nil {
		s.mu.Unlock()
		return
	}
	if run.App != s.hosted {
		s.mu.Unlock()
		writeError(w, 403, msgNotAccessible, "https://docs.github.com/rest/checks/runs#update-a-check-run")
		return
	}
	wasCompleted := run.Status == "completed"
	if wasCompleted && (req.Status != nil || req.Conclusion != nil || req.CompletedAt != nil) {
		s.mu.Unlock()
		validationFailed(w, "CheckRun", "status", "invalid", "a completed check run's status, conclusion and completed_at cannot change: create a new check run")
		return
	}
	saved := *run
	oldStatus := run.Status
	if msg := s.applyCheckRun(run, &req); msg != "" {
		*run = saved
		s.mu.Unlock()
		validationFailed(w, "CheckRun", "conclusion", "invalid", msg)
		return
	}
	body := s.checkRunJSON(rp, run)
	nowCompleted := run.Status == "completed"
	var suiteDone bool
	cs := s.suiteByIDLocked(rp, run.SuiteID)
	if cs != nil && run.Status != oldStatus {
		suiteDone = s.refreshSuiteLocked(rp, cs)
	}
	s.mu.Unlock()
	if nowCompleted && !wasCompleted {
		s.emitCheckRun(rp, run, "completed", c.user, nil)
	}
	if suiteDone {
		s.emitCheckSuite(rp, cs, "completed", c.user)
	}
	writeJSON(w, 200, body)
}

func (s *Server) handleListAnnotations(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.mu.Lock()
	run := s.checkRunFrom(w, r, rp)
	if run == nil {
		s.mu.Unlock()
		return
	}
	anns := append([]map[string]any(nil), run.Annotations...)
	head := run.HeadSHA
	s.mu.Unlock()
	page, ok := paginate(w, r, anns)
	if !ok {
		return
	}
	out := []any{}
	for _, a := range page {
		path, _ := a["path"].(string)
		e := map[string]any{
			"path": path, "start_line": a["start_line"], "end_line": a["end_line"],
			"start_column": a["start_column"], "end_column": a["end_column"],
			"annotation_level": a["annotation_level"], "title": a["title"], "message": a["message"],
			"raw_details": a["raw_details"],
			"blob_href":   fmt.Sprintf("%s/%s/blob/%s/%s", s.URL(), rp.FullName(), head, path),
		}
		out = append(out, e)
	}
	writeJSON(w, 200, out)
}

func (s *Server) handleListCheckRunsForRef(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	sha, err := s.resolveRef(r, rp, r.PathValue("ref"))
	if err != nil {
		validationFailed(w, "Commit", "ref", "invalid", "No commit found for SHA: "+r.PathValue("ref"))
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	var list []*checkRun
	latest := map[string]*checkRun{}
	for _, run := range rp.CheckRuns {
		if run.HeadSHA != sha {
			continue
		}
		if n := q.Get("check_name"); n != "" && n != run.Name {
			continue
		}
		if st := q.Get("status"); st != "" && st != run.Status {
			continue
		}
		if a := q.Get("app_id"); a != "" && a != fmt.Sprint(run.App.ID) {
			continue
		}
		list = append(list, run)
		if prev := latest[run.Name]; prev == nil || run.ID > prev.ID {
			latest[run.Name] = run
		}
	}
	if q.Get("filter") != "all" {
		list = list[:0]
		for _, run := range latest {
			list = append(list, run)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID > list[j].ID })
	s.mu.Unlock()
	total := len(list)
	page, ok := paginate(w, r, list)
	if !ok {
		return
	}
	runs := []any{}
	s.mu.Lock()
	for _, run := range page {
		runs = append(runs, s.checkRunJSON(rp, run))
	}
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"total_count": total, "check_runs": runs})
}

// CheckRun is a read-only view of a check run, for assertions.
type CheckRun struct {
	ID          int64
	AppSlug     string // the App that owns the run
	SuiteID     int64
	Name        string
	HeadSHA     string
	Status      string
	Conclusion  string
	Title       string
	Summary     string
	Text        string
	Annotations int
	Actions     []string // identifiers
}

// CheckRuns lists a repository's check runs on sha (all when sha is "").
func (s *Server) CheckRuns(fullName, sha string) []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[fullName]
	if r == nil {
		return nil
	}
	var out []CheckRun
	for _, c := range r.CheckRuns {
		if sha != "" && c.HeadSHA != sha {
			continue
		}
		v := CheckRun{ID: c.ID, AppSlug: c.App.Slug, SuiteID: c.SuiteID, Name: c.Name, HeadSHA: c.HeadSHA, Status: c.Status, Conclusion: c.Conclusion, Title: c.Title, Summary: c.Summary, Text: c.Text, Annotations: len(c.Annotations)}
		for _, a := range c.Actions {
			id, _ := a["identifier"].(string)
			v.Actions = append(v.Actions, id)
		}
		out = append(out, v)
	}
	return out
}
