// Package runner is the on-prem half of honua-gitops: it polls GitHub,
// outbound only, for deployments the App created and approved, verifies
// their signed orders, claims one, renders the environment's Honua metadata
// document at the deployment's commit, applies it through reconciler/apply
// (backup, atomic write, reload, post-validation, automatic rollback), and
// reports the outcome as the deployment's status.
package runner

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/notify"
	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/apply"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/mirror"
	"github.com/honua-io/honua-gitops/reconciler/order"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// Environment is one environment a runner serves: the Honua server and
// where its live document is.
type Environment struct {
	Name    string
	Applier *apply.Applier
	// URL is the server's public address, reported as the deployment's
	// environment_url.
	URL string
	// HealthTimeout bounds post-validation (the policy's
	// safety.healthCheckTimeout; apply.DefaultHealthTimeout when 0).
	HealthTimeout time.Duration
	// RollbackOnFailure is the policy's safety.rollbackOnFailure.
	RollbackOnFailure bool
}

// Config wires a Runner.
type Config struct {
	// Repo is the config repository, "owner/name".
	Repo string
	// GitHub is a client authenticated as the App's installation or with a
	// token (deployments: write, contents: read).
	GitHub *github.Client
	// Token gives the credential git fetches with (basic auth user
	// x-access-token); never written anywhere.
	Token func(ctx context.Context) (string, error)
	// Mirror caches the repository's commits.
	Mirror *mirror.Mirror
	// AppBot is the App's bot login: only a queued status it wrote lets a
	// deployment start (a status's creator cannot be forged).
	AppBot string
	// Keys are the trusted order-signing public keys by key id.
	Keys map[string]ed25519.PublicKey
	// Secrets fill the documents' ${NAME} references.
	Secrets config.Secrets
	// Limits bound what is read of the repository.
	Limits config.Limits
	// Environments are the environments served.
	Environments []Environment
	// ID names this runner in its claims ("site-a/host-1").
	ID string
	// Store, when not nil, records each outcome per environment (current
	// and last good deployment, history, health, sync).
	Store *Store
	// HealthInterval is how often Run watches every environment's health
	// and sync between deployments (see Watch); 0 does not.
	HealthInterval time.Duration
	// Notifier sends the policy's notifications of outcomes and drift
	// (nil: none); the App sends those of approvals.
	Notifier *notify.Notifier
	// SelfHeal re-applies the deployed commit when Watch finds the live
	// document drifted (Synced → OutOfSync); without it Watch only reports.
	SelfHeal bool
	Now      func() time.Time
	Logger   *slog.Logger
}

// Runner applies approved deployments. Its methods are safe for one
// goroutine per environment.
type Runner struct {
	cfg    Config
	owner  string
	name   string
	loader *config.Loader

	mu sync.Mutex // guards refused, noted and defaultBranch
	// noted remembers the deployments whose skipping was logged.
	noted map[int64]bool
	// refused remembers the deployments already answered with an error
	// status, so that a forged order is answered once.
	refused map[int64]bool
	// defaultBranch is the repository's, read once.
	defaultBranch string
}

// New checks cfg.
func New(cfg Config) (*Runner, error) {
	owner, name, ok := strings.Cut(cfg.Repo, "/")
	switch {
	case !ok || owner == "" || name == "":
		return nil, fmt.Errorf("runner: --repo %q: use OWNER/NAME", cfg.Repo)
	case cfg.GitHub == nil || cfg.Mirror == nil || cfg.Token == nil:
		return nil, errors.New("runner: a GitHub client, a token source and a mirror are required")
	case cfg.AppBot == "":
		return nil, errors.New("runner: the App's bot login is required: only its queued statuses start a deployment")
	case len(cfg.Keys) == 0:
		return nil, errors.New("runner: an order-signing public key is required (--order-public-key-file)")
	case len(cfg.Environments) == 0:
		return nil, errors.New("runner: at least one environment (--env)")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ID == "" {
		cfg.ID = "runner"
	}
	return &Runner{cfg: cfg, owner: owner, name: name, loader: config.NewLoader(cfg.Limits), refused: map[int64]bool{}}, nil
}

// Recover finishes or undoes, for every environment, an apply a crash cut
// short, and reports its true outcome on GitHub. Call it before polling.
func (r *Runner) Recover(ctx context.Context) error {
	var errs []error
	for _, env := range r.cfg.Environments {
		outs, err := env.Applier.Recover(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("recovering %s: %w", env.Name, err))
			continue
		}
		for _, o := range outs {
			if err := r.report(ctx, env, o.DeploymentID, o); err != nil {
				errs = append(errs, err)
			}
			if err := r.record(env, o); err != nil {
				errs = append(errs, err)
			}
		}
		if err := r.resume(ctx, env); err != nil {
			errs = append(errs, fmt.Errorf("resuming %s: %w", env.Name, err))
		}
	}
	return errors.Join(errs...)
}

