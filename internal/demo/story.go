package demo

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/honua-io/honua-gitops/app"
	"github.com/honua-io/honua-gitops/internal/githubsim"
	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/samples"
)

// The bad follow-up change: a layer Honua accepts on reload but then does
// not serve (its collection answers 404: the stand-in's FailCollection).
const (
	badLayerPath = "environments/development/layers/bike-parking.yaml"
	badLayer     = `id: bike-parking
serviceId: transportation
title: Bike parking
geometryType: Point
idField: objectid
geometryField: geom
storage:
  table: transportation.bike_parking
  srid: 4326
`
	badCollection = "transportation::bike-parking"
)

func (d *demo) story() error {
	p := d.printf
	p("honua-gitops demo: a GitHub emulator, the GitHub App, and a Honua stand-in with a runner\n")
	p("per environment, all on this machine (loopback). The clock is real: %s.\n", d.started.In(hst()).Format("Mon 2006-01-02 15:04 MST"))

	// 1. The repository, the people, the environments.
	d.section("The Kailua GIS config repository is created on GitHub")
	if err := d.setup(); err != nil {
		return err
	}
	p("  %s (from samples/config), App installed on kailua-gis\n", Repo)
	p("  teams: gis-engineers (ana, bob), gis-leads (kai), platform (mkalani); lkeawe writes; reader reads\n")
	p("  GitHub environments: development (open), staging (reviewers: gis-engineers, gis-leads),\n")
	p("    production (reviewers: gis-leads, lkeawe; no self-review)\n")
	p("  runners: one per environment, each beside its own Honua stand-in\n")

	// 2. The pull request.
	d.section("ana opens PR #1 \"Add bike lanes\" (samples/config-next)")
	changes, err := sampleChanges()
	if err != nil {
		return err
	}
	for _, c := range changes {
		p("  changes %s\n", c.Path)
	}
	if _, err := d.sim.Push(d.ctx, Repo, "bike-lanes", "ana", "Add bike lanes", changes...); err != nil {
		return err
	}
	pr1, err := d.sim.OpenPR(d.ctx, Repo, "bike-lanes", "", "ana", "Add bike lanes", "From the Oʻahu Bike Plan.")
	if err != nil {
		return err
	}
	if err := d.flush(); err != nil {
		return err
	}
	head1 := d.head(pr1)
	d.showRuns(head1, "honua/plan", "honua/policy")

	// 3. Merge and deploy.
	d.section("bob merges PR #1")
	good, err := d.sim.MergePR(d.ctx, Repo, pr1, "bob")
	if err != nil {
		return err
	}
	if err := d.flush(); err != nil {
		return err
	}
	p("  merge commit %s; the App creates a deployment per environment:\n", short(good))
	d.showDeployments(good, Environments...)
	d.showNotifications()

	d.section("The development runner polls GitHub and deploys")
	if err := d.settle(); err != nil {
		return err
	}
	d.showDeployments(good, "development")
	d.showCollection("development", "transportation::bike-lanes")
	d.showLastComment(pr1)

	d.section("ana clicks Approve on \"honua/deploy (staging)\"")
	if err := d.click(good, "staging", "approve", "ana"); err != nil {
		return err
	}
	d.showDeployments(good, "staging")
	d.showLastComment(pr1)
	if err := d.settle(); err != nil {
		return err
	}
	p("  the staging runner polls:\n")
	d.showDeployments(good, "staging")
	d.showCollection("staging", "transportation::bike-lanes")

	if d.o.Approvals == policy.ApprovalsGitHubEnvironment {
		if err := d.reviewInGitHub(good, pr1); err != nil {
			return err
		}
	} else {
		d.section("lkeawe clicks Approve on \"honua/deploy (production)\"")
		if err := d.click(good, "production", "approve", "lkeawe"); err != nil {
			return err
		}
	}
	if err := d.settle(); err != nil {
		return err
	}
	d.showDeployments(good, "production")
	d.showLastComment(pr1)
	p("  %s\n", productionNote(d.state(good, "production")))

	// 4. A bad change, rolled back by the runner.
	d.section("ana opens PR #2 \"Add bike parking\" to development")
	if _, err := d.sim.Push(d.ctx, Repo, "bike-parking", "ana", "Add bike parking",
		githubsim.FileChange{Path: badLayerPath, Content: []byte(badLayer)}); err != nil {
		return err
	}
	pr2, err := d.sim.OpenPR(d.ctx, Repo, "bike-parking", "", "ana", "Add bike parking", "")
	if err != nil {
		return err
	}
	if err := d.flush(); err != nil {
		return err
	}
	d.showRuns(d.head(pr2), "honua/plan", "honua/policy")
	p("  (the demo makes development's Honua answer 404 for %s: the table is not there)\n", badCollection)
	d.honua["development"].FailCollection(badCollection, -1)
	before, err := os.ReadFile(d.live["development"])
	if err != nil {
		return err
	}
	d.section("bob merges PR #2; the development runner applies it")
	bad, err := d.sim.MergePR(d.ctx, Repo, pr2, "bob")
	if err != nil {
		return err
	}
	if err := d.settle(); err != nil {
		return err
	}
	d.honua["development"].FailCollection(badCollection, 0)
	d.showDeployments(bad, "development")
	after, err := os.ReadFile(d.live["development"])
	if err != nil {
		return err
	}
	if bytes.Equal(before, after) {
		p("  live document of development: byte-identical to before the deployment (%d bytes): rolled back\n", len(after))
	} else {
		p("  live document of development: CHANGED (%d bytes before, %d after)\n", len(before), len(after))
	}
	d.showCollection("development", badCollection)
	d.showCollection("development", "transportation::bike-lanes")
	d.showLastComment(pr2)
	d.showNotifications()

	// 5. A good follow-up, then /rollback.
	d.section("ana opens PR #3 \"Bike lanes: pilot title\" (development only); bob merges it")
	pilot, err := pilotTitle()
	if err != nil {
		return err
	}
	if _, err := d.sim.Push(d.ctx, Repo, "bike-lanes-pilot", "ana", "Bike lanes: pilot title",
		githubsim.FileChange{Path: pilotPath, Content: pilot}); err != nil {
		return err
	}
	pr3, err := d.sim.OpenPR(d.ctx, Repo, "bike-lanes-pilot", "", "ana", "Bike lanes: pilot title", "")
	if err != nil {
		return err
	}
	if err := d.flush(); err != nil {
		return err
	}
	d.showRuns(d.head(pr3), "honua/plan")
	third, err := d.sim.MergePR(d.ctx, Repo, pr3, "bob")
	if err != nil {
		return err
	}
	if err := d.settle(); err != nil {
		return err
	}
	d.showDeployments(third, "development")
	d.showCollection("development", "transportation::bike-lanes")

	d.section("bob comments \"/rollback development\" on PR #3")
	p("  (/rollback deploys again the last commit that deployed successfully before the PR:\n")
	p("   PR #2's failed, so PR #1's merge %s)\n", short(good))
	if _, err := d.sim.Comment(Repo, pr3, "bob", "/rollback development"); err != nil {
		return err
	}
	if err := d.flush(); err != nil {
		return err
	}
	d.showLastComment(pr3)
	rb, ok := d.rollbackOf(good)
	if !ok {
		return fmt.Errorf("no deploy:rollback deployment of %s", short(good))
	}
	p("  deployment %d (task %s) of %s to development: %s\n", rb.ID, rb.Task, short(rb.SHA), last(rb))
	if err := d.settle(); err != nil {
		return err
	}
	rb, _ = d.rollbackOf(good)
	p("  the development runner polls: %s to development → %s\n", rb.Task, last(rb))
	d.showCollection("development", "transportation::bike-lanes")
	d.showLastComment(pr3)

	// Summary.
	d.section("Summary")
	for _, env := range Environments {
		p("  PR #1 → %-12s %s\n", env, d.outcome(good, env))
	}
	p("  PR #2 → %-12s %s\n", "development", d.outcome(bad, "development"))
	p("  PR #3 → %-12s %s\n", "development", d.outcome(third, "development"))
	p("  /rollback on PR #3 → development %s (%s again)\n", last(rb), short(good))
	p("  %d webhooks delivered to the App; finished in %s\n", len(d.sim.Deliveries()), time.Since(d.started).Round(100*time.Millisecond))
	return nil
}

