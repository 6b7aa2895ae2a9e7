package githubsim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// fixture is an emulator with one installed org, one repo and an App client.
type fixture struct {
	sim  *githubsim.Server
	inst int64
	itr  *ghinstallation.Transport
	gh   *github.Client // installation client
	app  *github.Client // App (JWT) client
	repo string
	base string // initial commit
}

const (
	org  = "kailua"
	name = "config"
)

func newFixture(t *testing.T, opts githubsim.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	sim := githubsim.New(t, opts)
	f := &fixture{sim: sim, repo: org + "/" + name}
	f.inst = sim.Install(org)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "environments", "production"), 0o755)
	os.WriteFile(filepath.Join(dir, "environments", "production", "metadata.yaml"), []byte("catalog: {}\n"), 0o644)
	base, err := sim.CreateRepo(ctx, f.repo, "main", dir)
	if err != nil {
		t.Fatal(err)
	}
	f.base = base
	atr := ghinstallation.NewAppsTransportFromPrivateKey(http.DefaultTransport, sim.AppID(), sim.AppKey())
	atr.BaseURL = sim.URL()
	f.itr = ghinstallation.NewFromAppsTransport(atr, f.inst)
	f.itr.BaseURL = sim.URL()
	f.gh = mustClient(t, &http.Client{Transport: f.itr}, sim)
	f.app = mustClient(t, &http.Client{Transport: atr}, sim)
	return f
}

