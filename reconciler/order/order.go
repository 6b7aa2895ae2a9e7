// Package order is the signed deploy order: what the App puts in a GitHub
// Deployment's payload, and what a runner verifies before it applies
// anything. Only orders signed with one of the App's keys are applied, so a
// deployment created by anyone else (a person with deployments: write, a
// workflow, another App) is refused by the runner.
//
// The signature is Ed25519 over canonical bytes that any language can
// rebuild from the parsed order without a JSON canonicalizer: a fixed header
// line, then one key=value line per field in a fixed order (see Canonical
// and docs/deploy-orders.md). The package is pure: time comes in as a
// parameter; it imports nothing of the App, the checks or the policy, so
// that the runner can import it alone.
package order

import (
	"errors"
	"fmt"
	"time"
)

// Version is the version of the order format this package signs and
// verifies.
const Version = 1

// Header is the first line of the canonical bytes of a version 1 order. It
// separates the domain: no other message signed with the App's key begins
// with it.
const Header = "honua-gitops deploy order v1"

// The tasks of a deployment (the GitHub deployment's task).
const (
	TaskDeploy   = "deploy"
	TaskRollback = "deploy:rollback"
)

// Limits of an order. A payload or field beyond them is refused: the
// runner reads payloads that anyone with deployments: write can create.
const (
	// MaxPayload is the largest payload Verify reads, in bytes.
	MaxPayload = 64 << 10
	// MaxApprovals is the most approvals an order carries.
	MaxApprovals = 100
	// MaxEnvironment is the longest environment name, in bytes (GitHub's
	// limit for environment names).
	MaxEnvironment = 255
	// MaxPR is the largest pull request number.
	MaxPR = 1<<31 - 1
	// ClockSkew is how far in the future an order's issued_at may be when
	// it is verified: the App's and the runner's clocks differ a little.
	ClockSkew = 5 * time.Minute
)

// Order is a deploy order: deploy SHA of Repo to Environment, as approved.
type Order struct {
	// Version is the format's version (Version). Sign fills in 0.
	Version int
	// Repo is the config repository, "owner/name".
	Repo string
	// SHA is the commit to deploy: 40 (or, for SHA-256 repositories, 64)
	// lowercase hex digits.
	SHA string
	// Environment is the environment to deploy to.
	Environment string
	// Task is TaskDeploy or TaskRollback.
	Task string
	// PlanDigest is the environment's plan digest (plan.Environment.Digest)
	// that was judged and approved; PolicyDigest the digest of the policy
	// that judged it (policy.Bundle.Digest). Each is 64 lowercase hex
	// digits, optionally prefixed with "sha256:".
	PlanDigest   string
	PolicyDigest string
	// PR is the pull request number; 0 for a push.
	PR int
	// Approvals are the approvals the deployment went ahead with.
	Approvals []Approval
	// RollbackOf is, for a rollback, the commit whose deployment it undoes;
	// empty otherwise.
	RollbackOf string
	// IssuedAt and ExpiresAt bound when the order may start. They are
	// signed to the second, in UTC.
	IssuedAt  time.Time
	ExpiresAt time.Time
	// KeyID names the key that signed the order (KeyID). Sign fills it in.
	KeyID string
}

// Approval is one approval an order went ahead with.
type Approval struct {
	// Login is the approver's GitHub login.
	Login string
	// Via is where it was given: "review", "button", "comment",
	// "rollback"...: lowercase letters, digits, '-' and '_'.
	Via string
	// At is when it was given (signed to the second, in UTC).
	At time.Time
}

// Errors of Verify, wrapped with what exactly is wrong.
var (
	// ErrMalformed is a payload that is not a well-formed order.
	ErrMalformed = errors.New("malformed deploy order")
	// ErrUnknownKey is an order signed with a key the verifier does not
	// hold.
	ErrUnknownKey = errors.New("deploy order signed with an unknown key")
	// ErrBadSignature is an order whose signature does not match it: it was
	// changed after it was signed, or signed by someone else.
	ErrBadSignature = errors.New("deploy order signature does not match")
	// ErrExpired is an authentic order past its expires_at.
	ErrExpired = errors.New("deploy order expired")
	// ErrNotYetValid is an authentic order issued in the future (beyond
	// ClockSkew).
	ErrNotYetValid = errors.New("deploy order not yet valid")
)

// Matches reports whether the order is for the deployment it came with:
// the GitHub deployment's repository, sha, environment and task. A runner
// must check it, or an order copied into another deployment's payload
// would deploy what that deployment names instead.
func (o Order) Matches(repo, sha, environment, task string) error {
	var problems []error
	check := func(what, order, deployment string) {
		if order != deployment {
			problems = append(problems, fmt.Errorf("the order's %s is %s, the deployment's %s", what, short(order), short(deployment)))
		}
	}
	// GitHub compares repository names without regard to case.
	if !equalFoldASCII(o.Repo, repo) {
		check("repository", o.Repo, repo)
	}
	check("sha", o.SHA, sha)
	check("environment", o.Environment, environment)
	check("task", o.Task, task)
	return errors.Join(problems...)
}

// short quotes s for an error message, cut to a few dozen bytes: errors
// never echo large input.
func short(s string) string {
	const max = 48
	if len(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:max], len(s))
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
