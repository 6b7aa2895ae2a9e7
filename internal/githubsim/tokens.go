package githubsim

import (
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"sort"
	"strconv"
	"time"
)

const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func newTokenValue() string {
	b := make([]byte, 36)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(tokenAlphabet))))
		b[i] = tokenAlphabet[n.Int64()]
	}
	return "ghs_" + string(b)
}

// TokenScope narrows an installation token, as the body of POST
// /app/installations/{id}/access_tokens does.
type TokenScope struct {
	// Permissions, when non-nil, are the token's permissions, each at most
	// the App's grant; nil gives the App's whole grant.
	Permissions map[string]string
	// Repositories names repositories of the installation's account
	// (without the owner); RepositoryIDs gives them by id. Both empty: every
	// repository of the installation.
	Repositories  []string
	RepositoryIDs []int64
}

// Errors of IssueScopedToken, which the REST endpoint answers with 404 and
// 422 as GitHub does.
var (
	ErrNoInstallation   = errors.New("no such installation")
	ErrPermissionsScope = errors.New("permissions requested are not granted to this installation")
	ErrRepositoryScope  = errors.New("a repository does not exist or is not accessible to the installation")
)

// GitHub's messages for the 422s of the access-token endpoint.
const (
	msgPermissionsScope = "The permissions requested are not granted to this installation."
	msgRepositoryScope  = "There is at least one repository that does not exist or is not accessible to the parent installation."
)

// IssueToken mints an installation token directly (as POST
// /app/installations/{id}/access_tokens would) for tests that do not need to
// go through the App's JWT. It carries every permission the App was granted.
func (s *Server) IssueToken(installationID int64) (string, time.Time, error) {
	return s.IssueScopedToken(installationID, TokenScope{})
}

// IssueScopedToken mints an installation token narrowed to scope. Asking
// for more than the App was granted fails with ErrPermissionsScope, for a
// repository the installation does not cover with ErrRepositoryScope.
func (s *Server) IssueScopedToken(installationID int64, scope TokenScope) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.mintLocked(installationID, scope)
	if err != nil {
		return "", time.Time{}, err
	}
	return t.Value, t.Expires, nil
}

func (s *Server) mintLocked(installationID int64, scope TokenScope) (*token, error) {
	in, ok := s.installs[installationID]
	if !ok {
		return nil, fmt.Errorf("installation %d: %w", installationID, ErrNoInstallation)
	}
	perms := maps.Clone(s.opts.Permissions)
	if scope.Permissions != nil {
		for name, level := range scope.Permissions {
			granted := s.opts.Permissions[name]
			if levelRank(level) == 0 || levelRank(level) > levelRank(granted) {
				return nil, fmt.Errorf("%s:%s: %w", name, level, ErrPermissionsScope)
			}
		}
		perms = maps.Clone(scope.Permissions)
		if perms["metadata"] == "" {
			perms["metadata"] = "read" // every token can read metadata
		}
	}
	var repos map[int64]bool
	if len(scope.Repositories) > 0 || len(scope.RepositoryIDs) > 0 {
		repos = map[int64]bool{}
		for _, name := range scope.Repositories {
			rp := s.repos[in.Account.Login+"/"+name]
			if rp == nil {
				return nil, fmt.Errorf("repository %s: %w", name, ErrRepositoryScope)
			}
			repos[rp.ID] = true
		}
		for _, id := range scope.RepositoryIDs {
			var found *repo
			for _, rp := range s.repos {
				if rp.ID == id && rp.Owner == in.Account {
					found = rp
				}
			}
			if found == nil {
				return nil, fmt.Errorf("repository id %d: %w", id, ErrRepositoryScope)
			}
			repos[id] = true
		}
	}
	t := &token{Value: newTokenValue(), InstallationID: installationID, Expires: s.now().Add(s.opts.TokenTTL), Permissions: perms, Repos: repos}
	s.tokens[t.Value] = t
	return t, nil
}

// RevokeToken makes a token unknown, as DELETE /installation/token does.
func (s *Server) RevokeToken(tok string) {
	s.mu.Lock()
	delete(s.tokens, tok)
	s.mu.Unlock()
}

func (s *Server) handleAccessToken(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("installation_id"), 10, 64)
	if err != nil {
		writeError(w, 404, "Not Found", "")
		return
	}
	var req struct {
		Repositories  []string       `json:"repositories"`
		RepositoryIDs []int64        `json:"repository_ids"`
		Permissions   map[string]any `json:"permissions"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	scope := TokenScope{Repositories: req.Repositories, RepositoryIDs: req.RepositoryIDs}
	if req.Permissions != nil {
		scope.Permissions = map[string]string{}
		for k, v := range req.Permissions {
			level, _ := v.(string)
			scope.Permissions[k] = level
		}
	}
	const doc = "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.mintLocked(id, scope)
	switch {
	case errors.Is(err, ErrNoInstallation):
		writeError(w, 404, "Not Found", doc)
		return
	case errors.Is(err, ErrPermissionsScope):
		writeError(w, 422, msgPermissionsScope, doc)
		return
	case errors.Is(err, ErrRepositoryScope):
		writeError(w, 422, msgRepositoryScope, doc)
		return
	case err != nil:
		writeError(w, 500, err.Error(), "")
		return
	}
	body := map[string]any{
		"token": t.Value, "expires_at": t.Expires.Format(time.RFC3339),
		"permissions": anyMap(t.Permissions), "repository_selection": "all",
	}
	if t.Repos != nil {
		var list []*repo
		for _, rp := range s.repos {
			if t.Repos[rp.ID] {
				list = append(list, rp)
			}
		}
		sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
		out := []any{}
		for _, rp := range list {
			out = append(out, s.repoJSON(rp, false))
		}
		body["repository_selection"] = "selected"
		body["repositories"] = out
	}
	writeJSON(w, 201, body)
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
