package policy

import (
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// Input is the document every policy, built-in or custom, is evaluated
// against (input in Rego). Its JSON shape is documented in docs/policy.md;
// custom policies are written against it, so fields are only ever added.
type Input struct {
	// Environment is the environment this verdict is for.
	Environment string `json:"environment"`
	// Now is the time of the evaluation (RFC 3339). Policies never read the
	// clock themselves.
	Now time.Time `json:"now"`
	// SHA is the commit to deploy: the PR head for a PR check, the merge
	// commit for a deployment. Empty means PR.HeadSHA.
	SHA string `json:"sha"`
	// Plan is the environment's plan.
	Plan PlanInput `json:"plan"`
	// PR is the pull request; zero outside a PR.
	PR PR `json:"pr"`
	// Approvals are the approvals given so far.
	Approvals []Approval `json:"approvals"`
	// Protection is the GitHub environment's protection as the App read it;
	// nil when it was not read.
	Protection *Protection `json:"protection"`
	// Deployments are the last successful deployment of each environment.
	Deployments map[string]Deployment `json:"deployments"`
}

// PlanInput is the part of plan.Environment a policy sees.
type PlanInput struct {
	Summary plan.Summary        `json:"summary"`
	Changes []plan.Change       `json:"changes"`
	Errors  []config.Diagnostic `json:"errors"`
}

// PR is the pull request a plan belongs to.
type PR struct {
	Number  int      `json:"number"`
	Author  string   `json:"author"`
	Labels  []string `json:"labels"`
	BaseSHA string   `json:"base_sha"`
	HeadSHA string   `json:"head_sha"`
	// TouchesGitops is true when the PR changes a file under .gitops/.
	TouchesGitops bool `json:"touches_gitops"`
}

// Approval is one approval: a PR review, the Approve button of a check run
// or an /approve comment. Teams are the approver's "org/team" slugs.
type Approval struct {
	Login       string    `json:"login"`
	Teams       []string  `json:"teams"`
	Commit      string    `json:"commit"`
	SubmittedAt time.Time `json:"submitted_at"`
}

// Protection is a GitHub environment's protection rules.
type Protection struct {
	Reviewers         []Reviewer `json:"reviewers"`
	PreventSelfReview bool       `json:"prevent_self_review"`
	// WaitTimer is in minutes.
	WaitTimer int `json:"wait_timer"`
}

// Reviewer is a required reviewer of a GitHub environment: Type "User" with
// Login, or "Team" with Slug ("org/team", or "team").
type Reviewer struct {
	Type  string `json:"type"`
	Login string `json:"login,omitempty"`
	Slug  string `json:"slug,omitempty"`
}

// Deployment is the last successful deployment of an environment.
type Deployment struct {
	SHA         string    `json:"sha"`
	SucceededAt time.Time `json:"succeeded_at"`
}

// InputFromPlan fills the plan part of an input from a plan's environment.
func InputFromPlan(env plan.Environment) PlanInput {
	return PlanInput{Summary: env.Summary, Changes: env.Changes, Errors: env.Errors}
}

func (in *Input) sha() string {
	if in.SHA != "" {
		return in.SHA
	}
	return in.PR.HeadSHA
}

// value builds the Rego value of the input directly, which is several times
// faster than a JSON round trip for plans of thousands of changes. It must
// agree with the JSON encoding of Input (a test checks that it does).
func (in *Input) value() (ast.Value, error) {
	str := ast.StringTerm
	strs := func(ss []string) *ast.Term {
		ts := make([]*ast.Term, len(ss))
		for i, s := range ss {
			ts[i] = str(s)
		}
		return ast.ArrayTerm(ts...)
	}
	tm := func(t time.Time) *ast.Term { return str(t.Format(time.RFC3339Nano)) }
	intT := func(i int) *ast.Term { return ast.IntNumberTerm(i) }

	changes := make([]*ast.Term, len(in.Plan.Changes))
	for i := range in.Plan.Changes {
		c := &in.Plan.Changes[i]
		details := make([]*ast.Term, len(c.Details))
		for j, d := range c.Details {
			from, err := ast.InterfaceToValue(d.From)
			if err != nil {
				return nil, err
			}
			to, err := ast.InterfaceToValue(d.To)
			if err != nil {
				return nil, err
			}
			details[j] = ast.ObjectTerm(
				ast.Item(str("path"), str(d.Path)),
				ast.Item(str("from"), ast.NewTerm(from)),
				ast.Item(str("to"), ast.NewTerm(to)),
			)
		}
		changes[i] = ast.ObjectTerm(
			ast.Item(str("kind"), str(string(c.Kind))),
			ast.Item(str("id"), str(c.ID)),
			ast.Item(str("action"), str(string(c.Action))),
			ast.Item(str("breaking"), ast.BooleanTerm(c.Breaking)),
			ast.Item(str("risk"), str(string(c.Risk))),
			ast.Item(str("reasons"), strs(c.Reasons)),
			ast.Item(str("file"), str(c.File)),
			ast.Item(str("line"), intT(c.Line)),
			ast.Item(str("collections"), strs(c.Collections)),
			ast.Item(str("details"), ast.ArrayTerm(details...)),
		)
	}
	errs := make([]*ast.Term, len(in.Plan.Errors))
	for i, d := range in.Plan.Errors {
		errs[i] = ast.ObjectTerm(
			ast.Item(str("file"), str(d.File)),
			ast.Item(str("line"), intT(d.Line)),
			ast.Item(str("column"), intT(d.Column)),
			ast.Item(str("message"), str(d.Message)),
			ast.Item(str("rule"), str(d.Rule)),
		)
	}
	s := in.Plan.Summary
	planT := ast.ObjectTerm(
		ast.Item(str("summary"), ast.ObjectTerm(
			ast.Item(str("added"), intT(s.Added)),
			ast.Item(str("modified"), intT(s.Modified)),
			ast.Item(str("removed"), intT(s.Removed)),
			ast.Item(str("breaking"), intT(s.Breaking)),
		)),
		ast.Item(str("changes"), ast.ArrayTerm(changes...)),
		ast.Item(str("errors"), ast.ArrayTerm(errs...)),
	)
	prT := ast.ObjectTerm(
		ast.Item(str("number"), intT(in.PR.Number)),
		ast.Item(str("author"), str(in.PR.Author)),
		ast.Item(str("labels"), strs(in.PR.Labels)),
		ast.Item(str("base_sha"), str(in.PR.BaseSHA)),
		ast.Item(str("head_sha"), str(in.PR.HeadSHA)),
		ast.Item(str("touches_gitops"), ast.BooleanTerm(in.PR.TouchesGitops)),
	)
	approvals := make([]*ast.Term, len(in.Approvals))
	for i, a := range in.Approvals {
		approvals[i] = ast.ObjectTerm(
			ast.Item(str("login"), str(a.Login)),
			ast.Item(str("teams"), strs(a.Teams)),
			ast.Item(str("commit"), str(a.Commit)),
			ast.Item(str("submitted_at"), tm(a.SubmittedAt)),
		)
	}
	protT := ast.NullTerm()
	if p := in.Protection; p != nil {
		rs := make([]*ast.Term, len(p.Reviewers))
		for i, r := range p.Reviewers {
			items := [][2]*ast.Term{ast.Item(str("type"), str(r.Type))}
			if r.Login != "" {
				items = append(items, ast.Item(str("login"), str(r.Login)))
			}
			if r.Slug != "" {
				items = append(items, ast.Item(str("slug"), str(r.Slug)))
			}
			rs[i] = ast.ObjectTerm(items...)
		}
		protT = ast.ObjectTerm(
			ast.Item(str("reviewers"), ast.ArrayTerm(rs...)),
			ast.Item(str("prevent_self_review"), ast.BooleanTerm(p.PreventSelfReview)),
			ast.Item(str("wait_timer"), intT(p.WaitTimer)),
		)
	}
	deps := make([][2]*ast.Term, 0, len(in.Deployments))
	for env, d := range in.Deployments {
		deps = append(deps, ast.Item(str(env), ast.ObjectTerm(
			ast.Item(str("sha"), str(d.SHA)),
			ast.Item(str("succeeded_at"), tm(d.SucceededAt)),
		)))
	}
	return ast.NewObject(
		ast.Item(str("environment"), str(in.Environment)),
		ast.Item(str("now"), tm(in.Now)),
		ast.Item(str("sha"), str(in.sha())),
		ast.Item(str("plan"), planT),
		ast.Item(str("pr"), prT),
		ast.Item(str("approvals"), ast.ArrayTerm(approvals...)),
		ast.Item(str("protection"), protT),
		ast.Item(str("deployments"), ast.ObjectTerm(deps...)),
	), nil
}