// resume applies a deployment this runner claimed and then stopped before
// its apply began (no journal, so Recover had nothing to finish): it is
// still in_progress under this runner's claim, and would stay so forever.
// Its order is verified again; nothing was changed, so applying it now is
// what was approved.
func (r *Runner) resume(ctx context.Context, env Environment) error {
	ds, err := r.appDeployments(ctx, env)
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		return nil
	}
	d := ds[0]
	st, all, err := r.statuses(ctx, d.GetID())
	if err != nil || st.GetState() != "in_progress" || firstClaim(all) != r.claim() {
		return err
	}
	o, err := r.verify(d)
	if err != nil {
		return r.refuse(ctx, d, err)
	}
	prev, err := r.live(ctx, ds[1:])
	if err != nil {
		return err
	}
	r.cfg.Logger.Warn("resuming a deployment claimed before a restart", "deployment", d.GetID(), "env", env.Name)
	return r.apply(ctx, env, d, o, prev)
}

// claim is this runner's claim, the description of its in_progress status.
func (r *Runner) claim() string { return "claimed by " + r.cfg.ID }

// firstClaim is the first claim among a deployment's statuses (in id
// order): the one that won.
func firstClaim(all []*github.DeploymentStatus) string {
	for _, s := range all {
		if s.GetState() == "in_progress" && strings.HasPrefix(s.GetDescription(), "claimed by ") {
			return s.GetDescription()
		}
	}
	return ""
}

// Poll looks once at every environment and applies what is due.
func (r *Runner) Poll(ctx context.Context) error {
	var errs []error
	for _, env := range r.cfg.Environments {
		if err := r.PollEnv(ctx, env); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, fmt.Errorf("%s: %w", env.Name, err))
		}
	}
	return errors.Join(errs...)
}

// PollEnv looks at one environment: the newest of the App's deployments
// there that is queued by the App is verified, claimed and applied.
// Deployments that are not the App's, not queued by it, superseded by a
// newer one, or whose order does not verify are not applied; a forged or
// tampered order gets an error status saying so, once.
func (r *Runner) PollEnv(ctx context.Context, env Environment) error {
	ds, err := r.appDeployments(ctx, env)
	if err != nil {
		return err
	}
	for i, d := range ds {
		st, all, err := r.statuses(ctx, d.GetID())
		if err != nil {
			return err
		}
		if st == nil || st.GetState() != "queued" {
			if i == 0 && st != nil && (st.GetState() == "in_progress" || st.GetState() == "success") {
				return nil // the newest is running or done
			}
			continue
		}
		if !strings.EqualFold(st.GetCreator().GetLogin(), r.cfg.AppBot) {
			r.cfg.Logger.Warn("skipping a deployment queued by someone other than the App", "deployment", d.GetID(), "env", env.Name, "by", st.GetCreator().GetLogin())
			continue
		}
		if newerQueued(ds[:i]) {
			// A newer deployment to the environment supersedes it.
			continue
		}
		o, err := r.verify(d)
		if err != nil {
			return r.refuse(ctx, d, err)
		}
		_ = all
		prev, err := r.live(ctx, ds[i+1:])
		if err != nil {
			return err
		}
		return r.run(ctx, env, d, o, prev)
	}
	return nil
}

