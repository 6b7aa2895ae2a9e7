package githubsim

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// commitStatus is one commit status (POST /repos/{o}/{r}/statuses/{sha}).
type commitStatus struct {
	ID          int64
	SHA         string
	State       string
	Context     string
	Description string
	TargetURL   string
	Creator     *user
	Created     time.Time
}

// CommitStatus is a commit status as tests see it.
type CommitStatus struct {
	ID          int64
	SHA         string
	State       string
	Context     string
	Description string
	TargetURL   string
	Creator     string
}

// maxStatusesPerContext is GitHub's limit of statuses per SHA and context.
const maxStatusesPerContext = 1000

var commitStatusStates = map[string]bool{"error": true, "failure": true, "pending": true, "success": true}

// Route permissions of commit statuses.
var (
	statusesRead  = needs("statuses", "read")
	statusesWrite = needs("statuses", "write")
)

// CommitStatuses lists the statuses of repository fullName on sha, oldest
// first.
func (s *Server) CommitStatuses(fullName, sha string) []CommitStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[fullName]
	if rp == nil {
		return nil
	}
	var out []CommitStatus
	for _, st := range rp.Statuses {
		if st.SHA == sha {
			out = append(out, CommitStatus{ID: st.ID, SHA: st.SHA, State: st.State, Context: st.Context,
				Description: st.Description, TargetURL: st.TargetURL, Creator: st.Creator.Login})
		}
	}
	return out
}

func (s *Server) handleCreateCommitStatus(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	var req struct {
		State       *string `json:"state"`
		TargetURL   *string `json:"target_url"`
		Description *string `json:"description"`
		Context     *string `json:"context"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.State == nil {
		validationFailed(w, "Status", "state", "missing_field", "")
		return
	}
	if !commitStatusStates[*req.State] {
		validationFailed(w, "Status", "state", "invalid", "")
		return
	}
	sha := r.PathValue("sha")
	full, err := s.resolveRef(r, rp, sha)
	if err != nil || !strings.HasPrefix(full, strings.ToLower(sha)) {
		validationFailed(w, "Status", "sha", "invalid", "No commit found for SHA: "+sha)
		return
	}
	st := &commitStatus{SHA: full, State: *req.State, Context: "default", Creator: c.user, Created: s.now()}
	if req.Context != nil && *req.Context != "" {
		st.Context = *req.Context
	}
	if req.Description != nil {
		st.Description = *req.Description
	}
	if req.TargetURL != nil {
		st.TargetURL = *req.TargetURL
	}
	s.mu.Lock()
	n := 0
	for _, o := range rp.Statuses {
		if o.SHA == full && o.Context == st.Context {
			n++
		}
	}
	if n >= maxStatusesPerContext {
		s.mu.Unlock()
		validationFailed(w, "Status", "context", "custom", fmt.Sprintf("This SHA and context has reached the maximum number of statuses (%d).", maxStatusesPerContext))
		return
	}
	st.ID = s.id()
	rp.Statuses = append(rp.Statuses, st)
	body := s.commitStatusJSON(rp, st, true)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, body)
}

// statusesOf are the statuses of ref's commit, newest first.
func (s *Server) statusesOf(w http.ResponseWriter, r *http.Request, rp *repo) (string, []*commitStatus, bool) {
	sha, err := s.resolveRef(r, rp, r.PathValue("ref"))
	if err != nil {
		writeError(w, http.StatusNotFound, "No commit found for SHA: "+r.PathValue("ref"), "https://docs.github.com/rest/commits/statuses#get-the-combined-status-for-a-specific-reference")
		return "", nil, false
	}
	s.mu.Lock()
	var list []*commitStatus
	for _, st := range rp.Statuses {
		if st.SHA == sha {
			list = append(list, st)
		}
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].ID > list[j].ID })
	return sha, list, true
}

func (s *Server) handleListCommitStatuses(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	_, list, ok := s.statusesOf(w, r, rp)
	if !ok {
		return
	}
	page, ok := paginate(w, r, list)
	if !ok {
		return
	}
	out := []any{}
	s.mu.Lock()
	for _, st := range page {
		out = append(out, s.commitStatusJSON(rp, st, true))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// handleCombinedStatus is GitHub's combined status: the latest status of
// each context; failure if any is error or failure, pending if there are
// none or any is pending, else success.
func (s *Server) handleCombinedStatus(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	sha, list, ok := s.statusesOf(w, r, rp)
	if !ok {
		return
	}
	seen := map[string]bool{}
	var latest []*commitStatus
	for _, st := range list { // newest first
		if !seen[st.Context] {
			seen[st.Context] = true
			latest = append(latest, st)
		}
	}
	state := "success"
	if len(latest) == 0 {
		state = "pending"
	}
	for _, st := range latest {
		switch st.State {
		case "error", "failure":
			state = "failure"
		case "pending":
			if state != "failure" {
				state = "pending"
			}
		}
	}
	page, ok := paginate(w, r, latest)
	if !ok {
		return
	}
	statuses := []any{}
	s.mu.Lock()
	for _, st := range page {
		statuses = append(statuses, s.commitStatusJSON(rp, st, false))
	}
	repoJSON := s.repoJSON(rp, false)
	s.mu.Unlock()
	base := s.URL() + "/repos/" + rp.FullName()
	writeJSON(w, http.StatusOK, map[string]any{
		"state": state, "statuses": statuses, "sha": sha, "total_count": len(latest),
		"repository": repoJSON, "commit_url": base + "/commits/" + sha, "url": base + "/commits/" + sha + "/status",
	})
}

// commitStatusJSON renders a status; full adds the creator (the "status"
// schema), else it is a "simple-commit-status".
func (s *Server) commitStatusJSON(rp *repo, st *commitStatus, full bool) map[string]any {
	nullable := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	m := map[string]any{
		"url": fmt.Sprintf("%s/repos/%s/statuses/%s", s.URL(), rp.FullName(), st.SHA), "avatar_url": nil,
		"id": st.ID, "node_id": nodeID("SC_", st.ID), "state": st.State, "description": nullable(st.Description),
		"target_url": nullable(st.TargetURL), "context": st.Context, "created_at": ts(st.Created), "updated_at": ts(st.Created),
	}
	if full {
		m["creator"] = s.userJSON(st.Creator)
	}
	return m
}
