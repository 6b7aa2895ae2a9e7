package policy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// Report is a plan with the policy's verdict for each of its environments:
// what `plan --policy` prints and what the App shows on a pull request.
type Report struct {
	Plan *plan.Plan
	// Verdicts are by environment name; an environment of the plan has one.
	Verdicts map[string]Verdict
	// Order is the plan's environments in promotion order (see
	// Bundle.PromotionOrder).
	Order []string
	// PolicyDigest identifies the policy that judged the plan; PolicySource
	// says where it was read from.
	PolicyDigest string
	PolicySource string
}

// Verdict returns the verdict of the environment env.
func (r *Report) Verdict(env string) (Verdict, bool) {
	v, ok := r.Verdicts[env]
	return v, ok
}

// Denied reports whether a verdict denies a deployment, for any reason,
// gates of time included.
func (r *Report) Denied() bool {
	for _, v := range r.Verdicts {
		if !v.Allow {
			return true
		}
	}
	return false
}

// ChangeDenied reports whether a verdict denies the change itself (a deny
// that is not a gate of time): what fails a pull request's policy check.
func (r *Report) ChangeDenied() bool {
	for _, v := range r.Verdicts {
		if len(v.ChangeDenies()) > 0 {
			return true
		}
	}
	return false
}

// Environments returns the plan's environments in promotion order.
func (r *Report) Environments() []*plan.Environment {
	byName := make(map[string]*plan.Environment, len(r.Plan.Environments))
	for i := range r.Plan.Environments {
		byName[r.Plan.Environments[i].Name] = &r.Plan.Environments[i]
	}
	out := make([]*plan.Environment, 0, len(byName))
	for _, n := range r.Order {
		if e, ok := byName[n]; ok {
			out = append(out, e)
			delete(byName, n)
		}
	}
	// An Order that misses environments (a Report built by hand) still
	// shows them all.
	rest := make([]string, 0, len(byName))
	for n := range byName {
		rest = append(rest, n)
	}
	slices.Sort(rest)
	for _, n := range rest {
		out = append(out, byName[n])
	}
	return out
}

