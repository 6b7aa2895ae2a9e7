package runner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/notify"
	"github.com/honua-io/honua-gitops/reconciler/apply"
)

// HealthContext is the name of the check run, and the context of the
// commit status, that Watch reports an environment's health and sync
// under: "honua/health (ENV)".
func HealthContext(env string) string { return "honua/health (" + env + ")" }

// WatchAll watches every environment once (see Watch).
func (r *Runner) WatchAll(ctx context.Context) error {
	var errs []error
	for _, env := range r.cfg.Environments {
		if err := r.Watch(ctx, env); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, fmt.Errorf("%s: %w", env.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Watch checks an environment between deployments (see Check) and, only
// when its Health or Sync changed, reports the transition where people
// look, on the deployed commit (the store's Current SHA):
//
//   - a check run named HealthContext(env) when the GitHub client may
//     create check runs (running as the App): conclusion success when
//     Healthy and Synced, failure when Unhealthy, neutral otherwise
//     (Degraded, OutOfSync, Unknown);
//   - else (running with a token, which GitHub answers 403 on check runs)
//     a commit status of context HealthContext(env): failure when
//     Unhealthy, success otherwise; its description names Degraded or
//     OutOfSync, so that a drift does not fail the commit's checks.
//
// The description says what changed and since when ("health Healthy →
// Degraded since 2026-…Z; Synced"). Nothing is reported when nothing
// changed, however often Watch runs: the point is to stay quiet.
//
// With Config.SelfHeal, a Synced → OutOfSync transition re-applies the
// deployed commit (rendered again, applied through the environment's
// Applier as a redeploy of the current deployment, with every collection
// post-validated and the usual rollback), records the outcome, checks
// again, and reports once what it found and what it did. A heal that does
// not bring the environment back leaves it OutOfSync; it is not retried
// until it is Synced again (a person should look).
//
// Without a Store nothing is stored and nothing is reported.
func (r *Runner) Watch(ctx context.Context, env Environment) error {
	if r.cfg.Store == nil {
		_, _, _, err := r.Check(ctx, env)
		return err
	}
	before, err := r.cfg.Store.Load(env.Name)
	if err != nil {
		return err
	}
	health, sync, changed, checkErr := r.Check(ctx, env)
	if !changed {
		return checkErr
	}
	if before.Sync != SyncOutOfSync && sync == SyncOutOfSync && before.Current != nil {
		// Each drift is its own event: keyed by when it was seen.
		cur := *before.Current
		r.notify(ctx, env, "", cur.SHA, "", notify.Event{Kind: notify.KindDriftDetected,
			DeploymentID: fmt.Sprintf("%d~drift-%s", cur.DeploymentID, r.cfg.Now().UTC().Format("20060102T150405")),
			Cause:        "the live document differs from what " + short(cur.SHA) + " renders (edited by hand?)"})
	}
	var healed string
	if r.cfg.SelfHeal && before.Sync == SyncSynced && sync == SyncOutOfSync && before.Current != nil {
		healed, err = r.heal(ctx, env, *before.Current)
		if err != nil {
			checkErr = errors.Join(checkErr, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// What the heal left: the apply recorded its outcome; a check
		// stores what is true now.
		var err2 error
		health, sync, _, err2 = r.Check(ctx, env)
		checkErr = errors.Join(checkErr, err2)
	}
	after, err := r.cfg.Store.Load(env.Name)
	if err != nil {
		return errors.Join(checkErr, err)
	}
	if after.Current == nil {
		r.cfg.Logger.Info("environment changed; no deployed commit to report it on", "env", env.Name, "health", health, "sync", sync)
		return checkErr
	}
	desc := describe(before, after, healed)
	return errors.Join(checkErr, r.reportHealth(ctx, env, after.Current.SHA, after.Health, after.Sync, desc))
}

// heal re-applies the deployed commit: a redeploy of the current
// deployment, reported on it as GitHub statuses (in_progress, then the
// outcome, each saying "self-heal") so that the Deployments page shows
// that the environment was re-applied and how it went. It returns what it
// did, for the health report.
func (r *Runner) heal(ctx context.Context, env Environment, cur Deployed) (string, error) {
	r.cfg.Logger.Warn("self-heal: the live document drifted; re-applying the deployed commit", "env", env.Name, "deployment", cur.DeploymentID, "sha", short(cur.SHA))
	// GitHub being unreachable does not stop the heal; the error is
	// returned with its outcome.
	reportErr := r.status(ctx, cur.DeploymentID, "in_progress", "self-heal: the live document drifted from "+short(cur.SHA)+"; re-applying it", "")
	doc, collections, err := r.render(ctx, env.Name, cur.SHA, "")
	if err != nil {
		return "self-heal could not render " + short(cur.SHA) + ": " + err.Error(), errors.Join(reportErr,
			r.status(ctx, cur.DeploymentID, "error", "self-heal: could not render "+short(cur.SHA)+": "+err.Error(), ""),
			fmt.Errorf("self-heal: rendering %s: %w", short(cur.SHA), err))
	}
	out, err := env.Applier.Apply(ctx, apply.Request{
		DeploymentID: cur.DeploymentID, Env: env.Name, SHA: cur.SHA, Document: doc, Collections: collections,
		HealthTimeout: env.HealthTimeout, RollbackOnFailure: env.RollbackOnFailure,
	}, func(string) {})
	if err != nil {
		if ctx.Err() == nil {
			reportErr = errors.Join(reportErr, r.status(ctx, cur.DeploymentID, "error", "self-heal: not applied: "+err.Error(), ""))
		}
		return "self-heal failed to re-apply " + short(cur.SHA) + ": " + err.Error(), errors.Join(reportErr, fmt.Errorf("self-heal: re-applying %s: %w", short(cur.SHA), err))
	}
	if err := r.record(env, out); err != nil {
		return "", errors.Join(reportErr, err)
	}
	var state, desc, envURL string
	switch out.State {
	case apply.StateSuccess:
		state, desc, envURL = "success", "self-heal: re-applied after a drift; healthy", env.URL
	case apply.StateRolledBack, apply.StateFailedKept, apply.StateFailed:
		state, desc = "failure", "self-heal: "+out.Cause
	default:
		state, desc = "error", "self-heal: "+out.Cause
	}
	reportErr = errors.Join(reportErr, r.status(ctx, cur.DeploymentID, state, desc, envURL))
	if out.State == apply.StateSuccess {
		return "self-heal re-applied " + short(cur.SHA), reportErr
	}
	return fmt.Sprintf("self-heal re-applied %s: %s (%s)", short(cur.SHA), out.State, out.Cause), reportErr
}

// describe says what changed between two states and since when, and what
// a heal did.
func describe(before, after EnvState, healed string) string {
	part := func(kind, was, now string, at time.Time) string {
		if was == now {
			return now
		}
		return fmt.Sprintf("%s %s → %s since %s", kind, was, now, at.UTC().Format(time.RFC3339))
	}
	parts := []string{
		part("health", before.Health, after.Health, after.HealthSince),
		part("sync", before.Sync, after.Sync, after.SyncSince),
	}
	if healed != "" {
		// The drift the heal undid is what people need to know of.
		parts = []string{after.Health, "drifted (OutOfSync); " + healed + "; now " + after.Sync}
	}
	return strings.Join(parts, "; ")
}

// reportHealth writes the check run, or without the App's check-run
// permission the commit status, of an environment on sha.
func (r *Runner) reportHealth(ctx context.Context, env Environment, sha, health, sync, desc string) error {
	name := HealthContext(env.Name)
	conclusion := "neutral"
	switch {
	case health == HealthUnhealthy:
		conclusion = "failure"
	case health == HealthHealthy && sync == SyncSynced:
		conclusion = "success"
	}
	title := health + ", " + sync
	now := github.Timestamp{Time: r.cfg.Now()}
	_, _, err := r.cfg.GitHub.Checks.CreateCheckRun(ctx, r.owner, r.name, github.CreateCheckRunOptions{
		Name: name, HeadSHA: sha, Status: github.String("completed"), Conclusion: github.String(conclusion),
		CompletedAt: &now, DetailsURL: nilIfEmpty(env.URL),
		Output: &github.CheckRunOutput{Title: github.String(title), Summary: github.String(desc)},
	})
	if err == nil {
		r.cfg.Logger.Info("reported a health transition", "env", env.Name, "check_run", name, "conclusion", conclusion, "description", desc)
		return nil
	}
	var ge *github.ErrorResponse
	if !errors.As(err, &ge) || ge.Response == nil || (ge.Response.StatusCode != http.StatusForbidden && ge.Response.StatusCode != http.StatusNotFound) {
		return fmt.Errorf("reporting %s on %s: %w", name, short(sha), err)
	}
	// Not the App (a token cannot create check runs): a commit status.
	state := "success"
	if health == HealthUnhealthy {
		state = "failure"
	}
	st := &github.RepoStatus{State: github.String(state), Context: github.String(name), Description: github.String(cut(title+": "+desc, 140))}
	if env.URL != "" {
		st.TargetURL = github.String(env.URL)
	}
	if _, _, err := r.cfg.GitHub.Repositories.CreateStatus(ctx, r.owner, r.name, sha, st); err != nil {
		return fmt.Errorf("reporting %s on %s: %w", name, short(sha), err)
	}
	r.cfg.Logger.Info("reported a health transition", "env", env.Name, "status", name, "state", state, "description", desc)
	return nil
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
