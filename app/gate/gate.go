// Package gate makes the App's decisions about approvals and deployments
// from a GitHub-free view of a pull request: whose approvals count, who may
// approve or roll back, whether an environment is protected well enough to
// deploy to, what state a deployment is in, which branch may deploy, which
// deployments a newer one supersedes, and what a rollback goes back to.
//
// Every decision is a pure function of plain values (time is a parameter),
// so the App fills the view from GitHub once and the rules are tested with
// plain structs. Messages are meant for people: they say what to do.
package gate

import (
	"strings"
	"time"

	"github.com/honua-io/honua-gitops/policy"
)

// Pull is what the decisions know of a pull request.
type Pull struct {
	// Repo is "owner/name".
	Repo   string
	Number int
	// Author opened the pull request; Merger merged it (empty until then).
	Author, Merger string
	Labels         []string
	// BaseRef and HeadRef are branch names; BaseSHA, HeadSHA and MergeSHA
	// commits (MergeSHA once merged).
	BaseRef, HeadRef           string
	BaseSHA, HeadSHA, MergeSHA string
	Draft, Merged              bool
	// HTMLURL is the pull request's page, for people.
	HTMLURL string
	// State is "open" or "closed".
	State   string
	Reviews []Review
}

// Review is a pull request review.
type Review struct {
	ID    int64
	Login string
	// State is APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED or
	// PENDING, in either case (webhooks write it in lowercase, the REST API
	// in capitals).
	State string
	// CommitID is the commit the review was given on.
	CommitID    string
	SubmittedAt time.Time
}

// The review states that matter.
const (
	ReviewApproved         = "APPROVED"
	ReviewChangesRequested = "CHANGES_REQUESTED"
	ReviewDismissed        = "DISMISSED"
)

// Person is a GitHub user as the App sees them in the repository.
type Person struct {
	Login string
	// Permission is the user's permission on the repository: admin,
	// maintain, write, triage, read or none.
	Permission string
	// Teams are the user's active team memberships in the repository's
	// organization, "org/team", parents of their teams included.
	Teams []string
	// Bot is true for a bot account (an App, "name[bot]").
	Bot bool
}

// Environment is a GitHub environment of the repository, as read from
// GET /repos/{owner}/{repo}/environments/{name}.
type Environment struct {
	Name string
	// Configured is false when GitHub has no such environment (404).
	Configured bool
	// Reviewers are its required reviewers (users and teams).
	Reviewers         []policy.Reviewer
	PreventSelfReview bool
	// WaitTimer is in minutes.
	WaitTimer int
	// BranchPolicy limits the branches that may deploy; nil means any.
	BranchPolicy *BranchPolicy
}

// BranchPolicy is an environment's deployment branch policy: protected
// branches only, or branches matching Patterns.
type BranchPolicy struct {
	ProtectedBranches bool
	Patterns          []string
}

// Record is an approval or rejection the App recorded in its own comments
// (a click of the Approve button, an /approve or /reject comment, a
// /rollback), already bound to the plan digest its giver saw.
type Record struct {
	Env   string
	Login string
	// Via is ViaReview, ViaButton, ViaComment or ViaRollback.
	Via string
	// Kind is KindApprove or KindReject.
	Kind       string
	SHA        string
	PlanDigest string
	At         time.Time
	Reason     string
}

// The kinds of record.
const (
	KindApprove = "approve"
	KindReject  = "reject"
)

// Where an approval was given (policy.Approval.Via).
const (
	ViaReview   = "review"
	ViaButton   = "button"
	ViaComment  = "comment"
	ViaRollback = "rollback"
	// ViaGitHubEnvironment: in GitHub's "Review deployments" dialog of
	// a gate workflow run (approvals: github-environment).
	ViaGitHubEnvironment = "github-environment"
)

// DeploymentInfo is what the decisions know of a GitHub deployment: its
// latest status's State (pending, queued, in_progress, success, failure,
// error, inactive).
type DeploymentInfo struct {
	ID        int64
	SHA, Env  string
	State     string
	CreatedAt time.Time
}

// The deployment states the decisions look at.
const (
	StatePending    = "pending"
	StateQueued     = "queued"
	StateInProgress = "in_progress"
	StateSuccess    = "success"
	StateFailure    = "failure"
	StateError      = "error"
	StateInactive   = "inactive"
)

// canWrite reports whether a permission allows pushing ("push" is the
// older name of write in some API answers).
func canWrite(permission string) bool {
	switch strings.ToLower(permission) {
	case "admin", "maintain", "write", "push":
		return true
	}
	return false
}

func isBot(p Person) bool {
	return p.Bot || strings.HasSuffix(lowerASCII(p.Login), "[bot]")
}

// person finds a login's entry, ignoring ASCII case as GitHub does.
func person(people map[string]Person, login string) (Person, bool) {
	if p, ok := people[login]; ok {
		return p, true
	}
	for k, p := range people {
		if equalLogin(k, login) {
			return p, true
		}
	}
	return Person{}, false
}

// equalLogin compares logins, slugs and environment names as GitHub does:
// ASCII case ignored, nothing else folded (policy.EqualLogin).
func equalLogin(a, b string) bool { return policy.EqualLogin(a, b) }

func lowerASCII(s string) string { return policy.FoldLogin(s) }

// short writes a commit as people read it: its first seven digits.
func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// envName is the environment's name for messages.
func envName(env Environment, pol policy.EnvPolicy) string {
	if env.Name != "" {
		return env.Name
	}
	return pol.Name
}
