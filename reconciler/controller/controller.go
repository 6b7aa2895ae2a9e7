package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/honua-io/honua-gitops/notify"
	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/apply"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
	"github.com/honua-io/honua-gitops/reconciler/runner"
)

// Config is a controller's configuration.
type Config struct {
	// URL is the Git remote: https://, ssh:// (or user@host:path), file://.
	URL string
	// Auth authenticates to the remote (nil for none, as for file://).
	Auth transport.AuthMethod
	// Branch is the branch deployed (default "main").
	Branch string
	// Path is the config repository's folder within the Git repository
	// ("" for its root).
	Path string
	// GitDir is the controller's own bare clone of the remote.
	GitDir string
	// Environments are the environments this controller deploys, each with
	// its Honua server (the GitHub runner's type: one apply engine).
	Environments []runner.Environment
	// Store is the state store.
	Store *Store
	// Secrets fill ${NAME} references.
	Secrets config.Secrets
	// Limits bound what is read of the repository.
	Limits config.Limits
	// HealthInterval is how often Run checks health and drift (0: never).
	HealthInterval time.Duration
	// Notifier sends the policy's notifications (nil: none).
	Notifier *notify.Notifier
	// Logger (slog.Default when nil) and Now (time.Now when nil).
	Logger *slog.Logger
	Now    func() time.Time
}

// Controller watches a branch and deploys it. Its methods are safe for
// one goroutine (Run's).
type Controller struct {
	cfg    Config
	repo   *git.Repository
	src    *config.Repository
	loader *config.Loader
	engine *policy.Engine

	mu sync.Mutex
	// gone remembers that the branch's absence was reported.
	gone bool
	// judged is, per waiting deployment, how many decisions it had when it
	// was last judged: a waiting deployment is judged again only when a
	// decision came or its gate of time opened (a restart judges once).
	judged map[string]int
	// bundles caches the policy of a commit (by sha): it never changes.
	bundles map[string]*policy.Bundle
}

// New opens (or creates) the controller's clone and checks cfg.
func New(cfg Config) (*Controller, error) {
	switch {
	case cfg.URL == "":
		return nil, errors.New("controller: --git-url is required")
	case cfg.Store == nil || cfg.GitDir == "":
		return nil, errors.New("controller: a state store and a git directory are required")
	case len(cfg.Environments) == 0:
		return nil, errors.New("controller: at least one environment (--env)")
	}
	if cfg.Branch == "" {
		cfg.Branch = "main"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	repo, err := openClone(cfg.GitDir, cfg.URL)
	if err != nil {
		return nil, err
	}
	return &Controller{cfg: cfg, repo: repo, src: config.WrapRepository(repo), loader: config.NewLoader(cfg.Limits), engine: policy.NewEngine(),
		judged: map[string]int{}, bundles: map[string]*policy.Bundle{}}, nil
}

// openClone opens the controller's bare clone at dir, pointing its remote
// at url, or makes a new one. A clone that does not open (a crash cut a
// write short) is made anew: it is a cache of the remote.
func openClone(dir, url string) (*git.Repository, error) {
	repo, err := git.PlainOpen(dir)
	if err != nil && !errors.Is(err, git.ErrRepositoryNotExists) {
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			return nil, fmt.Errorf("the clone %s is damaged (%v) and cannot be removed: %w", dir, err, rmErr)
		}
		err = git.ErrRepositoryNotExists
	}
	if errors.Is(err, git.ErrRepositoryNotExists) {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
		repo, err = git.PlainInit(dir, true)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the controller's clone %s: %w", dir, err)
	}
	// The remote is the configured one, whatever it was before.
	_ = repo.DeleteRemote("origin")
	if _, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{url}}); err != nil {
		return nil, fmt.Errorf("setting the remote: %w", err)
	}
	return repo, nil
}

// remoteHead lists the remote's refs (no fetch) and returns the branch's
// head, or "" when the branch is gone.
func (c *Controller) remoteHead(ctx context.Context) (string, error) {
	rem := git.NewRemote(memory.NewStorage(), &gitconfig.RemoteConfig{Name: "origin", URLs: []string{c.cfg.URL}})
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: c.cfg.Auth})
	if err != nil {
		if errors.Is(err, transport.ErrEmptyRemoteRepository) {
			return "", nil
		}
		return "", fmt.Errorf("listing %s: %w", redactURL(c.cfg.URL), err)
	}
	want := plumbing.NewBranchReferenceName(c.cfg.Branch)
	for _, r := range refs {
		if r.Name() == want {
			return r.Hash().String(), nil
		}
	}
	return "", nil
}

