package checks

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

func TestBatches(t *testing.T) {
	for _, n := range []int{0, 1, 50, 51, 100, 101, 2003} {
		run := CheckRun{}
		for i := range n {
			run.Annotations = append(run.Annotations, Annotation{Path: "a.yaml", StartLine: i + 1, EndLine: i + 1, Level: LevelWarning})
		}
		batches := run.Batches()
		if want := (n + 49) / 50; len(batches) != want {
			t.Errorf("%d annotations: %d batches, want %d", n, len(batches), want)
		}
		next := 1
		for _, b := range batches {
			if len(b) == 0 || len(b) > AnnotationsPerRequest {
				t.Errorf("%d annotations: a batch of %d", n, len(b))
			}
			for _, a := range b {
				if a.StartLine != next {
					t.Fatalf("%d annotations: line %d where %d comes next", n, a.StartLine, next)
				}
				next++
			}
		}
		if len(batches) > 0 {
			// A batch cannot grow into the next one's annotations.
			b := append(batches[0], Annotation{StartLine: -1})
			if len(batches) > 1 && batches[1][0].StartLine == -1 || b[len(b)-1].StartLine != -1 {
				t.Errorf("appending to a batch changes the next")
			}
		}
	}
}

// change is a plan change of a layer.
func change(id string, breaking bool) plan.Change {
	c := plan.Change{Kind: config.KindLayer, ID: id, Action: plan.ActionModify, Risk: plan.RiskLow, File: "environments/common/layers/" + id + ".yaml", Line: 1}
	if breaking {
		c.Breaking, c.Risk, c.Reasons = true, plan.RiskHigh, []string{"geometryType Polygon → MultiPolygon changes the feature schema clients read"}
	}
	return c
}

// report is a report of environments with the given changes and verdicts.
func report(envs map[string][]plan.Change, verdicts map[string]policy.Verdict) *policy.Report {
	p := &plan.Plan{}
	order := []string{"development", "staging", "production"}
	for _, n := range order {
		cs, ok := envs[n]
		if !ok {
			continue
		}
		e := plan.Environment{Name: n, Changes: cs, Risk: plan.RiskLow}
		for _, c := range cs {
			e.Summary.Modified++
			if c.Breaking {
				e.Summary.Breaking++
			}
		}
		p.Environments = append(p.Environments, e)
	}
	return &policy.Report{Plan: p, Verdicts: verdicts, Order: order, PolicyDigest: "sha256:" + strings.Repeat("0", 64)}
}

func TestPolicyRunConclusion(t *testing.T) {
	until := tuesday.Add(2 * time.Hour)
	gate := policy.Finding{Rule: "promotion", Message: "not soaked", Gate: policy.GatePromotion, Until: &until, Wait: "2h in staging"}
	window := policy.Finding{Rule: "deployment-window", Message: "outside", Gate: policy.GateWindow, Until: &until, Wait: "the next deployment window"}
	breaking := policy.Finding{Rule: "breaking-change", Message: "production does not allow breaking changes"}
	needs := policy.ApprovalStatus{Required: true, Min: 1, From: []string{"kailua-gis/gis-leads", "lkeawe"},
		Requirements: []policy.Requirement{{Min: 1, From: []string{"kailua-gis/gis-leads", "lkeawe"}}}}
	changed := map[string][]plan.Change{"production": {change("parcels", true)}}
	for _, tc := range []struct {
		name     string
		r        *policy.Report
		want     string
		title    string
		contains string
	}{
		{"gate only", report(changed, map[string]policy.Verdict{"production": {Environment: "production", Deny: []policy.Finding{gate, window}, Timezone: "Pacific/Honolulu"}}),
			ConclusionSuccess, "production: waits (promotion, window)", "after 2h in staging: from Tue 10 Mar 12:00 HST; next window Tue 10 Mar 12:00 HST"},
		{"gate and approval", report(changed, map[string]policy.Verdict{"production": {Environment: "production", Deny: []policy.Finding{gate}, Approval: needs, Timezone: "Pacific/Honolulu"}}),
			ConclusionSuccess, "production: needs approval, waits (promotion)", "**needs approval** from 1 of @\u2060kailua-gis/gis-leads, @\u2060lkeawe"},
		{"breaking not allowed", report(changed, map[string]policy.Verdict{"production": {Environment: "production", Deny: []policy.Finding{breaking, gate}}}),
			ConclusionFailure, "production: denied", "**denied**: `breaking-change`: production does not allow breaking changes."},
		{"unknown zone", report(changed, map[string]policy.Verdict{"production": {Environment: "production", Deny: []policy.Finding{gate}, Timezone: "Mars/Olympus"}}),
			ConclusionSuccess, "production: waits (promotion)", "from Tue 10 Mar 22:00 UTC"},
		{"nothing changed", report(map[string][]plan.Change{"production": nil}, map[string]policy.Verdict{"production": {Environment: "production", Allow: true}}),
			ConclusionNeutral, NoChanges, NoChanges},
		{"policy change only", report(map[string][]plan.Change{"production": nil}, map[string]policy.Verdict{"production": {Environment: "production", Allow: true, Approval: needs}}),
			ConclusionSuccess, "production: needs approval", "needs approval"},
		{"no verdict", report(changed, nil), ConclusionFailure, "production: no verdict", "**no verdict**"},
		{"ready", report(changed, map[string]policy.Verdict{"production": {Environment: "production", Allow: true}}),
			ConclusionSuccess, "production: ready", "**deploys on merge**"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := PolicyRun(tc.r, PolicyOptions{})
			if run.Conclusion != tc.want || run.Title != tc.title {
				t.Errorf("conclusion %q, title %q; want %q, %q", run.Conclusion, run.Title, tc.want, tc.title)
			}
			if !strings.Contains(run.Summary, tc.contains) {
				t.Errorf("summary lacks %q:\n%s", tc.contains, run.Summary)
			}
		})
	}
}

