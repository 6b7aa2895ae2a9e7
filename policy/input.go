package policy

import (
	"encoding/json"
	"errors"
	"runtime"
	"strconv"
	"sync"
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
	// Rollback is true when the deployment puts an earlier, successfully
	// deployed configuration back (/rollback): the built-in rules let it
	// through closed windows, blackouts that are not strict and promotion,
	// and one eligible approval (the requester's) suffices.
	Rollback bool `json:"rollback"`
	// ChangedEnvironments are the environments the same commit changes,
	// when known (Engine.Judge fills it from the plan). A commit that does
	// not change the environment production is promoted from cannot run
	// there first: the promotion rule then does not apply. Nil (not known)
	// keeps promotion strict.
	ChangedEnvironments []string `json:"changed_environments"`
}

// PlanInput is the part of plan.Environment a policy sees.
type PlanInput struct {
	Summary plan.Summary        `json:"summary"`
	Changes []plan.Change       `json:"changes"`
	Errors  []config.Diagnostic `json:"errors"`
	// Digest identifies the environment's plan (plan.Environment.Digest):
	// approvals bind to it. Empty when the caller did not compute it.
	Digest string `json:"digest"`
	// Index is ignored: input.plan.index is always derived from Changes.
	// It is here so that an input document that carries one (the input as
	// policy eval --query input prints it) still decodes.
	Index json.RawMessage `json:"index,omitempty"`
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
	// GitopsErrors are the problems of the PR's own .gitops/ (head's): what
	// would keep it from loading or compiling once merged. Empty when it
	// loads, or the PR does not change .gitops/.
	GitopsErrors []config.Diagnostic `json:"gitops_errors"`
}