// fetch brings the branch, whose head the remote listed as want, into
// the clone. It is called once the remote answered that listing, so a
// fetch that fails anyway, or leaves want unreadable, is taken for a
// damaged clone (a crash in the middle of a fetch leaves a ref file empty,
// or a ref to a pack that was never finished): the clone is made anew and
// fetched once more.
func (c *Controller) fetch(ctx context.Context, want string) error {
	err := c.fetchOnce(ctx)
	if err == nil {
		_, err = c.repo.CommitObject(plumbing.NewHash(want))
	}
	if err == nil || ctx.Err() != nil {
		return err
	}
	c.cfg.Logger.Warn("fetching into the clone failed; making the clone anew", "dir", c.cfg.GitDir, "err", err)
	if rmErr := os.RemoveAll(c.cfg.GitDir); rmErr != nil {
		return errors.Join(err, rmErr)
	}
	repo, oerr := openClone(c.cfg.GitDir, c.cfg.URL)
	if oerr != nil {
		return errors.Join(err, oerr)
	}
	c.repo, c.src = repo, config.WrapRepository(repo)
	if err := c.fetchOnce(ctx); err != nil {
		return err
	}
	_, err = c.repo.CommitObject(plumbing.NewHash(want))
	return err
}

func (c *Controller) fetchOnce(ctx context.Context) error {
	spec := gitconfig.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/remotes/origin/%s", c.cfg.Branch, c.cfg.Branch))
	err := c.repo.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", RefSpecs: []gitconfig.RefSpec{spec}, Auth: c.cfg.Auth, Force: true, Tags: git.NoTags})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("fetching %s from %s: %w", c.cfg.Branch, redactURL(c.cfg.URL), err)
	}
	return nil
}

// Poll looks at the remote once: a moved branch is fetched and turns into
// deployments of the environments whose document changes; then every
// environment's open deployment moves on as far as it can (judged,
// waiting, applied). The remote being unreachable is an error (Run backs
// off); open deployments still move on (an approval, an opened window)
// with what the clone has.
func (c *Controller) Poll(ctx context.Context) error {
	head, lsErr := c.remoteHead(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var errs []error
	if lsErr != nil {
		errs = append(errs, lsErr)
	} else if head == "" {
		c.mu.Lock()
		first := !c.gone
		c.gone = true
		c.mu.Unlock()
		if first {
			c.cfg.Logger.Warn("the branch is gone from the remote: nothing new is deployed until it is back", "branch", c.cfg.Branch, "remote", redactURL(c.cfg.URL))
			for _, env := range c.cfg.Environments {
				errs = append(errs, c.audit(env.Name, "branch-gone", "", fmt.Sprintf("branch %s is gone from the remote; nothing new is deployed", c.cfg.Branch)))
			}
		}
	} else {
		c.mu.Lock()
		c.gone = false
		c.mu.Unlock()
		if err := c.observe(ctx, head); err != nil {
			errs = append(errs, err)
		}
	}
	for _, env := range c.cfg.Environments {
		if err := c.advance(ctx, env); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, fmt.Errorf("%s: %w", env.Name, err))
		}
	}
	return errors.Join(errs...)
}

// observe fetches head when an environment has not seen it yet and makes
// the deployments it calls for.
func (c *Controller) observe(ctx context.Context, head string) error {
	var todo []runner.Environment
	for _, env := range c.cfg.Environments {
		rec, err := c.cfg.Store.Load(env.Name)
		if err != nil {
			return err
		}
		if rec.Watched != head {
			todo = append(todo, env)
		}
	}
	if len(todo) == 0 {
		return nil // idle: the ls-remote was all
	}
	if err := c.fetch(ctx, head); err != nil {
		return err
	}
	commit, err := c.repo.CommitObject(plumbing.NewHash(head))
	if err != nil {
		return fmt.Errorf("reading commit %s: %w", short(head), err)
	}
	var errs []error
	for _, env := range todo {
		if err := c.newCommit(ctx, env, commit); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", env.Name, err))
		}
	}
	return errors.Join(errs...)
}

