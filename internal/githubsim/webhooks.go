package githubsim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Delivery is one webhook delivery, as GitHub's "Recent Deliveries" shows it.
type Delivery struct {
	ID         string // X-GitHub-Delivery; kept on redelivery
	Event      string // X-GitHub-Event
	Action     string
	Body       []byte
	Header     http.Header
	Redelivery bool
	At         time.Time
	// StatusCode is the receiver's answer (0 when it could not be reached or
	// no URL is configured); Err says why it failed.
	StatusCode int
	Err        string
}

// Sign returns GitHub's X-Hub-Signature-256 value for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// hookQueue delivers webhooks in order from one owned goroutine.
type hookQueue struct {
	s       *Server
	mu      sync.Mutex
	cond    *sync.Cond
	pending []*Delivery
	busy    bool
	closed  bool
	done    chan struct{}
	all     []*Delivery
	client  *http.Client
}

func newHookQueue(s *Server) *hookQueue {
	q := &hookQueue{s: s, done: make(chan struct{}), client: &http.Client{Timeout: 10 * time.Second}}
	q.cond = sync.NewCond(&q.mu)
	go q.run()
	return q
}

func (q *hookQueue) run() {
	defer close(q.done)
	for {
		q.mu.Lock()
		for len(q.pending) == 0 && !q.closed {
			q.cond.Wait()
		}
		if len(q.pending) == 0 && q.closed {
			q.mu.Unlock()
			return
		}
		d := q.pending[0]
		q.pending = q.pending[1:]
		q.busy = true
		q.mu.Unlock()
		status, errMsg := q.send(d)
		q.mu.Lock()
		d.StatusCode, d.Err = status, errMsg
		q.busy = false
		q.cond.Broadcast()
		q.mu.Unlock()
	}
}

func (q *hookQueue) send(d *Delivery) (int, string) {
	url := q.s.opts.WebhookURL
	if url == "" {
		return 0, "no webhook URL configured"
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(d.Body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header = d.Header.Clone()
	resp, err := q.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, ""
}

func (q *hookQueue) enqueue(d *Delivery) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.all = append(q.all, d)
	if q.closed {
		return
	}
	q.pending = append(q.pending, d)
	q.cond.Broadcast()
}

// flush waits until every queued delivery has been attempted.
func (q *hookQueue) flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.pending) > 0 || q.busy {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		q.cond.Wait()
	}
	return nil
}

func (q *hookQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
	<-q.done
}

// FlushWebhooks waits until every webhook queued so far has been delivered
// (or failed). Tests call it before asserting on what the App did.
func (s *Server) FlushWebhooks(ctx context.Context) error { return s.hooks.flush(ctx) }

// Deliveries returns every delivery so far, oldest first (redeliveries too).
func (s *Server) Deliveries() []Delivery {
	q := s.hooks
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]Delivery, 0, len(q.all))
	for _, d := range q.all {
		out = append(out, *d)
	}
	return out
}

// DeliveriesOf returns the deliveries of one event (and action, if not "").
func (s *Server) DeliveriesOf(event, action string) []Delivery {
	var out []Delivery
	for _, d := range s.Deliveries() {
		if d.Event == event && (action == "" || d.Action == action) {
			out = append(out, d)
		}
	}
	return out
}

// Redeliver sends a delivery again with the same X-GitHub-Delivery id, as
// GitHub's "Redeliver" button does.
func (s *Server) Redeliver(id string) error {
	q := s.hooks
	q.mu.Lock()
	var orig *Delivery
	for _, d := range q.all {
		if d.ID == id && !d.Redelivery {
			orig = d
		}
	}
	q.mu.Unlock()
	if orig == nil {
		return fmt.Errorf("no delivery %s", id)
	}
	d := &Delivery{ID: orig.ID, Event: orig.Event, Action: orig.Action, Body: orig.Body, Header: orig.Header.Clone(), Redelivery: true, At: s.clock.Now()}
	q.enqueue(d)
	return nil
}

func newGUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// deliver signs and queues one event for the App.
func (s *Server) deliver(r *repo, event string, payload map[string]any) {
	s.mu.Lock()
	in := s.installationForLocked(r)
	if in != nil {
		payload["installation"] = map[string]any{"id": in.ID, "node_id": nodeID("MDIz", in.ID)}
	}
	payload["repository"] = s.hookRepoJSON(r, event == "push")
	if r.Owner.Type == "Organization" {
		payload["organization"] = s.orgJSON(r.Owner)
	}
	s.mu.Unlock()
	if in == nil {
		// GitHub sends App webhooks only for installed accounts.
		return
	}
	body, err := json.Marshal(payload)
	if err != nil {
		panic(fmt.Sprintf("githubsim: encoding %s payload: %v", event, err))
	}
	action, _ := payload["action"].(string)
	id := newGUID()
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/sim1234")
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", id)
	h.Set("X-GitHub-Hook-ID", "4242")
	h.Set("X-GitHub-Hook-Installation-Target-ID", strconv.FormatInt(s.opts.AppID, 10))
	h.Set("X-GitHub-Hook-Installation-Target-Type", "integration")
	if s.opts.WebhookSecret != "" {
		h.Set("X-Hub-Signature-256", Sign(s.opts.WebhookSecret, body))
		m := hmacSHA1(s.opts.WebhookSecret, body)
		h.Set("X-Hub-Signature", "sha1="+m)
	}
	if ws := s.opts.WebhookSpec; ws != nil {
		for _, v := range ws.CheckPayload(event, action, body) {
			s.violation(v)
		}
	}
	s.hooks.enqueue(&Delivery{ID: id, Event: event, Action: action, Body: body, Header: h, At: s.clock.Now()})
}

func (s *Server) orgJSON(u *user) map[string]any {
	api := s.URL() + "/orgs/" + u.Login
	return map[string]any{
		"login": u.Login, "id": u.ID, "node_id": nodeID("O_", u.ID), "url": api,
		"repos_url": api + "/repos", "events_url": api + "/events", "hooks_url": api + "/hooks",
		"issues_url": api + "/issues", "members_url": api + "/members{/member}",
		"public_members_url": api + "/public_members{/member}",
		"avatar_url":         fmt.Sprintf("%s/avatars/u/%d?v=4", s.URL(), u.ID), "description": nil,
	}
}

// hookRepoJSON is the repository object of webhook payloads; push events
// carry created_at and pushed_at as Unix seconds, as GitHub's do.
func (s *Server) hookRepoJSON(r *repo, push bool) map[string]any {
	m := s.repoJSON(r, true)
	delete(m, "permissions")
	delete(m, "organization")
	delete(m, "network_count")
	delete(m, "subscribers_count")
	m["stargazers"] = 0
	m["master_branch"] = r.DefaultBranch
	m["custom_properties"] = map[string]any{}
	if push {
		m["created_at"] = r.Created.Unix()
		m["pushed_at"] = r.Pushed.Unix()
	}
	return m
}

func (s *Server) emitPull(r *repo, p *pull, action string, sender *user, extra map[string]any) {
	s.mu.Lock()
	pl := map[string]any{"action": action, "number": p.Number, "pull_request": s.prJSON(r, p, true), "sender": s.userJSON(sender)}
	s.mu.Unlock()
	for k, v := range extra {
		pl[k] = v
	}
	s.deliver(r, "pull_request", pl)
}

func (s *Server) emitReview(r *repo, p *pull, rv *review) {
	s.mu.Lock()
	rj := s.reviewJSON(r, p, rv)
	rj["state"] = strings.ToLower(rv.State) // webhooks say "approved", REST "APPROVED"
	pr := s.prJSON(r, p, false)
	pl := map[string]any{"action": "submitted", "review": rj, "pull_request": pr, "sender": s.userJSON(rv.User)}
	s.mu.Unlock()
	s.deliver(r, "pull_request_review", pl)
}

