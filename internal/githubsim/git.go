package githubsim

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// git runs the git CLI on a bare repository with a fixed identity and the
// emulator's clock, so commits are reproducible.
func (s *Server) git(ctx context.Context, dir string, env []string, stdin []byte, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	ts := s.clock.Now().UTC().Format(time.RFC3339)
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "HOME="+s.opts.GitRoot, "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_DATE="+ts, "GIT_COMMITTER_DATE="+ts,
	)
	cmd.Env = append(cmd.Env, env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

func identityEnv(u *user) []string {
	email := u.Email
	if email == "" {
		email = fmt.Sprintf("%d+%s@users.noreply.github.com", u.ID, u.Login)
	}
	name := u.Name
	if name == "" {
		name = u.Login
	}
	return []string{"GIT_AUTHOR_NAME=" + name, "GIT_AUTHOR_EMAIL=" + email, "GIT_COMMITTER_NAME=" + name, "GIT_COMMITTER_EMAIL=" + email}
}

// initBare creates a bare repository that serves any reachable SHA, as GitHub does.
func (s *Server) initBare(ctx context.Context, dir, branch string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if _, err := s.git(ctx, dir, nil, nil, "init", "--bare", "--quiet", "--initial-branch="+branch); err != nil {
		return err
	}
	for _, kv := range [][2]string{
		{"uploadpack.allowAnySHA1InWant", "true"},
		{"uploadpack.allowReachableSHA1InWant", "true"},
		{"uploadpack.allowFilter", "true"},
		{"http.receivepack", "true"},
		{"receive.denyDeleteCurrent", "ignore"},
	} {
		if _, err := s.git(ctx, dir, nil, nil, "config", kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// FileChange is one file written (Content non-nil) or deleted (Content nil)
// by a commit.
type FileChange struct {
	Path    string
	Content []byte
}

// commitFiles makes a commit on top of parent (may be "") applying changes,
// or replacing the whole tree with dir's content when dir != "". It returns
// the new commit's SHA; it does not move any ref.
func (s *Server) commitFiles(ctx context.Context, gitDir, parent, dir string, changes []FileChange, msg string, author *user) (string, error) {
	idx, err := os.CreateTemp("", "githubsim-index-")
	if err != nil {
		return "", err
	}
	idx.Close()
	os.Remove(idx.Name())
	defer os.Remove(idx.Name())
	env := append(identityEnv(author), "GIT_INDEX_FILE="+idx.Name())
	if dir != "" {
		if _, err := s.git(ctx, gitDir, append(env, "GIT_WORK_TREE="+dir), nil, "--git-dir="+gitDir, "add", "-A", "."); err != nil {
			return "", err
		}
	} else if parent != "" {
		if _, err := s.git(ctx, gitDir, env, nil, "read-tree", parent); err != nil {
			return "", err
		}
	}
	for _, ch := range changes {
		p := strings.TrimPrefix(filepath.ToSlash(ch.Path), "/")
		if ch.Content == nil {
			if _, err := s.git(ctx, gitDir, env, nil, "update-index", "--force-remove", "--", p); err != nil {
				return "", err
			}
			continue
		}
		sha, err := s.git(ctx, gitDir, env, ch.Content, "hash-object", "-w", "--stdin")
		if err != nil {
			return "", err
		}
		if _, err := s.git(ctx, gitDir, env, nil, "update-index", "--add", "--cacheinfo", "100644,"+sha+","+p); err != nil {
			return "", err
		}
	}
	tree, err := s.git(ctx, gitDir, env, nil, "write-tree")
	if err != nil {
		return "", err
	}
	args := []string{"commit-tree", tree, "-m", msg}
	if parent != "" {
		args = append(args, "-p", parent)
	}
	return s.git(ctx, gitDir, env, nil, args...)
}

// refs lists a repository's refs as name -> sha.
func (s *Server) refs(ctx context.Context, gitDir string) map[string]string {
	out, err := s.git(ctx, gitDir, nil, nil, "for-each-ref", "--format=%(refname) %(objectname)")
	m := map[string]string{}
	if err != nil {
		return m
	}
	for _, line := range strings.Split(out, "\n") {
		if name, sha, ok := strings.Cut(line, " "); ok {
			m[name] = sha
		}
	}
	return m
}

func (s *Server) revParse(ctx context.Context, gitDir, rev string) (string, error) {
	return s.git(ctx, gitDir, nil, nil, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
}

func (s *Server) isAncestor(ctx context.Context, gitDir, a, b string) bool {
	_, err := s.git(ctx, gitDir, nil, nil, "merge-base", "--is-ancestor", a, b)
	return err == nil
}

// mergeCommit merges head into base's tip without a worktree and returns the
// new commit (not yet referenced). It fails on conflicts.
func (s *Server) mergeCommit(ctx context.Context, gitDir, baseSHA, headSHA, msg string, by *user) (string, error) {
	tree, err := s.git(ctx, gitDir, nil, nil, "merge-tree", "--write-tree", baseSHA, headSHA)
	if err != nil {
		return "", fmt.Errorf("merge conflict: %w", err)
	}
	tree = strings.SplitN(tree, "\n", 2)[0]
	return s.git(ctx, gitDir, identityEnv(by), nil, "commit-tree", tree, "-p", baseSHA, "-p", headSHA, "-m", msg)
}

// diffEntry is one changed file between two commits.
type diffEntry struct {
	Status    string // added, removed, modified, renamed
	Filename  string
	Previous  string
	Additions int
	Deletions int
	BlobSHA   string
	Patch     string
}

func (s *Server) diff(ctx context.Context, gitDir, base, head string) ([]diffEntry, error) {
	mb, err := s.git(ctx, gitDir, nil, nil, "merge-base", base, head)
	if err != nil {
		mb = base
	}
	ns, err := s.git(ctx, gitDir, nil, nil, "diff", "--no-renames", "--numstat", "-z", mb, head)
	if err != nil {
		return nil, err
	}
	st, err := s.git(ctx, gitDir, nil, nil, "diff", "--no-renames", "--name-status", "-z", mb, head)
	if err != nil {
		return nil, err
	}
	status := map[string]string{}
	f := strings.Split(strings.TrimSuffix(st, "\x00"), "\x00")
	for i := 0; i+1 < len(f); i += 2 {
		switch f[i] {
		case "A":
			status[f[i+1]] = "added"
		case "D":
			status[f[i+1]] = "removed"
		default:
			status[f[i+1]] = "modified"
		}
	}
	var out []diffEntry
	for _, rec := range strings.Split(strings.TrimSuffix(ns, "\x00"), "\x00") {
		parts := strings.SplitN(rec, "\t", 3)
		if len(parts) != 3 {
			continue
		}
		e := diffEntry{Filename: parts[2], Status: status[parts[2]]}
		fmt.Sscan(parts[0], &e.Additions)
		fmt.Sscan(parts[1], &e.Deletions)
		obj := head
		if e.Status == "removed" {
			obj = mb
		}
		e.BlobSHA, _ = s.git(ctx, gitDir, nil, nil, "rev-parse", obj+":"+e.Filename)
		e.Patch, _ = s.git(ctx, gitDir, nil, nil, "diff", "--no-renames", "--format=", "-U3", mb, head, "--", e.Filename)
		if i := strings.Index(e.Patch, "\n@@"); i >= 0 {
			e.Patch = e.Patch[i+1:]
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Filename < out[j].Filename })
	return out, nil
}

func isGitPath(p string) bool {
	return strings.Contains(p, ".git/") || strings.HasSuffix(p, ".git")
}

// serveGit serves git smart HTTP through git http-backend. Authentication is
// GitHub's: basic auth with any user name (x-access-token by convention) and
// an installation token as password.
func (s *Server) serveGit(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
	if len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	full := parts[0] + "/" + strings.TrimSuffix(parts[1], ".git")
	_, pass, ok := r.BasicAuth()
	s.mu.Lock()
	rp := s.repos[full]
	t := s.tokens[pass]
	var in *installation
	if rp != nil {
		in = s.installationForLocked(rp)
	}
	s.mu.Unlock()
	if !ok || t == nil || !s.clock.Now().Before(t.Expires) {
		w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		http.Error(w, "Invalid username or token. Password authentication is not supported for Git operations.", http.StatusUnauthorized)
		return
	}
	if rp == nil || in == nil || in.ID != t.InstallationID || (t.Repos != nil && !t.Repos[rp.ID]) {
		http.Error(w, "Repository not found.", http.StatusNotFound)
		return
	}
	// Fetching needs contents:read, pushing contents:write.
	pushing := strings.HasSuffix(r.URL.Path, "/git-receive-pack") || r.URL.Query().Get("service") == "git-receive-pack"
	need := contentsRead
	if pushing {
		need = needs("contents", "write")
	}
	if !need.allows(t.Permissions) {
		http.Error(w, fmt.Sprintf("Permission to %s.git denied to %s.", full, s.BotLogin()), http.StatusForbidden)
		return
	}
	route := "GIT " + r.Method
	if f := s.takeFault(route); f != nil {
		if f.Latency > 0 {
			time.Sleep(f.Latency)
		}
		if f.Reset {
			panic(http.ErrAbortHandler)
		}
		if f.Status != 0 {
			http.Error(w, http.StatusText(f.Status), f.Status)
			return
		}
	}
	s.count(route, pass, func(c *Counter) { c.Calls++ })
	receiving := strings.HasSuffix(r.URL.Path, "/git-receive-pack") // the push itself
	var before map[string]string
	if receiving {
		before = s.refs(r.Context(), rp.GitDir)
	}
	gitPath, err := exec.LookPath("git")
	if err != nil {
		http.Error(w, "git not installed", 500)
		return
	}
	pathInfo := "/" + parts[0] + "/" + strings.TrimSuffix(parts[1], ".git") + ".git"
	if len(parts) == 3 {
		pathInfo += "/" + parts[2]
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = pathInfo
	h := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Root: "/",
		Env: []string{
			"GIT_PROJECT_ROOT=" + s.opts.GitRoot,
			"GIT_HTTP_EXPORT_ALL=1",
			"REMOTE_USER=x-access-token",
			"GIT_CONFIG_NOSYSTEM=1",
			"HOME=" + s.opts.GitRoot,
		},
		InheritEnv: []string{"PATH"},
	}
	h.ServeHTTP(w, r2)
	if receiving {
		after := s.refs(r.Context(), rp.GitDir)
		s.afterPush(r.Context(), rp, before, after, s.botUser())
	}
}