// newCommit makes the deployment of commit to env when its document
// changes against what env runs, superseding the open deployments that
// have not started applying. A head that does not descend from the one
// seen before (a force-push) is recorded and never deployed without an
// approval.
func (c *Controller) newCommit(ctx context.Context, env runner.Environment, commit *object.Commit) error {
	rec, err := c.cfg.Store.Load(env.Name)
	if err != nil {
		return err
	}
	now := c.cfg.Now()
	sha := commit.Hash.String()
	forced := ""
	if rec.Watched != "" {
		if old, err := c.repo.CommitObject(plumbing.NewHash(rec.Watched)); err == nil {
			if ok, err := old.IsAncestor(commit); err == nil && !ok {
				forced = fmt.Sprintf("the branch %s was force-pushed from %s to %s", c.cfg.Branch, short(rec.Watched), short(sha))
			}
		} else {
			forced = fmt.Sprintf("the branch %s moved from %s, which is no longer on the remote, to %s", c.cfg.Branch, short(rec.Watched), short(sha))
		}
	}
	base := ""
	if cur := rec.Get(rec.Current); cur != nil {
		base = cur.SHA
	}
	changed := true
	if base != "" {
		if base == sha {
			changed = false
		} else {
			p, _, _, err := c.plan(ctx, env.Name, base, sha)
			if err != nil {
				return err
			}
			changed = len(p.Changes) > 0 || len(p.Errors) > 0
		}
	}
	return c.cfg.Store.Update(env.Name, func(r *EnvRecord) error {
		if r.Watched == sha {
			return nil // another poll got here first
		}
		r.Watched = sha
		if forced != "" {
			c.cfg.Logger.Warn("force-push: the new head is not deployed without an approval", "env", env.Name, "detail", forced)
			r.Audit = append(r.Audit, Audit{At: now, Who: "controller", From: hostName(), Action: "force-push", Detail: forced})
		}
		if !changed {
			return nil
		}
		d := Deployment{
			ID: NewID(env.Name, now, sha), Env: env.Name, SHA: sha, Base: base, Created: now,
			Author: fmt.Sprintf("%s <%s>", commit.Author.Name, commit.Author.Email), Message: firstLine(commit.Message),
		}
		cause := fmt.Sprintf("commit %s on %s", short(sha), c.cfg.Branch)
		if forced != "" {
			cause += "; " + forced + ": it waits for an approval"
			d.Requirement = Requirement{Required: true, Min: 1}
		}
		if err := d.To(Pending, now, cause); err != nil {
			return err
		}
		for i := range r.Deployments {
			o := &r.Deployments[i]
			if !o.State.Final() && !o.State.Started() {
				if err := o.To(Superseded, now, "superseded by "+d.ID); err != nil {
					return err
				}
				r.Audit = append(r.Audit, Audit{At: now, Who: "controller", From: hostName(), Action: "supersede", DeploymentID: o.ID, Detail: "superseded by " + d.ID})
			}
		}
		r.Deployments = append([]Deployment{d}, r.Deployments...)
		c.cfg.Logger.Info("new deployment", "env", env.Name, "deployment", d.ID, "sha", short(sha))
		return nil
	})
}

// open is r's newest deployment that is not final, or nil.
func (r *EnvRecord) open() *Deployment {
	for i := range r.Deployments {
		if !r.Deployments[i].State.Final() {
			return &r.Deployments[i]
		}
	}
	return nil
}

// source is the config source of the repository at sha.
func (c *Controller) source(sha string) (config.Source, error) {
	return config.NewGitSource(c.src, sha, c.cfg.Path, c.cfg.Limits)
}

// plan computes env's plan from base ("" for none) to sha, with the
// loaded states.
func (c *Controller) plan(ctx context.Context, env, base, sha string) (*plan.Environment, *config.State, *config.State, error) {
	head, err := c.source(sha)
	if err != nil {
		return nil, nil, nil, err
	}
	hs, err := c.loader.Load(ctx, head)
	if err != nil {
		return nil, nil, nil, err
	}
	var bs *config.State
	if base != "" {
		b, err := c.source(base)
		if err != nil {
			return nil, nil, nil, err
		}
		if bs, err = c.loader.Load(ctx, b); err != nil {
			return nil, nil, nil, err
		}
	}
	p := plan.Compute(bs, hs, []string{env})
	for i := range p.Environments {
		if p.Environments[i].Name == env {
			return &p.Environments[i], bs, hs, nil
		}
	}
	return &plan.Environment{Name: env}, bs, hs, nil
}

// step records d's move to state (with its cause) in the store: the
// deployment is looked up afresh, so that decisions the CLI recorded in
// between are kept.
func (c *Controller) step(env, id string, state State, cause string, edit func(*EnvRecord, *Deployment)) error {
	return c.cfg.Store.Update(env, func(r *EnvRecord) error {
		d := r.Get(id)
		if d == nil {
			return fmt.Errorf("deployment %s is no longer in the store", id)
		}
		if d.State != state || d.Transitions == nil {
			if err := d.To(state, c.cfg.Now(), cause); err != nil {
				return err
			}
		} else if n := len(d.Transitions); n > 0 && d.Transitions[n-1].Cause != cause {
			// Same state, new reason (a window's time): the last entry says it.
			d.Transitions[n-1].Cause = cause
		}
		if edit != nil {
			edit(r, d)
		}
		return nil
	})
}

// advance moves env's open deployment on as far as it can now.
func (c *Controller) advance(ctx context.Context, env runner.Environment) error {
	rec, err := c.cfg.Store.Load(env.Name)
	if err != nil {
		return err
	}
	d := rec.open()
	if d == nil {
		return nil
	}
	switch d.State {
	case Pending, Validating:
		return c.judge(ctx, env, rec, *d)
	case Planning, AwaitingApproval:
		// Waiting: judged again when something it waits for may have
		// changed (a decision, its gate of time), not every interval.
		c.mu.Lock()
		n, seen := c.judged[d.ID]
		c.mu.Unlock()
		if seen && n == len(d.Decisions) && (d.Until == nil || c.cfg.Now().Before(*d.Until)) {
			return nil
		}
		return c.judge(ctx, env, rec, *d)
	}
	// BackingUp … PostValidating, RollingBack: an apply this process did
	// not finish; Recover reports it at start.
	return nil
}