// live is the commit the environment runs: the newest of the older
// deployments that succeeded ("" when there is none).
func (r *Runner) live(ctx context.Context, older []*github.Deployment) (string, error) {
	for _, d := range older {
		st, _, err := r.statuses(ctx, d.GetID())
		if err != nil {
			return "", err
		}
		if st.GetState() == "success" {
			return d.GetSHA(), nil
		}
	}
	return "", nil
}

// newerQueued is never true for the newest; for an older deployment, any
// newer one of the App supersedes it once it exists.
func newerQueued(newer []*github.Deployment) bool { return len(newer) > 0 }

// statuses lists a deployment's statuses and returns the latest (by id:
// GitHub does not document the list's order).
func (r *Runner) statuses(ctx context.Context, id int64) (*github.DeploymentStatus, []*github.DeploymentStatus, error) {
	ss, _, err := r.cfg.GitHub.Repositories.ListDeploymentStatuses(ctx, r.owner, r.name, id, &github.ListOptions{PerPage: 100})
	if err != nil {
		return nil, nil, fmt.Errorf("listing the statuses of deployment %d: %w", id, err)
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].GetID() < ss[j].GetID() })
	if len(ss) == 0 {
		return nil, nil, nil
	}
	return ss[len(ss)-1], ss, nil
}

// verify checks a deployment's order: signed with a trusted key, not
// expired, and for this very deployment.
func (r *Runner) verify(d *github.Deployment) (order.Order, error) {
	raw, err := json.Marshal(d.Payload)
	if err != nil {
		return order.Order{}, fmt.Errorf("reading the payload: %w", err)
	}
	o, err := order.Verify(raw, r.cfg.Keys, r.cfg.Now())
	if err != nil {
		return order.Order{}, err
	}
	if err := o.Matches(r.cfg.Repo, d.GetSHA(), d.GetEnvironment(), d.GetTask()); err != nil {
		return order.Order{}, err
	}
	return o, nil
}

// appDeployments lists the App's newest deployments to env, newest first.
// Only the App's count: GitHub's own for an Actions job (the gate
// workflow's, by github-actions[bot]) and anyone else's are never applied,
// never newer, never what runs. They share GitHub's list, so it is read 30
// at a time.
func (r *Runner) appDeployments(ctx context.Context, env Environment) ([]*github.Deployment, error) {
	ds, _, err := r.cfg.GitHub.Repositories.ListDeployments(ctx, r.owner, r.name, &github.DeploymentsListOptions{Environment: env.Name, ListOptions: github.ListOptions{PerPage: 30}})
	if err != nil {
		return nil, fmt.Errorf("listing deployments: %w", err)
	}
	ds = slices.DeleteFunc(ds, func(d *github.Deployment) bool {
		if strings.EqualFold(d.GetCreator().GetLogin(), r.cfg.AppBot) {
			return false
		}
		r.noteOnce(d.GetID(), "skipping a deployment the App did not create", "deployment", d.GetID(), "env", env.Name, "by", d.GetCreator().GetLogin())
		return true
	})
	sort.Slice(ds, func(i, j int) bool { return ds[i].GetID() > ds[j].GetID() })
	return ds, nil
}

// noteOnce logs msg about deployment id the first time only: a poll every
// few seconds would repeat it.
func (r *Runner) noteOnce(id int64, msg string, args ...any) {
	r.mu.Lock()
	seen := r.noted[id]
	if r.noted == nil {
		r.noted = map[int64]bool{}
	}
	r.noted[id] = true
	r.mu.Unlock()
	if !seen {
		r.cfg.Logger.Info(msg, args...)
	}
}

// refuse answers a deployment whose order does not verify with an error
// status, once, and applies nothing.
func (r *Runner) refuse(ctx context.Context, d *github.Deployment, cause error) error {
	r.mu.Lock()
	done := r.refused[d.GetID()]
	r.refused[d.GetID()] = true
	r.mu.Unlock()
	if done {
		return nil
	}
	r.cfg.Logger.Warn("refusing a deployment whose order does not verify", "deployment", d.GetID(), "env", d.GetEnvironment(), "err", cause)
	return r.status(ctx, d.GetID(), "error", "refused: the deploy order does not verify: "+cause.Error(), "")
}

