package githubsim

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// ghApp is a GitHub App: the hosted one, whose webhooks the emulator
// delivers, or another App whose check runs share the repositories
// (CreateForeignCheckRun).
type ghApp struct {
	ID       int64
	Slug     string
	ClientID string
	Bot      *user
	Created  time.Time
	hosted   bool
}

// clientIDFor gives an App a client id of GitHub's current shape
// ("Iv23li" and 14 more characters).
func clientIDFor(appID int64) string { return fmt.Sprintf("Iv23lisim%011d", appID) }

// ClientID is the hosted App's client id, which GitHub accepts as the
// issuer of the App's JWTs as well as the App id.
func (s *Server) ClientID() string { return s.opts.ClientID }

// foreignAppLocked returns (creating it) another App by slug.
func (s *Server) foreignAppLocked(slug string) *ghApp {
	if a := s.apps[slug]; a != nil {
		return a
	}
	id := s.id()
	a := &ghApp{ID: id, Slug: slug, ClientID: clientIDFor(id), Bot: s.userLocked(slug+"[bot]", "Bot"), Created: s.now()}
	s.apps[slug] = a
	return a
}

// appOwnerLocked is the account that owns the hosted App: the first
// account it was installed on (the bot before any installation).
func (s *Server) appOwnerLocked() *user {
	var owner *installation
	for _, in := range s.installs {
		if owner == nil || in.ID < owner.ID {
			owner = in
		}
	}
	if owner == nil {
		return s.hosted.Bot
	}
	return owner.Account
}

// appJSON renders an App as the integration schema has it.
func (s *Server) appJSON(a *ghApp) map[string]any {
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	owner := a.Bot
	perms := map[string]any{"checks": "write", "metadata": "read"}
	events := []any{"check_run", "check_suite"}
	desc := "Another App (emulated)"
	if a.hosted {
		owner = s.appOwnerLocked()
		perms = anyMap(s.opts.Permissions)
		events = nil
		for _, e := range s.opts.Events {
			// The webhook description's enum of an App's events lacks
			// deployment_protection_rule: leave it out of the App object.
			if e != "deployment_protection_rule" {
				events = append(events, e)
			}
		}
		desc = "Honua GitOps (emulated)"
	} else {
		created = a.Created
	}
	if events == nil {
		events = []any{}
	}
	return map[string]any{
		"id": a.ID, "slug": a.Slug, "node_id": nodeID("A_", a.ID), "client_id": a.ClientID,
		"owner": s.userJSON(owner), "name": a.Slug, "description": desc,
		"external_url": s.URL(), "html_url": s.URL() + "/apps/" + a.Slug,
		"created_at": ts(created), "updated_at": ts(created),
		"permissions": perms, "events": events, "installations_count": len(s.installs),
	}
}

func (s *Server) installationJSON(in *installation) map[string]any {
	created := ts(in.Created)
	events := []any{}
	for _, e := range s.opts.Events {
		events = append(events, e)
	}
	return map[string]any{
		"id": in.ID, "account": s.userJSON(in.Account), "repository_selection": "all",
		"access_tokens_url": fmt.Sprintf("%s/app/installations/%d/access_tokens", s.URL(), in.ID),
		"repositories_url":  s.URL() + "/installation/repositories",
		"html_url":          fmt.Sprintf("%s/settings/installations/%d", s.URL(), in.ID),
		"app_id":            s.opts.AppID, "app_slug": s.opts.AppSlug, "client_id": s.opts.ClientID,
		"target_id": in.Account.ID, "target_type": in.Account.Type,
		"permissions": anyMap(s.opts.Permissions), "events": events,
		"created_at": created, "updated_at": created, "single_file_name": nil,
		"suspended_by": nil, "suspended_at": nil,
	}
}

func (s *Server) handleGetApp(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	body := s.appJSON(s.hosted)
	s.mu.Unlock()
	writeJSON(w, 200, body)
}

// handleListInstallations lists the App's installations, oldest first
// (GitHub's order), one page at a time.
func (s *Server) handleListInstallations(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ids := make([]int64, 0, len(s.installs))
	for id := range s.installs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	items := make([]any, len(ids))
	for i, id := range ids {
		in := s.installationJSON(s.installs[id])
		// The pinned description of this endpoint (octokit/openapi 23.0.2)
		// says the account is a user AND an enterprise (allOf, where
		// GitHub's other installation schemas say anyOf): the account
		// carries the enterprise's required fields too, so that it answers
		// to both.
		if acc, ok := in["account"].(map[string]any); ok {
			acc["name"], acc["slug"] = s.installs[id].Account.Login, s.installs[id].Account.Login
			acc["created_at"], acc["updated_at"] = in["created_at"], in["created_at"]
		}
		items[i] = in
	}
	s.mu.Unlock()
	page, ok := paginate(w, r, items)
	if !ok {
		return
	}
	writeJSON(w, 200, page)
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

// sortedEvents normalises an event list.
func sortedEvents(ev []string) []string {
	out := append([]string(nil), ev...)
	sort.Strings(out)
	return out
}

// subscribed reports whether the hosted App receives event.
func (s *Server) subscribed(event string) bool {
	for _, e := range s.opts.Events {
		if strings.EqualFold(e, event) {
			return true
		}
	}
	return false
}