// judge validates, plans and judges d, and applies it when the policy
// lets it go now.
func (c *Controller) judge(ctx context.Context, env runner.Environment, rec EnvRecord, d Deployment) error {
	if d.State == Pending {
		if err := c.step(env.Name, d.ID, Validating, "validating "+short(d.SHA), nil); err != nil {
			return err
		}
		d.State = Validating
	}
	p, _, hs, err := c.plan(ctx, env.Name, d.Base, d.SHA)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return c.step(env.Name, d.ID, Failed, "cannot read the commit: "+err.Error(), nil)
	}
	if e := hs.Environments[env.Name]; e == nil {
		return c.step(env.Name, d.ID, Failed, fmt.Sprintf("commit %s has no environment %s", short(d.SHA), env.Name), nil)
	} else if errs := e.Errors(); len(errs) > 0 {
		return c.step(env.Name, d.ID, Failed, fmt.Sprintf("the configuration is invalid (%d errors): %s", len(errs), errs[0]), nil)
	}
	if d.State == Validating {
		if err := c.step(env.Name, d.ID, Planning, fmt.Sprintf("%d changes", len(p.Changes)), nil); err != nil {
			return err
		}
		d.State = Planning
	}
	v, planJSON, verdictJSON, bundle, err := c.verdict(ctx, env.Name, rec, d, p)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return c.step(env.Name, d.ID, Failed, "judging the deployment: "+err.Error(), nil)
	}
	c.mu.Lock()
	if len(c.judged) > 1000 {
		clear(c.judged)
	}
	c.judged[d.ID] = len(d.Decisions)
	c.mu.Unlock()
	keep := func(_ *EnvRecord, x *Deployment) {
		x.Plan, x.Verdict = planJSON, verdictJSON
	}
	if denies := v.ChangeDenies(); len(denies) > 0 || (!v.Allow && len(v.Deny) == 0) {
		msg := "denied by the deployment policy"
		if len(denies) > 0 {
			msg += ": " + denies[0].Message
		}
		return c.step(env.Name, d.ID, Failed, msg, keep)
	}
	var pol *policy.EnvPolicy // nil: the repository has no policy file
	if bundle != nil && bundle.File != nil {
		p := bundle.File.Env(env.Name)
		pol = &p
	}
	selfBlocked := pol != nil && pol.PreventSelfApproval
	req := Requirement{Required: v.Approval.Required, Min: v.Approval.Min, From: v.Approval.From, PreventSelfApproval: selfBlocked}
	if d.Requirement.Required && !v.Approval.Required {
		// A force-pushed head: one approval, whatever the policy says.
		req.Required, req.Min = true, max(req.Min, 1)
	}
	approved := len(approvalsOf(d)) >= max(req.Min, 1)
	if req.Required && (!v.Approval.Satisfied || (d.Requirement.Required && !approved)) {
		cause := "needs " + missing(v.Approval, req) + ": honua-gitops deployment approve " + d.ID
		var until *time.Time
		if v.Gated() {
			until = v.OpensAt()
			cause += "; then " + gateCause(v)
		}
		if err := c.step(env.Name, d.ID, AwaitingApproval, cause, func(r *EnvRecord, x *Deployment) {
			keep(r, x)
			x.Requirement, x.Until = req, until
		}); err != nil {
			return err
		}
		c.notify(ctx, env.Name, d, notify.Event{Kind: notify.KindApprovalRequired, Summary: p.SummaryLine(),
			ApproveHow: "honua-gitops deployment approve " + d.ID, Approvers: req.From, Cause: cause})
		return nil
	}
	if v.Gated() {
		// Waits in Planning for its gate of time; judged again each interval.
		return c.step(env.Name, d.ID, d.State, gateCause(v), func(r *EnvRecord, x *Deployment) {
			keep(r, x)
			x.Requirement, x.Until = req, v.OpensAt()
		})
	}
	// The original's machine goes through AwaitingApproval on its way to
	// BackingUp: its cause says what approved it.
	approvedBy := "no approval required (the policy approves by itself)"
	if by := v.Approval.ApprovedBy; len(by) > 0 {
		approvedBy = "approved by " + strings.Join(by, ", ")
	} else if req.Required {
		approvedBy = "approved"
	}
	if err := c.cfg.Store.Update(env.Name, func(r *EnvRecord) error {
		x := r.Get(d.ID)
		if x == nil || x.State.Final() {
			return fmt.Errorf("deployment %s ended meanwhile", d.ID)
		}
		keep(r, x)
		x.Requirement, x.Until = req, nil
		if x.State != AwaitingApproval {
			return x.To(AwaitingApproval, c.cfg.Now(), approvedBy)
		}
		if n := len(x.Transitions); n > 0 {
			x.Transitions[n-1].Cause += "; " + approvedBy
		}
		return nil
	}); err != nil {
		return err
	}
	return c.apply(ctx, env, d, pol)
}

