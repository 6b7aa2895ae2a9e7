package githubsim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// label is a repository's label.
type label struct {
	ID          int64
	Name        string
	Color       string // six hex digits, no '#'
	Description string
}

// labelLocked returns the repository's label by name (GitHub matches names
// case-insensitively), creating it with a colour derived from its name.
func (s *Server) labelLocked(r *repo, name string) *label {
	for _, l := range r.Labels {
		if strings.EqualFold(l.Name, name) {
			return l
		}
	}
	sum := sha256.Sum256([]byte(name))
	l := &label{ID: s.id(), Name: name, Color: hex.EncodeToString(sum[:3])}
	r.Labels = append(r.Labels, l)
	return l
}

// AddLabel is login (with triage access or more) adding a label to a pull
// request, the label created in the repository when new: pull_request
// "labeled". Adding a label the pull request has sends nothing, as on
// GitHub.
func (s *Server) AddLabel(fullName string, number int, login, name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("adding a label to %s#%d: empty name", fullName, number)
	}
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	s.mu.Lock()
	p := s.pullLocked(r, number)
	if p == nil {
		s.mu.Unlock()
		return fmt.Errorf("no PR %s#%d", fullName, number)
	}
	u := s.userLocked(login, "User")
	if err := s.requirePermLocked(r, u, PermTriage); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("labelling %s#%d: %w", fullName, number, err)
	}
	l := s.labelLocked(r, name)
	for _, have := range p.Labels {
		if have == l {
			s.mu.Unlock()
			return nil
		}
	}
	p.Labels = append(p.Labels, l)
	p.Updated = s.now()
	lj := s.labelJSON(r, l)
	s.mu.Unlock()
	s.emitPull(r, p, "labeled", u, map[string]any{"label": lj})
	return nil
}

// RemoveLabel is login (with triage access or more) removing a label from
// a pull request: pull_request "unlabeled".
func (s *Server) RemoveLabel(fullName string, number int, login, name string) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	s.mu.Lock()
	p := s.pullLocked(r, number)
	if p == nil {
		s.mu.Unlock()
		return fmt.Errorf("no PR %s#%d", fullName, number)
	}
	u := s.userLocked(login, "User")
	if err := s.requirePermLocked(r, u, PermTriage); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("unlabelling %s#%d: %w", fullName, number, err)
	}
	var l *label
	for i, have := range p.Labels {
		if strings.EqualFold(have.Name, name) {
			l = have
			p.Labels = append(p.Labels[:i:i], p.Labels[i+1:]...)
			break
		}
	}
	if l == nil {
		s.mu.Unlock()
		return fmt.Errorf("%s#%d has no label %q", fullName, number, name)
	}
	p.Updated = s.now()
	lj := s.labelJSON(r, l)
	s.mu.Unlock()
	s.emitPull(r, p, "unlabeled", u, map[string]any{"label": lj})
	return nil
}

func (s *Server) handleListIssueLabels(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	n, _ := pathInt(r, "issue_number")
	s.mu.Lock()
	p := s.pullLocked(rp, int(n))
	if p == nil {
		s.mu.Unlock()
		writeError(w, 404, "Not Found", "https://docs.github.com/rest/issues/labels#list-labels-for-an-issue")
		return
	}
	list := append([]*label(nil), p.Labels...)
	s.mu.Unlock()
	page, ok := paginate(w, r, list)
	if !ok {
		return
	}
	out := []any{}
	s.mu.Lock()
	for _, l := range page {
		out = append(out, s.labelJSON(rp, l))
	}
	s.mu.Unlock()
	writeJSON(w, 200, out)
}

func (s *Server) labelJSON(r *repo, l *label) map[string]any {
	return map[string]any{
		"id": l.ID, "node_id": nodeID("LA_", l.ID), "name": l.Name, "color": l.Color,
		"description": strOrNil(l.Description), "default": false,
		"url": fmt.Sprintf("%s/repos/%s/labels/%s", s.URL(), r.FullName(), url.PathEscape(l.Name)),
	}
}

func (s *Server) labelsJSON(r *repo, p *pull) []any {
	out := []any{}
	for _, l := range p.Labels {
		out = append(out, s.labelJSON(r, l))
	}
	return out
}