// Approval is one approval: a PR review, the Approve button of a check run
// or an /approve comment. Teams are the approver's "org/team" slugs.
type Approval struct {
	Login       string    `json:"login"`
	Teams       []string  `json:"teams"`
	Commit      string    `json:"commit"`
	SubmittedAt time.Time `json:"submitted_at"`
	// PlanDigest is the environment's plan digest the approver saw. When
	// set, the approval binds to it instead of to Commit: a push that leaves
	// the environment's plan unchanged keeps the approval, and any push that
	// changes it drops it.
	PlanDigest string `json:"plan_digest,omitempty"`
	// Via is where it was given: "review", "button", "comment" or
	// "rollback" (informational).
	Via string `json:"via,omitempty"`
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
// agree with the JSON encoding of Input (a test checks that it does), plus
// plan.index, which it derives from the changes.
func (in *Input) value() (ast.Value, error) { return in.valueWith(true) }

// valueWith builds the input; without details, every change's details are
// left empty, for policies that never read them (the built-ins).
func (in *Input) valueWith(details bool) (ast.Value, error) {
	changes, err := changeTerms(in.Plan.Changes, details)
	if err != nil {
		return nil, err
	}
	ix := newPlanIndex(details)
	for i := range in.Plan.Changes {
		ix.add(&in.Plan.Changes[i], changes[i])
	}
	terms := &termSlab{}
	b := builder{terms: terms}
	str, strs, intT := b.str, b.strs, ast.IntNumberTerm
	tm := func(t time.Time) *ast.Term { return str(t.Format(time.RFC3339Nano)) }
	diags := func(ds []config.Diagnostic) *ast.Term {
		ts := make([]*ast.Term, len(ds))
		for i, d := range ds {
			ts[i] = ast.ObjectTerm(
				ast.Item(key("file"), str(d.File)),
				ast.Item(key("line"), intT(d.Line)),
				ast.Item(key("column"), intT(d.Column)),
				ast.Item(key("message"), str(d.Message)),
				ast.Item(key("rule"), str(d.Rule)),
			)
		}
		return ast.ArrayTerm(ts...)
	}
	s := in.Plan.Summary
	planT := ast.ObjectTerm(
		ast.Item(key("summary"), ast.ObjectTerm(
			ast.Item(key("added"), intT(s.Added)),
			ast.Item(key("modified"), intT(s.Modified)),
			ast.Item(key("removed"), intT(s.Removed)),
			ast.Item(key("breaking"), intT(s.Breaking)),
			ast.Item(key("secretRefs"), intT(s.SecretRefs)),
		)),
		ast.Item(key("changes"), ast.ArrayTerm(changes...)),
		ast.Item(key("errors"), diags(in.Plan.Errors)),
		ast.Item(key("digest"), str(in.Plan.Digest)),
		ast.Item(key("index"), ix.term()),
	)
	prT := ast.ObjectTerm(
		ast.Item(key("number"), intT(in.PR.Number)),
		ast.Item(key("author"), str(in.PR.Author)),
		ast.Item(key("labels"), strs(in.PR.Labels)),
		ast.Item(key("base_sha"), str(in.PR.BaseSHA)),
		ast.Item(key("head_sha"), str(in.PR.HeadSHA)),
		ast.Item(key("touches_gitops"), ast.BooleanTerm(in.PR.TouchesGitops)),
		ast.Item(key("gitops_errors"), diags(in.PR.GitopsErrors)),
	)
	approvals := make([]*ast.Term, len(in.Approvals))
	for i, a := range in.Approvals {
		items := [][2]*ast.Term{
			ast.Item(key("login"), str(a.Login)),
			ast.Item(key("teams"), strs(a.Teams)),
			ast.Item(key("commit"), str(a.Commit)),
			ast.Item(key("submitted_at"), tm(a.SubmittedAt)),
		}
		if a.PlanDigest != "" {
			items = append(items, ast.Item(key("plan_digest"), str(a.PlanDigest)))
		}
		if a.Via != "" {
			items = append(items, ast.Item(key("via"), str(a.Via)))
		}
		approvals[i] = ast.ObjectTerm(items...)
	}
	protT := ast.NullTerm()
	if p := in.Protection; p != nil {
		rs := make([]*ast.Term, len(p.Reviewers))
		for i, r := range p.Reviewers {
			items := [][2]*ast.Term{ast.Item(key("type"), str(r.Type))}
			if r.Login != "" {
				items = append(items, ast.Item(key("login"), str(r.Login)))
			}
			if r.Slug != "" {
				items = append(items, ast.Item(key("slug"), str(r.Slug)))
			}
			rs[i] = ast.ObjectTerm(items...)
		}
		protT = ast.ObjectTerm(
			ast.Item(key("reviewers"), ast.ArrayTerm(rs...)),
			ast.Item(key("prevent_self_review"), ast.BooleanTerm(p.PreventSelfReview)),
			ast.Item(key("wait_timer"), intT(p.WaitTimer)),
		)
	}
	changedT := ast.NullTerm()
	if in.ChangedEnvironments != nil {
		changedT = strs(in.ChangedEnvironments)
	}
	deps := make([][2]*ast.Term, 0, len(in.Deployments))
	for env, d := range in.Deployments {
		deps = append(deps, ast.Item(str(env), ast.ObjectTerm(
			ast.Item(key("sha"), str(d.SHA)),
			ast.Item(key("succeeded_at"), tm(d.SucceededAt)),
		)))
	}
	return ast.NewObject(
		ast.Item(key("environment"), str(in.Environment)),
		ast.Item(key("now"), tm(in.Now)),
		ast.Item(key("sha"), str(in.sha())),
		ast.Item(key("plan"), planT),
		ast.Item(key("pr"), prT),
		ast.Item(key("approvals"), ast.ArrayTerm(approvals...)),
		ast.Item(key("protection"), protT),
		ast.Item(key("deployments"), ast.ObjectTerm(deps...)),
		ast.Item(key("rollback"), ast.BooleanTerm(in.Rollback)),
		ast.Item(key("changed_environments"), changedT),
	), nil
}

// keys are the object keys of the input, built once: most of the cost of
// converting a large plan is allocating terms.
var keys = func() map[string]*ast.Term {
	m := map[string]*ast.Term{}
	for _, k := range []string{
		"environment", "now", "sha", "plan", "pr", "approvals", "protection", "deployments",
		"summary", "changes", "errors", "added", "modified", "removed", "breaking",
		"kind", "id", "action", "risk", "reasons", "file", "line", "collections", "details",
		"path", "from", "to", "column", "message", "rule",
		"number", "author", "labels", "base_sha", "head_sha", "touches_gitops",
		"login", "teams", "commit", "submitted_at", "reviewers", "prevent_self_review",
		"wait_timer", "type", "slug", "succeeded_at", "index", "kinds", "actions",
		"secretRefs", "name", "part", "gitops_errors", "digest", "plan_digest", "via", "rollback", "changed_environments",
	} {
		m[k] = ast.StringTerm(k)
	}
	return m
}()

var (
	kKind, kID, kAction, kBreaking, kRisk = key("kind"), key("id"), key("action"), key("breaking"), key("risk")
	kReasons, kFile, kLine, kCollections  = key("reasons"), key("file"), key("line"), key("collections")
	kDetails, kPath, kFrom, kTo           = key("details"), key("path"), key("from"), key("to")
	kSecretRefs, kName, kPart             = key("secretRefs"), key("name"), key("part")
)

// planIndex is input.plan.index: what the built-in rules would otherwise
// find by scanning every change, computed once in Go. The arrays hold the
// change terms themselves, in plan order.
type planIndex struct {
	kinds, actions    map[string]int
	breaking, removed []*ast.Term
	// byID holds each kind's changes by id: a plan has at most one change
	// per kind and id.
	byID map[string][][2]*ast.Term
	// paths counts, per kind, the changes that touch each detail path.
	// Both are left empty, like the details, when the policy has no custom
	// module to read them.
	paths   map[string]map[string]int
	details bool
}

func newPlanIndex(details bool) *planIndex {
	return &planIndex{kinds: map[string]int{}, actions: map[string]int{}, byID: map[string][][2]*ast.Term{}, paths: map[string]map[string]int{}, details: details}
}

func (ix *planIndex) add(c *plan.Change, t *ast.Term) {
	kind := string(c.Kind)
	ix.kinds[kind]++
	ix.actions[string(c.Action)]++
	if c.Breaking {
		ix.breaking = append(ix.breaking, t)
	}
	if c.Action == plan.ActionRemove {
		ix.removed = append(ix.removed, t)
	}
	if !ix.details {
		return // changes and paths serve custom modules only (see valueWith)
	}
	ix.byID[kind] = append(ix.byID[kind], ast.Item(ast.StringTerm(c.ID), t))
	if len(c.Details) > 0 {
		m := ix.paths[kind]
		if m == nil {
			m = map[string]int{}
			ix.paths[kind] = m
		}
		for _, d := range c.Details {
			m[d.Path]++
		}
	}
}

func (ix *planIndex) term() *ast.Term {
	counts := func(m map[string]int) *ast.Term {
		items := make([][2]*ast.Term, 0, len(m))
		for k, n := range m {
			items = append(items, ast.Item(ast.StringTerm(k), ast.IntNumberTerm(n)))
		}
		return ast.ObjectTerm(items...)
	}
	byID := make([][2]*ast.Term, 0, len(ix.byID))
	for kind, items := range ix.byID {
		byID = append(byID, ast.Item(ast.StringTerm(kind), ast.ObjectTerm(items...)))
	}
	paths := make([][2]*ast.Term, 0, len(ix.paths))
	for kind, m := range ix.paths {
		paths = append(paths, ast.Item(ast.StringTerm(kind), counts(m)))
	}
	return ast.ObjectTerm(
		ast.Item(key("kinds"), counts(ix.kinds)),
		ast.Item(key("actions"), counts(ix.actions)),
		ast.Item(key("breaking"), ast.ArrayTerm(ix.breaking...)),
		ast.Item(key("removed"), ast.ArrayTerm(ix.removed...)),
		ast.Item(key("changes"), ast.ObjectTerm(byID...)),
		ast.Item(key("paths"), ast.ObjectTerm(paths...)),
	)
}

func key(k string) *ast.Term {
	if t, ok := keys[k]; ok {
		return t
	}
	return ast.StringTerm(k)
}

// parallelChanges is the fewest changes worth a goroutine of their own when
// building the input: below it, starting goroutines costs more than it saves.
const parallelChanges = 2048

// changeTerms converts changes, on up to GOMAXPROCS goroutines for plans of
// many thousands of changes (each goroutine with its own allocation slab).
func changeTerms(cs []plan.Change, details bool) ([]*ast.Term, error) {
	out := make([]*ast.Term, len(cs))
	workers := min(runtime.GOMAXPROCS(0), len(cs)/parallelChanges)
	if workers < 2 {
		return out, convertChanges(cs, out, details)
	}
	chunk := (len(cs) + workers - 1) / workers
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(cs))
		wg.Go(func() { errs[w] = convertChanges(cs[lo:hi], out[lo:hi], details) })
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// builder makes terms from one slab, with repeated strings (kinds,
// actions, risks, detail paths) one term each.
type builder struct {
	terms    *termSlab
	interned map[string]*ast.Term
}

func (b *builder) str(s string) *ast.Term { return b.terms.new(ast.String(s)) }

func (b *builder) strs(ss []string) *ast.Term {
	if len(ss) == 0 {
		return ast.InternedEmptyArray
	}
	ts := make([]*ast.Term, len(ss))
	for i, s := range ss {
		ts[i] = b.str(s)
	}
	return b.terms.new(ast.NewArray(ts...))
}

func (b *builder) intern(s string) *ast.Term {
	t, ok := b.interned[s]
	if !ok {
		t = b.str(s)
		b.interned[s] = t
	}
	return t
}

// convertChanges writes the terms of cs to out; without details, every
// change's details are empty.
func convertChanges(cs []plan.Change, out []*ast.Term, details bool) error {
	b := &builder{terms: &termSlab{}, interned: map[string]*ast.Term{}}
	for i := range cs {
		c := &cs[i]
		detailsT := ast.InternedEmptyArray
		if details && len(c.Details) > 0 {
			ds := make([]*ast.Term, len(c.Details))
			for j, d := range c.Details {
				from, err := anyTerm(d.From, b.terms)
				if err != nil {
					return err
				}
				to, err := anyTerm(d.To, b.terms)
				if err != nil {
					return err
				}
				ds[j] = b.terms.new(ast.NewObject(
					ast.Item(kPath, b.intern(d.Path)),
					ast.Item(kFrom, from),
					ast.Item(kTo, to),
				))
			}
			detailsT = b.terms.new(ast.NewArray(ds...))
		}
		items := [][2]*ast.Term{
			ast.Item(kKind, b.intern(string(c.Kind))),
			ast.Item(kID, b.str(c.ID)),
			ast.Item(kAction, b.intern(string(c.Action))),
			ast.Item(kBreaking, ast.InternedTerm(c.Breaking)),
			ast.Item(kRisk, b.intern(string(c.Risk))),
			ast.Item(kReasons, b.strs(c.Reasons)),
			ast.Item(kFile, b.str(c.File)),
			ast.Item(kLine, ast.IntNumberTerm(c.Line)),
			ast.Item(kCollections, b.strs(c.Collections)),
			ast.Item(kDetails, detailsT),
			ast.Item(kSecretRefs, b.secretRefs(c.SecretRefs)),
		}
		if c.Digest != "" {
			// As the JSON encoding (omitempty).
			items = append(items, ast.Item(key("digest"), b.str(c.Digest)))
		}
		out[i] = b.terms.new(ast.NewObject(items...))
	}
	return nil
}

// secretRefs converts a change's secret-reference uses; nil is null, as
// in the JSON encoding.
func (b *builder) secretRefs(rs []plan.SecretRef) *ast.Term {
	switch {
	case rs == nil:
		return ast.InternedNullTerm
	case len(rs) == 0:
		return ast.InternedEmptyArray
	}
	ts := make([]*ast.Term, len(rs))
	for i, r := range rs {
		ts[i] = b.terms.new(ast.NewObject(
			ast.Item(kName, b.str(r.Name)),
			ast.Item(kPath, b.intern(r.Path)),
			ast.Item(kPart, b.intern(r.Part)),
			ast.Item(kAction, b.intern(string(r.Action))),
		))
	}
	return b.terms.new(ast.NewArray(ts...))
}

// termSlab allocates terms in blocks: a plan of thousands of changes makes
// tens of thousands of terms, and one allocation per term is most of the cost
// of building the input.
type termSlab struct{ block []ast.Term }

func (s *termSlab) new(v ast.Value) *ast.Term {
	if len(s.block) == cap(s.block) {
		s.block = make([]ast.Term, 0, 256)
	}
	s.block = append(s.block, ast.Term{Value: v})
	return &s.block[len(s.block)-1]
}

// anyTerm converts a detail value, with the common scalars done directly.
func anyTerm(v any, terms *termSlab) (*ast.Term, error) {
	switch x := v.(type) {
	case nil:
		return ast.InternedNullTerm, nil
	case string:
		return terms.new(ast.String(x)), nil
	case bool:
		return ast.InternedTerm(x), nil
	case float64:
		// As ast.InterfaceToValue writes a float64.
		return terms.new(ast.Number(strconv.FormatFloat(x, 'g', -1, 64))), nil
	}
	val, err := ast.InterfaceToValue(v)
	if err != nil {
		return nil, err
	}
	return terms.new(val), nil
}