// run claims, renders, applies and reports one deployment.
func (r *Runner) run(ctx context.Context, env Environment, d *github.Deployment, o order.Order, prev string) error {
	claim := r.claim()
	if err := r.status(ctx, d.GetID(), "in_progress", claim, ""); err != nil {
		return err
	}
	if won, err := r.wonClaim(ctx, d.GetID(), claim); err != nil || !won {
		return err
	}
	return r.apply(ctx, env, d, o, prev)
}

// apply renders and applies a claimed deployment and reports the outcome.
func (r *Runner) apply(ctx context.Context, env Environment, d *github.Deployment, o order.Order, prev string) error {
	if err := r.onDefaultBranch(ctx, o.SHA); err != nil {
		return r.status(ctx, d.GetID(), "failure", "not applied: "+err.Error(), "")
	}
	doc, collections, err := r.render(ctx, env.Name, o.SHA, prev)
	if err != nil {
		return r.status(ctx, d.GetID(), "failure", "not applied: "+err.Error(), "")
	}
	// Honua's own check first, when it has one: a document it would refuse
	// is never written.
	if v, ok := env.Applier.Honua.(Validator); ok {
		if err := v.Validate(ctx, doc); err != nil {
			return r.status(ctx, d.GetID(), "failure", "not applied: Honua refuses the document: "+err.Error(), "")
		}
	}
	out, err := env.Applier.Apply(ctx, apply.Request{
		DeploymentID: d.GetID(), Env: env.Name, SHA: o.SHA, Document: doc, Collections: collections,
		HealthTimeout: env.HealthTimeout, RollbackOnFailure: env.RollbackOnFailure,
	}, func(step string) {
		_ = r.status(ctx, d.GetID(), "in_progress", step, "")
	})
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return r.status(ctx, d.GetID(), "failure", "not applied: "+err.Error(), "")
	}
	ev := notify.Event{Kind: notify.KindCompleted, PR: o.PR}
	switch {
	case out.State == apply.StateSuccess && o.RollbackOf != "":
		ev.Kind = notify.KindRolledBack
	case out.State == apply.StateRolledBack:
		ev = notify.Event{Kind: notify.KindFailed, RolledBack: true, Cause: out.Cause, PR: o.PR}
	case out.State != apply.StateSuccess:
		ev = notify.Event{Kind: notify.KindFailed, Cause: out.Cause, PR: o.PR}
	}
	r.notify(ctx, env, strconv.FormatInt(d.GetID(), 10), o.SHA, prev, ev)
	return errors.Join(r.report(ctx, env, d.GetID(), out), r.record(env, out))
}

// notify sends ev about the deployment id of sha to env's notification
// targets, as the policy of base (the commit that was live; sha's own for
// a first deployment) has them: a commit cannot redirect the
// notifications of its own deployment. Each goes once per target (the
// store's ledger). Nothing here delays or fails a deployment.
func (r *Runner) notify(ctx context.Context, env Environment, id, sha, base string, ev notify.Event) {
	if r.cfg.Notifier == nil {
		return
	}
	polSHA := sha
	if base != "" {
		polSHA = base
	}
	src, err := r.cfg.Mirror.Source(ctx, r.cfg.Repo, polSHA)
	var bundle *policy.Bundle
	if err == nil {
		bundle, err = policy.LoadWithLimits(ctx, src, r.cfg.Limits)
	}
	if err != nil || bundle.File == nil {
		if err != nil {
			r.cfg.Logger.Warn("notifications: cannot read the policy", "env", env.Name, "err", err)
		}
		return
	}
	cfg, err := notify.ParseConfig(policy.PolicyFile, bundle.File.Env(env.Name).Notifications)
	if err != nil {
		r.cfg.Logger.Warn("notifications: the policy's notifications block is not valid; nothing is sent", "env", env.Name, "err", err)
		return
	}
	ev.Repo, ev.Env, ev.SHA, ev.URL, ev.At = r.cfg.Repo, env.Name, sha, env.URL, r.cfg.Now()
	if ev.DeploymentID == "" {
		ev.DeploymentID = id
	}
	var ledger notify.Ledger
	if r.cfg.Store != nil {
		ledger = r.cfg.Store.Ledger(env.Name)
	}
	r.cfg.Notifier.Send(ctx, cfg, ev, ledger)
}

