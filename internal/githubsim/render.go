package githubsim

import (
	"fmt"
	"strings"
	"time"
)

// Renderers turn the emulator's state into GitHub's JSON shapes. They are
// called with s.mu held and use the server's URL for every link, so clients
// that follow links stay on the emulator.

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func strOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) userJSON(u *user) map[string]any {
	if u == nil {
		return nil
	}
	base := s.URL() + "/users/" + u.Login
	return map[string]any{
		"login": u.Login, "id": u.ID, "node_id": nodeID("U_", u.ID),
		"avatar_url":          fmt.Sprintf("%s/avatars/u/%d?v=4", s.URL(), u.ID),
		"gravatar_id":         "",
		"url":                 base,
		"html_url":            s.URL() + "/" + u.Login,
		"followers_url":       base + "/followers",
		"following_url":       base + "/following{/other_user}",
		"gists_url":           base + "/gists{/gist_id}",
		"starred_url":         base + "/starred{/owner}{/repo}",
		"subscriptions_url":   base + "/subscriptions",
		"organizations_url":   base + "/orgs",
		"repos_url":           base + "/repos",
		"events_url":          base + "/events{/privacy}",
		"received_events_url": base + "/received_events",
		"type":                u.Type,
		"user_view_type":      "public",
		"site_admin":          false,
	}
}

// repoJSON renders a repository; full adds the fields of full-repository.
func (s *Server) repoJSON(r *repo, full bool) map[string]any {
	api := s.URL() + "/repos/" + r.FullName()
	html := s.URL() + "/" + r.FullName()
	vis := "public"
	if r.Private {
		vis = "private"
	}
	open := 0
	for _, p := range r.Pulls {
		if p.State == "open" {
			open++
		}
	}
	m := map[string]any{
		"id": r.ID, "node_id": nodeID("R_", r.ID), "name": r.Name, "full_name": r.FullName(),
		"owner": s.userJSON(r.Owner), "private": r.Private, "html_url": html,
		"description": nil, "fork": false, "url": api,
		"archive_url":       api + "/{archive_format}{/ref}",
		"assignees_url":     api + "/assignees{/user}",
		"blobs_url":         api + "/git/blobs{/sha}",
		"branches_url":      api + "/branches{/branch}",
		"collaborators_url": api + "/collaborators{/collaborator}",
		"comments_url":      api + "/comments{/number}",
		"commits_url":       api + "/commits{/sha}",
		"compare_url":       api + "/compare/{base}...{head}",
		"contents_url":      api + "/contents/{+path}",
		"contributors_url":  api + "/contributors",
		"deployments_url":   api + "/deployments",
		"downloads_url":     api + "/downloads",
		"events_url":        api + "/events",
		"forks_url":         api + "/forks",
		"git_commits_url":   api + "/git/commits{/sha}",
		"git_refs_url":      api + "/git/refs{/sha}",
		"git_tags_url":      api + "/git/tags{/sha}",
		"git_url":           strings.Replace(html, "http://", "git://", 1) + ".git",
		"issue_comment_url": api + "/issues/comments{/number}",
		"issue_events_url":  api + "/issues/events{/number}",
		"issues_url":        api + "/issues{/number}",
		"keys_url":          api + "/keys{/key_id}",
		"labels_url":        api + "/labels{/name}",
		"languages_url":     api + "/languages",
		"merges_url":        api + "/merges",
		"milestones_url":    api + "/milestones{/number}",
		"notifications_url": api + "/notifications{?since,all,participating}",
		"pulls_url":         api + "/pulls{/number}",
		"releases_url":      api + "/releases{/id}",
		"ssh_url":           "git@" + strings.TrimPrefix(s.URL(), "http://") + ":" + r.FullName() + ".git",
		"stargazers_url":    api + "/stargazers",
		"statuses_url":      api + "/statuses/{sha}",
		"subscribers_url":   api + "/subscribers",
		"subscription_url":  api + "/subscription",
		"tags_url":          api + "/tags",
		"teams_url":         api + "/teams",
		"trees_url":         api + "/git/trees{/sha}",
		"clone_url":         html + ".git",
		"mirror_url":        nil,
		"hooks_url":         api + "/hooks",
		"svn_url":           html,
		"homepage":          nil,
		"language":          nil,
		"forks_count":       0, "forks": 0,
		"stargazers_count": 0, "watchers_count": 0, "watchers": 0,
		"size":              0,
		"default_branch":    r.DefaultBranch,
		"open_issues_count": open, "open_issues": open,
		"is_template": false,
		"topics":      []any{},
		"has_issues":  true, "has_projects": false, "has_wiki": false, "has_pages": false,
		"has_downloads": true, "has_discussions": false,
		"archived": false, "disabled": false, "visibility": vis,
		"pushed_at": ts(r.Pushed), "created_at": ts(r.Created), "updated_at": ts(r.Pushed),
		"allow_forking": true, "web_commit_signoff_required": false,
		"license": nil,
	}
	if full {
		m["network_count"] = 0
		m["subscribers_count"] = 0
		m["allow_merge_commit"] = true
		m["allow_squash_merge"] = true
		m["allow_rebase_merge"] = true
		m["allow_auto_merge"] = false
		m["delete_branch_on_merge"] = false
		m["permissions"] = map[string]any{"admin": false, "maintain": false, "push": false, "triage": false, "pull": true}
		if r.Owner.Type == "Organization" {
			m["organization"] = s.userJSON(r.Owner)
		}
	}
	return m
}

