package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/app/gate"
	"github.com/honua-io/honua-gitops/policy"
)

// environments reads the GitHub environments of repo (one call, a
// conditional one when nothing changed): their required reviewers, wait
// timers and branch policies. An environment GitHub does not have is
// absent: the gate treats it as unconfigured.
func (a *App) environments(ctx context.Context, gh *github.Client, repo repoName) (map[string]gate.Environment, error) {
	out := map[string]gate.Environment{}
	opts := &github.EnvironmentListOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		res, resp, err := gh.Repositories.ListEnvironments(ctx, repo.Owner, repo.Name, opts)
		if err != nil {
			var er *github.ErrorResponse
			if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound {
				return out, nil // no environments at all
			}
			return nil, fmt.Errorf("listing environments of %s: %w", repo, err)
		}
		for _, e := range res.Environments {
			out[e.GetName()] = environmentOf(repo, e)
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// environmentOf reads a GitHub environment's protection rules.
func environmentOf(repo repoName, e *github.Environment) gate.Environment {
	env := gate.Environment{Name: e.GetName(), Configured: true}
	for _, r := range e.ProtectionRules {
		switch r.GetType() {
		case "required_reviewers":
			env.PreventSelfReview = env.PreventSelfReview || r.GetPreventSelfReview()
			for _, rv := range r.Reviewers {
				switch rv.GetType() {
				case "User":
					if u, ok := rv.Reviewer.(*github.User); ok {
						env.Reviewers = append(env.Reviewers, policy.Reviewer{Type: "User", Login: u.GetLogin()})
					}
				case "Team":
					if t, ok := rv.Reviewer.(*github.Team); ok {
						env.Reviewers = append(env.Reviewers, policy.Reviewer{Type: "Team", Slug: repo.Owner + "/" + t.GetSlug()})
					}
				}
			}
		case "wait_timer":
			env.WaitTimer = r.GetWaitTimer()
		}
	}
	if p := e.DeploymentBranchPolicy; p != nil && (p.GetProtectedBranches() || p.GetCustomBranchPolicies()) {
		env.BranchPolicy = &gate.BranchPolicy{ProtectedBranches: p.GetProtectedBranches()}
	}
	return env
}

// people answers who someone is on a repository: their permission and the
// teams (of the repository's owner) they are an active member of, for the
// teams a decision asks about. Answers are cached for a minute: an
// approval flurry costs one look per person.
type people struct {
	mu sync.Mutex
	m  map[string]peopleEntry
}

type peopleEntry struct {
	at   time.Time
	perm string
	team map[string]bool
}

const peopleTTL = time.Minute

// person looks up login on repo: permission, and membership in each of
// teams ("org/team" slugs; only the repository owner's teams can be
// looked up).
func (a *App) person(ctx context.Context, gh *github.Client, repo repoName, login string, teams []string) (gate.Person, error) {
	p := gate.Person{Login: login, Bot: strings.HasSuffix(strings.ToLower(login), "[bot]")}
	key := strings.ToLower(repo.String() + "\x00" + login)
	now := a.now()
	a.people.mu.Lock()
	if a.people.m == nil {
		a.people.m = map[string]peopleEntry{}
	}
	e, ok := a.people.m[key]
	if !ok || now.Sub(e.at) > peopleTTL {
		e = peopleEntry{at: now, team: map[string]bool{}}
	}
	a.people.mu.Unlock()
	if e.perm == "" {
		perm, _, err := gh.Repositories.GetPermissionLevel(ctx, repo.Owner, repo.Name, login)
		switch {
		case isNotFound(err):
			e.perm = "none"
		case err != nil:
			return p, fmt.Errorf("reading %s's permission on %s: %w", login, repo, err)
		default:
			e.perm = permissionOf(perm)
		}
	}
	p.Permission = e.perm
	for _, slug := range teams {
		org, team, ok := strings.Cut(slug, "/")
		if !ok || !strings.EqualFold(org, repo.Owner) {
			continue
		}
		member, seen := e.team[strings.ToLower(slug)]
		if !seen {
			m, _, err := gh.Teams.GetTeamMembershipBySlug(ctx, org, team, login)
			switch {
			case isNotFound(err):
				member = false
			case err != nil:
				return p, fmt.Errorf("reading %s's membership of %s: %w", login, slug, err)
			default:
				// An invitation not yet accepted is not a membership.
				member = m.GetState() == "active"
			}
			e.team[strings.ToLower(slug)] = member
		}
		if member {
			p.Teams = append(p.Teams, slug)
		}
	}
	a.people.mu.Lock()
	a.people.m[key] = e
	a.people.mu.Unlock()
	return p, nil
}

// permissionOf reads the repository role of a permission answer: role_name
// when GitHub gives it (maintain, triage), else the legacy permission.
func permissionOf(p *github.RepositoryPermissionLevel) string {
	if r := p.GetRoleName(); r != "" {
		return r
	}
	return p.GetPermission()
}

func isNotFound(err error) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound
}

// canWrite reports whether a person may use the App's commands: write
// access or more.
func canWrite(p gate.Person) bool {
	switch p.Permission {
	case "admin", "maintain", "write":
		return !p.Bot
	}
	return false
}

// eligiblePolicy is the environment's policy with every approver the
// verdict's requirements name added to its approvers (policy owners for a
// change to .gitops/, a rule's own approvers): gate.MayApprove then lets
// each of them approve what their requirement asks, and no one else.
func eligiblePolicy(pol policy.EnvPolicy, v policy.Verdict) policy.EnvPolicy {
	pol.Approvers = slices.Clone(pol.Approvers)
	for _, r := range v.Approval.Requirements {
		for _, f := range r.From {
			if !slices.ContainsFunc(pol.Approvers, func(a string) bool { return strings.EqualFold(a, f) }) {
				pol.Approvers = append(pol.Approvers, f)
			}
		}
	}
	return pol
}