// onDefaultBranch checks that sha is reachable from the repository's
// default branch: the App deploys merged commits only (and rollbacks to
// earlier ones), so an order for a commit that is not there did not come
// from the App's merge flow, whatever it says.
func (r *Runner) onDefaultBranch(ctx context.Context, sha string) error {
	r.mu.Lock()
	branch := r.defaultBranch
	r.mu.Unlock()
	if branch == "" {
		repo, _, err := r.cfg.GitHub.Repositories.Get(ctx, r.owner, r.name)
		if err != nil {
			return fmt.Errorf("reading %s: %w", r.cfg.Repo, err)
		}
		branch = repo.GetDefaultBranch()
		r.mu.Lock()
		r.defaultBranch = branch
		r.mu.Unlock()
	}
	token, err := r.cfg.Token(ctx)
	if err != nil {
		return err
	}
	head, err := r.cfg.Mirror.FetchRef(ctx, r.cfg.Repo, token, "refs/heads/"+branch)
	if err != nil {
		return err
	}
	if err := r.cfg.Mirror.Fetch(ctx, r.cfg.Repo, token, sha); err != nil {
		return err
	}
	base, err := r.cfg.Mirror.MergeBase(ctx, r.cfg.Repo, sha, head)
	if err != nil {
		return err
	}
	if base != sha {
		return fmt.Errorf("commit %s is not on %s", sha[:min(12, len(sha))], branch)
	}
	return nil
}

// wonClaim reports whether this runner's in_progress claim is the first
// one: several runners of an environment see the same queued deployment,
// and the claim with the lowest status id wins.
func (r *Runner) wonClaim(ctx context.Context, id int64, claim string) (bool, error) {
	_, all, err := r.statuses(ctx, id)
	if err != nil {
		return false, err
	}
	return firstClaim(all) == claim, nil
}

// render fetches the commit and renders the environment's document, and
// the collections that were added or changed against prev, the commit the
// live document was rendered from (every collection of the environment on
// a first deployment).
func (r *Runner) render(ctx context.Context, env, sha, prev string) ([]byte, []string, error) {
	token, err := r.cfg.Token(ctx)
	if err != nil {
		return nil, nil, err
	}
	shas := []string{sha}
	if prev != "" {
		shas = append(shas, prev)
	}
	if err := r.cfg.Mirror.Fetch(ctx, r.cfg.Repo, token, shas...); err != nil {
		return nil, nil, err
	}
	src, err := r.cfg.Mirror.Source(ctx, r.cfg.Repo, sha)
	if err != nil {
		return nil, nil, err
	}
	var psrc config.Source
	if prev != "" {
		if psrc, err = r.cfg.Mirror.Source(ctx, r.cfg.Repo, prev); err != nil {
			return nil, nil, err
		}
	}
	return RenderEnv(ctx, r.loader, r.cfg.Secrets, env, src, psrc)
}

// RenderEnv loads src and renders env's document, and lists the
// collections added or changed against prev (nil: every collection of the
// environment, a first deployment): the runner's and the pull controller's
// render.
func RenderEnv(ctx context.Context, loader *config.Loader, secrets config.Secrets, env string, src, prev config.Source) ([]byte, []string, error) {
	st, err := loader.Load(ctx, src)
	if err != nil {
		return nil, nil, err
	}
	e, ok := st.Environments[env]
	if !ok {
		return nil, nil, fmt.Errorf("the commit has no environment %s", env)
	}
	for _, d := range e.Diagnostics {
		if d.Severity == config.SeverityError {
			return nil, nil, fmt.Errorf("the configuration is invalid: %s", d.String())
		}
	}
	// The document renders while the plan against prev is computed: both
	// only read the (immutable) states.
	var (
		doc       []byte
		renderErr error
		rendered  sync.WaitGroup
	)
	rendered.Go(func() { doc, renderErr = config.RenderJSON(e, secrets) })
	defer rendered.Wait()
	var base *config.State
	if prev != nil {
		if base, err = loader.Load(ctx, prev); err != nil {
			return nil, nil, err
		}
	}
	p := plan.Compute(base, st, []string{env})
	// The collections the changes reach that the new document serves (a
	// layer moved to another service reaches its old id too, which is
	// gone). The document's layers are the environment's layer objects.
	served := map[string]bool{}
	for _, o := range e.Objects {
		if o.Kind == config.KindLayer {
			served[o.Str("serviceId")+"::"+o.ID] = true
		}
	}
	var cols []string
	for _, en := range p.Environments {
		for _, c := range en.Changes {
			for _, id := range c.Collections {
				if served[id] {
					cols = append(cols, id)
				}
			}
		}
	}
	sort.Strings(cols)
	if rendered.Wait(); renderErr != nil {
		return nil, nil, renderErr
	}
	return doc, compact(cols), nil
}