// missing says which approvals a verdict still wants ("1 approval from
// kailua-gis/platform and 1 from lkeawe").
func missing(a policy.ApprovalStatus, req Requirement) string {
	var parts []string
	for _, r := range a.Requirements {
		if r.Satisfied {
			continue
		}
		part := fmt.Sprintf("%d approval(s)", max(r.Min-len(r.ApprovedBy), 1))
		if len(r.From) > 0 {
			part += " from " + strings.Join(r.From, ", ")
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		part := fmt.Sprintf("%d approval(s)", max(req.Min, 1))
		if len(req.From) > 0 {
			part += " from " + strings.Join(req.From, ", ")
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, " and ")
}

// gateCause says which gate of time holds a verdict back.
func gateCause(v policy.Verdict) string {
	for _, f := range v.Deny {
		if f.Gate != "" {
			msg := "waits: " + f.Message
			if t := v.OpensAt(); t != nil {
				msg += " (until " + t.UTC().Format(time.RFC3339) + ")"
			}
			return msg
		}
	}
	return "waits for a gate of time"
}

// approvalsOf are d's approvals, for the policy.
func approvalsOf(d Deployment) []policy.Approval {
	var out []policy.Approval
	rejected := map[string]bool{}
	for _, dec := range d.Decisions {
		if dec.Kind == "reject" {
			rejected[policy.FoldLogin(dec.By)] = true
		}
	}
	for _, dec := range d.Decisions {
		if dec.Kind != "approve" || rejected[policy.FoldLogin(dec.By)] {
			continue
		}
		out = append(out, policy.Approval{Login: dec.By, Teams: dec.Teams, Commit: d.SHA, SubmittedAt: dec.At, Via: "cli"})
	}
	return out
}

// policyOf is the policy d is judged by: its base's (the last deployed
// commit), or its own for a first deployment. A commit's policy never
// changes, so it is cached by sha.
func (c *Controller) policyOf(ctx context.Context, d Deployment) (*policy.Bundle, error) {
	sha := d.SHA
	if d.Base != "" {
		sha = d.Base
	}
	c.mu.Lock()
	bundle := c.bundles[sha]
	c.mu.Unlock()
	if bundle != nil {
		return bundle, nil
	}
	src, err := c.source(sha)
	if err != nil {
		return nil, err
	}
	if bundle, err = policy.LoadWithLimits(ctx, src, c.cfg.Limits); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.bundles) >= 16 {
		clear(c.bundles)
	}
	c.bundles[sha] = bundle
	c.mu.Unlock()
	return bundle, nil
}

// verdict judges d with the policy of its base (the last deployed commit;
// the commit itself for a first deployment).
func (c *Controller) verdict(ctx context.Context, env string, rec EnvRecord, d Deployment, p *plan.Environment) (policy.Verdict, json.RawMessage, json.RawMessage, *policy.Bundle, error) {
	head, err := c.source(d.SHA)
	if err != nil {
		return policy.Verdict{}, nil, nil, nil, err
	}
	var base config.Source
	if d.Base != "" {
		if base, err = c.source(d.Base); err != nil {
			return policy.Verdict{}, nil, nil, nil, err
		}
	}
	bundle, err := c.policyOf(ctx, d)
	if err != nil {
		return policy.Verdict{}, nil, nil, nil, err
	}
	deployed, err := c.deployed()
	if err != nil {
		return policy.Verdict{}, nil, nil, nil, err
	}
	report, err := c.engine.Judge(ctx, &plan.Plan{Environments: []plan.Environment{*p}}, policy.JudgeOptions{
		Bundle: bundle, Base: base, Head: head, Limits: c.cfg.Limits, Now: c.cfg.Now(), SHA: d.SHA,
		PR:          policy.PR{BaseSHA: d.Base, HeadSHA: d.SHA},
		Deployments: deployed, Approvals: map[string][]policy.Approval{env: approvalsOf(d)}, Rollback: d.Rollback,
	})
	if err != nil {
		return policy.Verdict{}, nil, nil, nil, err
	}
	v, _ := report.Verdict(env)
	planJSON, err := json.Marshal(p)
	if err != nil {
		return policy.Verdict{}, nil, nil, nil, err
	}
	verdictJSON, err := json.Marshal(v)
	if err != nil {
		return policy.Verdict{}, nil, nil, nil, err
	}
	return v, planJSON, verdictJSON, bundle, nil
}

// deployed are the last completed deployment of each environment this
// controller serves, for the policy's promotion rules.
func (c *Controller) deployed() (map[string]policy.Deployment, error) {
	out := map[string]policy.Deployment{}
	for _, env := range c.cfg.Environments {
		rec, err := c.cfg.Store.Load(env.Name)
		if err != nil {
			return nil, err
		}
		if d := rec.Get(rec.LastGood); d != nil {
			at := d.Created
			if n := len(d.Transitions); n > 0 {
				at = d.Transitions[n-1].At
			}
			out[env.Name] = policy.Deployment{SHA: d.SHA, SucceededAt: at}
		}
	}
	return out, nil
}

// journalID is the apply journal's number for a deployment id.
func journalID(id string) int64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return int64(h.Sum64() >> 1)
}

