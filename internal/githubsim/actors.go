package githubsim

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// This file is the Go API tests use to act as people on GitHub. Every change
// announces itself with the webhooks GitHub would send.

func (s *Server) userLocked(login, typ string) *user {
	if u := s.users[login]; u != nil {
		return u
	}
	u := &user{Login: login, ID: s.id(), Type: typ}
	s.users[login] = u
	return u
}

func (s *Server) botUser() *user {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[s.opts.AppSlug+"[bot]"]
}

// BotLogin is the login of the App's bot user, e.g. "honua-gitops[bot]".
func (s *Server) BotLogin() string { return s.opts.AppSlug + "[bot]" }

// AddUser creates a user (idempotent).
func (s *Server) AddUser(login string) {
	s.mu.Lock()
	s.userLocked(login, "User")
	s.mu.Unlock()
}

// AddOrg creates an organization (idempotent).
func (s *Server) AddOrg(login string) {
	s.mu.Lock()
	s.userLocked(login, "Organization")
	s.mu.Unlock()
}

// Install installs the App on an account (created as an organization when
// new) and returns the installation id; installing twice returns the same id.
func (s *Server) Install(account string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range s.installs {
		if in.Account.Login == account {
			return in.ID
		}
	}
	in := &installation{ID: s.id(), Account: s.userLocked(account, "Organization"), Created: s.now()}
	s.installs[in.ID] = in
	return in.ID
}

// CreateRepo creates owner/name with one commit on branch holding the files
// of dir (empty dir: an empty README). The owner is created as an
// organization when unknown. It returns the commit's SHA.
func (s *Server) CreateRepo(ctx context.Context, fullName, branch, dir string) (string, error) {
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok {
		return "", fmt.Errorf("repo %q: want owner/name", fullName)
	}
	if branch == "" {
		branch = "main"
	}
	s.mu.Lock()
	if s.repos[fullName] != nil {
		s.mu.Unlock()
		return "", fmt.Errorf("repo %s exists", fullName)
	}
	r := &repo{
		ID: s.id(), Owner: s.userLocked(owner, "Organization"), Name: name, DefaultBranch: branch,
		GitDir: filepath.Join(s.opts.GitRoot, owner, name+".git"), Created: s.now(), Pushed: s.now(),
		Collaborators: map[string]string{}, Environments: map[string]*environment{}, nextNumber: 1,
	}
	author := s.userLocked(owner, "Organization")
	s.mu.Unlock()
	if err := s.initBare(ctx, r.GitDir, branch); err != nil {
		return "", fmt.Errorf("creating %s: %w", fullName, err)
	}
	var sha string
	var err error
	if dir != "" {
		sha, err = s.commitFiles(ctx, r.GitDir, "", dir, nil, "Initial commit", author)
	} else {
		sha, err = s.commitFiles(ctx, r.GitDir, "", "", []FileChange{{Path: "README.md", Content: []byte("# " + name + "\n")}}, "Initial commit", author)
	}
	if err != nil {
		return "", fmt.Errorf("creating %s: %w", fullName, err)
	}
	if _, err := s.git(ctx, r.GitDir, nil, nil, "update-ref", "refs/heads/"+branch, sha); err != nil {
		return "", err
	}
	s.mu.Lock()
	s.repos[fullName] = r
	s.mu.Unlock()
	return sha, nil
}

// GitDir is the path of a repository's bare git directory.
func (s *Server) GitDir(fullName string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repos[fullName]; r != nil {
		return r.GitDir
	}
	return ""
}

// CloneURL is the smart-HTTP URL of a repository.
func (s *Server) CloneURL(fullName string) string { return s.URL() + "/" + fullName + ".git" }

func (s *Server) repo(fullName string) (*repo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[fullName]
	if r == nil {
		return nil, fmt.Errorf("no repo %s", fullName)
	}
	return r, nil
}

// Push commits changes on top of branch (created from the default branch
// when missing) as author and announces it (push; pull_request synchronize).
func (s *Server) Push(ctx context.Context, fullName, branch, author, message string, changes ...FileChange) (string, error) {
	return s.push(ctx, fullName, branch, author, message, "", changes)
}

// PushDir replaces branch's whole tree with dir's files in one commit.
func (s *Server) PushDir(ctx context.Context, fullName, branch, author, message, dir string) (string, error) {
	return s.push(ctx, fullName, branch, author, message, dir, nil)
}

