package githubsim

import (
	"fmt"
	"net/http"
	"sort"
	"time"
)

// Reviewer is a required reviewer of an environment: a user or a team.
type Reviewer struct {
	Type string // "User" or "Team"
	// Login of the user, or "org/slug" of the team.
	Name string
}

// BranchPolicy is an environment's deployment branch policy: exactly one
// of ProtectedBranches (branches with protection rules may deploy) and
// CustomBranchPolicies (branches and tags matching Patterns may) is true.
type BranchPolicy struct {
	ProtectedBranches    bool
	CustomBranchPolicies bool
	// Patterns are the custom policies (CustomBranchPolicies only), served
	// by GET …/environments/{env}/deployment-branch-policies.
	Patterns []BranchPattern
}

// BranchPattern is one custom deployment branch policy.
type BranchPattern struct {
	Name string // fnmatch pattern, e.g. "release/*"
	Type string // "branch" (default) or "tag"
}

// Environment configures a GitHub environment's protection rules.
type Environment struct {
	Name              string
	WaitTimer         int // minutes, 0 to 43,200
	Reviewers         []Reviewer
	PreventSelfReview bool
	// BranchPolicy nil lets every branch deploy.
	BranchPolicy *BranchPolicy
	// CustomRules are the GitHub Apps (by slug) enabled as custom deployment
	// protection rules: the hosted App (AppSlug) gets deployment_protection_rule
	// and answers through the REST API; another App answers through
	// ReviewCustomProtectionRule. GitHub allows them in public repositories on
	// every plan, in private ones only with GitHub Enterprise (Options.Plan).
	CustomRules []string
}

// GitHub's limits on environments.
const (
	maxEnvReviewers = 6
	maxWaitTimer    = 43200
	// "a maximum of 6 deployment protection rules can be enabled on any
	// environment at the same time" (custom rules).
	maxProtectionRules = 6
)

type environment struct {
	ID        int64
	Config    Environment
	Created   time.Time
	Updated   time.Time
	ruleIDs   [3]int64
	policies  []branchPolicyRule
	customIDs map[string]int64 // custom rule id per App slug
}

type branchPolicyRule struct {
	ID   int64
	Name string
	Type string
}

// validate refuses what GitHub's environment API refuses.
func (e Environment) validate() error {
	if e.Name == "" {
		return fmt.Errorf("environment without a name")
	}
	if n := len(e.CustomRules) + len(e.Reviewers) + min(e.WaitTimer, 1); len(e.CustomRules) > 0 && n > maxProtectionRules {
		return fmt.Errorf("environment %s: at most %d deployment protection rules", e.Name, maxProtectionRules)
	}
	if len(e.Reviewers) > maxEnvReviewers {
		return fmt.Errorf("environment %s: at most %d reviewers", e.Name, maxEnvReviewers)
	}
	if e.WaitTimer < 0 || e.WaitTimer > maxWaitTimer {
		return fmt.Errorf("environment %s: wait timer %d, want 0 to %d minutes", e.Name, e.WaitTimer, maxWaitTimer)
	}
	for _, rv := range e.Reviewers {
		if rv.Type != "User" && rv.Type != "Team" {
			return fmt.Errorf("environment %s: reviewer type %q, want User or Team", e.Name, rv.Type)
		}
	}
	if bp := e.BranchPolicy; bp != nil {
		if bp.ProtectedBranches == bp.CustomBranchPolicies {
			return fmt.Errorf("environment %s: exactly one of protected_branches and custom_branch_policies must be true", e.Name)
		}
		if len(bp.Patterns) > 0 && !bp.CustomBranchPolicies {
			return fmt.Errorf("environment %s: branch patterns need custom_branch_policies", e.Name)
		}
		for _, p := range bp.Patterns {
			if p.Name == "" || (p.Type != "" && p.Type != "branch" && p.Type != "tag") {
				return fmt.Errorf("environment %s: branch policy %+v: want a name and type branch or tag", e.Name, p)
			}
		}
	}
	return nil
}

// SetBranchProtected gives a branch protection rules (or takes them away),
// as far as the emulator models them: the branch reads "protected", which
// is what an environment's protected_branches policy looks at.
func (s *Server) SetBranchProtected(fullName, branch string, protected bool) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Protected == nil {
		r.Protected = map[string]bool{}
	}
	if protected {
		r.Protected[branch] = true
	} else {
		delete(r.Protected, branch)
	}
	return nil
}