// PR #3 overrides common's bike-lanes layer in development only, with
// another title.
const pilotPath = "environments/development/layers/bike-lanes.yaml"

func pilotTitle() ([]byte, error) {
	fsys, err := samples.FS("config-next")
	if err != nil {
		return nil, err
	}
	b, err := fs.ReadFile(fsys, "environments/common/layers/bike-lanes.yaml")
	if err != nil {
		return nil, err
	}
	return bytes.Replace(b, []byte("title: Bike Lanes and Paths"), []byte("title: Bike Lanes (pilot)"), 1), nil
}

func (d *demo) section(title string) {
	d.step++
	d.printf("\n[%s] %d. %s\n", time.Since(d.started).Round(10*time.Millisecond), d.step, title)
}

func (d *demo) head(n int) string {
	pr, _ := d.sim.PullRequest(Repo, n)
	return pr.HeadSHA
}

// run is the latest run named name on sha.
func (d *demo) run(sha, name string) (githubsim.CheckRun, bool) {
	var out githubsim.CheckRun
	found := false
	for _, r := range d.sim.CheckRuns(Repo, sha) {
		if r.Name == name && (!found || r.ID > out.ID) {
			out, found = r, true
		}
	}
	return out, found
}

func (d *demo) showRuns(sha string, names ...string) {
	for _, name := range names {
		r, ok := d.run(sha, name)
		if !ok {
			d.printf("  check %s: (none)\n", name)
			continue
		}
		d.printf("  check %s: %s — %s\n", name, orStatus(r), r.Title)
		for _, l := range trimLines(r.Summary, 8) {
			d.printf("      │ %s\n", l)
		}
	}
}

