package githubsim

import (
	"context"
	"fmt"
)

// Pull request life beyond opening and merging: drafts, reopening,
// editing. Each change sends the pull_request event GitHub sends.

// OpenDraftPR opens a draft pull request ("opened" with draft true).
func (s *Server) OpenDraftPR(ctx context.Context, fullName, head, base, author, title, body string) (int, error) {
	return s.openPR(ctx, fullName, head, base, author, title, body, true)
}

// permissionLocked is login's permission on r (the owner is admin).
func (s *Server) permissionLocked(r *repo, login string) string {
	if login == r.Owner.Login {
		return PermAdmin
	}
	return r.Collaborators[login]
}

// permRank orders repository roles.
func permRank(p string) int {
	switch p {
	case PermRead:
		return 1
	case PermTriage:
		return 2
	case PermWrite:
		return 3
	case PermMaintain:
		return 4
	case PermAdmin:
		return 5
	}
	return 0
}

// requirePermLocked fails unless u has at least role on r.
func (s *Server) requirePermLocked(r *repo, u *user, role string) error {
	if permRank(s.permissionLocked(r, u.Login)) < permRank(role) {
		return fmt.Errorf("%s needs %s access to %s (has %q)", u.Login, role, r.FullName(), s.permissionLocked(r, u.Login))
	}
	return nil
}

// mayEditPullLocked: GitHub lets a pull request's author and people with
// write access change it.
func (s *Server) mayEditPullLocked(r *repo, p *pull, u *user) error {
	if u.Login == p.User.Login {
		return nil
	}
	return s.requirePermLocked(r, u, PermWrite)
}

// ReopenPR reopens a closed, unmerged pull request as by (its author or
// someone with write access): "reopened". The pull request takes its
// branches' current heads.
func (s *Server) ReopenPR(ctx context.Context, fullName string, number int, by string) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	s.mu.Lock()
	p := s.pullLocked(r, number)
	var head, base string
	if p != nil {
		head, base = p.Head, p.Base
	}
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("no PR %s#%d", fullName, number)
	}
	headSHA, err := s.revParse(ctx, r.GitDir, "refs/heads/"+head)
	if err != nil {
		return fmt.Errorf("reopening %s#%d: head branch %s is gone", fullName, number, head)
	}
	baseSHA, err := s.revParse(ctx, r.GitDir, "refs/heads/"+base)
	if err != nil {
		return fmt.Errorf("reopening %s#%d: base branch %s is gone", fullName, number, base)
	}
	s.mu.Lock()
	u := s.userLocked(by, "User")
	switch {
	case p.Merged:
		err = fmt.Errorf("PR %s#%d is merged: GitHub cannot reopen it", fullName, number)
	case p.State != "closed":
		err = fmt.Errorf("PR %s#%d is not closed", fullName, number)
	default:
		err = s.mayEditPullLocked(r, p, u)
	}
	if err != nil {
		s.mu.Unlock()
		return err
	}
	p.State, p.ClosedAt, p.Updated = "open", nil, s.now()
	p.HeadSHA, p.BaseSHA = headSHA, baseSHA
	s.mu.Unlock()
	s.emitPull(r, p, "reopened", u, nil)
	return nil
}

// PREdit is an edit of a pull request; nil fields stay.
type PREdit struct {
	Title *string
	Body  *string
	Base  *string // another branch to merge into
}

// EditPR edits a pull request's title, body or base as by (its author or
// someone with write access): "edited" with changes holding the old values.
// An edit that changes nothing sends nothing.
func (s *Server) EditPR(ctx context.Context, fullName string, number int, by string, e PREdit) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	var baseSHA string
	if e.Base != nil {
		if baseSHA, err = s.revParse(ctx, r.GitDir, "refs/heads/"+*e.Base); err != nil {
			return fmt.Errorf("editing %s#%d: no branch %s", fullName, number, *e.Base)
		}
	}
	s.mu.Lock()
	p := s.pullLocked(r, number)
	if p == nil {
		s.mu.Unlock()
		return fmt.Errorf("no PR %s#%d", fullName, number)
	}
	u := s.userLocked(by, "User")
	if err := s.mayEditPullLocked(r, p, u); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("editing %s#%d: %w", fullName, number, err)
	}
	changes := map[string]any{}
	if e.Title != nil && *e.Title != p.Title {
		changes["title"] = map[string]any{"from": p.Title}
		p.Title = *e.Title
	}
	if e.Body != nil && *e.Body != p.Body {
		changes["body"] = map[string]any{"from": p.Body}
		p.Body = *e.Body
	}
	if e.Base != nil && *e.Base != p.Base {
		if *e.Base == p.Head {
			s.mu.Unlock()
			return fmt.Errorf("editing %s#%d: base and head are both %s", fullName, number, p.Head)
		}
		changes["base"] = map[string]any{"ref": map[string]any{"from": p.Base}, "sha": map[string]any{"from": p.BaseSHA}}
		p.Base, p.BaseSHA = *e.Base, baseSHA
	}
	if len(changes) == 0 {
		s.mu.Unlock()
		return nil
	}
	p.Updated = s.now()
	s.mu.Unlock()
	s.emitPull(r, p, "edited", u, map[string]any{"changes": changes})
	return nil
}

// MarkReadyForReview takes an open draft out of draft as by (its author or
// someone with write access): "ready_for_review".
func (s *Server) MarkReadyForReview(fullName string, number int, by string) error {
	return s.setDraft(fullName, number, by, false, "ready_for_review")
}

// ConvertToDraft makes an open pull request a draft again:
// "converted_to_draft".
func (s *Server) ConvertToDraft(fullName string, number int, by string) error {
	return s.setDraft(fullName, number, by, true, "converted_to_draft")
}

func (s *Server) setDraft(fullName string, number int, by string, draft bool, action string) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	s.mu.Lock()
	p := s.pullLocked(r, number)
	if p == nil || p.State != "open" {
		s.mu.Unlock()
		return fmt.Errorf("PR %s#%d is not open", fullName, number)
	}
	if p.Draft == draft {
		s.mu.Unlock()
		return fmt.Errorf("PR %s#%d: draft is already %v", fullName, number, draft)
	}
	u := s.userLocked(by, "User")
	if err := s.mayEditPullLocked(r, p, u); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("%s %s#%d: %w", action, fullName, number, err)
	}
	p.Draft, p.Updated = draft, s.now()
	s.mu.Unlock()
	s.emitPull(r, p, action, u, nil)
	return nil
}