// apply renders and applies d, recording each step.
func (c *Controller) apply(ctx context.Context, env runner.Environment, d Deployment, pol *policy.EnvPolicy) error {
	head, err := c.source(d.SHA)
	if err != nil {
		return err
	}
	var base config.Source
	if d.Base != "" {
		if base, err = c.source(d.Base); err != nil {
			return err
		}
	}
	doc, cols, err := runner.RenderEnv(ctx, c.loader, c.cfg.Secrets, env.Name, head, base)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return c.step(env.Name, d.ID, Failed, "not applied: "+err.Error(), nil)
	}
	if v, ok := env.Applier.Honua.(runner.Validator); ok {
		if err := v.Validate(ctx, doc); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return c.step(env.Name, d.ID, Failed, "not applied: Honua refuses the document: "+err.Error(), nil)
		}
	}
	if err := c.step(env.Name, d.ID, BackingUp, "backing up the live document", func(r *EnvRecord, _ *Deployment) {
		r.Audit = append(r.Audit, Audit{At: c.cfg.Now(), Who: "controller", From: hostName(), Action: "apply", DeploymentID: d.ID, Detail: short(d.SHA)})
		r.Sync, r.SyncSince = "Syncing", c.cfg.Now()
	}); err != nil {
		return err
	}
	// The policy's safety block, where the repository has one: a
	// rollbackOnFailure: false keeps a failed document (so does the
	// controller's --no-rollback); healthCheckTimeout bounds
	// post-validation unless the controller sets its own.
	rollback, timeout := env.RollbackOnFailure, env.HealthTimeout
	if pol != nil {
		rollback = rollback && pol.Safety.RollbackOnFailure
		if timeout == 0 && pol.Safety.HealthCheckTimeout > 0 {
			timeout = time.Duration(pol.Safety.HealthCheckTimeout) * time.Second
		}
	}
	var stepErr error
	out, err := env.Applier.Apply(ctx, apply.Request{
		DeploymentID: journalID(d.ID), Env: env.Name, SHA: d.SHA, Document: doc, Collections: cols,
		HealthTimeout: timeout, RollbackOnFailure: rollback,
	}, func(s string) {
		switch s {
		case apply.StepApplying:
			stepErr = errors.Join(stepErr, c.step(env.Name, d.ID, Applying, "writing the new document and reloading Honua", nil))
		case apply.StepPostValidating:
			stepErr = errors.Join(stepErr, c.step(env.Name, d.ID, PostValidating, fmt.Sprintf("checking readiness and %d collections", len(cols)), nil))
		case apply.StepRollingBack:
			stepErr = errors.Join(stepErr, c.step(env.Name, d.ID, RollingBack, "the new document failed: restoring the backup", nil))
		}
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errors.Join(stepErr, c.step(env.Name, d.ID, Failed, "not applied: "+err.Error(), nil))
	}
	return errors.Join(stepErr, c.record(env, d.ID, out))
}