func orStatus(r githubsim.CheckRun) string {
	if r.Conclusion != "" {
		return r.Conclusion
	}
	return r.Status
}

// deployments are the App's deployments of sha to env (not the ones
// GitHub makes for the gate workflow's job).
func (d *demo) deployments(sha, env string) []githubsim.Deployment {
	var out []githubsim.Deployment
	for _, dep := range d.sim.Deployments(Repo) {
		if dep.SHA == sha && dep.Environment == env && dep.Creator == d.sim.BotLogin() {
			out = append(out, dep)
		}
	}
	return out
}

// state is the latest status of the first deployment of sha to env.
func (d *demo) state(sha, env string) (string, string) {
	ds := d.deployments(sha, env)
	if len(ds) == 0 || len(ds[0].States) == 0 {
		return "none", ""
	}
	return ds[0].States[len(ds[0].States)-1], ds[0].Descriptions[len(ds[0].Descriptions)-1]
}

func (d *demo) rollbackOf(sha string) (githubsim.Deployment, bool) {
	for _, dep := range d.deployments(sha, "development") {
		if dep.Task == "deploy:rollback" {
			return dep, true
		}
	}
	return githubsim.Deployment{}, false
}

func last(dep githubsim.Deployment) string {
	if len(dep.States) == 0 {
		return "(no status)"
	}
	return dep.States[len(dep.States)-1] + suffix(dep.Descriptions[len(dep.Descriptions)-1])
}

// outcome is a deployment's result: its last state, and for one a later
// deployment made inactive, what it was before.
func (d *demo) outcome(sha, env string) string {
	ds := d.deployments(sha, env)
	if len(ds) == 0 || len(ds[0].States) == 0 {
		return "none"
	}
	dep := ds[0]
	n := len(dep.States)
	if dep.States[n-1] == "inactive" {
		for i := n - 1; i >= 0; i-- {
			if dep.States[i] == "success" {
				return "success: " + dep.Descriptions[i] + " (now inactive: a later deployment replaced it)"
			}
		}
	}
	return cutLine(last(dep), 130)
}

