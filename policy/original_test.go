package policy

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// TestOriginalFormat loads a policy file in the shape Honua.Server ships
// (apiVersion/kind/metadata header; testdata/original-format.yaml) and
// checks that it parses and judges as its authors meant, with the built-in
// rules as they are.
func TestOriginalFormat(t *testing.T) {
	data, err := os.ReadFile("testdata/original-format.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, diags := ParseFile(PolicyFile, data, config.DefaultLimits)
	if len(diags) > 0 {
		t.Fatalf("the original format does not parse: %v", diags)
	}
	if f.Metadata.Name != "honua-deployment-policy" {
		t.Errorf("metadata = %+v", f.Metadata)
	}
	prod := f.Env("production")
	if prod.AutoApprove || prod.AllowBreakingChanges || prod.Timezone != "UTC" || len(prod.ApprovalRules) != 4 || len(prod.Safety.DeploymentWindows) != 5 {
		t.Errorf("production = %+v", prod)
	}
	failed, _ := prod.Notifications["onDeploymentFailed"].([]any)
	if len(failed) != 2 || !cmp.Equal(failed[0], map[string]any{"type": "pagerduty", "serviceKey": "${PAGERDUTY_SERVICE_KEY}"}) {
		t.Errorf("notifications.onDeploymentFailed = %#v", prod.Notifications["onDeploymentFailed"])
	}

	b := mustLoad(t, map[string]string{PolicyFile: string(data)})
	if len(b.Errors) > 0 {
		t.Fatal(b.Errors)
	}
	add := layerChange("bike-lanes", plan.ActionAdd, false)
	rm := layerChange("old-parcels", plan.ActionRemove, false)
	breaking := layerChange("parcels", plan.ActionModify, true)
	ds := plan.Change{Kind: config.KindDataSource, ID: "gis-db", Action: plan.ActionModify, File: "environments/production/datasources.yaml", Line: 3}
	many := make([]plan.Change, 11)
	for i := range many {
		many[i] = layerChange(string(rune('a'+i))+"-layer", plan.ActionModify, false)
	}
	const (
		tuesday      = "2026-03-10T10:00:00Z"
		fridayLate   = "2026-03-13T16:00:00Z" // after the Friday window (09:00–15:00 UTC)
		fridayEarly  = "2026-03-13T14:59:00Z"
		saturday     = "2026-03-14T12:00:00Z"
		holiday      = "2024-12-23T10:00:00Z" // a Monday in the Holiday Season freeze
		afterHoliday = "2025-01-06T10:00:00Z" // the Monday after it
	)
	tests := []struct {
		name, env, now string
		changes        []plan.Change
		deny           []string // rules
		approval       []string // rules of the approval requirements, in order
		reasons        []string // substrings of approval reasons
		nextWindow     string   // RFC 3339, "" for none
	}{
		{name: "development deploys without approval", env: "development", now: saturday, changes: []plan.Change{add, rm}},
		{name: "staging deploys without approval", env: "staging", now: saturday, changes: []plan.Change{add, rm}},
		// allowBreakingChanges: true lets a breaking change through, and the
		// built-in breaking-change rule still asks for an approval.
		{name: "development breaking change needs approval", env: "development", now: saturday, changes: []plan.Change{breaking},
			approval: []string{"breaking-change"}},
		{name: "production addition in the window", env: "production", now: tuesday, changes: []plan.Change{add},
			approval: []string{"auto-approve"}, reasons: []string{"production does not deploy without approval (autoApprove: false)"}},
		{name: "production removal", env: "production", now: tuesday, changes: []plan.Change{rm},
			approval: []string{"auto-approve", "approval-rule"}, reasons: []string{`Removing resources requires approval (approval rule "resources-removed": resourcesRemoved > 0)`}},
		{name: "production large change", env: "production", now: tuesday, changes: many,
			approval: []string{"auto-approve", "approval-rule"}, reasons: []string{`Large changes require approval (approval rule "significant-changes"`}},
		{name: "production data source", env: "production", now: tuesday, changes: []plan.Change{ds},
			approval: []string{"auto-approve", "approval-rule"}, reasons: []string{`Database connection changes require approval`}},
		// allowBreakingChanges: false denies; the breaking-changes approval
		// rule still matches, but approval cannot lift a deny.
		{name: "production breaking change is denied", env: "production", now: tuesday, changes: []plan.Change{breaking},
			deny: []string{"breaking-change"}, approval: []string{"auto-approve", "approval-rule"}, reasons: []string{"Breaking changes require approval"}},
		{name: "production Friday before 15:00", env: "production", now: fridayEarly, changes: []plan.Change{add},
			approval: []string{"auto-approve"}},
		{name: "production Friday afternoon waits for Monday", env: "production", now: fridayLate, changes: []plan.Change{add},
			deny: []string{"deployment-window"}, approval: []string{"auto-approve"}, nextWindow: "2026-03-16T09:00:00Z"},
		{name: "production holiday freeze", env: "production", now: holiday, changes: []plan.Change{add},
			deny: []string{"blackout"}, approval: []string{"auto-approve"}, nextWindow: afterHoliday[:11] + "09:00:00Z"},
		// Nothing to deploy: nothing denies or asks for approval, and the
		// verdict still says when the window opens.
		{name: "production without changes", env: "production", now: saturday, nextWindow: "2026-03-16T09:00:00Z"},
		{name: "an unlisted environment gets strict defaults", env: "qa", now: saturday, changes: []plan.Change{add},
			approval: []string{"auto-approve"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := prodInput(tt.now)
			in.Environment, in.Plan = tt.env, planOf(tt.changes...)
			v := evaluate(t, b, in)
			if got := rules(v.Deny); !cmp.Equal(got, append([]string{}, tt.deny...)) {
				t.Errorf("deny = %v, want %v: %+v", got, tt.deny, v.Deny)
			}
			if v.Allow != (len(tt.deny) == 0) {
				t.Errorf("allow = %v", v.Allow)
			}
			var got []string
			for _, r := range v.Approval.Requirements {
				got = append(got, r.Rules...)
			}
			if !cmp.Equal(got, tt.approval) || v.Approval.Required != (len(tt.approval) > 0) {
				t.Errorf("approval rules = %v (required %v), want %v", got, v.Approval.Required, tt.approval)
			}
			for _, want := range tt.reasons {
				if !slices.ContainsFunc(v.Approval.Reasons, func(r string) bool { return strings.Contains(r, want) }) {
					t.Errorf("approval reasons %q lack %q", v.Approval.Reasons, want)
				}
			}
			gotNext := ""
			if v.NextWindow != nil {
				gotNext = v.NextWindow.UTC().Format("2006-01-02T15:04:05Z")
			}
			if gotNext != tt.nextWindow {
				t.Errorf("next window = %q, want %q", gotNext, tt.nextWindow)
			}
		})
	}
}
