package githubsim

import (
	"fmt"
	"strings"
)

// Review submits a review (state APPROVE, REQUEST_CHANGES or COMMENT, as
// the REST API takes it) on the PR's current head and returns its id.
func (s *Server) Review(fullName string, number int, login, event, body string) (int64, error) {
	r, err := s.repo(fullName)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	p := s.pullLocked(r, number)
	if p == nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("no PR %s#%d", fullName, number)
	}
	rv, err := s.addReviewLocked(p, s.userLocked(login, "User"), event, body, "")
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	s.emitReview(r, p, rv, "submitted", rv.User, nil)
	return rv.ID, nil
}

func (s *Server) addReviewLocked(p *pull, u *user, event, body, commit string) (*review, error) {
	state := map[string]string{"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED", "": "PENDING"}[event]
	if state == "" {
		return nil, fmt.Errorf("review event %q: want APPROVE, REQUEST_CHANGES or COMMENT", event)
	}
	if commit == "" {
		commit = p.HeadSHA
	}
	rv := &review{ID: s.id(), User: u, Body: body, State: state, CommitID: commit, Submitted: s.now()}
	p.Reviews = append(p.Reviews, rv)
	return rv, nil
}

// reviewLocked finds review id on pull request number.
func (s *Server) reviewLocked(r *repo, number int, id int64) (*pull, *review, error) {
	p := s.pullLocked(r, number)
	if p == nil {
		return nil, nil, fmt.Errorf("no PR %s#%d", r.FullName(), number)
	}
	for _, rv := range p.Reviews {
		if rv.ID == id {
			return p, rv, nil
		}
	}
	return nil, nil, fmt.Errorf("no review %d on %s#%d", id, r.FullName(), number)
}

// DismissReview is by (with write access) dismissing an approval or a
// request for changes: the review's state becomes DISMISSED (REST) and
// pull_request_review "dismissed" is sent with by as sender. GitHub
// dismisses no other review.
func (s *Server) DismissReview(fullName string, number int, reviewID int64, by, message string) error {
	if strings.TrimSpace(message) == "" {
		return fmt.Errorf("dismissing review %d: GitHub requires a message", reviewID)
	}
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	s.mu.Lock()
	p, rv, err := s.reviewLocked(r, number, reviewID)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	u := s.userLocked(by, "User")
	if err := s.requirePermLocked(r, u, PermWrite); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("dismissing review %d: %w", reviewID, err)
	}
	if rv.State != "APPROVED" && rv.State != "CHANGES_REQUESTED" {
		s.mu.Unlock()
		return fmt.Errorf("dismissing review %d: it is %s; only approvals and requests for changes can be dismissed", reviewID, rv.State)
	}
	rv.State = "DISMISSED"
	s.mu.Unlock()
	s.emitReview(r, p, rv, "dismissed", u, nil)
	return nil
}

// EditReview is the review's author changing its body:
// pull_request_review "edited" with the old body in changes.
func (s *Server) EditReview(fullName string, number int, reviewID int64, by, body string) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	s.mu.Lock()
	p, rv, err := s.reviewLocked(r, number, reviewID)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	if rv.User.Login != by {
		s.mu.Unlock()
		return fmt.Errorf("editing review %d: only its author %s may", reviewID, rv.User.Login)
	}
	old := rv.Body
	rv.Body = body
	u := rv.User
	s.mu.Unlock()
	s.emitReview(r, p, rv, "edited", u, map[string]any{"body": map[string]any{"from": old}})
	return nil
}

// emitReview sends pull_request_review; the review's state is lower case
// in webhooks ("approved", "dismissed") and upper case in REST.
func (s *Server) emitReview(r *repo, p *pull, rv *review, action string, sender *user, changes map[string]any) {
	s.mu.Lock()
	rj := s.reviewJSON(r, p, rv)
	rj["state"] = strings.ToLower(rv.State)
	pl := map[string]any{"action": action, "review": rj, "pull_request": s.prJSON(r, p, false), "sender": s.userJSON(sender)}
	if changes != nil {
		pl["changes"] = changes
	}
	s.mu.Unlock()
	s.deliver(r, "pull_request_review", pl)
}
