package githubsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"unicode/utf8"
)

const maxStatusDescription = 140

var deploymentStates = map[string]bool{"error": true, "failure": true, "inactive": true, "in_progress": true, "queued": true, "pending": true, "success": true}

func (s *Server) handleCreateDeployment(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	var req struct {
		Ref                   *string   `json:"ref"`
		Task                  *string   `json:"task"`
		AutoMerge             *bool     `json:"auto_merge"`
		RequiredContexts      *[]string `json:"required_contexts"`
		Payload               any       `json:"payload"`
		Environment           *string   `json:"environment"`
		Description           *string   `json:"description"`
		TransientEnvironment  *bool     `json:"transient_environment"`
		ProductionEnvironment *bool     `json:"production_environment"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Ref == nil || *req.Ref == "" {
		validationFailed(w, "Deployment", "ref", "missing_field", "")
		return
	}
	ref := *req.Ref
	sha, err := s.resolveRef(r, rp, ref)
	if err != nil {
		validationFailed(w, "Deployment", "ref", "invalid", "No ref found for: "+ref)
		return
	}
	// auto_merge (default true): GitHub merges the default branch into a
	// branch ref that lacks it and answers 202 instead of deploying.
	autoMerge := req.AutoMerge == nil || *req.AutoMerge
	if autoMerge && ref != rp.DefaultBranch {
		if branchSHA, err := s.revParse(r.Context(), rp.GitDir, "refs/heads/"+ref); err == nil {
			defSHA, _ := s.revParse(r.Context(), rp.GitDir, "refs/heads/"+rp.DefaultBranch)
			if defSHA != "" && !s.isAncestor(r.Context(), rp.GitDir, defSHA, branchSHA) {
				merged, err := s.mergeCommit(r.Context(), rp.GitDir, branchSHA, defSHA, fmt.Sprintf("Merge %s into %s", rp.DefaultBranch, ref), c.user)
				if err != nil {
					writeJSON(w, http.StatusConflict, map[string]any{"message": "Merge conflict", "documentation_url": "https://docs.github.com/rest/deployments/deployments#create-a-deployment", "status": "409"})
					return
				}
				before := s.refs(r.Context(), rp.GitDir)
				s.git(r.Context(), rp.GitDir, nil, nil, "update-ref", "refs/heads/"+ref, merged, branchSHA)
				s.afterPush(r.Context(), rp, before, s.refs(r.Context(), rp.GitDir), c.user)
				writeJSON(w, http.StatusAccepted, map[string]any{"message": fmt.Sprintf("Auto-merged %s into %s on deployment.", rp.DefaultBranch, ref)})
				return
			}
		}
	}
	s.mu.Lock()
	// required_contexts: omitted means every check (of every App) must
	// succeed; [] skips the check; a list names the checks that must.
	var failing []any
	passing := map[string]bool{}
	latest := map[string]*checkRun{}
	for _, run := range rp.CheckRuns {
		if run.HeadSHA == sha {
			if prev := latest[run.Name]; prev == nil || run.ID > prev.ID {
				latest[run.Name] = run
			}
		}
	}
	for name, run := range latest {
		// A deployment's contexts must be in a success state: neutral and
		// skipped, which pass branch protection, do not pass here.
		ok := run.Status == "completed" && run.Conclusion == "success"
		passing[name] = ok
		if !ok && req.RequiredContexts == nil {
			state := "pending"
			if run.Status == "completed" {
				state = "failure"
			}
			failing = append(failing, map[string]any{"context": name, "state": state})
		}
	}
	if req.RequiredContexts != nil {
		for _, ctx := range *req.RequiredContexts {
			if !passing[ctx] {
				state := "missing"
				if _, ok := latest[ctx]; ok {
					state = "failure"
				}
				failing = append(failing, map[string]any{"context": ctx, "state": state})
			}
		}
	}
	if len(failing) > 0 {
		s.mu.Unlock()
		writeJSON(w, http.StatusConflict, map[string]any{
			"message":           "Conflict: Commit status checks failed for " + ref + ".",
			"errors":            []any{map[string]any{"contexts": failing, "resource": "Deployment", "field": "required_contexts", "code": "invalid"}},
			"documentation_url": "https://docs.github.com/rest/deployments/deployments#create-a-deployment",
			"status":            "409",
		})
		return
	}
	env := "production"
	if req.Environment != nil && *req.Environment != "" {
		env = *req.Environment
	}
	d := &deployment{
		ID: s.id(), SHA: sha, Ref: ref, Task: "deploy", Environment: env, Payload: req.Payload,
		Creator: c.user, ViaApp: true, Created: s.now(), Updated: s.now(), Production: env == "production",
	}
	if p, ok := req.Payload.(string); ok {
		var v any
		if json.Unmarshal([]byte(p), &v) == nil {
			d.Payload = v
		}
	}
	if req.Task != nil && *req.Task != "" {
		d.Task = *req.Task
	}
	if req.Description != nil {
		d.Description = *req.Description
	}
	if req.TransientEnvironment != nil {
		d.Transient = *req.TransientEnvironment
	}
	if req.ProductionEnvironment != nil {
		d.Production = *req.ProductionEnvironment
	}
	rp.Deployments = append(rp.Deployments, d)
	body := s.deploymentJSON(rp, d)
	s.mu.Unlock()
	s.emitDeployment(rp, d)
	writeJSON(w, http.StatusCreated, body)
}

func (s *Server) handleListDeployments(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	q := r.URL.Query()
	s.mu.Lock()
	var list []*deployment
	for _, d := range rp.Deployments {
		if (q.Get("sha") == "" || q.Get("sha") == d.SHA) && (q.Get("ref") == "" || q.Get("ref") == d.Ref) &&
			(q.Get("task") == "" || q.Get("task") == d.Task) && (q.Get("environment") == "" || q.Get("environment") == d.Environment) {
			list = append(list, d)
		}
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].ID > list[j].ID }) // newest first, as GitHub
	page, ok := paginate(w, r, list)
	if !ok {
		return
	}
	out := []any{}
	s.mu.Lock()
	for _, d := range page {
		out = append(out, s.deploymentJSON(rp, d))
	}
	s.mu.Unlock()
	writeJSON(w, 200, out)
}

func (s *Server) deploymentFrom(w http.ResponseWriter, r *http.Request, rp *repo) *deployment {
	id, _ := pathInt(r, "deployment_id")
	for _, d := range rp.Deployments {
		if d.ID == id {
			return d
		}
	}
	writeError(w, 404, "Not Found", "https://docs.github.com/rest/deployments/deployments#get-a-deployment")
	return nil
}

func (s *Server) handleGetDeployment(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.deploymentFrom(w, r, rp); d != nil {
		writeJSON(w, 200, s.deploymentJSON(rp, d))
	}
}

func (s *Server) handleCreateDeploymentStatus(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	var req struct {
		State          *string `json:"state"`
		TargetURL      *string `json:"target_url"`
		LogURL         *string `json:"log_url"`
		Description    *string `json:"description"`
		Environment    *string `json:"environment"`
		EnvironmentURL *string `json:"environment_url"`
		AutoInactive   *bool   `json:"auto_inactive"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.State == nil {
		validationFailed(w, "DeploymentStatus", "state", "missing_field", "")
		return
	}
	if !deploymentStates[*req.State] {
		validationFailed(w, "DeploymentStatus", "state", "invalid", "")
		return
	}
	if req.Description != nil && utf8.RuneCountInString(*req.Description) > maxStatusDescription {
		validationFailed(w, "DeploymentStatus", "description", "custom", fmt.Sprintf("description is too long (maximum is %d characters)", maxStatusDescription))
		return
	}
	s.mu.Lock()
	d := s.deploymentFrom(w, r, rp)
	if d == nil {
		s.mu.Unlock()
		return
	}
	st := &deploymentStatus{ID: s.id(), State: *req.State, Environment: d.Environment, Creator: c.user, ViaApp: true, Created: s.now()}
	if req.Description != nil {
		st.Description = *req.Description
	}
	if req.LogURL != nil {
		st.LogURL = *req.LogURL
	} else if req.TargetURL != nil {
		st.LogURL = *req.TargetURL
	}
	if req.EnvironmentURL != nil {
		st.EnvironmentURL = *req.EnvironmentURL
	}
	if req.Environment != nil && *req.Environment != "" {
		st.Environment = *req.Environment
		d.Environment = *req.Environment
	}
	d.Statuses = append(d.Statuses, st)
	d.Updated = s.now()
	// auto_inactive (default true): prior non-transient, non-production
	// deployments to the same environment whose latest state is success get
	// an inactive status. GitHub sends no webhook for those.
	if st.State == "success" && (req.AutoInactive == nil || *req.AutoInactive) {
		for _, other := range rp.Deployments {
			if other.ID == d.ID || other.Environment != d.Environment || other.Transient || other.Production || len(other.Statuses) == 0 {
				continue
			}
			if other.Statuses[len(other.Statuses)-1].State == "success" {
				other.Statuses = append(other.Statuses, &deploymentStatus{ID: s.id(), State: "inactive", Environment: other.Environment, Creator: c.user, ViaApp: true, Created: s.now(), Description: ""})
				other.Updated = s.now()
			}
		}
	}
	body := s.deploymentStatusJSON(rp, d, st)
	s.mu.Unlock()
	if st.State != "inactive" {
		s.emitDeploymentStatus(rp, d, st)
	}
	writeJSON(w, http.StatusCreated, body)
}

func (s *Server) handleListDeploymentStatuses(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.mu.Lock()
	d := s.deploymentFrom(w, r, rp)
	if d == nil {
		s.mu.Unlock()
		return
	}
	list := append([]*deploymentStatus(nil), d.Statuses...)
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].ID > list[j].ID })
	page, ok := paginate(w, r, list)
	if !ok {
		return
	}
	out := []any{}
	s.mu.Lock()
	for _, st := range page {
		out = append(out, s.restDeploymentStatusJSON(rp, d, st))
	}
	s.mu.Unlock()
	writeJSON(w, 200, out)
}

