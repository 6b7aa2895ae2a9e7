package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

func TestConditions(t *testing.T) {
	ds := plan.Change{Kind: config.KindDataSource, ID: "db", Action: plan.ActionModify, Breaking: true}
	add := layerChange("a", plan.ActionAdd, false)
	rm := layerChange("b", plan.ActionRemove, true)
	tests := []struct {
		cond    string
		changes []plan.Change
		want    bool
	}{
		{"resourcesRemoved > 0", []plan.Change{rm}, true},
		{"resourcesRemoved > 0", []plan.Change{add}, false},
		{"(resourcesModified + resourcesAdded) > 1", []plan.Change{add, ds}, true},
		{"(resourcesModified + resourcesAdded) > 2", []plan.Change{add, ds}, false},
		{"resourcesChanged >= 3", []plan.Change{add, ds, rm}, true},
		{"breakingChanges == true", []plan.Change{rm}, true},
		{"breakingChanges == true", []plan.Change{add}, false},
		{"breakingChanges != true", []plan.Change{add}, true},
		{"breakingChanges", []plan.Change{rm}, true},
		{"!breakingChanges", []plan.Change{add}, true},
		{"not breakingChanges", []plan.Change{rm}, false},
		{`type == "datasource"`, []plan.Change{add, ds}, true},
		{`type == 'dataSources'`, []plan.Change{ds}, true},
		{`type == "datasource"`, []plan.Change{add}, false},
		{`"layer" == type`, []plan.Change{add}, true},
		{`type != "layer"`, []plan.Change{add}, false},
		{`type != "layer"`, []plan.Change{add, ds}, true},
		{`type == "layer" && resourcesRemoved > 0`, []plan.Change{add}, false},
		{`type == "layer" and resourcesRemoved > 0`, []plan.Change{add, rm}, true},
		{`type == "style" || resourcesAdded == 1`, []plan.Change{add}, true},
		{`type == "style" or resourcesAdded - 1 > 0`, []plan.Change{add}, false},
		{`breakingCount >= 2 || (type == "datasource" && !(resourcesAdded > 0))`, []plan.Change{ds}, true},
		{`true`, nil, true},
		{`false`, nil, false},
		{`resourcesAdded == 0.5 + 0.5`, []plan.Change{add}, true},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			policy := "environments:\n  production:\n    autoApprove: true\n    approvalRules:\n      - name: r\n        condition: " + yamlQuote(tt.cond) + "\n"
			b := mustLoad(t, map[string]string{PolicyFile: policy})
			if len(b.Errors) > 0 {
				t.Fatal(b.Errors)
			}
			in := prodInput("2026-03-11T20:00:00Z")
			in.Plan = planOf(tt.changes...)
			if tt.changes == nil {
				in.Plan = planOf(add)
			}
			v := NewEngine().Evaluate(context.Background(), b, in)
			if len(v.Errors) > 0 {
				t.Fatal(v.Errors)
			}
			if v.Approval.Required != tt.want {
				t.Errorf("approval required = %v, want %v (%v)", v.Approval.Required, tt.want, v.Approval.Reasons)
			}
		})
	}
}

func yamlQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func TestConditionErrors(t *testing.T) {
	tests := []struct{ cond, msg string }{
		{"resourcesRemoved >> 1", `expected a number, a name or ( but found ">" at column 19`},
		{"resourcesRemoved = 1", "compare with =="},
		{"resourcesDeleted > 0", `unknown name "resourcesDeleted"`},
		{"resourcesRemoved", "it is a number, not true/false"},
		{`type == "widget"`, `type "widget" is not a kind`},
		{`type > "layer"`, "compares type with a string"},
		{"breakingChanges > 1", "compares true/false with a number"},
		{"(resourcesAdded > 1", "expected ) to close ( at column 1"},
		{"resourcesAdded > 1 &&", "but found the end"},
		{`type == "layer`, "not closed"},
		{"", "it is empty"},
		{"1 + breakingChanges > 0", "needs numbers on both sides"},
		{"resourcesAdded && true", "both sides must be true/false"},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			_, err := parseCondition(tt.cond)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("parseCondition(%q) = %v, want an error containing %q", tt.cond, err, tt.msg)
			}
		})
	}
}

func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{"resourcesRemoved > 0", "(resourcesModified + resourcesAdded) > 10", "breakingChanges == true", `type == "datasource"`, "!(a || b)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseCondition(s)
		if err != nil {
			return
		}
		// Whatever parses must translate to Rego that parses.
		g := &condGen{}
		g.boolRule(n)
		if _, err := parseRego("fuzz.rego", "package x\n\n"+g.b.String()); err != nil {
			t.Fatalf("condition %q translates to invalid Rego: %v\n%s", s, err, g.b.String())
		}
	})
}
