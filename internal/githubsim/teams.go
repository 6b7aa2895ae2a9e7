package githubsim

import (
	"fmt"
	"net/http"
)

// team is an organization's team. A member of a child team is a member of
// its parent too, as GitHub counts it; a pending (invited) member is a
// member of nothing until the invitation is accepted.
type team struct {
	ID      int64
	Org     string
	Slug    string
	Name    string
	Parent  *team
	Members map[string]*membership // direct memberships by login
}

// membership is one user's direct membership of a team.
type membership struct {
	Role  string // member or maintainer
	State string // active or pending
}

// Team membership states, as GitHub names them.
const (
	MembershipActive  = "active"
	MembershipPending = "pending"
)

// teamLocked returns org/slug, or an error naming it.
func (s *Server) teamLocked(org, slug string) (*team, error) {
	t := s.teams[org+"/"+slug]
	if t == nil {
		return nil, fmt.Errorf("no team %s/%s", org, slug)
	}
	return t, nil
}

func (s *Server) newTeamLocked(org, slug string) *team {
	s.userLocked(org, "Organization")
	t := s.teams[org+"/"+slug]
	if t == nil {
		t = &team{ID: s.id(), Org: org, Slug: slug, Name: slug, Members: map[string]*membership{}}
		s.teams[org+"/"+slug] = t
	}
	return t
}

// SetTeam creates or replaces org/slug's members: each becomes an active
// member (role member). The team's parent, if any, stays.
func (s *Server) SetTeam(org, slug string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.newTeamLocked(org, slug)
	t.Members = map[string]*membership{}
	for _, m := range members {
		s.userLocked(m, "User")
		t.Members[m] = &membership{Role: "member", State: MembershipActive}
	}
}

// AddTeam creates org/slug (idempotent) as a child of org/parent, or at the
// top when parent is "". Moving an existing team under another is allowed
// unless it would make a cycle.
func (s *Server) AddTeam(org, slug, parent string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var p *team
	if parent != "" {
		var err error
		if p, err = s.teamLocked(org, parent); err != nil {
			return fmt.Errorf("adding team %s/%s: parent: %w", org, slug, err)
		}
	}
	t := s.newTeamLocked(org, slug)
	for a := p; a != nil; a = a.Parent {
		if a == t {
			return fmt.Errorf("adding team %s/%s under %s: a team cannot be its own ancestor", org, slug, parent)
		}
	}
	t.Parent = p
	return nil
}

// AddTeamMember makes login an active member of org/slug with role
// "member" or "maintainer" ("" is member), as an organization owner adding
// someone does. A pending invitation becomes active.
func (s *Server) AddTeamMember(org, slug, login, role string) error {
	return s.setMembership(org, slug, login, role, MembershipActive)
}

// InviteTeamMember invites login to org/slug: the membership is pending
// until AcceptTeamInvitation, and counts for nothing until then.
func (s *Server) InviteTeamMember(org, slug, login string) error {
	s.mu.Lock()
	t, err := s.teamLocked(org, slug)
	if err == nil {
		if m := t.Members[login]; m != nil && m.State == MembershipActive {
			err = fmt.Errorf("inviting %s to %s/%s: already an active member", login, org, slug)
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.setMembership(org, slug, login, "member", MembershipPending)
}

// AcceptTeamInvitation is login accepting a pending invitation.
func (s *Server) AcceptTeamInvitation(org, slug, login string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.teamLocked(org, slug)
	if err != nil {
		return err
	}
	m := t.Members[login]
	if m == nil || m.State != MembershipPending {
		return fmt.Errorf("%s has no pending invitation to %s/%s", login, org, slug)
	}
	m.State = MembershipActive
	return nil
}

// RemoveTeamMember ends login's direct membership of org/slug.
func (s *Server) RemoveTeamMember(org, slug, login string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.teamLocked(org, slug)
	if err != nil {
		return err
	}
	delete(t.Members, login)
	return nil
}

func (s *Server) setMembership(org, slug, login, role, state string) error {
	if role == "" {
		role = "member"
	}
	if role != "member" && role != "maintainer" {
		return fmt.Errorf("team role %q: want member or maintainer", role)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.teamLocked(org, slug)
	if err != nil {
		return err
	}
	s.userLocked(login, "User")
	t.Members[login] = &membership{Role: role, State: state}
	return nil
}

// membershipLocked is login's membership of t as GitHub reports it: a
// direct active one, else an active one of a descendant team (role
// member), else a direct pending one.
func (s *Server) membershipLocked(t *team, login string) (*membership, bool) {
	direct := t.Members[login]
	if direct != nil && direct.State == MembershipActive {
		return direct, true
	}
	if s.activeInDescendantLocked(t, login) {
		return &membership{Role: "member", State: MembershipActive}, true
	}
	return direct, direct != nil
}

func (s *Server) activeInDescendantLocked(t *team, login string) bool {
	for _, c := range s.teams {
		if c.Parent != t {
			continue
		}
		if m := c.Members[login]; (m != nil && m.State == MembershipActive) || s.activeInDescendantLocked(c, login) {
			return true
		}
	}
	return false
}

// IsTeamMember reports whether login counts as a member of org/slug: an
// active member of it or of one of its descendants.
func (s *Server) IsTeamMember(org, slug, login string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.teams[org+"/"+slug]
	if t == nil {
		return false
	}
	m, ok := s.membershipLocked(t, login)
	return ok && m.State == MembershipActive
}

// orgMemberLocked reports whether login is an active member of any team of
// org (the emulator's organization membership).
func (s *Server) orgMemberLocked(org, login string) bool {
	for _, t := range s.teams {
		if m := t.Members[login]; t.Org == org && m != nil && m.State == MembershipActive {
			return true
		}
	}
	return false
}

func (s *Server) handleTeamMembership(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/teams/members#get-team-membership-for-a-user"
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.teams[r.PathValue("org")+"/"+r.PathValue("team_slug")]
	login := r.PathValue("username")
	if t == nil {
		writeError(w, 404, "Not Found", doc)
		return
	}
	m, ok := s.membershipLocked(t, login)
	if !ok {
		writeError(w, 404, "Not Found", doc)
		return
	}
	writeJSON(w, 200, map[string]any{
		"url":  fmt.Sprintf("%s/teams/%d/memberships/%s", s.URL(), t.ID, login),
		"role": m.Role, "state": m.State,
	})
}

// teamJSON renders a team; its parent is rendered as a team without one.
func (s *Server) teamJSON(t *team) map[string]any {
	m := s.teamSimpleJSON(t)
	m["parent"] = nil
	if t.Parent != nil {
		m["parent"] = s.teamSimpleJSON(t.Parent)
	}
	return m
}

func (s *Server) teamSimpleJSON(t *team) map[string]any {
	api := fmt.Sprintf("%s/orgs/%s/teams/%s", s.URL(), t.Org, t.Slug)
	return map[string]any{
		"id": t.ID, "node_id": nodeID("T_", t.ID), "url": fmt.Sprintf("%s/teams/%d", s.URL(), t.ID),
		"html_url": fmt.Sprintf("%s/orgs/%s/teams/%s", s.URL(), t.Org, t.Slug),
		"name":     t.Name, "slug": t.Slug, "description": nil, "privacy": "closed",
		"notification_setting": "notifications_enabled", "permission": "pull",
		"members_url": api + "/members{/member}", "repositories_url": api + "/repos",
	}
}