func (s *Server) handleGetDeploymentStatus(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deploymentFrom(w, r, rp)
	if d == nil {
		return
	}
	id, _ := pathInt(r, "status_id")
	for _, st := range d.Statuses {
		if st.ID == id {
			writeJSON(w, 200, s.restDeploymentStatusJSON(rp, d, st))
			return
		}
	}
	writeError(w, 404, "Not Found", "")
}

// Deployment is a read-only view of a deployment, for assertions.
type Deployment struct {
	ID          int64
	SHA, Ref    string
	Task        string
	Environment string
	Payload     any
	States      []string // oldest first
	// Descriptions are the statuses' descriptions, as States.
	Descriptions []string
	// Creator is who created it: the App's bot, or github-actions[bot]
	// for an Actions job's.
	Creator string
	// LogURL is the latest status's log_url.
	LogURL string
}

// Deployments lists a repository's deployments, oldest first.
func (s *Server) Deployments(fullName string) []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[fullName]
	if r == nil {
		return nil
	}
	var out []Deployment
	for _, d := range r.Deployments {
		v := Deployment{ID: d.ID, SHA: d.SHA, Ref: d.Ref, Task: d.Task, Environment: d.Environment, Payload: d.Payload}
		if d.Creator != nil {
			v.Creator = d.Creator.Login
		}
		if n := len(d.Statuses); n > 0 {
			v.LogURL = d.Statuses[n-1].LogURL
		}
		for _, st := range d.Statuses {
			v.States = append(v.States, st.State)
			v.Descriptions = append(v.Descriptions, st.Description)
		}
		out = append(out, v)
	}
	return out
}