// SetEnvironment creates or replaces a repository's environment. Reviewers
// name users by login and teams as "org/slug" (which must exist).
func (s *Server) SetEnvironment(fullName string, env Environment) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	if err := env.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(env.CustomRules) > 0 && r.Private && s.opts.Plan != PlanEnterprise {
		return fmt.Errorf("environment %s in %s (private, plan %q): %w", env.Name, fullName, s.opts.Plan, ErrPlan)
	}
	for _, slug := range env.CustomRules {
		if slug != s.hosted.Slug {
			s.foreignAppLocked(slug)
		}
	}
	for _, rv := range env.Reviewers {
		if rv.Type == "Team" {
			if s.teams[rv.Name] == nil {
				return fmt.Errorf("environment %s: no team %s", env.Name, rv.Name)
			}
		} else {
			s.userLocked(rv.Name, "User")
		}
	}
	e := r.Environments[env.Name]
	if e == nil {
		e = &environment{ID: s.id(), Created: s.now(), ruleIDs: [3]int64{s.id(), s.id(), s.id()}}
		r.Environments[env.Name] = e
	}
	old := e.policies
	e.policies = nil
	if bp := env.BranchPolicy; bp != nil {
		for _, p := range bp.Patterns {
			typ := p.Type
			if typ == "" {
				typ = "branch"
			}
			id := int64(0)
			for _, o := range old {
				if o.Name == p.Name && o.Type == typ {
					id = o.ID
				}
			}
			if id == 0 {
				id = s.id()
			}
			e.policies = append(e.policies, branchPolicyRule{ID: id, Name: p.Name, Type: typ})
		}
	}
	if e.customIDs == nil {
		e.customIDs = map[string]int64{}
	}
	for _, slug := range env.CustomRules {
		if e.customIDs[slug] == 0 {
			e.customIDs[slug] = s.id()
		}
	}
	e.Config, e.Updated = env, s.now()
	return nil
}

// GitHub plans, for Options.Plan.
const (
	PlanFree       = "free"
	PlanTeam       = "team"
	PlanEnterprise = "enterprise"
)

// SetRepoPrivate makes a repository private (or public again).
func (s *Server) SetRepoPrivate(fullName string, private bool) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	s.mu.Lock()
	r.Private = private
	s.mu.Unlock()
	return nil
}

// handleListCustomRules serves an environment's custom deployment
// protection rules (the Apps enabled on it).
func (s *Server) handleListCustomRules(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := rp.Environments[r.PathValue("environment_name")]
	if e == nil {
		writeError(w, 404, "Not Found", "https://docs.github.com/rest/deployments/protection-rules#get-all-deployment-protection-rules-for-an-environment")
		return
	}
	out := []any{}
	for _, slug := range e.Config.CustomRules {
		a := s.apps[slug]
		if a == nil {
			continue
		}
		id := e.customIDs[slug]
		out = append(out, map[string]any{
			"id": id, "node_id": nodeID("DPR_", id), "enabled": true,
			"app": map[string]any{"id": a.ID, "node_id": nodeID("A_", a.ID), "slug": a.Slug, "integration_url": s.URL() + "/apps/" + a.Slug},
		})
	}
	writeJSON(w, 200, map[string]any{"total_count": len(out), "custom_deployment_protection_rules": out})
}

func (s *Server) handleListEnvironments(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.mu.Lock()
	names := make([]string, 0, len(rp.Environments))
	for n := range rp.Environments {
		names = append(names, n)
	}
	s.mu.Unlock()
	sort.Strings(names)
	total := len(names)
	page, ok := paginate(w, r, names)
	if !ok {
		return
	}
	out := []any{}
	s.mu.Lock()
	for _, n := range page {
		out = append(out, s.environmentJSON(rp, rp.Environments[n]))
	}
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"total_count": total, "environments": out})
}

func (s *Server) handleGetEnvironment(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := rp.Environments[r.PathValue("environment_name")]
	if e == nil {
		writeError(w, 404, "Not Found", "https://docs.github.com/rest/deployments/environments#get-an-environment")
		return
	}
	writeJSON(w, 200, s.environmentJSON(rp, e))
}

