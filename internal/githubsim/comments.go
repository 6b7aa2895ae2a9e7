package githubsim

import (
	"fmt"
	"net/http"
)

// Comment adds an issue comment to a PR as login and returns its id.
func (s *Server) Comment(fullName string, number int, login, body string) (int64, error) {
	r, err := s.repo(fullName)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	if s.pullLocked(r, number) == nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("no PR %s#%d", fullName, number)
	}
	c := &issueComment{ID: s.id(), Issue: number, User: s.userLocked(login, "User"), Body: body, Created: s.now(), Updated: s.now()}
	r.Comments = append(r.Comments, c)
	s.mu.Unlock()
	s.emitComment(r, c, "created", c.User, nil)
	return c.ID, nil
}

func (s *Server) commentLocked(r *repo, id int64) (int, *issueComment) {
	for i, cm := range r.Comments {
		if cm.ID == id {
			return i, cm
		}
	}
	return -1, nil
}

// mayChangeCommentLocked: a comment's author may change it, and so may
// anyone with write access to the repository.
func (s *Server) mayChangeCommentLocked(r *repo, c *issueComment, u *user) error {
	if c.User.Login == u.Login {
		return nil
	}
	return s.requirePermLocked(r, u, PermWrite)
}

// EditComment changes a comment's body as editor (its author, or anyone
// with write access): issue_comment "edited" names the editor as sender.
func (s *Server) EditComment(fullName string, id int64, editor, body string) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	s.mu.Lock()
	_, c := s.commentLocked(r, id)
	if c == nil {
		s.mu.Unlock()
		return fmt.Errorf("no comment %d in %s", id, fullName)
	}
	u := s.userLocked(editor, "User")
	if err := s.mayChangeCommentLocked(r, c, u); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("editing comment %d: %w", id, err)
	}
	old := c.Body
	c.Body, c.Updated = body, s.now()
	s.mu.Unlock()
	s.emitComment(r, c, "edited", u, map[string]any{"body": map[string]any{"from": old}})
	return nil
}

// DeleteComment deletes a comment as by (its author, or anyone with write
// access): issue_comment "deleted" carries the comment as it was.
func (s *Server) DeleteComment(fullName string, id int64, by string) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	s.mu.Lock()
	i, c := s.commentLocked(r, id)
	if c == nil {
		s.mu.Unlock()
		return fmt.Errorf("no comment %d in %s", id, fullName)
	}
	u := s.userLocked(by, "User")
	if err := s.mayChangeCommentLocked(r, c, u); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("deleting comment %d: %w", id, err)
	}
	pl := s.commentPayloadLocked(r, c, "deleted", u, nil)
	r.Comments = append(r.Comments[:i:i], r.Comments[i+1:]...)
	s.mu.Unlock()
	s.deliver(r, "issue_comment", pl)
	return nil
}

// handleDeleteComment: the App deletes its own comments (204).
func (s *Server) handleDeleteComment(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.mu.Lock()
	cm := s.commentFrom(w, r, rp)
	if cm == nil {
		s.mu.Unlock()
		return
	}
	if c.user == nil || cm.User.Login != c.user.Login {
		s.mu.Unlock()
		writeError(w, 403, msgNotAccessible, "https://docs.github.com/rest/issues/comments#delete-an-issue-comment")
		return
	}
	i, _ := s.commentLocked(rp, cm.ID)
	pl := s.commentPayloadLocked(rp, cm, "deleted", c.user, nil)
	rp.Comments = append(rp.Comments[:i:i], rp.Comments[i+1:]...)
	s.mu.Unlock()
	s.deliver(rp, "issue_comment", pl)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) commentPayloadLocked(r *repo, c *issueComment, action string, sender *user, changes map[string]any) map[string]any {
	p := s.pullLocked(r, c.Issue)
	pl := map[string]any{"action": action, "issue": s.issueJSON(r, p), "comment": s.commentJSON(r, c), "sender": s.userJSON(sender)}
	if changes != nil {
		pl["changes"] = changes
	}
	return pl
}

// emitComment sends issue_comment with sender as the one who acted.
func (s *Server) emitComment(r *repo, c *issueComment, action string, sender *user, changes map[string]any) {
	s.mu.Lock()
	pl := s.commentPayloadLocked(r, c, action, sender, changes)
	s.mu.Unlock()
	s.deliver(r, "issue_comment", pl)
}
