package app

import (
	"context"
	"fmt"
	"strconv"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/app/gate"
	"github.com/honua-io/honua-gitops/checks"
	"github.com/honua-io/honua-gitops/notify"
	"github.com/honua-io/honua-gitops/policy"
)

// notifiedKind marks the App's note that a notification went out: the
// App keeps no state, so GitHub (the pull request) is its ledger.
const notifiedKind = "notified"

// prLedger records the notifications sent about a pull request's
// deployments as the App's own comments on it, each with a marker of its
// key: every replica, and the App after a restart, reads them back.
type prLedger struct {
	a    *App
	gh   *github.Client
	repo repoName
	pr   int
}

// Sent reports whether the App's comments on the pull request record key.
func (l prLedger) Sent(ctx context.Context, key string) (bool, error) {
	comments, err := l.a.comments(ctx, l.gh, l.repo, l.pr)
	if err != nil {
		return false, err
	}
	for _, c := range comments {
		if !l.a.isBot(c.GetUser().GetLogin()) {
			continue // only the App's own records count
		}
		for _, m := range checks.ParseMarkers(c.GetBody()) {
			var v struct {
				Key string `json:"key"`
			}
			if m.Kind == notifiedKind && m.Decode(&v) == nil && v.Key == key {
				return true, nil
			}
		}
	}
	return false, nil
}

// MarkSent records key in a short comment.
func (l prLedger) MarkSent(ctx context.Context, key string) error {
	body := ":bell: A notification went out (`" + plainKey(key) + "`).\n" + checks.Marker(notifiedKind, map[string]string{"key": key})
	return l.a.comment(ctx, l.gh, l.repo, l.pr, body)
}

// plainKey keeps a key to characters that need no escaping in markdown
// code.
func plainKey(key string) string {
	out := make([]rune, 0, len(key))
	for _, r := range key {
		if r == '`' || r < ' ' {
			r = '_'
		}
		out = append(out, r)
	}
	return string(out)
}

// notifyApproval tells the environment's notification targets (the
// policy of the base, like the rest of the verdict: a pull request cannot
// redirect its own notifications) that the App's deployment d waits for
// approval, and how to give it. Once per target: the pull request is the
// ledger (a merge without one is told once per process). A failing target
// never delays the deployment.
func (a *App) notifyApproval(ctx context.Context, gh *github.Client, m mergeInfo, ev *evaluation, env string, d *github.Deployment, dec gate.Decision) {
	if a.notifier == nil || ev.bundle == nil || ev.bundle.File == nil {
		return
	}
	cfg, err := notify.ParseConfig(policy.PolicyFile, ev.bundle.File.Env(env).Notifications)
	if err != nil {
		LoggerFrom(ctx).Warn("notifications: the policy's notifications block is not valid; nothing is sent", "repo", m.repo.String(), "env", env, "err", err)
		return
	}
	if cfg.Empty() {
		return
	}
	n := notify.Event{
		Kind: notify.KindApprovalRequired, Repo: m.repo.String(), Env: env, SHA: m.sha,
		DeploymentID: strconv.FormatInt(d.GetID(), 10), PR: m.pull.Number, Who: m.pull.Author,
		Approvers: dec.NeedFrom, Cause: dec.Description, At: a.now(),
	}
	for i := range ev.report.Plan.Environments {
		if e := &ev.report.Plan.Environments[i]; e.Name == env {
			n.Summary = e.SummaryLine()
		}
	}
	if m.pull.Number != 0 {
		n.PRURL = m.pull.HTMLURL
		n.URL = m.pull.HTMLURL
		n.ApproveHow = fmt.Sprintf("comment /approve %s on PR #%d, or click Approve on its honua/deploy (%s) check", env, m.pull.Number, env)
	}
	if ev.reviewInGitHub(env) {
		n.ApproveHow = "approve it in GitHub's Review deployments dialog of the honua gate run"
		if m.pull.Number != 0 {
			n.ApproveHow += fmt.Sprintf(" (linked from PR #%d)", m.pull.Number)
		}
	}
	var ledger notify.Ledger
	if m.pull.Number != 0 {
		ledger = prLedger{a: a, gh: gh, repo: m.repo, pr: m.pull.Number}
	} else {
		ledger = &a.notified
	}
	a.notifier.Send(ctx, cfg, n, ledger)
}
