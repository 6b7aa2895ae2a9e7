package githubsim

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
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
	// Duplicate marks a second copy of a delivery (same ID), as
	// DeliveryMode.Duplicate sends them.
	Duplicate bool
	At        time.Time
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
		if d.ID == id && !d.Redelivery && !d.Duplicate {
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

// deliver signs and queues one event for the App, when the App subscribes
// to it.
func (s *Server) deliver(r *repo, event string, payload map[string]any) {
	if !s.subscribed(event) {
		return
	}
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

func (s *Server) issueJSON(r *repo, p *pull) map[string]any {
	api := s.URL() + "/repos/" + r.FullName()
	issue := fmt.Sprintf("%s/issues/%d", api, p.Number)
	html := fmt.Sprintf("%s/%s/pull/%d", s.URL(), r.FullName(), p.Number)
	return map[string]any{
		"url": issue, "repository_url": api, "labels_url": issue + "/labels{/name}",
		"comments_url": issue + "/comments", "events_url": issue + "/events", "html_url": html,
		"id": p.ID + 1, "node_id": nodeID("I_", p.ID), "number": p.Number, "title": p.Title,
		"user": s.userJSON(p.User), "labels": s.labelsJSON(r, p), "state": p.State, "locked": false,
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

// emitCheckRun announces a check run event. An App subscribed to check_run
// hears about every App's runs being created and completed; requested_action
// and rerequested reach only the run's own App.
func (s *Server) emitCheckRun(r *repo, c *checkRun, action string, sender *user, extra map[string]any) {
	if (action == "requested_action" || action == "rerequested") && !c.App.hosted {
		return
	}
	s.mu.Lock()
	cr := s.checkRunJSON(r, c)
	if cs := s.suiteByIDLocked(r, c.SuiteID); cs != nil {
		cr["check_suite"] = s.simpleSuiteJSON(r, cs)
	}
	pl := map[string]any{"action": action, "check_run": cr, "sender": s.userJSON(sender)}
	s.mu.Unlock()
	for k, v := range extra {
		pl[k] = v
	}
	s.deliver(r, "check_run", pl)
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