// SetDeploymentStatusAs writes a deployment status as a person with write
// access would through the REST API (their own token): its creator is the
// person, not the App. A runner must not take such a "queued" status for
// the App's go-ahead.
func (s *Server) SetDeploymentStatusAs(fullName string, deploymentID int64, login, state, description string) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	if !deploymentStates[state] {
		return fmt.Errorf("deployment status %q is not one of GitHub's", state)
	}
	s.mu.Lock()
	u := s.userLocked(login, "User")
	if err := s.requirePermLocked(r, u, PermWrite); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("%s setting a deployment status: %w", login, err)
	}
	var d *deployment
	for _, x := range r.Deployments {
		if x.ID == deploymentID {
			d = x
		}
	}
	if d == nil {
		s.mu.Unlock()
		return fmt.Errorf("no deployment %d in %s", deploymentID, fullName)
	}
	st := &deploymentStatus{ID: s.id(), State: state, Environment: d.Environment, Creator: u, Created: s.now(), Description: description}
	d.Statuses = append(d.Statuses, st)
	d.Updated = s.now()
	s.mu.Unlock()
	if state != "inactive" {
		s.emitDeploymentStatus(r, d, st)
	}
	return nil
}

// restDeploymentStatusJSON is a status as the REST API shows it. GitHub
// gives an Actions job's deployment the state "waiting" while the job
// waits for its environment's rules; the pinned REST description has no
// such state (the webhook one has), so the REST answers say "pending",
// the nearest state it allows.
func (s *Server) restDeploymentStatusJSON(rp *repo, d *deployment, st *deploymentStatus) map[string]any {
	m := s.deploymentStatusJSON(rp, d, st)
	if m["state"] == "waiting" {
		m["state"] = "pending"
	}
	return m
}
