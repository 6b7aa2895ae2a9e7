package checks

import (
	"strings"
	"testing"

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
