package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/app/gate"
	"github.com/honua-io/honua-gitops/checks"
	"github.com/honua-io/honua-gitops/notify"
	"github.com/honua-io/honua-gitops/policy"
)

// notifiedKind marks the App's note that a notification went out, and
// claimKind its claim to send one: the App keeps no state, so GitHub (the
// pull request) is its ledger, and its arbiter between replicas.
const (
	notifiedKind = "notified"
	claimKind    = "notify-claim"
)

// prLedger records the notifications sent about a pull request's
// deployments as the App's own comments on it, each with a marker of its
// key: every replica, and the App after a restart, reads them back. It is
// a notify.Claimer: of replicas sending one notification at the same
// moment, the one whose claim comment GitHub numbered first sends it.
type prLedger struct {
	a    *App
	gh   *github.Client
	repo repoName
	pr   int

	mu     sync.Mutex
	claims map[string]int64 // key → this replica's claim comment
}

type claimMarker struct {
	Key   string    `json:"key"`
	Nonce string    `json:"nonce"`
	Until time.Time `json:"until"`
}

// Claim claims key for ttl: it writes a claim comment, then reads the
// comments back; the lowest-numbered live claim of the App wins. It
// reports false when key was sent or another claim won.
func (l *prLedger) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if sent, err := l.Sent(ctx, key); err != nil || sent {
		return false, err
	}
	var nb [8]byte
	_, _ = rand.Read(nb[:])
	nonce := hex.EncodeToString(nb[:])
	body := ":hourglass: Sending a notification (`" + plainKey(key) + "`).\n" + checks.Marker(claimKind, claimMarker{Key: key, Nonce: nonce, Until: l.a.now().Add(ttl)})
	c, _, err := l.gh.Issues.CreateComment(ctx, l.repo.Owner, l.repo.Name, l.pr, &github.IssueComment{Body: github.String(body)})
	if err != nil {
		return false, fmt.Errorf("claiming a notification on %s#%d: %w", l.repo, l.pr, err)
	}
	l.mu.Lock()
	if l.claims == nil {
		l.claims = map[string]int64{}
	}
	l.claims[key] = c.GetID()
	l.mu.Unlock()
	comments, err := l.a.comments(ctx, l.gh, l.repo, l.pr)
	if err != nil {
		return false, err
	}
	var winner int64
	for _, cm := range comments {
		if !l.a.isBot(cm.GetUser().GetLogin()) {
			continue
		}
		for _, m := range checks.ParseMarkers(cm.GetBody()) {
			var v claimMarker
			if m.Kind == claimKind && m.Decode(&v) == nil && v.Key == key && l.a.now().Before(v.Until) && (winner == 0 || cm.GetID() < winner) {
				winner = cm.GetID()
			}
		}
	}
	if winner != c.GetID() {
		_ = l.drop(ctx, key) // the other replica sends it
		return false, nil
	}
	return true, nil
}

// Release gives up this replica's claim on key (a delivery that failed
// for good): its claim comment goes.
func (l *prLedger) Release(ctx context.Context, key string) error { return l.drop(ctx, key) }

func (l *prLedger) drop(ctx context.Context, key string) error {
	l.mu.Lock()
	id := l.claims[key]
	delete(l.claims, key)
	l.mu.Unlock()
	if id == 0 {
		return nil
	}
	if _, err := l.gh.Issues.DeleteComment(ctx, l.repo.Owner, l.repo.Name, id); err != nil {
		return fmt.Errorf("removing a notification claim on %s#%d: %w", l.repo, l.pr, err)
	}
	return nil
}

// Sent reports whether the App's comments on the pull request record key.
func (l *prLedger) Sent(ctx context.Context, key string) (bool, error) {
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

// MarkSent records key: this replica's claim comment becomes the note.
func (l *prLedger) MarkSent(ctx context.Context, key string) error {
	body := ":bell: A notification went out (`" + plainKey(key) + "`).\n" + checks.Marker(notifiedKind, map[string]string{"key": key})
	l.mu.Lock()
	id := l.claims[key]
	delete(l.claims, key)
	l.mu.Unlock()
	if id != 0 {
		if _, _, err := l.gh.Issues.EditComment(ctx, l.repo.Owner, l.repo.Name, id, &github.IssueComment{Body: github.String(body)}); err == nil {
			return nil
		}
	}
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
		ledger = &prLedger{a: a, gh: gh, repo: m.repo, pr: m.pull.Number}
	} else {
		ledger = &a.notified
	}
	a.notifier.Send(ctx, cfg, n, ledger)
}