// customPoliciesFrom returns the environment's custom branch policies. Like
// GitHub it answers 404 unless the environment uses custom branch policies
// (an App must read deployment_branch_policy first).
func (s *Server) customPoliciesFrom(w http.ResponseWriter, r *http.Request, rp *repo) ([]branchPolicyRule, bool) {
	e := rp.Environments[r.PathValue("environment_name")]
	if e == nil || e.Config.BranchPolicy == nil || !e.Config.BranchPolicy.CustomBranchPolicies {
		writeError(w, 404, "Not Found", "https://docs.github.com/rest/deployments/branch-policies#list-deployment-branch-policies")
		return nil, false
	}
	return e.policies, true
}

func (s *Server) handleListBranchPolicies(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	s.mu.Lock()
	list, ok := s.customPoliciesFrom(w, r, rp)
	list = append([]branchPolicyRule(nil), list...)
	s.mu.Unlock()
	if !ok {
		return
	}
	page, ok := paginate(w, r, list)
	if !ok {
		return
	}
	out := []any{}
	for _, p := range page {
		out = append(out, branchPolicyJSON(p))
	}
	writeJSON(w, 200, map[string]any{"total_count": len(list), "branch_policies": out})
}

func (s *Server) handleGetBranchPolicy(w http.ResponseWriter, r *http.Request, rp *repo, c *caller) {
	id, _ := pathInt(r, "branch_policy_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	list, ok := s.customPoliciesFrom(w, r, rp)
	if !ok {
		return
	}
	for _, p := range list {
		if p.ID == id {
			writeJSON(w, 200, branchPolicyJSON(p))
			return
		}
	}
	writeError(w, 404, "Not Found", "https://docs.github.com/rest/deployments/branch-policies#get-a-deployment-branch-policy")
}

func branchPolicyJSON(p branchPolicyRule) map[string]any {
	return map[string]any{"id": p.ID, "node_id": nodeID("DBP_", p.ID), "name": p.Name, "type": p.Type}
}

func (s *Server) environmentJSON(r *repo, e *environment) map[string]any {
	c := e.Config
	var rules []any
	if c.WaitTimer > 0 {
		rules = append(rules, map[string]any{"id": e.ruleIDs[0], "node_id": nodeID("GA_", e.ruleIDs[0]), "type": "wait_timer", "wait_timer": c.WaitTimer})
	}
	if len(c.Reviewers) > 0 {
		var revs []any
		for _, rv := range c.Reviewers {
			switch rv.Type {
			case "Team":
				if t := s.teams[rv.Name]; t != nil {
					revs = append(revs, map[string]any{"type": "Team", "reviewer": s.teamJSON(t)})
				}
			default:
				if u := s.users[rv.Name]; u != nil {
					revs = append(revs, map[string]any{"type": "User", "reviewer": s.userJSON(u)})
				}
			}
		}
		rules = append(rules, map[string]any{"id": e.ruleIDs[1], "node_id": nodeID("GA_", e.ruleIDs[1]), "type": "required_reviewers", "prevent_self_review": c.PreventSelfReview, "reviewers": revs})
	}
	var bp any
	if c.BranchPolicy != nil {
		rules = append(rules, map[string]any{"id": e.ruleIDs[2], "node_id": nodeID("GA_", e.ruleIDs[2]), "type": "branch_policy"})
		bp = map[string]any{"protected_branches": c.BranchPolicy.ProtectedBranches, "custom_branch_policies": c.BranchPolicy.CustomBranchPolicies}
	}
	if rules == nil {
		rules = []any{}
	}
	return map[string]any{
		"id": e.ID, "node_id": nodeID("EN_", e.ID), "name": c.Name,
		"url":        fmt.Sprintf("%s/repos/%s/environments/%s", s.URL(), r.FullName(), c.Name),
		"html_url":   fmt.Sprintf("%s/%s/deployments/activity_log?environments_filter=%s", s.URL(), r.FullName(), c.Name),
		"created_at": ts(e.Created), "updated_at": ts(e.Updated),
		"protection_rules": rules, "deployment_branch_policy": bp,
	}
}