func (s *Server) push(ctx context.Context, fullName, branch, author, message, dir string, changes []FileChange) (string, error) {
	r, err := s.repo(fullName)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	u := s.userLocked(author, "User")
	s.mu.Unlock()
	before := s.refs(ctx, r.GitDir)
	parent := before["refs/heads/"+branch]
	if parent == "" {
		parent = before["refs/heads/"+r.DefaultBranch]
	}
	sha, err := s.commitFiles(ctx, r.GitDir, parent, dir, changes, message, u)
	if err != nil {
		return "", fmt.Errorf("pushing to %s %s: %w", fullName, branch, err)
	}
	if _, err := s.git(ctx, r.GitDir, nil, nil, "update-ref", "refs/heads/"+branch, sha); err != nil {
		return "", err
	}
	s.afterPush(ctx, r, before, s.refs(ctx, r.GitDir), u)
	return sha, nil
}

// MoveBranch points branch at an existing commit as by, creating the
// branch or force-moving it, as pushing a commit GitHub already has does.
// The push is announced; check_suite "requested" only when sha has no suite
// of the App yet.
func (s *Server) MoveBranch(ctx context.Context, fullName, branch, sha, by string) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	full, err := s.revParse(ctx, r.GitDir, sha)
	if err != nil || full != sha {
		return fmt.Errorf("moving %s in %s: no commit %s", branch, fullName, sha)
	}
	s.mu.Lock()
	u := s.userLocked(by, "User")
	s.mu.Unlock()
	before := s.refs(ctx, r.GitDir)
	if _, err := s.git(ctx, r.GitDir, nil, nil, "update-ref", "refs/heads/"+branch, sha); err != nil {
		return fmt.Errorf("moving %s in %s: %w", branch, fullName, err)
	}
	s.afterPush(ctx, r, before, s.refs(ctx, r.GitDir), u)
	return nil
}

// afterPush updates pull requests and announces ref changes.
func (s *Server) afterPush(ctx context.Context, r *repo, before, after map[string]string, pusher *user) {
	for ref, sha := range after {
		old := before[ref]
		if old == sha || !strings.HasPrefix(ref, "refs/heads/") {
			continue
		}
		branch := strings.TrimPrefix(ref, "refs/heads/")
		s.mu.Lock()
		r.Pushed = s.now()
		var synced []*pull
		for _, p := range r.Pulls {
			if p.State == "open" && p.Head == branch {
				p.HeadSHA = sha
				p.Updated = s.now()
				synced = append(synced, p)
			}
			if p.State == "open" && p.Base == branch {
				p.BaseSHA = sha
			}
		}
		s.mu.Unlock()
		s.emitPush(ctx, r, ref, old, sha, pusher)
		if sha != "" {
			s.requestSuite(ctx, r, branch, old, sha, pusher)
		}
		for _, p := range synced {
			s.emitPull(r, p, "synchronize", pusher, map[string]any{"before": old, "after": sha})
		}
	}
}

// OpenPR opens a pull request from head into base (default branch when
// empty) and returns its number.
func (s *Server) OpenPR(ctx context.Context, fullName, head, base, author, title, body string) (int, error) {
	return s.openPR(ctx, fullName, head, base, author, title, body, false)
}

func (s *Server) openPR(ctx context.Context, fullName, head, base, author, title, body string, draft bool) (int, error) {
	r, err := s.repo(fullName)
	if err != nil {
		return 0, err
	}
	if base == "" {
		base = r.DefaultBranch
	}
	headSHA, err := s.revParse(ctx, r.GitDir, "refs/heads/"+head)
	if err != nil {
		return 0, fmt.Errorf("opening PR: no branch %s", head)
	}
	baseSHA, err := s.revParse(ctx, r.GitDir, "refs/heads/"+base)
	if err != nil {
		return 0, fmt.Errorf("opening PR: no branch %s", base)
	}
	s.mu.Lock()
	p := &pull{
		ID: s.id(), Number: r.nextNumber, Title: title, Body: body, User: s.userLocked(author, "User"),
		Head: head, Base: base, HeadSHA: headSHA, BaseSHA: baseSHA, State: "open", Draft: draft,
		Created: s.now(), Updated: s.now(),
	}
	r.nextNumber++
	r.Pulls = append(r.Pulls, p)
	s.mu.Unlock()
	s.emitPull(r, p, "opened", p.User, nil)
	return p.Number, nil
}

func (s *Server) pullLocked(r *repo, n int) *pull {
	for _, p := range r.Pulls {
		if p.Number == n {
			return p
		}
	}
	return nil
}

