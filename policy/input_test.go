package policy

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// TestInputValueMatchesJSON checks that the direct Rego conversion of an
// input equals its documented JSON encoding.
func TestInputValueMatchesJSON(t *testing.T) {
	now := time.Date(2026, 3, 11, 20, 0, 0, 0, time.UTC)
	in := Input{
		Environment: "production",
		Now:         now,
		SHA:         "c0ffee",
		Plan: PlanInput{
			Summary: plan.Summary{Added: 1, Modified: 1, Breaking: 1},
			Changes: []plan.Change{
				{Kind: config.KindLayer, ID: "parcels", Action: plan.ActionModify, Breaking: true, Reasons: []string{"r"}, File: "f.yaml", Line: 3, Collections: []string{"planning::parcels"},
					Details: []plan.Detail{{Path: "geometryType", From: "Polygon", To: "MultiPolygon"}, {Path: "query.maxRecordCount", From: float64(1000), To: nil}, {Path: "fields", From: []any{map[string]any{"name": "a"}}, To: map[string]any{"x": true}}}},
				{Kind: config.KindLayer, ID: "bike-lanes", Action: plan.ActionAdd, Reasons: []string{}, Collections: []string{}, Details: []plan.Detail{}, Digest: "ccf6405e"},
			},
			Errors: []config.Diagnostic{{File: "a.yaml", Line: 1, Column: 2, Message: "m", Rule: "r"}},
			Digest: "5be2a458",
		},
		Rollback: true,
		PR: PR{Number: 7, Author: "ana", Labels: []string{"x"}, BaseSHA: "b", HeadSHA: "c0ffee", TouchesGitops: true,
			GitopsErrors: []config.Diagnostic{{File: ".gitops/policies/a.rego", Line: 3, Column: 1, Message: "m", Rule: "policy-syntax"}}},
		Approvals:   []Approval{{Login: "lkeawe", Teams: []string{"kailua-gis/gis-leads"}, Commit: "c0ffee", SubmittedAt: now, PlanDigest: "5be2a458", Via: "review"}},
		Protection:  &Protection{Reviewers: []Reviewer{{Type: "User", Login: "lkeawe"}, {Type: "Team", Slug: "kailua-gis/gis-leads"}}, PreventSelfReview: true, WaitTimer: 5},
		Deployments: map[string]Deployment{"staging": {SHA: "c0ffee", SucceededAt: now}},
	}
	got, err := in.value()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(in)
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	want, err := ast.InterfaceToValue(doc)
	if err != nil {
		t.Fatal(err)
	}
	// plan.index is derived from the changes; check it apart.
	planV, _ := got.(ast.Object).Get(ast.StringTerm("plan")).Value.(ast.Object)
	index := planV.Get(ast.StringTerm("index"))
	if index == nil {
		t.Fatal("value() has no plan.index")
	}
	changes := planV.Get(ast.StringTerm("changes")).Value.(*ast.Array)
	wantIndex := ast.NewObject(
		ast.Item(ast.StringTerm("kinds"), ast.MustParseTerm(`{"layer": 2}`)),
		ast.Item(ast.StringTerm("actions"), ast.MustParseTerm(`{"add": 1, "modify": 1}`)),
		ast.Item(ast.StringTerm("breaking"), ast.ArrayTerm(changes.Elem(0))),
		ast.Item(ast.StringTerm("removed"), ast.ArrayTerm()),
		ast.Item(ast.StringTerm("changes"), ast.ObjectTerm(ast.Item(ast.StringTerm("layer"), ast.ObjectTerm(
			ast.Item(ast.StringTerm("parcels"), changes.Elem(0)),
			ast.Item(ast.StringTerm("bike-lanes"), changes.Elem(1)),
		)))),
		ast.Item(ast.StringTerm("paths"), ast.MustParseTerm(`{"layer": {"fields": 1, "geometryType": 1, "query.maxRecordCount": 1}}`)),
	)
	if index.Value.Compare(wantIndex) != 0 {
		t.Errorf("plan.index = %v, want %v", index, wantIndex)
	}
	planNoIndex := ast.NewObject()
	planV.Foreach(func(k, v *ast.Term) {
		if k.Value.Compare(ast.String("index")) != 0 {
			planNoIndex.Insert(k, v)
		}
	})
	gotNoIndex := ast.NewObject()
	got.(ast.Object).Foreach(func(k, v *ast.Term) {
		if k.Value.Compare(ast.String("plan")) == 0 {
			v = ast.NewTerm(planNoIndex)
		}
		gotNoIndex.Insert(k, v)
	})
	if gotNoIndex.Compare(want) != 0 {
		t.Errorf("value() differs from JSON:\n got %v\nwant %v", gotNoIndex, want)
	}

	// Without details (a policy without custom modules), only the details
	// and the index entries that serve custom modules differ.
	lean, err := in.valueWith(false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in.Plan.Changes {
		in.Plan.Changes[i].Details = []plan.Detail{}
	}
	full, _ := in.value()
	fullPlan := full.(ast.Object).Get(ast.StringTerm("plan")).Value.(ast.Object)
	fullPlan.Get(ast.StringTerm("index")).Value.(ast.Object).Insert(ast.StringTerm("changes"), ast.ObjectTerm())
	if lean.Compare(full) != 0 {
		t.Errorf("valueWith(false) = %v\nwant %v", lean, full)
	}
}

// TestInputDecodesIndex checks that an input document carrying plan.index
// (as policy eval --query input prints it) decodes strictly, and that the
// index is derived from the changes whatever the document says.
func TestInputDecodesIndex(t *testing.T) {
	doc := `{"environment": "production", "plan": {"summary": {"added": 1}, "changes": [{"kind": "layer", "id": "a", "action": "add"}],
		"errors": [], "index": {"kinds": {"datasource": 7}, "actions": {}, "breaking": [], "removed": []}}}`
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	var in Input
	if err := dec.Decode(&in); err != nil {
		t.Fatal(err)
	}
	v, err := in.value()
	if err != nil {
		t.Fatal(err)
	}
	kinds, err := v.(ast.Object).Find(ast.MustParseRef("x.plan.index.kinds")[1:])
	if err != nil {
		t.Fatal(err)
	}
	if want := ast.MustParseTerm(`{"layer": 1}`).Value; kinds.Compare(want) != 0 {
		t.Errorf("plan.index.kinds = %v, want %v", kinds, want)
	}
}

// TestChangeTermsParallel checks that a plan large enough to be converted
// on several goroutines converts as it does on one.
func TestChangeTermsParallel(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	in := benchInput(3*parallelChanges + 7)
	got, err := changeTerms(in.Plan.Changes, true)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]*ast.Term, len(in.Plan.Changes))
	if err := convertChanges(in.Plan.Changes, want, true); err != nil {
		t.Fatal(err)
	}
	if c := ast.NewArray(got...).Compare(ast.NewArray(want...)); c != 0 {
		t.Error("changes converted in parallel differ from a serial conversion")
	}
}
