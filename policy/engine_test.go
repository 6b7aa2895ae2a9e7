package policy

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// TestSplitVerdictMatchesSingleQuery checks that evaluating the built-in
// and custom contributions side by side gives the verdict that the single
// query data.honua.verdict gives.
func TestSplitVerdictMatchesSingleQuery(t *testing.T) {
	b := mustLoad(t, sampleFiles(t))
	if len(b.Errors) > 0 {
		t.Fatal(b.Errors)
	}
	eng := NewEngine()
	hazard := plan.Change{Kind: config.KindLayer, ID: "flood-zones", Action: plan.ActionRemove, Breaking: true, Reasons: []string{"gone"}}
	ds := plan.Change{Kind: config.KindDataSource, ID: "db", Action: plan.ActionModify, Details: []plan.Detail{{Path: "provider", From: "postgis", To: "sqlserver"}}}
	inputs := map[string]Input{}
	for _, now := range []string{"2026-03-11T20:00:00Z", "2026-03-09T20:00:00Z", "2025-12-24T20:00:00Z"} {
		for _, env := range []string{"production", "staging", "qa"} {
			in := benchInput(40)
			in.Now, in.Environment = mustTimeNoT(now), env
			in.Plan = planOf(append(in.Plan.Changes, hazard, ds)...)
			inputs[env+" "+now] = in
		}
	}
	for name, in := range inputs {
		got := eng.Evaluate(context.Background(), b, in)
		out, prints, err := eng.Query(context.Background(), b, "data.honua.verdict", in)
		if err != nil {
			t.Fatal(err)
		}
		want := Verdict{Environment: in.Environment, PolicyDigest: b.Digest, Deny: []Finding{}, Warn: []Finding{}, Prints: prints, Errors: []config.Diagnostic{}}
		if err := want.fill(out.(map[string]any), b.File.Env(in.Environment), &in); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: split evaluation differs from data.honua.verdict (-single +split):\n%s", name, diff)
		}
		if len(got.Deny)+len(got.Warn) == 0 {
			t.Errorf("%s: nothing denied or warned; the test checks little", name)
		}
	}
}