// record stores an apply's outcome (the final state, and what runs now)
// and sends its notification.
func (c *Controller) record(env runner.Environment, id string, out apply.Outcome) error {
	var done Deployment
	err := c.cfg.Store.Update(env.Name, func(r *EnvRecord) error {
		d := r.Get(id)
		if d == nil {
			return fmt.Errorf("deployment %s is no longer in the store", id)
		}
		now := c.cfg.Now()
		to := func(s State, cause string) error {
			// A success whose steps the store missed (a crash between
			// them) walks them, so that the history is whole.
			if s == Completed {
				steps := []State{BackingUp, Applying, PostValidating}
				for _, st := range steps[slices.Index(steps, d.State)+1:] {
					if err := d.To(st, now, "recovered"); err != nil {
						return err
					}
				}
			}
			if s == RolledBack && d.State != RollingBack {
				if err := d.To(RollingBack, now, "restoring the backup"); err != nil {
					return err
				}
			}
			return d.To(s, now, cause)
		}
		switch out.State {
		case apply.StateSuccess:
			if err := to(Completed, "deployed and healthy"); err != nil {
				return err
			}
			r.Current, r.LastGood = d.ID, d.ID
			r.Health, r.HealthSince = "Healthy", now
			r.Sync, r.SyncSince = "Synced", now
		case apply.StateRolledBack:
			if err := to(RolledBack, out.Cause); err != nil {
				return err
			}
			r.Sync, r.SyncSince = "Synced", now
		case apply.StateFailedKept:
			if err := to(Failed, out.Cause+" (rollbackOnFailure: false: the new document stays)"); err != nil {
				return err
			}
			r.Current = d.ID
			r.Health, r.HealthSince = "Unhealthy", now
		default: // failed (nothing applied), manual
			if err := to(Failed, out.Cause); err != nil {
				return err
			}
		}
		c.cfg.Logger.Info("deployment ended", "env", env.Name, "deployment", id, "state", d.State, "cause", out.Cause)
		done = *d
		return nil
	})
	if err != nil {
		return err
	}
	ev := notify.Event{Kind: notify.KindCompleted}
	switch {
	case done.State == Completed && done.Rollback:
		ev.Kind = notify.KindRolledBack
	case done.State == RolledBack:
		ev = notify.Event{Kind: notify.KindFailed, RolledBack: true, Cause: out.Cause}
	case done.State == Failed:
		ev = notify.Event{Kind: notify.KindFailed, Cause: out.Cause}
	}
	c.notify(context.Background(), env.Name, done, ev)
	return nil
}

// notify sends ev about d to the targets of env's notifications, as the
// policy d is judged by (its base's) has them, once per target (the
// store's ledger). A policy whose notifications do not parse is logged,
// and nothing is sent: a deployment never waits for its notifications.
func (c *Controller) notify(ctx context.Context, env string, d Deployment, ev notify.Event) {
	if c.cfg.Notifier == nil {
		return
	}
	bundle, err := c.policyOf(ctx, d)
	if err != nil {
		c.cfg.Logger.Warn("notifications: cannot read the policy", "env", env, "deployment", d.ID, "err", err)
		return
	}
	if bundle.File == nil {
		return
	}
	cfg, err := notify.ParseConfig(policy.PolicyFile, bundle.File.Env(env).Notifications)
	if err != nil {
		c.cfg.Logger.Warn("notifications: the policy's notifications block is not valid; nothing is sent", "env", env, "err", err)
		return
	}
	ev.Repo, ev.Env, ev.SHA, ev.At = redactURL(c.cfg.URL), env, d.SHA, c.cfg.Now()
	if ev.DeploymentID == "" {
		ev.DeploymentID = d.ID
	}
	if ev.Who == "" {
		ev.Who = d.Author
	}
	if u := c.envURL(env); u != "" && ev.URL == "" {
		ev.URL = u
	}
	c.cfg.Notifier.Send(ctx, cfg, ev, Ledger{Store: c.cfg.Store, Env: env})
}

// envURL is env's public address.
func (c *Controller) envURL(env string) string {
	for _, e := range c.cfg.Environments {
		if e.Name == env {
			return e.URL
		}
	}
	return ""
}