func (s *Server) commitRefJSON(r *repo, sha string) map[string]any {
	return map[string]any{"sha": sha, "url": s.URL() + "/repos/" + r.FullName() + "/commits/" + sha}
}

func (s *Server) prJSON(r *repo, p *pull, full bool) map[string]any {
	api := s.URL() + "/repos/" + r.FullName()
	self := fmt.Sprintf("%s/pulls/%d", api, p.Number)
	html := fmt.Sprintf("%s/%s/pull/%d", s.URL(), r.FullName(), p.Number)
	issue := fmt.Sprintf("%s/issues/%d", api, p.Number)
	link := func(h string) map[string]any { return map[string]any{"href": h} }
	end := func(ref, sha string) map[string]any {
		return map[string]any{"label": r.Owner.Login + ":" + ref, "ref": ref, "sha": sha, "user": s.userJSON(r.Owner), "repo": s.repoJSON(r, false)}
	}
	var mergedBy any
	if p.MergedBy != nil {
		mergedBy = s.userJSON(p.MergedBy)
	}
	m := map[string]any{
		"url": self, "id": p.ID, "node_id": nodeID("PR_", p.ID), "html_url": html,
		"diff_url": html + ".diff", "patch_url": html + ".patch", "issue_url": issue,
		"commits_url": self + "/commits", "review_comments_url": self + "/comments",
		"review_comment_url": api + "/pulls/comments{/number}", "comments_url": issue + "/comments",
		"statuses_url": api + "/statuses/" + p.HeadSHA,
		"number":       p.Number, "state": p.State, "locked": false, "title": p.Title,
		"user": s.userJSON(p.User), "body": strOrNil(p.Body), "labels": s.labelsJSON(r, p), "milestone": nil,
		"active_lock_reason": nil, "created_at": ts(p.Created), "updated_at": ts(p.Updated),
		"closed_at": tsPtr(p.ClosedAt), "merged_at": tsPtr(p.MergedAt), "merge_commit_sha": strOrNil(p.MergeCommitSHA),
		"assignee": nil, "assignees": []any{}, "requested_reviewers": []any{}, "requested_teams": []any{},
		"head": end(p.Head, p.HeadSHA), "base": end(p.Base, p.BaseSHA),
		"_links": map[string]any{
			"self": link(self), "html": link(html), "issue": link(issue), "comments": link(issue + "/comments"),
			"review_comments": link(self + "/comments"), "review_comment": link(api + "/pulls/comments{/number}"),
			"commits": link(self + "/commits"), "statuses": link(api + "/statuses/" + p.HeadSHA),
		},
		"author_association": s.association(r, p.User), "auto_merge": nil, "draft": p.Draft,
	}
	if full {
		m["merged"] = p.Merged
		if p.State == "open" {
			m["mergeable"] = true
			m["mergeable_state"] = "clean"
			if p.Draft {
				m["mergeable_state"] = "draft"
			}
		} else {
			m["mergeable"] = nil
			m["mergeable_state"] = "unknown"
		}
		m["rebaseable"] = p.State == "open"
		m["merged_by"] = mergedBy
		m["comments"] = s.countComments(r, p.Number)
		m["review_comments"] = 0
		m["maintainer_can_modify"] = false
		m["commits"] = 1
		m["additions"], m["deletions"], m["changed_files"] = 0, 0, 0
	}
	return m
}

