package githubsim

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type callerKind int

const (
	callerApp callerKind = iota + 1
	callerToken
)

// caller is who sent a request.
type caller struct {
	kind           callerKind
	key            string // rate-limit and counter key: "app" or the token
	installationID int64
	user           *user // the App's bot for tokens
}

func contextWithCaller(ctx context.Context, c *caller) context.Context {
	return context.WithValue(ctx, callerKey, c)
}

func callerFrom(r *http.Request) *caller {
	c, _ := r.Context().Value(callerKey).(*caller)
	return c
}

// appRoutes are the endpoints that take the App's JWT instead of a token.
var appRoutes = map[string]bool{
	"GET /app": true,
	"POST /app/installations/{installation_id}/access_tokens": true,
	"GET /repos/{owner}/{repo}/installation":                  true,
	"GET /app/installations":                                  true,
	"GET /app/installations/{installation_id}":                true,
}

// authenticate resolves the Authorization header. It answers like GitHub:
// 401 "Bad credentials" for unknown or expired tokens, 401 for a JWT that does
// not verify, 403 when a valid credential is the wrong kind for the route.
func (s *Server) authenticate(r *http.Request, route string) (*caller, int, string) {
	h := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	if route == "GET /rate_limit" && h == "" {
		return nil, 0, ""
	}
	if h == "" {
		return nil, http.StatusUnauthorized, "Requires authentication"
	}
	switch strings.ToLower(scheme) {
	case "bearer", "token":
		if strings.Count(cred, ".") == 2 {
			if err := s.verifyJWT(cred); err != nil {
				return nil, http.StatusUnauthorized, "A JSON web token could not be decoded"
			}
			if !appRoutes[route] {
				return nil, http.StatusForbidden, "Resource not accessible by integration"
			}
			return &caller{kind: callerApp, key: "app"}, 0, ""
		}
		s.mu.Lock()
		t := s.tokens[cred]
		var bot *user
		if t != nil {
			bot = s.users[s.opts.AppSlug+"[bot]"]
		}
		s.mu.Unlock()
		if t == nil || !s.clock.Now().Before(t.Expires) {
			return nil, http.StatusUnauthorized, "Bad credentials"
		}
		if appRoutes[route] {
			return nil, http.StatusUnauthorized, "A JSON web token could not be decoded"
		}
		return &caller{kind: callerToken, key: t.Value, installationID: t.InstallationID, user: bot}, 0, ""
	}
	return nil, http.StatusUnauthorized, "Bad credentials"
}

// verifyJWT checks an RS256 App JWT against the App's public key. Times are
// checked against the wall clock, which is what the signing libraries use,
// with GitHub's allowances: at most 10 minutes of life, 60 s of drift.
func (s *Server) verifyJWT(tok string) error {
	parts := strings.Split(tok, ".")
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return err
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil || hdr.Alg != "RS256" {
		return errors.New("jwt: alg must be RS256")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&s.opts.AppKey.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("jwt: signature: %w", err)
	}
	cb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return err
	}
	var claims struct {
		Iss any   `json:"iss"`
		Iat int64 `json:"iat"`
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(cb, &claims); err != nil {
		return err
	}
	if fmt.Sprint(claims.Iss) != strconv.FormatInt(s.opts.AppID, 10) && fmt.Sprint(claims.Iss) != s.opts.AppSlug {
		return errors.New("jwt: wrong issuer")
	}
	now := time.Now().Unix()
	if claims.Exp <= now || claims.Iat > now+60 || claims.Exp-claims.Iat > 600+60 {
		return errors.New("jwt: expired or too long")
	}
	return nil
}

// SignAppJWT makes a JWT for the hosted App, as ghinstallation would, with
// the given issue and expiry times (tests use it to send expired ones).
func (s *Server) SignAppJWT(iat, exp time.Time) string {
	enc := base64.RawURLEncoding
	h := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	c, _ := json.Marshal(map[string]any{"iss": strconv.FormatInt(s.opts.AppID, 10), "iat": iat.Unix(), "exp": exp.Unix()})
	p := enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(h + "." + p))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, s.opts.AppKey, crypto.SHA256, sum[:])
	return h + "." + p + "." + enc.EncodeToString(sig)
}

const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func newTokenValue() string {
	b := make([]byte, 36)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(tokenAlphabet))))
		b[i] = tokenAlphabet[n.Int64()]
	}
	return "ghs_" + string(b)
}