// MergePR merges an open, non-draft pull request with a merge commit as by
// (who needs write access) and returns the commit's SHA.
func (s *Server) MergePR(ctx context.Context, fullName string, number int, by string) (string, error) {
	r, err := s.repo(fullName)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	p := s.pullLocked(r, number)
	u := s.userLocked(by, "User")
	switch {
	case p == nil || p.State != "open":
		err = fmt.Errorf("PR %s#%d is not open", fullName, number)
	case p.Draft:
		err = fmt.Errorf("PR %s#%d is a draft: GitHub does not merge drafts", fullName, number)
	default:
		err = s.requirePermLocked(r, u, PermWrite)
	}
	var base, head, headSHA, title string
	if err == nil {
		base, head, headSHA, title = p.Base, p.Head, p.HeadSHA, p.Title
	}
	s.mu.Unlock()
	if err != nil {
		return "", fmt.Errorf("merging %s#%d: %w", fullName, number, err)
	}
	before := s.refs(ctx, r.GitDir)
	baseSHA := before["refs/heads/"+base]
	sha, err := s.mergeCommit(ctx, r.GitDir, baseSHA, headSHA, fmt.Sprintf("Merge pull request #%d from %s/%s\n\n%s", number, r.Owner.Login, head, title), u)
	if err != nil {
		return "", err
	}
	if _, err := s.git(ctx, r.GitDir, nil, nil, "update-ref", "refs/heads/"+base, sha, baseSHA); err != nil {
		return "", err
	}
	s.mu.Lock()
	now := s.now()
	p.State, p.Merged, p.MergeCommitSHA, p.MergedBy = "closed", true, sha, u
	p.MergedAt, p.ClosedAt, p.Updated = &now, &now, now
	p.BaseSHA = baseSHA
	s.mu.Unlock()
	s.emitPull(r, p, "closed", u, nil)
	s.afterPush(ctx, r, before, s.refs(ctx, r.GitDir), u)
	return sha, nil
}

// ClosePR closes a pull request without merging, as its author or someone
// with write access.
func (s *Server) ClosePR(ctx context.Context, fullName string, number int, by string) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	s.mu.Lock()
	p := s.pullLocked(r, number)
	u := s.userLocked(by, "User")
	if p == nil || p.State != "open" {
		s.mu.Unlock()
		return fmt.Errorf("PR %s#%d is not open", fullName, number)
	}
	if err := s.mayEditPullLocked(r, p, u); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("closing %s#%d: %w", fullName, number, err)
	}
	now := s.now()
	p.State, p.ClosedAt, p.Updated = "closed", &now, now
	s.mu.Unlock()
	s.emitPull(r, p, "closed", u, nil)
	return nil
}

// ClickCheckRunAction is a person pressing a check run's button: GitHub sends
// check_run requested_action to the run's App only (nothing reaches this
// App for another App's run).
func (s *Server) ClickCheckRunAction(fullName string, checkRunID int64, identifier, login string) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	s.mu.Lock()
	run := s.checkRunLocked(r, checkRunID)
	if run == nil {
		s.mu.Unlock()
		return fmt.Errorf("no check run %d", checkRunID)
	}
	found := false
	for _, a := range run.Actions {
		if a["identifier"] == identifier {
			found = true
		}
	}
	completed := run.Status == "completed"
	u := s.userLocked(login, "User")
	s.mu.Unlock()
	if !found {
		return fmt.Errorf("check run %d has no action %q", checkRunID, identifier)
	}
	if !completed {
		return fmt.Errorf("check run %d: buttons show only on completed runs", checkRunID)
	}
	s.emitCheckRun(r, run, "requested_action", u, map[string]any{"requested_action": map[string]any{"identifier": identifier}})
	return nil
}

// SetCollaborator gives login a permission (admin, maintain, write, triage,
// read) on a repository; "" removes it.
func (s *Server) SetCollaborator(fullName, login, permission string) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userLocked(login, "User")
	if permission == "" {
		delete(r.Collaborators, login)
	} else {
		r.Collaborators[login] = permission
	}
	return nil
}

// PR is a read-only view of a pull request, for assertions.
type PR struct {
	Number         int
	Title, Body    string
	State          string
	Draft          bool
	Merged         bool
	Head, Base     string // branches
	HeadSHA        string
	BaseSHA        string
	MergeCommitSHA string
	Labels         []string
	// Comments are the pull request's comments, oldest first.
	Comments []Comment
}

// Comment is a read-only view of an issue comment.
type Comment struct {
	ID    int64
	Login string
	Body  string
}

// PullRequest returns a view of a pull request.
func (s *Server) PullRequest(fullName string, number int) (PR, bool) {
	r, err := s.repo(fullName)
	if err != nil {
		return PR{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pullLocked(r, number)
	if p == nil {
		return PR{}, false
	}
	v := PR{Number: p.Number, Title: p.Title, Body: p.Body, State: p.State, Draft: p.Draft, Merged: p.Merged, Head: p.Head, Base: p.Base,
		HeadSHA: p.HeadSHA, BaseSHA: p.BaseSHA, MergeCommitSHA: p.MergeCommitSHA}
	for _, l := range p.Labels {
		v.Labels = append(v.Labels, l.Name)
	}
	for _, c := range r.Comments {
		if c.Issue == number {
			v.Comments = append(v.Comments, Comment{ID: c.ID, Login: c.User.Login, Body: c.Body})
		}
	}
	return v, true
}

var _ = time.Second