func (s *Server) issueJSON(r *repo, p *pull) map[string]any {
	api := s.URL() + "/repos/" + r.FullName()
	issue := fmt.Sprintf("%s/issues/%d", api, p.Number)
	html := fmt.Sprintf("%s/%s/pull/%d", s.URL(), r.FullName(), p.Number)
	return map[string]any{
		"url": issue, "repository_url": api, "labels_url": issue + "/labels{/name}",
		"comments_url": issue + "/comments", "events_url": issue + "/events", "html_url": html,
		"id": p.ID + 1, "node_id": nodeID("I_", p.ID), "number": p.Number, "title": p.Title,
		"user": s.userJSON(p.User), "labels": []any{}, "state": p.State, "locked": false,
		"assignee": nil, "assignees": []any{}, "milestone": nil, "comments": s.countComments(r, p.Number),
		"created_at": ts(p.Created), "updated_at": ts(p.Updated), "closed_at": tsPtr(p.ClosedAt),
		"author_association": s.association(r, p.User), "active_lock_reason": nil,
		"body": strOrNil(p.Body), "performed_via_github_app": nil, "timeline_url": issue + "/timeline",
		"state_reason": nil, "draft": p.Draft,
		"reactions": map[string]any{"url": issue + "/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0},
		"pull_request": map[string]any{
			"url": fmt.Sprintf("%s/pulls/%d", api, p.Number), "html_url": html,
			"diff_url": html + ".diff", "patch_url": html + ".patch", "merged_at": tsPtr(p.MergedAt),
		},
	}
}

func (s *Server) emitComment(r *repo, c *issueComment, action string, changes map[string]any) {
	s.mu.Lock()
	p := s.pullLocked(r, c.Issue)
	pl := map[string]any{"action": action, "issue": s.issueJSON(r, p), "comment": s.commentJSON(r, c), "sender": s.userJSON(c.User)}
	if changes != nil {
		pl["changes"] = changes
	}
	s.mu.Unlock()
	s.deliver(r, "issue_comment", pl)
}

func (s *Server) emitCheckRun(r *repo, c *checkRun, action string, sender *user, extra map[string]any) {
	s.mu.Lock()
	cr := s.checkRunJSON(r, c)
	cr["check_suite"] = s.checkSuiteJSON(r, c.SuiteID, c.HeadSHA)
	pl := map[string]any{"action": action, "check_run": cr, "sender": s.userJSON(sender)}
	s.mu.Unlock()
	for k, v := range extra {
		pl[k] = v
	}
	s.deliver(r, "check_run", pl)
}

func (s *Server) checkSuiteJSON(r *repo, id int64, sha string) map[string]any {
	var branch any
	status, conclusion := "completed", any(nil)
	var prs []any
	for _, p := range r.Pulls {
		if p.HeadSHA == sha {
			branch = p.Head
			if p.State == "open" {
				prs = append(prs, s.prMinimalJSON(r, p))
			}
		}
	}
	if prs == nil {
		prs = []any{}
	}
	for _, c := range r.CheckRuns {
		if c.SuiteID == id && c.Status != "completed" {
			status = "in_progress"
		}
	}
	now := ts(s.now())
	return map[string]any{
		"id": id, "node_id": nodeID("CS_", id), "head_branch": branch, "head_sha": sha,
		"status": status, "conclusion": conclusion,
		"url":    fmt.Sprintf("%s/repos/%s/check-suites/%d", s.URL(), r.FullName(), id),
		"before": nil, "after": sha, "pull_requests": prs, "app": s.appJSON(),
		"created_at": now, "updated_at": now,
	}
}

func (s *Server) emitCheckSuite(r *repo, branch, sha string) {
	// GitHub announces check_suite "requested" to Apps with checks:write on
	// every push; the suite is the one check runs on sha will join.
	s.mu.Lock()
	id := s.suiteIDLocked(r, sha)
	cs := s.checkSuiteJSON(r, id, sha)
	cs["head_branch"] = branch
	cs["status"] = "queued"
	cs["latest_check_runs_count"] = 0
	cs["check_runs_url"] = fmt.Sprintf("%s/repos/%s/check-suites/%d/check-runs", s.URL(), r.FullName(), id)
	cs["head_commit"] = s.headCommitLocked(r, sha)
	cs["rerequestable"] = true
	cs["runs_rerequestable"] = true
	pl := map[string]any{"action": "requested", "check_suite": cs, "sender": s.userJSON(s.users[s.opts.AppSlug+"[bot]"])}
	s.mu.Unlock()
	s.deliver(r, "check_suite", pl)
}

// suiteIDLocked returns the App's check suite for sha, one per commit.
func (s *Server) suiteIDLocked(r *repo, sha string) int64 {
	for _, c := range r.CheckRuns {
		if c.HeadSHA == sha {
			return c.SuiteID
		}
	}
	if s.suites == nil {
		s.suites = map[string]int64{}
	}
	k := r.FullName() + "@" + sha
	if id, ok := s.suites[k]; ok {
		return id
	}
	id := s.id()
	s.suites[k] = id
	return id
}

func (s *Server) headCommitLocked(r *repo, sha string) map[string]any {
	now := ts(s.now())
	return map[string]any{
		"id": sha, "tree_id": sha, "message": "commit " + sha[:7], "timestamp": now,
		"author":    map[string]any{"name": r.Owner.Login, "email": r.Owner.Login + "@users.noreply.github.com"},
		"committer": map[string]any{"name": r.Owner.Login, "email": r.Owner.Login + "@users.noreply.github.com"},
	}
}

func (s *Server) emitPush(ctx context.Context, r *repo, ref, before, after string, pusher *user) {
	zero := strings.Repeat("0", 40)
	if before == "" {
		before = zero
	}
	var commits []any
	var head any
	if after != "" {
		rng := after
		if before != zero {
			rng = before + ".." + after
		}
		out, _ := s.git(ctx, r.GitDir, nil, nil, "log", "--reverse", "--max-count=20", "--format=%H%x1f%T%x1f%an%x1f%ae%x1f%cn%x1f%ce%x1f%cI%x1f%s", rng)
		for _, line := range strings.Split(out, "\n") {
			f := strings.Split(line, "\x1f")
			if len(f) != 8 {
				continue
			}
			files, _ := s.git(ctx, r.GitDir, nil, nil, "diff-tree", "--no-commit-id", "--name-status", "-r", "--root", f[0])
			added, removed, modified := []any{}, []any{}, []any{}
			for _, fl := range strings.Split(files, "\n") {
				st, p, ok := strings.Cut(fl, "\t")
				if !ok {
					continue
				}
				switch st {
				case "A":
					added = append(added, p)
				case "D":
					removed = append(removed, p)
				default:
					modified = append(modified, p)
				}
			}
			c := map[string]any{
				"id": f[0], "tree_id": f[1], "distinct": true, "message": f[7], "timestamp": f[6],
				"url":       fmt.Sprintf("%s/%s/commit/%s", s.URL(), r.FullName(), f[0]),
				"author":    map[string]any{"name": f[2], "email": f[3]},
				"committer": map[string]any{"name": f[4], "email": f[5]},
				"added":     added, "removed": removed, "modified": modified,
			}
			commits = append(commits, c)
			head = c
		}
	} else {
		after = zero
	}
	if commits == nil {
		commits = []any{}
	}
	s.mu.Lock()
	pl := map[string]any{
		"ref": ref, "before": before, "after": after,
		"created": before == zero, "deleted": after == zero, "forced": false, "base_ref": nil,
		"compare": fmt.Sprintf("%s/%s/compare/%s...%s", s.URL(), r.FullName(), before[:12], after[:12]),
		"commits": commits, "head_commit": head,
		"pusher": pusherJSON(pusher),
		"sender": s.userJSON(pusher),
	}
	s.mu.Unlock()
	s.deliver(r, "push", pl)
}

func (s *Server) emitDeployment(r *repo, d *deployment) {
	s.mu.Lock()
	pl := map[string]any{"action": "created", "deployment": s.deploymentJSON(r, d), "sender": s.userJSON(d.Creator), "workflow": nil, "workflow_run": nil}
	s.mu.Unlock()
	s.deliver(r, "deployment", pl)
}

func (s *Server) emitDeploymentStatus(r *repo, d *deployment, st *deploymentStatus) {
	s.mu.Lock()
	pl := map[string]any{
		"action": "created", "deployment_status": s.deploymentStatusJSON(r, d, st),
		"deployment": s.deploymentJSON(r, d), "sender": s.userJSON(st.Creator),
		"workflow": nil, "workflow_run": nil, "check_run": nil,
	}
	s.mu.Unlock()
	s.deliver(r, "deployment_status", pl)
}

// pusherJSON is the push payload's pusher; bots have no email.
func pusherJSON(u *user) map[string]any {
	if u.Type == "Bot" {
		return map[string]any{"name": u.Login, "email": nil}
	}
	return map[string]any{"name": u.Login, "email": fmt.Sprintf("%d+%s@users.noreply.github.com", u.ID, u.Login)}
}