func (s *Server) countComments(r *repo, n int) int {
	c := 0
	for _, cm := range r.Comments {
		if cm.Issue == n {
			c++
		}
	}
	return c
}

// association is GitHub's author_association of u on r.
func (s *Server) association(r *repo, u *user) string {
	if u == nil {
		return "NONE"
	}
	if u.Login == r.Owner.Login {
		return "OWNER"
	}
	if _, ok := r.Collaborators[u.Login]; ok {
		return "COLLABORATOR"
	}
	if r.Owner.Type == "Organization" && s.orgMemberLocked(r.Owner.Login, u.Login) {
		return "MEMBER"
	}
	return "NONE"
}

func (s *Server) reviewJSON(r *repo, p *pull, rv *review) map[string]any {
	html := fmt.Sprintf("%s/%s/pull/%d#pullrequestreview-%d", s.URL(), r.FullName(), p.Number, rv.ID)
	prURL := fmt.Sprintf("%s/repos/%s/pulls/%d", s.URL(), r.FullName(), p.Number)
	m := map[string]any{
		"id": rv.ID, "node_id": nodeID("PRR_", rv.ID), "user": s.userJSON(rv.User), "body": rv.Body,
		"state": rv.State, "html_url": html, "pull_request_url": prURL,
		"_links":             map[string]any{"html": map[string]any{"href": html}, "pull_request": map[string]any{"href": prURL}},
		"commit_id":          rv.CommitID,
		"author_association": s.association(r, rv.User),
	}
	if rv.State != "PENDING" {
		m["submitted_at"] = ts(rv.Submitted)
	}
	return m
}

func (s *Server) reactionsRollup(r *repo, c *issueComment) map[string]any {
	counts := map[string]int{"+1": 0, "-1": 0, "laugh": 0, "confused": 0, "heart": 0, "hooray": 0, "eyes": 0, "rocket": 0}
	for _, re := range c.Reactions {
		counts[re.Content]++
	}
	m := map[string]any{"url": fmt.Sprintf("%s/repos/%s/issues/comments/%d/reactions", s.URL(), r.FullName(), c.ID), "total_count": len(c.Reactions)}
	for k, v := range counts {
		m[k] = v
	}
	return m
}

func (s *Server) commentJSON(r *repo, c *issueComment) map[string]any {
	api := s.URL() + "/repos/" + r.FullName()
	m := map[string]any{
		"id": c.ID, "node_id": nodeID("IC_", c.ID), "url": fmt.Sprintf("%s/issues/comments/%d", api, c.ID),
		"html_url":   fmt.Sprintf("%s/%s/pull/%d#issuecomment-%d", s.URL(), r.FullName(), c.Issue, c.ID),
		"body":       c.Body,
		"user":       s.userJSON(c.User),
		"created_at": ts(c.Created), "updated_at": ts(c.Updated),
		"issue_url":          fmt.Sprintf("%s/issues/%d", api, c.Issue),
		"author_association": s.association(r, c.User),
		"reactions":          s.reactionsRollup(r, c),
	}
	if c.ViaApp {
		m["performed_via_github_app"] = s.appJSON(s.hosted)
	} else {
		m["performed_via_github_app"] = nil
	}
	return m
}

func (s *Server) reactionJSON(re *reaction) map[string]any {
	return map[string]any{"id": re.ID, "node_id": nodeID("REA_", re.ID), "user": s.userJSON(re.User), "content": re.Content, "created_at": ts(re.Created)}
}

