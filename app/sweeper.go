package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/checks"
)

// AppClient gives the client authenticated as the App itself (JWT), which
// lists the App's installations.
type AppClient interface {
	App(ctx context.Context) *github.Client
}

// Sweep repairs what missed webhooks left behind, in every repository of
// every installation: open pull requests whose head has no plan, merged
// pull requests whose merge commit has no deployment, and pending
// deployments that may move on (a window opened, a soak ended, an
// approval expired). GitHub never redelivers a webhook by itself, so this
// is how the App catches up after an outage. Reads are conditional: an
// idle sweep costs little of the rate limit.
func (a *App) Sweep(ctx context.Context, apps AppClient) error {
	ac := apps.App(ctx)
	var errs []error
	opts := &github.ListOptions{PerPage: 100}
	for {
		insts, resp, err := ac.Apps.ListInstallations(ctx, opts)
		if err != nil {
			return fmt.Errorf("listing installations: %w", err)
		}
		for _, inst := range insts {
			if err := a.sweepInstallation(ctx, inst.GetID()); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				errs = append(errs, err)
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return errors.Join(errs...)
}

func (a *App) sweepInstallation(ctx context.Context, inst int64) error {
	gh, err := a.clients.Installation(ctx, inst)
	if err != nil {
		return err
	}
	var errs []error
	opts := &github.ListOptions{PerPage: 100}
	for {
		res, resp, err := gh.Apps.ListRepos(ctx, opts)
		if err != nil {
			return fmt.Errorf("listing the repositories of installation %d: %w", inst, err)
		}
		for _, r := range res.Repositories {
			repo, err := parseRepo(r.GetFullName())
			if err != nil {
				continue
			}
			if err := a.sweepRepo(ctx, inst, gh, repo, r.GetDefaultBranch()); err != nil {
				errs = append(errs, fmt.Errorf("sweeping %s: %w", repo, err))
			}
		}
		if resp.NextPage == 0 {
			return errors.Join(errs...)
		}
		opts.Page = resp.NextPage
	}
}

// sweepRepo repairs one repository.
func (a *App) sweepRepo(ctx context.Context, inst int64, gh *github.Client, repo repoName, defaultBranch string) error {
	var errs []error
	// Open pull requests whose head has no plan.
	open, _, err := gh.PullRequests.List(ctx, repo.Owner, repo.Name, &github.PullRequestListOptions{State: "open", ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		return fmt.Errorf("listing open pull requests: %w", err)
	}
	var keep []string
	for _, pr := range open {
		keep = append(keep, pr.GetBase().GetSHA(), pr.GetHead().GetSHA())
		runs, err := a.runsOnRef(ctx, gh, repo, pr.GetHead().GetSHA())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if runs[planRunName] == nil || runs[policyRunName] == nil {
			if err := a.planPR(ctx, inst, repo, pr); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		// Reviews whose webhooks were missed: recorded now, so that the
		// merge counts them (or no longer counts a withdrawn one).
		if err := a.sweepReviews(ctx, gh, repo, pr, runs[planRunName]); err != nil {
			errs = append(errs, err)
		}
	}
	// A mirror of many packs is folded into one here, off the request
	// path, keeping what the open pull requests need.
	if len(keep) > 0 {
		if err := a.compact(ctx, inst, repo, keep); err != nil {
			errs = append(errs, err)
		}
	}
	// Pull requests merged lately whose merge commit has no deployment.
	closed, _, err := gh.PullRequests.List(ctx, repo.Owner, repo.Name, &github.PullRequestListOptions{State: "closed", Base: defaultBranch, Sort: "updated", Direction: "desc", ListOptions: github.ListOptions{PerPage: 20}})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("listing closed pull requests: %w", err))...)
	}
	for _, pr := range closed {
		if pr.GetMergeCommitSHA() == "" || pr.MergedAt == nil {
			continue
		}
		// deployMerge creates what is missing (all, or what an error cut
		// short), and costs nothing for a commit this process deployed.
		if a.deployed.has(repo.String() + "@" + pr.GetMergeCommitSHA()) {
			continue
		}
		// The list does not say who merged: read the pull request.
		full, _, err := gh.PullRequests.Get(ctx, repo.Owner, repo.Name, pr.GetNumber())
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %s#%d: %w", repo, pr.GetNumber(), err))
			continue
		}
		if err := a.deployMerge(ctx, inst, mergeInfo{repo: repo, sha: full.GetMergeCommitSHA(), pull: prView(repo, full), branch: defaultBranch}); err != nil {
			errs = append(errs, err)
		}
	}
	// Reviews given in GitHub's dialog whose webhooks were missed.
	if err := a.sweepGateReviews(ctx, inst, gh, repo); err != nil {
		errs = append(errs, err)
	}
	// Pending deployments that may move on.
	recent, _, err := gh.Repositories.ListDeployments(ctx, repo.Owner, repo.Name, &github.DeploymentsListOptions{ListOptions: github.ListOptions{PerPage: 30}})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("listing deployments: %w", err))...)
	}
	for _, d := range recent {
		if !a.ownDeployment(d) {
			continue
		}
		st, err := a.latestStatus(ctx, gh, repo, d.GetID())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if s := st.GetState(); s != "pending" && s != "" {
			continue
		}
		if err := a.reevaluate(ctx, inst, repo, d.GetSHA(), d.GetEnvironment()); err != nil {
			errs = append(errs, err)
		}
	}
	// The App's protection rules that wait for a gate of time.
	if err := a.sweepProtectionRules(ctx, inst, gh, repo); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// RunSweeper sweeps every interval until ctx ends. A failed sweep is
// logged and tried again at the next tick: GitHub may be down.
func (a *App) RunSweeper(ctx context.Context, apps AppClient, interval time.Duration, logger *slog.Logger) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.Sweep(ctx, apps); err != nil && ctx.Err() == nil {
				logger.Warn("sweep failed; trying again next interval", "err", err)
			}
		}
	}
}

// compact folds repo's mirror into one pack when it holds many (see
// Mirror.Compact): a fetch on the request path would otherwise do it there,
// at the cost of a full fetch.
func (a *App) compact(ctx context.Context, inst int64, repo repoName, keep []string) error {
	if a.mirror.Packs(repo.String()) < 2 {
		return nil
	}
	token, err := a.clients.Token(ctx, inst)
	if err != nil {
		return err
	}
	_, err = a.mirror.Compact(ctx, repo.String(), token, keep...)
	return err
}

// sweepReviews brings an open pull request's review records up to date
// with its reviews (see syncReviews). The environments are those the head's
// plan run names. Its reads are conditional: an idle pull request costs no
// rate limit.
func (a *App) sweepReviews(ctx context.Context, gh *github.Client, repo repoName, pr *github.PullRequest, planRun *github.CheckRun) error {
	sha, digests, ok := checks.ParseDigests(planRun.GetOutput().GetText())
	if !ok || sha != pr.GetHead().GetSHA() {
		return nil
	}
	reviews, err := a.reviews(ctx, gh, repo, pr.GetNumber())
	if err != nil || len(reviews) == 0 {
		return err
	}
	comments, err := a.comments(ctx, gh, repo, pr.GetNumber())
	if err != nil {
		return err
	}
	records := a.parseRecords(repo.String(), pr.GetNumber(), comments)
	lookup := a.digestLookup(ctx, gh, repo, sha, digests, records)
	return a.syncReviews(ctx, gh, repo, pr.GetNumber(), reviews, records, slices.Sorted(maps.Keys(digests)), lookup)
}