// Recover finishes or undoes, for every environment, an apply that a
// crash cut short (the journal of reconciler/apply) and records the true
// outcome on its deployment.
func (c *Controller) Recover(ctx context.Context) error {
	var errs []error
	for _, env := range c.cfg.Environments {
		outs, err := env.Applier.Recover(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("recovering %s: %w", env.Name, err))
			continue
		}
		rec, err := c.cfg.Store.Load(env.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, o := range outs {
			for _, d := range rec.Deployments {
				if journalID(d.ID) == o.DeploymentID {
					errs = append(errs, c.record(env, d.ID, o))
				}
			}
		}
		// A deployment the store shows as started whose apply left no
		// journal was cut short before the journal was written (nothing was
		// applied) or after it was removed (the apply had ended): the live
		// document says which.
		rec, err = c.cfg.Store.Load(env.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, d := range rec.Deployments {
			if d.State.Started() && !d.State.Final() {
				errs = append(errs, c.settle(ctx, env, d))
			}
		}
	}
	return errors.Join(errs...)
}

// settle records the outcome of d, whose apply ended (or never began)
// without the store hearing of it: Completed when the live document is
// the one d renders, else Failed.
func (c *Controller) settle(ctx context.Context, env runner.Environment, d Deployment) error {
	live, err := os.ReadFile(env.Applier.MetadataPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading the live document: %w", err)
	}
	head, err := c.source(d.SHA)
	if err != nil {
		return err
	}
	doc, _, err := runner.RenderEnv(ctx, c.loader, c.cfg.Secrets, env.Name, head, nil)
	if err != nil {
		return fmt.Errorf("rendering %s to compare with the live document: %w", d.ID, err)
	}
	if string(doc) == string(live) {
		return c.record(env, d.ID, apply.Outcome{DeploymentID: journalID(d.ID), Env: env.Name, SHA: d.SHA, State: apply.StateSuccess})
	}
	if d.State == PostValidating || d.State == RollingBack {
		// Post-validation had begun: the apply ended by restoring the old
		// document.
		return c.record(env, d.ID, apply.Outcome{DeploymentID: journalID(d.ID), Env: env.Name, SHA: d.SHA, State: apply.StateRolledBack,
			Cause: "rolled back: interrupted during post-validation; the old document is live"})
	}
	return c.step(env.Name, d.ID, Failed, "interrupted: the document was not applied (the live document is not this commit's)", nil)
}

// Check probes env's health and compares the live document with what the
// current deployment renders, storing transitions only.
func (c *Controller) Check(ctx context.Context, env runner.Environment) error {
	live, err := os.ReadFile(env.Applier.MetadataPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading the live document: %w", err)
	}
	health := runner.Probe(ctx, env, live, c.cfg.Logger)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rec, err := c.cfg.Store.Load(env.Name)
	if err != nil {
		return err
	}
	sync := rec.Sync
	applying := rec.open() != nil && rec.open().State.Started()
	if d := rec.Get(rec.Current); d != nil && !applying {
		head, err := c.source(d.SHA)
		if err == nil {
			var base config.Source
			doc, _, rerr := runner.RenderEnv(ctx, c.loader, c.cfg.Secrets, env.Name, head, base)
			err = rerr
			if err == nil {
				sync = "OutOfSync"
				if string(doc) == string(live) {
					sync = "Synced"
				}
			}
		}
		if err != nil && ctx.Err() == nil {
			c.cfg.Logger.Warn("cannot render the current deployment to compare", "env", env.Name, "err", err)
		}
	}
	if health == rec.Health && sync == rec.Sync {
		return nil
	}
	drifted := sync == "OutOfSync" && rec.Sync != "OutOfSync"
	defer func() {
		if cur := rec.Get(rec.Current); drifted && cur != nil {
			// Each drift is its own event: keyed by when it was seen.
			c.notify(ctx, env.Name, *cur, notify.Event{Kind: notify.KindDriftDetected, DeploymentID: cur.ID + "~drift-" + c.cfg.Now().UTC().Format("20060102T150405"),
				Cause: "the live document differs from what " + short(cur.SHA) + " renders (edited by hand?)"})
		}
	}()
	return c.cfg.Store.Update(env.Name, func(r *EnvRecord) error {
		now := c.cfg.Now()
		if r.Health != health {
			c.cfg.Logger.Info("health changed", "env", env.Name, "from", r.Health, "to", health)
			r.Health, r.HealthSince = health, now
		}
		if r.Sync != sync {
			c.cfg.Logger.Info("sync changed", "env", env.Name, "from", r.Sync, "to", sync)
			r.Sync, r.SyncSince = sync, now
		}
		return nil
	})
}

// Run recovers, then polls every interval (±10 %, doubling up to 5
// minutes while the remote fails) and checks health every
// HealthInterval, until ctx ends.
func (c *Controller) Run(ctx context.Context, interval time.Duration) error {
	if err := c.Recover(ctx); err != nil {
		c.cfg.Logger.Error("recovering an interrupted apply failed; polling anyway", "err", err)
	}
	var healthC <-chan time.Time
	if c.cfg.HealthInterval > 0 {
		t := time.NewTicker(c.cfg.HealthInterval)
		defer t.Stop()
		healthC = t.C
	}
	wait := interval
	for {
		if err := c.Poll(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			wait = min(max(wait*2, interval), 5*time.Minute)
			c.cfg.Logger.Warn("poll failed; backing off", "err", err, "next", wait)
		} else {
			wait = interval
		}
		t := time.NewTimer(wait - wait/10 + time.Duration(rand.Int64N(int64(wait)/5+1)))
	sleep:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-healthC:
				for _, env := range c.cfg.Environments {
					if err := c.Check(ctx, env); err != nil && ctx.Err() == nil {
						c.cfg.Logger.Warn("health check failed", "env", env.Name, "err", err)
					}
				}
			case <-t.C:
				break sleep
			}
		}
	}
}

// audit appends an entry to env's audit trail.
func (c *Controller) audit(env, action, id, detail string) error {
	return c.cfg.Store.Update(env, func(r *EnvRecord) error {
		r.Audit = append(r.Audit, Audit{At: c.cfg.Now(), Who: "controller", From: hostName(), Action: action, DeploymentID: id, Detail: detail})
		return nil
	})
}

func hostName() string {
	h, err := os.Hostname()
	if err != nil {
		return "controller"
	}
	return h
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// redactURL drops credentials from a remote URL for messages.
func redactURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
			return u[:i+3] + "***@" + rest[at+1:]
		}
	}
	return u
}

// GitDirIn is where a controller keeps its clone under its state
// directory.
func GitDirIn(stateDir string) string { return filepath.Join(stateDir, "git") }