func compact(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// report writes an apply's outcome as the deployment's status.
func (r *Runner) report(ctx context.Context, env Environment, id int64, o apply.Outcome) error {
	switch o.State {
	case apply.StateSuccess:
		return r.status(ctx, id, "success", "deployed and healthy", env.URL)
	case apply.StateRolledBack:
		return r.status(ctx, id, "failure", o.Cause, "")
	case apply.StateFailedKept, apply.StateFailed:
		return r.status(ctx, id, "failure", o.Cause, "")
	}
	return r.status(ctx, id, "error", o.Cause, "")
}

// status writes a deployment status; descriptions are cut to GitHub's 140
// characters.
func (r *Runner) status(ctx context.Context, id int64, state, desc, envURL string) error {
	req := &github.DeploymentStatusRequest{State: github.String(state), Description: github.String(cut(desc, 140))}
	if envURL != "" {
		req.EnvironmentURL = github.String(envURL)
	}
	if _, _, err := r.cfg.GitHub.Repositories.CreateDeploymentStatus(ctx, r.owner, r.name, id, req); err != nil {
		return fmt.Errorf("reporting %s on deployment %d: %w", state, id, err)
	}
	return nil
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n - len("…")
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}

// Run recovers what a crash left, then runs one poll loop per
// environment (RunEnv) until ctx ends: a long apply in one environment
// never delays another's. The loops are Run's: it returns when all have
// stopped, with ctx's error.
func (r *Runner) Run(ctx context.Context, interval time.Duration) error {
	if err := r.Recover(ctx); err != nil {
		r.cfg.Logger.Error("recovering an interrupted apply failed; polling anyway", "err", err)
	}
	var loops sync.WaitGroup
	for _, env := range r.cfg.Environments {
		loops.Go(func() { r.RunEnv(ctx, env, interval) })
	}
	loops.Wait()
	return ctx.Err()
}

// RunEnv polls env every interval (give or take a tenth, so that runners
// do not poll in step) until ctx ends. Failed polls back off, doubling up
// to 5 minutes: GitHub may be down or limiting, and the next success
// resets the pace. Idle polls are cheap: the client's transport makes them
// conditional requests, which GitHub answers 304 without charging the
// rate limit. With Config.HealthInterval, the environment is watched
// (Watch) on a ticker of its own, between polls, in the same goroutine: a
// watch never runs during an apply.
func (r *Runner) RunEnv(ctx context.Context, env Environment, interval time.Duration) {
	var healthC <-chan time.Time
	if r.cfg.HealthInterval > 0 {
		tk := time.NewTicker(r.cfg.HealthInterval)
		defer tk.Stop()
		healthC = tk.C
	}
	wait := interval
	for {
		if err := r.PollEnv(ctx, env); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = min(max(wait*2, interval), 5*time.Minute)
			r.cfg.Logger.Warn("poll failed; backing off", "env", env.Name, "err", err, "next", wait)
		} else {
			wait = interval
		}
		// ±10 %, so that the mean interval stays the one asked for.
		d := wait - wait/10 + time.Duration(rand.Int64N(int64(wait)/5+1))
		t := time.NewTimer(d)
	sleep:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-healthC:
				if err := r.Watch(ctx, env); err != nil && ctx.Err() == nil {
					r.cfg.Logger.Warn("health watch failed", "env", env.Name, "err", err)
				}
			case <-t.C:
				break sleep
			}
		}
	}
}