func mustClient(t *testing.T, hc *http.Client, sim *githubsim.Server) *github.Client {
	t.Helper()
	c, err := github.NewClient(hc).WithEnterpriseURLs(sim.APIURL(), sim.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	// WithEnterpriseURLs appends /api/v3/; the emulator serves both.
	return c
}

func TestAppAuthAndRepo(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	app, _, err := f.app.Apps.Get(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if app.GetID() != f.sim.AppID() {
		t.Errorf("app id = %d, want %d", app.GetID(), f.sim.AppID())
	}
	inst, _, err := f.app.Apps.FindRepositoryInstallation(ctx, org, name)
	if err != nil {
		t.Fatal(err)
	}
	if inst.GetID() != f.inst {
		t.Errorf("installation = %d, want %d", inst.GetID(), f.inst)
	}
	r, _, err := f.gh.Repositories.Get(ctx, org, name)
	if err != nil {
		t.Fatal(err)
	}
	if r.GetDefaultBranch() != "main" || r.GetFullName() != f.repo {
		t.Errorf("repo = %s (%s)", r.GetFullName(), r.GetDefaultBranch())
	}
	br, _, err := f.gh.Repositories.GetBranch(ctx, org, name, "main", 0)
	if err != nil {
		t.Fatal(err)
	}
	if br.GetCommit().GetSHA() != f.base {
		t.Errorf("main = %s, want %s", br.GetCommit().GetSHA(), f.base)
	}
	if _, _, err := f.gh.Repositories.ListBranches(ctx, org, name, nil); err != nil {
		t.Fatal(err)
	}
	c, _, err := f.gh.Repositories.GetCommit(ctx, org, name, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.GetSHA() != f.base {
		t.Errorf("commit = %s", c.GetSHA())
	}
	fc, _, _, err := f.gh.Repositories.GetContents(ctx, org, name, "environments/production/metadata.yaml", &github.RepositoryContentGetOptions{Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := fc.GetContent(); got != "catalog: {}\n" {
		t.Errorf("contents = %q", got)
	}
	if _, resp, _ := f.gh.Repositories.ListByOrg(ctx, "nobody", nil); resp == nil || resp.StatusCode == 200 {
		t.Errorf("unimplemented route answered %v", resp)
	}
	irs, _, err := f.gh.Apps.ListRepos(ctx, nil)
	if err != nil || irs.GetTotalCount() != 1 {
		t.Fatalf("installation repos: %v %+v", err, irs)
	}
	// A token cannot see another account's repositories.
	f.sim.CreateRepo(ctx, "other/repo", "main", "")
	if _, resp, err := f.gh.Repositories.Get(ctx, "other", "repo"); err == nil || resp.StatusCode != 404 {
		t.Errorf("other org's repo: %v", err)
	}
}

func TestPullRequestFlow(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	sim := f.sim
	head, err := sim.Push(ctx, f.repo, "add-bike-lanes", "alice", "Add bike lanes",
		githubsim.FileChange{Path: "environments/production/layers/bike-lanes.yaml", Content: []byte("id: bike-lanes\n")},
		githubsim.FileChange{Path: "environments/production/metadata.yaml", Content: []byte("catalog: {title: x}\n")})
	if err != nil {
		t.Fatal(err)
	}
	n, err := sim.OpenPR(ctx, f.repo, "add-bike-lanes", "", "alice", "Add bike lanes", "Adds a layer")
	if err != nil {
		t.Fatal(err)
	}
	pr, _, err := f.gh.PullRequests.Get(ctx, org, name, n)
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetHead().GetSHA() != head || pr.GetBase().GetRef() != "main" || pr.GetChangedFiles() != 2 {
		t.Errorf("pr head=%s base=%s changed=%d", pr.GetHead().GetSHA(), pr.GetBase().GetRef(), pr.GetChangedFiles())
	}
	prs, _, err := f.gh.PullRequests.List(ctx, org, name, &github.PullRequestListOptions{State: "open"})
	if err != nil || len(prs) != 1 {
		t.Fatalf("list: %v %d", err, len(prs))
	}
	files, _, err := f.gh.PullRequests.ListFiles(ctx, org, name, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fl := range files {
		got = append(got, fl.GetStatus()+" "+fl.GetFilename())
	}
	want := "added environments/production/layers/bike-lanes.yaml,modified environments/production/metadata.yaml"
	if strings.Join(got, ",") != want {
		t.Errorf("files = %v", got)
	}

	// People review and comment; the App answers.
	sim.SetCollaborator(f.repo, "bob", githubsim.PermWrite)
	if _, err := sim.Review(f.repo, n, "bob", "APPROVE", ""); err != nil {
		t.Fatal(err)
	}
	revs, _, err := f.gh.PullRequests.ListReviews(ctx, org, name, n, nil)
	if err != nil || len(revs) != 1 || revs[0].GetState() != "APPROVED" || revs[0].GetCommitID() != head {
		t.Fatalf("reviews: %v %+v", err, revs)
	}
	if _, _, err := f.gh.PullRequests.CreateReview(ctx, org, name, n, &github.PullRequestReviewRequest{Body: github.String("plan ok"), Event: github.String("COMMENT")}); err != nil {
		t.Fatal(err)
	}
	cid, _ := sim.Comment(f.repo, n, "bob", "/approve production")
	if _, _, err := f.gh.Reactions.CreateIssueCommentReaction(ctx, org, name, cid, "+1"); err != nil {
		t.Fatal(err)
	}
	if got := sim.Reactions(f.repo, cid); len(got) != 1 || got[0] != "+1" {
		t.Errorf("reactions = %v", got)
	}
	if _, _, err := f.gh.Reactions.ListIssueCommentReactions(ctx, org, name, cid, nil); err != nil {
		t.Fatal(err)
	}
	c, _, err := f.gh.Issues.CreateComment(ctx, org, name, n, &github.IssueComment{Body: github.String("Approved by @bob")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.gh.Issues.EditComment(ctx, org, name, c.GetID(), &github.IssueComment{Body: github.String("Approved by @bob (edited)")}); err != nil {
		t.Fatal(err)
	}
	cs, _, err := f.gh.Issues.ListComments(ctx, org, name, n, nil)
	if err != nil || len(cs) != 2 {
		t.Fatalf("comments: %v %d", err, len(cs))
	}
	perm, _, err := f.gh.Repositories.GetPermissionLevel(ctx, org, name, "bob")
	if err != nil || perm.GetPermission() != "write" {
		t.Fatalf("permission: %v %v", err, perm.GetPermission())
	}
	sim.SetTeam(org, "gis-admins", "carol")
	m, _, err := f.gh.Teams.GetTeamMembershipBySlug(ctx, org, "gis-admins", "carol")
	if err != nil || m.GetState() != "active" {
		t.Fatalf("membership: %v", err)
	}
	if _, resp, err := f.gh.Teams.GetTeamMembershipBySlug(ctx, org, "gis-admins", "bob"); err == nil || resp.StatusCode != 404 {
		t.Errorf("non-member: %v", err)
	}

	merge, err := sim.MergePR(ctx, f.repo, n, "bob")
	if err != nil {
		t.Fatal(err)
	}
	pr, _, _ = f.gh.PullRequests.Get(ctx, org, name, n)
	if !pr.GetMerged() || pr.GetMergeCommitSHA() != merge {
		t.Errorf("merged=%v sha=%s want %s", pr.GetMerged(), pr.GetMergeCommitSHA(), merge)
	}
}

func TestCheckRunsAndDeployments(t *testing.T) {
	f := newFixture(t, githubsim.Options{})
	ctx := context.Background()
	sha := f.base
	run, _, err := f.gh.Checks.CreateCheckRun(ctx, org, name, github.CreateCheckRunOptions{
		Name: "honua/plan", HeadSHA: sha, Status: github.String("in_progress"), ExternalID: github.String("plan:1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Deploying while a check is pending: 409 unless required_contexts is [].
	_, resp, err := f.gh.Repositories.CreateDeployment(ctx, org, name, &github.DeploymentRequest{Ref: github.String(sha), AutoMerge: github.Bool(false), Environment: github.String("staging")})
	if resp == nil || resp.StatusCode != 409 {
		t.Fatalf("deploy with pending check: %v", err)
	}
	ann := func(n int) []*github.CheckRunAnnotation {
		var out []*github.CheckRunAnnotation
		for i := 0; i < n; i++ {
			out = append(out, &github.CheckRunAnnotation{Path: github.String("environments/production/metadata.yaml"), StartLine: github.Int(1), EndLine: github.Int(1), AnnotationLevel: github.String("warning"), Message: github.String("m")})
		}
		return out
	}
	_, _, err = f.gh.Checks.UpdateCheckRun(ctx, org, name, run.GetID(), github.UpdateCheckRunOptions{
		Name: "honua/plan", Output: &github.CheckRunOutput{Title: github.String("Plan"), Summary: github.String("s"), Annotations: ann(50)},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = f.gh.Checks.UpdateCheckRun(ctx, org, name, run.GetID(), github.UpdateCheckRunOptions{
		Name: "honua/plan", Conclusion: github.String("success"),
		Output:  &github.CheckRunOutput{Title: github.String("Plan"), Summary: github.String("s"), Annotations: ann(3)},
		Actions: []*github.CheckRunAction{{Label: "Approve", Description: "Approve production", Identifier: "approve:production"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	anns, _, err := f.gh.Checks.ListCheckRunAnnotations(ctx, org, name, run.GetID(), &github.ListOptions{PerPage: 100})
	if err != nil || len(anns) != 53 {
		t.Fatalf("annotations: %v %d", err, len(anns))
	}
	list, _, err := f.gh.Checks.ListCheckRunsForRef(ctx, org, name, sha, &github.ListCheckRunsOptions{CheckName: github.String("honua/plan"), AppID: github.Int64(f.sim.AppID())})
	if err != nil || list.GetTotal() != 1 || list.CheckRuns[0].GetConclusion() != "success" {
		t.Fatalf("list for ref: %v %+v", err, list)
	}
	if _, _, err := f.gh.Checks.GetCheckRun(ctx, org, name, run.GetID()); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.ClickCheckRunAction(f.repo, run.GetID(), "approve:production", "bob"); err != nil {
		t.Fatal(err)
	}

	// Checks green: a deployment is created (201).
	d, resp, err := f.gh.Repositories.CreateDeployment(ctx, org, name, &github.DeploymentRequest{
		Ref: github.String(sha), Task: github.String("deploy"), AutoMerge: github.Bool(false), RequiredContexts: &[]string{},
		Environment: github.String("staging"), Payload: map[string]any{"sha": sha}, Description: github.String("Deploy"),
	})
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("deploy: %v", err)
	}
	if _, _, err := f.gh.Repositories.GetDeployment(ctx, org, name, d.GetID()); err != nil {
		t.Fatal(err)
	}
	ds, _, err := f.gh.Repositories.ListDeployments(ctx, org, name, &github.DeploymentsListOptions{SHA: sha, Environment: "staging"})
	if err != nil || len(ds) != 1 {
		t.Fatalf("list deployments: %v %d", err, len(ds))
	}
	for _, st := range []string{"queued", "in_progress", "success"} {
		if _, _, err := f.gh.Repositories.CreateDeploymentStatus(ctx, org, name, d.GetID(), &github.DeploymentStatusRequest{
			State: github.String(st), Description: github.String("step " + st), EnvironmentURL: github.String("https://honua.example/staging"), LogURL: github.String("https://honua.example/log"),
		}); err != nil {
			t.Fatal(err)
		}
	}
	_, resp, err = f.gh.Repositories.CreateDeploymentStatus(ctx, org, name, d.GetID(), &github.DeploymentStatusRequest{State: github.String("failure"), Description: github.String(strings.Repeat("x", 141))})
	if resp == nil || resp.StatusCode != 422 {
		t.Errorf("long description: %v", err)
	}
	sts, _, err := f.gh.Repositories.ListDeploymentStatuses(ctx, org, name, d.GetID(), nil)
	if err != nil || len(sts) != 3 {
		t.Fatalf("statuses: %v %d", err, len(sts))
	}
	if _, _, err := f.gh.Repositories.GetDeploymentStatus(ctx, org, name, d.GetID(), sts[0].GetID()); err != nil {
		t.Fatal(err)
	}

	// Environments.
	f.sim.SetTeam(org, "gis-admins", "carol")
	if err := f.sim.SetEnvironment(f.repo, githubsim.Environment{
		Name: "production", WaitTimer: 5, PreventSelfReview: true,
		Reviewers:    []githubsim.Reviewer{{Type: "User", Name: "bob"}, {Type: "Team", Name: org + "/gis-admins"}},
		BranchPolicy: &githubsim.BranchPolicy{ProtectedBranches: false, CustomBranchPolicies: true},
	}); err != nil {
		t.Fatal(err)
	}
	env, _, err := f.gh.Repositories.GetEnvironment(ctx, org, name, "production")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(env.ProtectionRules)
	for _, want := range []string{`"wait_timer":5`, `"prevent_self_review":true`, `"login":"bob"`, `"slug":"gis-admins"`, `"branch_policy"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("protection rules lack %s: %s", want, b)
		}
	}
	if _, resp, err := f.gh.Repositories.GetEnvironment(ctx, org, name, "nowhere"); err == nil || resp.StatusCode != 404 {
		t.Errorf("unknown environment: %v", err)
	}
}

func TestGitSmartHTTP(t *testing.T) {
	// Pushing needs contents:write, which app.yml does not grant: this
	// emulator's App is granted it for the test.
	perms := githubsim.DefaultPermissions()
	perms["contents"] = "write"
	f := newFixture(t, githubsim.Options{Permissions: perms})
	ctx := context.Background()
	tok, err := f.itr.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	auth := &githttp.BasicAuth{Username: "x-access-token", Password: tok}
	// go-git, in memory.
	r, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{URL: f.sim.CloneURL(f.repo), Auth: auth, Depth: 1})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := r.Head()
	if h.Hash().String() != f.base {
		t.Errorf("go-git head = %s, want %s", h.Hash(), f.base)
	}
	// A new commit, then fetching it by exact SHA.
	sha, _ := f.sim.Push(ctx, f.repo, "main", "alice", "more", githubsim.FileChange{Path: "a.txt", Content: []byte("a")})
	if err := r.FetchContext(ctx, &git.FetchOptions{Auth: auth, RefSpecs: []config.RefSpec{config.RefSpec(sha + ":refs/heads/pinned")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reference(plumbing.NewBranchReferenceName("pinned"), true); err != nil {
		t.Fatal(err)
	}
	// Bad credentials: 401.
	_, err = git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{URL: f.sim.CloneURL(f.repo), Auth: &githttp.BasicAuth{Username: "x-access-token", Password: "nope"}})
	if err == nil {
		t.Error("clone with a bad token succeeded")
	}
	// The git CLI: clone and push (a push announces itself).
	dir := t.TempDir()
	u := strings.Replace(f.sim.CloneURL(f.repo), "http://", "http://x-access-token:"+tok+"@", 1)
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@x", "GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@x")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("clone", "-q", u, "w")
	dir = filepath.Join(dir, "w")
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("b"), 0o644)
	run("add", "b.txt")
	run("commit", "-q", "-m", "b")
	run("push", "-q", "origin", "HEAD:refs/heads/feature")
	// A token with contents:read fetches but cannot push (403).
	readTok, _, err := f.sim.IssueScopedToken(f.inst, githubsim.TokenScope{Permissions: map[string]string{"contents": "read"}})
	if err != nil {
		t.Fatal(err)
	}
	ro := strings.Replace(f.sim.CloneURL(f.repo), "http://", "http://x-access-token:"+readTok+"@", 1)
	run("fetch", "-q", ro)
	push := exec.Command("git", "push", "-q", ro, "HEAD:refs/heads/other")
	push.Dir = dir
	push.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	if out, err := push.CombinedOutput(); err == nil || !strings.Contains(string(out), "403") {
		t.Errorf("push with contents:read: %v\n%s", err, out)
	}
	f.sim.FlushWebhooks(ctx)
	found := false
	for _, d := range f.sim.DeliveriesOf("push", "") {
		if strings.Contains(string(d.Body), `"ref":"refs/heads/feature"`) {
			found = true
		}
	}
	if !found {
		t.Error("no push webhook for the pushed branch")
	}
}

var _ = time.Second
