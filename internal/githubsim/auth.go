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
	key            string // ETag and counter key: "app" or the token
	rateKey        string // primary rate-limit key: "app" or the installation
	installationID int64
	user           *user             // the App's bot for tokens
	perms          map[string]string // a token's permissions
	repos          map[int64]bool    // a token's repositories; nil: all of the installation's
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
			return &caller{kind: callerApp, key: "app", rateKey: "app"}, 0, ""
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
		// GitHub counts the primary limit per installation, not per token:
		// minting tokens buys no budget. ETags stay per token.
		return &caller{
			kind: callerToken, key: t.Value, rateKey: fmt.Sprintf("installation:%d", t.InstallationID),
			installationID: t.InstallationID, user: bot, perms: t.Permissions, repos: t.Repos,
		}, 0, ""
	}
	return nil, http.StatusUnauthorized, "Bad credentials"
}

// verifyJWT checks an RS256 App JWT against the App's public key, as
// GitHub does: the issuer is the App's id or its client id, the token has
// not expired, exp is at most 10 minutes ahead and iat is not in the future
// (GitHub's 60 s allowance for clock drift is for backdating iat, so a JWT
// may live at most 10 minutes and 60 s). Times are checked against the wall
// clock, the clock the signing libraries read, so a test's ManualClock
// (token expiry, rate-limit windows) does not invalidate the App's JWTs.
func (s *Server) verifyJWT(tok string) error {
	parts := strings.Split(tok, ".")
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return fmt.Errorf("jwt header: %w", err)
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil || hdr.Alg != "RS256" {
		return errors.New("jwt: alg must be RS256")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("jwt signature: %w", err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&s.opts.AppKey.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("jwt: signature: %w", err)
	}
	cb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return fmt.Errorf("jwt claims: %w", err)
	}
	var claims struct {
		Iss any         `json:"iss"`
		Iat json.Number `json:"iat"`
		Exp json.Number `json:"exp"`
	}
	dec := json.NewDecoder(strings.NewReader(string(cb)))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return fmt.Errorf("jwt claims: %w", err)
	}
	// GitHub takes the App id as a number or a string, or the client id.
	iss := fmt.Sprint(claims.Iss)
	if n, ok := claims.Iss.(json.Number); ok {
		iss = n.String()
	}
	if iss != strconv.FormatInt(s.opts.AppID, 10) && iss != s.opts.ClientID {
		return errors.New("jwt: iss is neither the App id nor its client id")
	}
	// GitHub rejects timestamps that are not integers.
	iat, err1 := strconv.ParseInt(claims.Iat.String(), 10, 64)
	exp, err2 := strconv.ParseInt(claims.Exp.String(), 10, 64)
	if err1 != nil || err2 != nil {
		return errors.New("jwt: iat and exp must be integers")
	}
	now := time.Now().Unix()
	switch {
	case exp <= now:
		return errors.New("jwt: expired")
	case exp > now+maxJWTLife:
		return errors.New("jwt: exp too far in the future")
	case iat > now:
		return errors.New("jwt: iat in the future")
	case exp-iat > maxJWTLife+jwtDrift:
		return errors.New("jwt: lives longer than 10 minutes")
	}
	return nil
}

// GitHub's JWT limits: 10 minutes of life, iat backdated by up to 60 s.
const (
	maxJWTLife = 600
	jwtDrift   = 60
)

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
