package policy

import (
	"encoding/json"
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
				{Kind: config.KindLayer, ID: "bike-lanes", Action: plan.ActionAdd, Reasons: []string{}, Collections: []string{}, Details: []plan.Detail{}},
			},
			Errors: []config.Diagnostic{{File: "a.yaml", Line: 1, Column: 2, Message: "m", Rule: "r"}},
		},
		PR:          PR{Number: 7, Author: "ana", Labels: []string{"x"}, BaseSHA: "b", HeadSHA: "c0ffee", TouchesGitops: true},
		Approvals:   []Approval{{Login: "lkeawe", Teams: []string{"kailua-gis/gis-leads"}, Commit: "c0ffee", SubmittedAt: now}},
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
	if got.Compare(want) != 0 {
		t.Errorf("value() differs from JSON:\n got %v\nwant %v", got, want)
	}
}