func cutLine(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func suffix(desc string) string {
	if desc == "" {
		return ""
	}
	return ": " + desc
}

func (d *demo) showDeployments(sha string, envs ...string) {
	for _, env := range envs {
		st, desc := d.state(sha, env)
		d.printf("  deployment %-12s %s\n", env, cutLine(st+suffix(desc), 120))
		if r, ok := d.run(sha, "honua/deploy ("+env+")"); ok {
			d.printf("      check honua/deploy (%s): %s\n", env, cutLine(orStatus(r)+" — "+r.Title, 110))
		}
	}
}

func (d *demo) showCollection(env, id string) {
	url := d.honua[env].URL() + "/ogc/collections/" + id
	code, body, err := getJSON(d.ctx, url)
	switch {
	case err != nil:
		d.printf("  GET %s (Honua %s): %v\n", "/ogc/collections/"+id, env, err)
	case code == 200:
		d.printf("  GET /ogc/collections/%s on %s's Honua: 200 %q\n", id, env, body["title"])
	default:
		d.printf("  GET /ogc/collections/%s on %s's Honua: %d (not served)\n", id, env, code)
	}
}

func (d *demo) showLastComment(n int) {
	pr, _ := d.sim.PullRequest(Repo, n)
	for i := len(pr.Comments) - 1; i >= 0; i-- {
		c := pr.Comments[i]
		if c.Login == d.sim.BotLogin() {
			d.printf("  PR #%d comment by %s:\n", n, c.Login)
			for _, l := range trimLines(c.Body, 4) {
				d.printf("      │ %s\n", l)
			}
			return
		}
	}
}

func (d *demo) click(sha, env, action, login string) error {
	r, ok := d.run(sha, "honua/deploy ("+env+")")
	if !ok {
		return fmt.Errorf("no honua/deploy (%s) run on %s", env, short(sha))
	}
	if err := d.sim.ClickCheckRunAction(Repo, r.ID, action, login); err != nil {
		return err
	}
	return d.flush()
}

// productionNote says honestly what holds production: the demo runs on the
// real clock and does not wait hours for the soak or days for the window.
func productionNote(state, desc string) string {
	switch {
	case state == "success":
		return "production deployed."
	case state == "queued" || state == "in_progress":
		return "production is queued for its runner."
	}
	var gates []string
	if strings.Contains(desc, "staging") || strings.Contains(desc, "soak") {
		gates = append(gates, "the promotion rule (2h in staging first)")
	}
	if strings.Contains(desc, "window") {
		gates = append(gates, "its deployment window (Tue–Thu 09:00–16:00 HST; "+nextWindow(time.Now())+")")
	}
	if len(gates) == 0 {
		gates = append(gates, "the App's gate above")
	}
	return "production is held by " + strings.Join(gates, " and ") + ": the demo does not wait; the App's sweeper queues it when the gate opens."
}

// nextWindow names the next opening of production's deployment window.
func nextWindow(now time.Time) string {
	t := now.In(hst())
	for i := 0; i < 8; i++ {
		day := t.AddDate(0, 0, i)
		if wd := day.Weekday(); wd < time.Tuesday || wd > time.Thursday {
			continue
		}
		open := time.Date(day.Year(), day.Month(), day.Day(), 9, 0, 0, 0, t.Location())
		closeAt := open.Add(7 * time.Hour)
		if t.Before(closeAt) {
			if t.After(open) {
				return "open now"
			}
			return "next: " + open.Format("Mon 15:04 MST")
		}
	}
	return "next: Tue 09:00 HST"
}

func hst() *time.Location {
	if l, err := time.LoadLocation("Pacific/Honolulu"); err == nil {
		return l
	}
	return time.FixedZone("HST", -10*3600)
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// htmlComment matches the App's hidden markers, which GitHub does not show.
var htmlComment = regexp.MustCompile(`(?s)<!--.*?-->`)

// trimLines keeps the first n non-empty lines of s, each cut to 110
// characters, and says how much was left out.
func trimLines(s string, n int) []string {
	var out []string
	left := 0
	for _, l := range strings.Split(htmlComment.ReplaceAllString(s, ""), "\n") {
		l = strings.TrimRight(l, " \r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		if len(out) == n {
			left++
			continue
		}
		if r := []rune(l); len(r) > 110 {
			l = string(r[:109]) + "…"
		}
		out = append(out, l)
	}
	if left > 0 {
		out = append(out, fmt.Sprintf("… (%d more lines)", left))
	}
	return out
}

// reviewInGitHub is production's approval in GitHub's own dialog: the
// App's gate run waits for the environment's reviewers; lkeawe approves it
// there.
func (d *demo) reviewInGitHub(sha string, pr int) error {
	p := d.printf
	d.section("production waits for review in GitHub (approvals: github-environment)")
	var gate githubsim.WorkflowRun
	for _, r := range d.sim.WorkflowRuns(Repo) {
		if r.WorkflowPath == app.GateWorkflowPath && r.Inputs["sha"] == sha && r.Inputs["environment"] == "production" {
			gate = r
		}
	}
	if gate.ID == 0 {
		return fmt.Errorf("the App dispatched no gate run for production")
	}
	p("  the App dispatched the gate workflow %q (run %d) for its deployment %s\n", gate.Name, gate.ID, gate.Inputs["deployment_id"])
	p("  GitHub holds the job \"gate\" at the environment production: %s; required reviewers: gis-leads, lkeawe\n", gate.Status)
	if st, desc := d.state(sha, "production"); st != "" {
		p("  deployment status: %s: %s\n", st, desc)
	}
	d.showLastComment(pr)
	d.section("lkeawe approves in GitHub's \"Review deployments\" dialog: \"Bike lanes look right\"")
	if err := d.sim.ReviewPendingDeployments(Repo, gate.ID, "lkeawe", []string{"production"}, "approved", "Bike lanes look right"); err != nil {
		return err
	}
	if err := d.flush(); err != nil {
		return err
	}
	p("  GitHub records the approval (GET /actions/runs/%d/approvals) and sends deployment_review approved;\n", gate.ID)
	p("  the App counts it as lkeawe's approval, via github-environment\n")
	return nil
}

// showNotifications prints the Slack messages the local receiver got since
// the last call (the policy's notifications, as people would see them).
func (d *demo) showNotifications() {
	if d.notifier != nil {
		d.notifier.Wait()
	}
	// The App's are sent in the background: wait a moment for one.
	_ = d.waitFor(3*time.Second, func() bool {
		d.slackMu.Lock()
		defer d.slackMu.Unlock()
		return len(d.slackMsgs) > d.slackSeen
	})
	d.slackMu.Lock()
	msgs := d.slackMsgs[d.slackSeen:]
	d.slackSeen = len(d.slackMsgs)
	d.slackMu.Unlock()
	for _, m := range msgs {
		d.printf("  notification (Slack, to the demo's local receiver): %s\n", cutLine(m, 150))
	}
}