// IssueToken mints an installation token directly (as POST
// /app/installations/{id}/access_tokens would) for tests that do not need to
// go through the App's JWT.
func (s *Server) IssueToken(installationID int64) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.installs[installationID]; !ok {
		return "", time.Time{}, fmt.Errorf("no installation %d", installationID)
	}
	t := &token{Value: newTokenValue(), InstallationID: installationID, Expires: s.now().Add(s.opts.TokenTTL)}
	s.tokens[t.Value] = t
	return t.Value, t.Expires, nil
}

// RevokeToken makes a token unknown, as DELETE /installation/token does.
func (s *Server) RevokeToken(tok string) {
	s.mu.Lock()
	delete(s.tokens, tok)
	s.mu.Unlock()
}

// appPermissions are the permissions the hosted App was granted.
func appPermissions() map[string]any {
	return map[string]any{
		"checks": "write", "deployments": "write", "pull_requests": "write", "issues": "write",
		"contents": "read", "metadata": "read", "actions": "read", "members": "read",
	}
}

var appEvents = []any{"check_run", "check_suite", "deployment_status", "issue_comment", "pull_request", "pull_request_review", "push"}

func (s *Server) appJSON() map[string]any {
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	owner := s.users[s.opts.AppSlug+"[bot]"]
	for _, in := range s.installs {
		owner = in.Account
		break
	}
	return map[string]any{
		"id": s.opts.AppID, "slug": s.opts.AppSlug, "node_id": nodeID("A_", s.opts.AppID),
		"client_id": "Iv1.sim" + strconv.FormatInt(s.opts.AppID, 10),
		"owner":     s.userJSON(owner), "name": s.opts.AppSlug, "description": "Honua GitOps (emulated)",
		"external_url": s.URL(), "html_url": s.URL() + "/apps/" + s.opts.AppSlug,
		"created_at": created, "updated_at": created,
		"permissions": appPermissions(), "events": appEvents, "installations_count": len(s.installs),
	}
}

func (s *Server) installationJSON(in *installation) map[string]any {
	ts := in.Created.Format(time.RFC3339)
	return map[string]any{
		"id": in.ID, "account": s.userJSON(in.Account), "repository_selection": "all",
		"access_tokens_url": fmt.Sprintf("%s/app/installations/%d/access_tokens", s.URL(), in.ID),
		"repositories_url":  s.URL() + "/installation/repositories",
		"html_url":          fmt.Sprintf("%s/settings/installations/%d", s.URL(), in.ID),
		"app_id":            s.opts.AppID, "app_slug": s.opts.AppSlug, "client_id": "Iv1.sim" + strconv.FormatInt(s.opts.AppID, 10),
		"target_id": in.Account.ID, "target_type": in.Account.Type,
		"permissions": appPermissions(), "events": appEvents,
		"created_at": ts, "updated_at": ts, "single_file_name": nil,
		"suspended_by": nil, "suspended_at": nil,
	}
}

func (s *Server) handleGetApp(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	body := s.appJSON()
	s.mu.Unlock()
	writeJSON(w, 200, body)
}

func (s *Server) handleRepoInstallation(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[r.PathValue("owner")+"/"+r.PathValue("repo")]
	if rp == nil {
		writeError(w, 404, "Not Found", "")
		return
	}
	in := s.installationForLocked(rp)
	if in == nil {
		writeError(w, 404, "Not Found", "")
		return
	}
	writeJSON(w, 200, s.installationJSON(in))
}

func (s *Server) installationForLocked(rp *repo) *installation {
	for _, in := range s.installs {
		if in.Account.Login == rp.Owner.Login {
			return in
		}
	}
	return nil
}

func (s *Server) handleAccessToken(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("installation_id"), 10, 64)
	if err != nil {
		writeError(w, 404, "Not Found", "")
		return
	}
	var req struct {
		Repositories []string       `json:"repositories"`
		Permissions  map[string]any `json:"permissions"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	tok, exp, err := s.IssueToken(id)
	if err != nil {
		writeError(w, 404, "Not Found", "")
		return
	}
	perms := appPermissions()
	if len(req.Permissions) > 0 {
		perms = req.Permissions
	}
	writeJSON(w, 201, map[string]any{
		"token": tok, "expires_at": exp.Format(time.RFC3339),
		"permissions": perms, "repository_selection": "all",
	})
}

func nodeID(prefix string, id int64) string {
	return prefix + base64.RawStdEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

// decodeBody reads a JSON request body; GitHub answers 400 "Problems parsing
// JSON" when it is not JSON.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil && err.Error() != "EOF" {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", "")
		return false
	}
	return true
}