// MarshalJSON writes the plan's JSON (docs/plan-json.md) with each
// environment's verdict in it, under "verdict".
func (r *Report) MarshalJSON() ([]byte, error) {
	type envJSON struct {
		plan.Environment
		Verdict *Verdict `json:"verdict,omitempty"`
	}
	type reportJSON struct {
		Version      int                 `json:"version"`
		Environments []envJSON           `json:"environments"`
		Errors       []config.Diagnostic `json:"errors"`
		Warnings     []config.Diagnostic `json:"warnings"`
	}
	n := r.Plan.Normalized()
	out := reportJSON{Version: n.Version, Errors: n.Errors, Warnings: n.Warnings, Environments: make([]envJSON, len(n.Environments))}
	for i, e := range n.Environments {
		out.Environments[i].Environment = e
		if v, ok := r.Verdicts[e.Name]; ok {
			v := v.normalized()
			out.Environments[i].Verdict = &v
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// WriteJSON writes the report as indented JSON, as plan.WriteJSON does.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := r.MarshalJSON()
	if err != nil {
		return fmt.Errorf("writing plan as JSON: %w", err)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return fmt.Errorf("writing plan as JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

// normalized gives empty lists rather than null, as the plan's JSON does.
func (v Verdict) normalized() Verdict {
	v.Deny = nonNil(v.Deny)
	v.Warn = nonNil(v.Warn)
	v.Errors = nonNil(v.Errors)
	v.Prints = nonNil(v.Prints)
	v.Approval.From = nonNil(v.Approval.From)
	v.Approval.Reasons = nonNil(v.Approval.Reasons)
	v.Approval.ApprovedBy = nonNil(v.Approval.ApprovedBy)
	v.Approval.Requirements = nonNil(v.Approval.Requirements)
	return v
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// JudgeOptions are what a plan is judged with besides the plan.
type JudgeOptions struct {
	// Bundle is the policy, already loaded; when nil it is loaded from
	// Base.
	Bundle *Bundle
	// Base is where the policy comes from: always the base of the change,
	// so that a pull request cannot loosen the rules it is judged by. Nil
	// (and no Bundle) evaluates the built-in rules with strict defaults.
	Base config.Source
	// Head, when set with Base, tells whether the change touches .gitops/
	// (which then needs a policy owner) and whether head's own policy would
	// still load and compile once merged. Head's policy never judges.
	Head config.Source
	// Limits bound what is read of the policy (zero fields take
	// config.DefaultLimits).
	Limits config.Limits
	// Now is the time of the evaluation.
	Now time.Time
	// PR is the pull request; TouchesGitops and GitopsErrors are filled
	// from Head when it is set.
	PR PR
	// SHA is the commit to deploy (default PR.HeadSHA).
	SHA string
	// Deployments are the last successful deployment of each environment.
	Deployments map[string]Deployment
	// Approvals are the approvals given so far, by environment.
	Approvals map[string][]Approval
	// Protection is each environment's GitHub protection, when it was read.
	Protection map[string]*Protection
	// Rollback marks a rollback (Input.Rollback).
	Rollback bool
	// Complete says the plan covers every environment of the repository
	// (it was not restricted to some): what the commit changes is then
	// known, and the inputs say it (Input.ChangedEnvironments).
	Complete bool
}

// Judge evaluates the policy for every environment of p and returns the
// plan with its verdicts. Each environment's plan digest is part of its
// input (Input.Plan.Digest), so approvals bound to a digest count only for
// the plan they were given for.
//
// The error is for a run that could not judge at all: a policy that cannot
// be read, or a cancelled ctx. It is never a verdict, and a verdict is
// never made of it: a policy with errors denies (fail closed).
func (e *Engine) Judge(ctx context.Context, p *plan.Plan, o JudgeOptions) (*Report, error) {
	b := o.Bundle
	if b == nil {
		if o.Base != nil {
			var err error
			if b, err = LoadWithLimits(ctx, o.Base, o.Limits); err != nil {
				return nil, fmt.Errorf("loading the policy of base: %w", err)
			}
		} else {
			b = NewBundle(nil, nil)
			b.Source = "built-in defaults"
		}
	}
	pr := o.PR
	if o.Head != nil && o.Base != nil {
		var err error
		if pr.TouchesGitops, err = GitopsDiffers(ctx, o.Base, o.Head); err != nil {
			return nil, err
		}
		if pr.TouchesGitops {
			if pr.GitopsErrors, err = e.headPolicyErrors(ctx, o.Head, o.Limits); err != nil {
				return nil, err
			}
		}
	}
	r := &Report{Plan: p, Verdicts: make(map[string]Verdict, len(p.Environments)), PolicyDigest: b.Digest, PolicySource: b.Source}
	var changed []string
	if o.Complete {
		changed = []string{}
		for _, e := range p.Environments {
			if len(e.Changes) > 0 {
				changed = append(changed, e.Name)
			}
		}
	}
	names := make([]string, len(p.Environments))
	for i := range p.Environments {
		env := &p.Environments[i]
		names[i] = env.Name
		in := Input{
			Environment:         env.Name,
			Now:                 o.Now,
			SHA:                 o.SHA,
			Plan:                InputFromPlan(*env),
			PR:                  pr,
			Approvals:           o.Approvals[env.Name],
			Protection:          o.Protection[env.Name],
			Deployments:         o.Deployments,
			Rollback:            o.Rollback,
			ChangedEnvironments: changed,
		}
		in.Plan.Digest = env.Digest()
		v, err := e.Evaluate(ctx, b, in)
		if err != nil {
			// Cancelled: no verdict, rather than a deny that blames the
			// policy.
			return nil, err
		}
		r.Verdicts[env.Name] = v
	}
	r.Order = b.PromotionOrder(names)
	return r, nil
}

// headPolicyErrors loads and compiles the policy the change would leave
// behind (head's .gitops/) and returns what keeps it from working. It never
// judges anything: base's policy does, and denies the change when these
// are not empty (rule policy-invalid), so that a broken policy is caught
// before the merge rather than after it, when nothing would deploy.
func (e *Engine) headPolicyErrors(ctx context.Context, head config.Source, lim config.Limits) ([]config.Diagnostic, error) {
	b, err := LoadWithLimits(ctx, head, lim)
	if err != nil {
		return nil, fmt.Errorf("loading the policy of head: %w", err)
	}
	return e.Check(ctx, b)
}

// GitopsDiffers reports whether the .gitops/ files of two sources differ.
// The sources' own problems are reported elsewhere (head's by the plan,
// base's by the policy), so here they only decide the answer: a problem
// under .gitops/ (a symlink, a file over the size limit), or one that may
// hide files there (too many files), in either source counts as a change
// to .gitops/, which then needs a policy owner's approval.
func GitopsDiffers(ctx context.Context, base, head config.Source) (bool, error) {
	hashes := func(s config.Source) (m map[string][sha256.Size]byte, unsure bool, err error) {
		files, err := s.List(ctx)
		if err != nil {
			var te *config.TreeError
			if !errors.As(err, &te) {
				return nil, false, err
			}
			for _, d := range te.Problems {
				unsure = unsure || ConcernsPolicy(s, d)
			}
		}
		m = map[string][sha256.Size]byte{}
		for _, f := range files {
			if !UnderGitops(f.Path) {
				continue
			}
			b, err := s.Read(ctx, f.Path)
			switch {
			case errors.Is(err, config.ErrFileTooLarge):
				unsure = true
				continue
			case err != nil:
				return nil, false, err
			}
			m[f.Path] = sha256.Sum256(b)
		}
		return m, unsure, nil
	}
	a, unsureA, err := hashes(base)
	if err != nil {
		return false, err
	}
	b, unsureB, err := hashes(head)
	if err != nil {
		return false, err
	}
	if unsureA || unsureB || len(a) != len(b) {
		return true, nil
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return true, nil
		}
	}
	return false, nil
}

// PromotionOrder sorts environment names the way people read a promotion:
// by their place in the policy's promotion chains (an environment promoted
// from another comes after it: development → staging → production), then,
// among environments at the same place, by the usual order of their names
// (development, test, staging, production), then by name.
func (b *Bundle) PromotionOrder(names []string) []string {
	depth := func(n string) int {
		d := 0
		seen := map[string]bool{}
		for b.File != nil && !seen[n] {
			seen[n] = true
			p := b.File.Env(n).Promotion
			if p == nil || p.After == "" {
				break
			}
			n = p.After
			d++
		}
		return d
	}
	out := slices.Clone(names)
	ds := make(map[string]int, len(out))
	for _, n := range out {
		ds[n] = depth(n)
	}
	slices.SortStableFunc(out, func(x, y string) int {
		if c := ds[x] - ds[y]; c != 0 {
			return c
		}
		if c := conventionalRank(x) - conventionalRank(y); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	return out
}

// conventionalRank places the usual environment names in promotion order;
// other names come after them.
func conventionalRank(name string) int {
	switch strings.ToLower(name) {
	case "development", "dev", "develop":
		return 0
	case "test", "testing", "qa", "integration":
		return 1
	case "staging", "stage", "preprod", "pre-production", "uat":
		return 2
	case "production", "prod", "live":
		return 3
	}
	return 4
}
