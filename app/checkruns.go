package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/checks"
)

// runKeyPrefix starts the external id of every check run the App creates:
// the id ends with a digest of what the run shows, so that the App can tell,
// without reading the run's output, whether it already shows what it would
// write.
const runKeyPrefix = "honua-gitops:"

// runKey is the external id of run: a digest of everything it shows.
func runKey(run checks.CheckRun) string {
	h := sha256.New()
	for _, s := range []string{run.Name, run.Conclusion, run.Title, run.Summary, run.Text} {
		fmt.Fprintf(h, "%d:%s\x00", len(s), s)
	}
	for _, a := range run.Annotations {
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00%s\x00%s\x00%s\x00%s\x00", a.Path, a.StartLine, a.EndLine, a.Level, a.Title, a.Message, a.RawDetails)
	}
	for _, a := range run.Actions {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00", a.Label, a.Description, a.Identifier)
	}
	return runKeyPrefix + hex.EncodeToString(h.Sum(nil))[:32]
}

// runsOnRef lists this App's latest check runs on ref, by name. Other Apps'
// runs of the same name are not the App's to touch.
func (a *App) runsOnRef(ctx context.Context, gh *github.Client, repo repoName, ref string) (map[string]*github.CheckRun, error) {
	out := map[string]*github.CheckRun{}
	opts := &github.ListCheckRunsOptions{AppID: github.Int64(a.appID), Filter: github.String("latest"), ListOptions: github.ListOptions{PerPage: 100}}
	for {
		res, resp, err := gh.Checks.ListCheckRunsForRef(ctx, repo.Owner, repo.Name, ref, opts)
		if err != nil {
			return nil, fmt.Errorf("listing check runs of %s@%s: %w", repo, short(ref), err)
		}
		for _, r := range res.CheckRuns {
			if r.GetApp().GetID() != 0 && r.GetApp().GetID() != a.appID {
				continue
			}
			name := r.GetName()
			if prev, ok := out[name]; !ok || r.GetID() > prev.GetID() {
				out[name] = r
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// publish makes the latest run of run.Name on sha show run. When the latest
// run already shows it (same external id), nothing is written: a redelivered
// event costs no call. Otherwise a new, completed run is created: GitHub
// does not let a completed run change its conclusion, and annotations
// accumulate across updates, so a run is never rewritten in place; the new
// run of the same name supersedes the old one in GitHub's checks list.
func (a *App) publish(ctx context.Context, gh *github.Client, repo repoName, sha string, existing *github.CheckRun, run checks.CheckRun) (*github.CheckRun, error) {
	key := runKey(run)
	if existing != nil && existing.GetExternalID() == key && !rerun(ctx) {
		return existing, nil
	}
	if existing != nil && existing.GetStatus() != "completed" && len(run.Annotations) == 0 {
		// A run still in progress (a queued deployment) moves on in place.
		return a.update(ctx, gh, repo, existing, run, key)
	}
	batches := run.Batches()
	var first []*github.CheckRunAnnotation
	if len(batches) > 0 {
		first = annotations(batches[0])
	}
	opts := github.CreateCheckRunOptions{
		Name:       run.Name,
		HeadSHA:    sha,
		ExternalID: github.String(key),
		Output: &github.CheckRunOutput{
			Title:       github.String(run.Title),
			Summary:     github.String(run.Summary),
			Text:        nonEmpty(run.Text),
			Annotations: first,
		},
		Actions: actions(run.Actions),
	}
	if run.Conclusion != "" {
		opts.Status = github.String("completed")
		opts.Conclusion = github.String(run.Conclusion)
		opts.CompletedAt = &github.Timestamp{Time: a.now()}
	} else {
		opts.Status = github.String(inProgressStatus(run.Status))
	}
	created, _, err := gh.Checks.CreateCheckRun(ctx, repo.Owner, repo.Name, opts)
	if err != nil {
		return nil, fmt.Errorf("creating check run %s on %s@%s: %w", run.Name, repo, short(sha), err)
	}
	// GitHub takes 50 annotations a request; the rest go in updates, which
	// add to the run's annotations without changing its status.
	for _, batch := range batches[min(1, len(batches)):] {
		_, _, err := gh.Checks.UpdateCheckRun(ctx, repo.Owner, repo.Name, created.GetID(), github.UpdateCheckRunOptions{
			Name: run.Name, // go-github sends it always: it must be set
			Output: &github.CheckRunOutput{
				Title:       github.String(run.Title),
				Summary:     github.String(run.Summary),
				Annotations: annotations(batch),
			},
		})
		if err != nil {
			return nil, fmt.Errorf("adding annotations to check run %s on %s@%s: %w", run.Name, repo, short(sha), err)
		}
	}
	return created, nil
}

func annotations(as []checks.Annotation) []*github.CheckRunAnnotation {
	out := make([]*github.CheckRunAnnotation, len(as))
	for i, a := range as {
		end := a.EndLine
		if end < a.StartLine {
			end = a.StartLine
		}
		out[i] = &github.CheckRunAnnotation{
			Path:            github.String(a.Path),
			StartLine:       github.Int(max(a.StartLine, 1)),
			EndLine:         github.Int(max(end, 1)),
			AnnotationLevel: github.String(a.Level),
			Title:           nonEmpty(a.Title),
			Message:         github.String(a.Message),
			RawDetails:      nonEmpty(a.RawDetails),
		}
	}
	return out
}

func actions(as []checks.Action) []*github.CheckRunAction {
	if len(as) == 0 {
		return nil
	}
	out := make([]*github.CheckRunAction, len(as))
	for i, a := range as {
		out[i] = &github.CheckRunAction{Label: a.Label, Description: a.Description, Identifier: a.Identifier}
	}
	return out
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return github.String(s)
}

type rerunKey struct{}

// withRerun marks ctx as serving someone who asked for the checks again
// (/plan, "Re-run"): they get new runs even when nothing changed, so that
// they see their request answered.
func withRerun(ctx context.Context) context.Context { return context.WithValue(ctx, rerunKey{}, true) }

func rerun(ctx context.Context) bool { v, _ := ctx.Value(rerunKey{}).(bool); return v }

// short abbreviates a commit sha for messages.
func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// repoName is "owner/name" split.
type repoName struct{ Owner, Name string }

func (r repoName) String() string { return r.Owner + "/" + r.Name }

func parseRepo(full string) (repoName, error) {
	owner, name, ok := strings.Cut(full, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return repoName{}, fmt.Errorf("%q is not a repository name owner/name", full)
	}
	return repoName{Owner: owner, Name: name}, nil
}

// update moves a run that is not completed on, in place: its status (or
// its conclusion, completing it), output and buttons.
func (a *App) update(ctx context.Context, gh *github.Client, repo repoName, existing *github.CheckRun, run checks.CheckRun, key string) (*github.CheckRun, error) {
	opts := github.UpdateCheckRunOptions{
		Name:       run.Name,
		ExternalID: github.String(key),
		Output: &github.CheckRunOutput{
			Title:   github.String(run.Title),
			Summary: github.String(run.Summary),
			Text:    nonEmpty(run.Text),
		},
		Actions: actions(run.Actions),
	}
	if run.Conclusion != "" {
		opts.Status = github.String("completed")
		opts.Conclusion = github.String(run.Conclusion)
		opts.CompletedAt = &github.Timestamp{Time: a.now()}
	} else {
		opts.Status = github.String(inProgressStatus(run.Status))
	}
	updated, _, err := gh.Checks.UpdateCheckRun(ctx, repo.Owner, repo.Name, existing.GetID(), opts)
	if err != nil {
		return nil, fmt.Errorf("updating check run %s of %s: %w", run.Name, repo, err)
	}
	return updated, nil
}

// inProgressStatus is the status of a run without a conclusion: queued or
// in_progress.
func inProgressStatus(s string) string {
	if s == "queued" {
		return s
	}
	return "in_progress"
}