func TestPlanRunConclusion(t *testing.T) {
	invalid := report(map[string][]plan.Change{"staging": nil}, nil)
	invalid.Plan.Environments[0].Errors = []config.Diagnostic{{File: "environments/staging/layers/a.yaml", Line: 3, Message: "bad"}}
	noEnvs := &policy.Report{Plan: &plan.Plan{Errors: []config.Diagnostic{{File: "stray.yaml", Message: "no environments/ folder"}}}}
	for _, tc := range []struct {
		name, want, title string
		r                 *policy.Report
	}{
		{"changes", ConclusionSuccess, "production: 1 to change (1 breaking)", report(map[string][]plan.Change{"production": {change("parcels", true)}}, nil)},
		{"errors without changes", ConclusionFailure, "staging: 1 error", invalid},
		{"no environments", ConclusionFailure, "invalid configuration: 1 error", noEnvs},
		{"nothing", ConclusionNeutral, NoChanges, report(map[string][]plan.Change{"production": nil}, nil)},
		{"no plan", ConclusionNeutral, NoChanges, &policy.Report{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := PlanRun(tc.r, PlanOptions{HeadSHA: headSHA})
			if run.Conclusion != tc.want || run.Title != tc.title {
				t.Errorf("conclusion %q, title %q; want %q, %q", run.Conclusion, run.Title, tc.want, tc.title)
			}
			if _, _, ok := ParseDigests(run.Text); !ok {
				t.Errorf("no digests marker in %q", run.Text)
			}
		})
	}
}

// TestManyEnvironments checks the bounds that only thousands of
// environments reach: titles, summary rows and headings.
func TestManyEnvironments(t *testing.T) {
	envs := map[string][]plan.Change{}
	verdicts := map[string]policy.Verdict{}
	r := report(envs, verdicts)
	for i := range 5000 {
		n := fmt.Sprintf("env-%04d-%s", i, strings.Repeat("x", 30))
		r.Plan.Environments = append(r.Plan.Environments, plan.Environment{Name: n, Changes: []plan.Change{change("a", true)}, Summary: plan.Summary{Modified: 1, Breaking: 1}})
		r.Verdicts[n] = policy.Verdict{Environment: n, Deny: []policy.Finding{{Rule: "x", Message: "no"}}}
	}
	for _, run := range []CheckRun{PlanRun(r, planOptions), PolicyRun(r, PolicyOptions{})} {
		if len(run.Title) > MaxTitle || !strings.HasSuffix(run.Title, " · …") {
			t.Errorf("%s: title of %d bytes: %q", run.Name, len(run.Title), run.Title)
		}
		if len(run.Summary) > MaxOutput || !strings.Contains(run.Summary, "more environments") {
			t.Errorf("%s: summary of %d bytes, or without what it left out", run.Name, len(run.Summary))
		}
		if len(run.Text) > MaxOutput {
			t.Errorf("%s: text of %d bytes", run.Name, len(run.Text))
		}
		checkMarkdown(t, run.Name+" summary", run.Summary)
		checkMarkdown(t, run.Name+" text", run.Text)
	}
	// The digests of 5,000 environments do not fit in a marker: none is
	// written rather than a part.
	if _, _, ok := ParseDigests(PlanRun(r, planOptions).Text); ok {
		t.Errorf("digests of 5,000 environments in one marker")
	}
}