func (s *Server) checkRunJSON(r *repo, c *checkRun) map[string]any {
	api := fmt.Sprintf("%s/repos/%s/check-runs/%d", s.URL(), r.FullName(), c.ID)
	html := fmt.Sprintf("%s/%s/runs/%d", s.URL(), r.FullName(), c.ID)
	details := c.DetailsURL
	if details == "" {
		details = html
	}
	var prs []any
	for _, p := range r.Pulls {
		if p.State == "open" && p.HeadSHA == c.HeadSHA {
			prs = append(prs, s.prMinimalJSON(r, p))
		}
	}
	if prs == nil {
		prs = []any{}
	}
	return map[string]any{
		"id": c.ID, "node_id": nodeID("CR_", c.ID), "head_sha": c.HeadSHA, "external_id": c.ExternalID,
		"url": api, "html_url": html, "details_url": details, "status": c.Status,
		"conclusion": strOrNil(c.Conclusion), "started_at": ts(c.Started), "completed_at": tsPtr(c.Completed),
		"output": map[string]any{
			"title": strOrNil(c.Title), "summary": strOrNil(c.Summary), "text": strOrNil(c.Text),
			"annotations_count": len(c.Annotations), "annotations_url": api + "/annotations",
		},
		"name": c.Name, "check_suite": map[string]any{"id": c.SuiteID}, "app": s.appJSON(c.App),
		"pull_requests": prs,
	}
}

func (s *Server) prMinimalJSON(r *repo, p *pull) map[string]any {
	rr := map[string]any{"id": r.ID, "url": s.URL() + "/repos/" + r.FullName(), "name": r.Name}
	return map[string]any{
		"id": p.ID, "number": p.Number, "url": fmt.Sprintf("%s/repos/%s/pulls/%d", s.URL(), r.FullName(), p.Number),
		"head": map[string]any{"ref": p.Head, "sha": p.HeadSHA, "repo": rr},
		"base": map[string]any{"ref": p.Base, "sha": p.BaseSHA, "repo": rr},
	}
}

func (s *Server) deploymentJSON(r *repo, d *deployment) map[string]any {
	api := fmt.Sprintf("%s/repos/%s/deployments/%d", s.URL(), r.FullName(), d.ID)
	payload := d.Payload
	if payload == nil {
		payload = map[string]any{}
	}
	m := map[string]any{
		"url": api, "id": d.ID, "node_id": nodeID("DE_", d.ID), "sha": d.SHA, "ref": d.Ref, "task": d.Task,
		"payload": payload, "original_environment": d.Environment, "environment": d.Environment,
		"description": strOrNil(d.Description), "creator": s.userJSON(d.Creator),
		"created_at": ts(d.Created), "updated_at": ts(d.Updated),
		"statuses_url": api + "/statuses", "repository_url": s.URL() + "/repos/" + r.FullName(),
		"transient_environment": d.Transient, "production_environment": d.Production,
	}
	if d.ViaApp {
		m["performed_via_github_app"] = s.appJSON(s.hosted)
	} else {
		m["performed_via_github_app"] = nil
	}
	return m
}

func (s *Server) deploymentStatusJSON(r *repo, d *deployment, st *deploymentStatus) map[string]any {
	dep := fmt.Sprintf("%s/repos/%s/deployments/%d", s.URL(), r.FullName(), d.ID)
	m := map[string]any{
		"url": fmt.Sprintf("%s/statuses/%d", dep, st.ID), "id": st.ID, "node_id": nodeID("DES_", st.ID),
		"state": st.State, "creator": s.userJSON(st.Creator), "description": st.Description,
		"environment": st.Environment, "target_url": st.LogURL, "log_url": st.LogURL,
		"environment_url": st.EnvironmentURL,
		"created_at":      ts(st.Created), "updated_at": ts(st.Created),
		"deployment_url": dep, "repository_url": s.URL() + "/repos/" + r.FullName(),
	}
	if st.ViaApp {
		m["performed_via_github_app"] = s.appJSON(s.hosted)
	} else {
		m["performed_via_github_app"] = nil
	}
	return m
}
