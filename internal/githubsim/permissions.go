package githubsim

import (
	"net/http"
	"strings"
)

// msgNotAccessible is GitHub's answer when an installation token lacks the
// permission a route needs.
const msgNotAccessible = "Resource not accessible by integration"

// levelRank orders permission levels; 0 is not a level.
func levelRank(level string) int {
	switch level {
	case "read":
		return 1
	case "write":
		return 2
	case "admin":
		return 3
	}
	return 0
}

// grant is one permission at a minimum level.
type grant struct{ name, level string }

// access is what a route needs of an installation token: any one of its
// grants suffices (GitHub lets issues or pull_requests read a pull
// request's comments). An empty access needs no permission.
type access []grant

func needs(name, level string) access { return access{{name, level}} }

func (a access) or(name, level string) access { return append(a, grant{name, level}) }

// allows reports whether perms satisfy a.
func (a access) allows(perms map[string]string) bool {
	if len(a) == 0 {
		return true
	}
	for _, g := range a {
		if levelRank(perms[g.name]) >= levelRank(g.level) {
			return true
		}
	}
	return false
}

// Route permissions as GitHub documents them for installation tokens.
var (
	metadataRead     = needs("metadata", "read")
	contentsRead     = needs("contents", "read")
	pullsRead        = needs("pull_requests", "read")
	pullsWrite       = needs("pull_requests", "write")
	issueOrPullRead  = needs("issues", "read").or("pull_requests", "read")
	issueOrPullWrite = needs("issues", "write").or("pull_requests", "write")
	checksRead       = needs("checks", "read")
	checksWrite      = needs("checks", "write")
	deploymentsRead  = needs("deployments", "read")
	deploymentsWrite = needs("deployments", "write")
	actionsRead      = needs("actions", "read")
	actionsWrite     = needs("actions", "write")
	membersRead      = needs("members", "read")
	anyToken         = access(nil)
)

// handle registers a route with the access it needs.
func (s *Server) handle(pattern string, need access, h http.HandlerFunc) {
	s.needs[pattern] = need
	s.api.HandleFunc(pattern, h)
}

// authorize applies an installation token's scope to a request GitHub's
// way: a repository (or organization) the token cannot see is 404, a
// permission it lacks is 403. It returns 0 when the request may proceed.
func (s *Server) authorize(r *http.Request, c *caller, route string) (int, string) {
	if c == nil || c.kind != callerToken {
		return 0, ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if owner, name := r.PathValue("owner"), r.PathValue("repo"); owner != "" && name != "" {
		if s.visibleRepoLocked(c, owner+"/"+name) == nil {
			return http.StatusNotFound, "Not Found"
		}
	}
	if org := r.PathValue("org"); org != "" {
		in := s.installs[c.installationID]
		if in == nil || !strings.EqualFold(in.Account.Login, org) {
			return http.StatusNotFound, "Not Found"
		}
	}
	if need, ok := s.needs[route]; ok && !need.allows(c.perms) {
		return http.StatusForbidden, msgNotAccessible
	}
	return 0, ""
}

// visibleRepoLocked returns the repository when the token's installation
// covers it and the token was not narrowed to other repositories.
func (s *Server) visibleRepoLocked(c *caller, fullName string) *repo {
	rp := s.repos[fullName]
	if rp == nil {
		return nil
	}
	if c.kind != callerToken {
		return rp
	}
	in := s.installationForLocked(rp)
	if in == nil || in.ID != c.installationID {
		return nil
	}
	if c.repos != nil && !c.repos[rp.ID] {
		return nil
	}
	return rp
}
