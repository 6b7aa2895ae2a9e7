package policy

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

const testPolicy = `version: 1
policyOwners: [kailua-gis/platform]
environments:
  production:
    timezone: Pacific/Honolulu
    autoApprove: false
    allowBreakingChanges: false
    approvers: [kailua-gis/gis-leads, lkeawe]
    preventSelfApproval: true
    emergencyLabel: emergency-deploy
    safety:
      deploymentWindows:
        - dayOfWeek: Tuesday-Thursday
          startTime: "09:00"
          endTime: "16:00"
      blackoutPeriods:
        - name: Holiday freeze
          startDate: 2025-12-20
          endDate: 2026-01-02
        - name: Drill
          startDate: 2026-08-04
          endDate: 2026-08-04
          allowEmergency: true
  night:
    timezone: Pacific/Honolulu
    autoApprove: true
    safety:
      deploymentWindows:
        - dayOfWeek: Friday
          startTime: "22:00"
          endTime: "02:00"
  berlin:
    timezone: Europe/Berlin
    autoApprove: true
    safety:
      deploymentWindows:
        - dayOfWeek: Sunday
          startTime: "02:30"
          endTime: "04:00"
        - dayOfWeek: Monday
          startTime: "09:00"
          endTime: "17:00"
`

func testBundle(t testing.TB) *Bundle {
	t.Helper()
	b := mustLoad(t, map[string]string{PolicyFile: testPolicy})
	if len(b.Errors) > 0 {
		t.Fatalf("test policy: %v", b.Errors)
	}
	return b
}

func prodInput(now string) Input {
	return Input{
		Environment: "production",
		Now:         mustTimeNoT(now),
		Plan:        planOf(layerChange("bike-lanes", plan.ActionAdd, false)),
		PR:          PR{Number: 7, Author: "ana", HeadSHA: "c0ffee", BaseSHA: "ba5e"},
	}
}

func mustTimeNoT(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func rules(fs []Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	return out
}

// TestTimeRules covers windows and blackouts at their edges, to the minute.
func TestTimeRules(t *testing.T) {
	b := testBundle(t)
	eng := NewEngine()
	tests := []struct {
		name, env, now string
		labels         []string
		deny           []string
		next           string // RFC 3339, "" for none
		msg            string // a part of the first deny message
	}{
		// Production: Tue–Thu 09:00–16:00 HST (UTC-10, no DST).
		{name: "window opens at 09:00", env: "production", now: "2026-03-10T19:00:00Z"},
		{name: "08:59 is closed", env: "production", now: "2026-03-10T18:59:00Z", deny: []string{"deployment-window"}, next: "2026-03-10T19:00:00Z", msg: "it is Tue 2026-03-10 08:59 HST now; the next window opens Tue 2026-03-10 09:00 HST"},
		{name: "15:59 is open", env: "production", now: "2026-03-12T01:59:00Z"},
		{name: "16:00 is closed", env: "production", now: "2026-03-12T02:00:00Z", deny: []string{"deployment-window"}, next: "2026-03-12T19:00:00Z"},
		{name: "Thursday 16:00 waits for Tuesday", env: "production", now: "2026-03-13T02:00:00Z", deny: []string{"deployment-window"}, next: "2026-03-17T19:00:00Z"},
		{name: "Monday is closed", env: "production", now: "2026-03-09T20:00:00Z", deny: []string{"deployment-window"}, next: "2026-03-10T19:00:00Z"},
		{name: "emergency label opens the window", env: "production", now: "2026-03-09T20:00:00Z", labels: []string{"emergency-deploy"}},
		// Blackout 2025-12-20 .. 2026-01-02 inclusive, Honolulu dates.
		{name: "blackout first day 00:00", env: "production", now: "2025-12-20T10:00:00Z", deny: []string{"blackout", "deployment-window"}, next: "2026-01-06T19:00:00Z", msg: `blackout period "Holiday freeze" (2025-12-20 to 2026-01-02); it ends Sat 2026-01-03 00:00 HST`},
		{name: "day before blackout waits for the window after it", env: "production", now: "2025-12-20T09:59:00Z", deny: []string{"deployment-window"}, next: "2026-01-06T19:00:00Z"},
		{name: "Thursday before a blackout opens Tuesday", env: "production", now: "2025-12-12T02:00:00Z", deny: []string{"deployment-window"}, next: "2025-12-16T19:00:00Z"},
		{name: "blackout last day, in window hours", env: "production", now: "2026-01-01T20:00:00Z", deny: []string{"blackout"}, next: "2026-01-06T19:00:00Z"},
		{name: "blackout on a window day", env: "production", now: "2025-12-23T20:00:00Z", deny: []string{"blackout"}, next: "2026-01-06T19:00:00Z"},
		{name: "emergency does not cross the freeze", env: "production", now: "2025-12-23T20:00:00Z", labels: []string{"emergency-deploy"}, deny: []string{"blackout"}, next: "2026-01-06T19:00:00Z"},
		{name: "emergency crosses a blackout that allows it", env: "production", now: "2026-08-04T20:00:00Z", labels: []string{"emergency-deploy"}},
		{name: "blackout that allows emergency still denies without the label", env: "production", now: "2026-08-04T20:00:00Z", deny: []string{"blackout"}, next: "2026-08-05T19:00:00Z"},
		// Friday 22:00–02:00 crosses midnight.
		{name: "Friday 22:00 opens", env: "night", now: "2026-03-14T08:00:00Z"},
		{name: "Friday 21:59 closed", env: "night", now: "2026-03-14T07:59:00Z", deny: []string{"deployment-window"}, next: "2026-03-14T08:00:00Z"},
		{name: "Saturday 01:59 still open", env: "night", now: "2026-03-14T11:59:00Z"},
		{name: "Saturday 02:00 closed", env: "night", now: "2026-03-14T12:00:00Z", deny: []string{"deployment-window"}, next: "2026-03-21T08:00:00Z"},
		{name: "Thursday 01:00 is not Friday's night", env: "night", now: "2026-03-12T11:00:00Z", deny: []string{"deployment-window"}, next: "2026-03-14T08:00:00Z"},
		// Europe/Berlin: DST starts Sunday 2026-03-29 02:00 → 03:00, ends
		// Sunday 2026-10-25 03:00 → 02:00.
		{name: "spring forward: 03:30 CEST is inside 02:30–04:00", env: "berlin", now: "2026-03-29T01:30:00Z"},
		{name: "spring forward: 04:00 CEST closes", env: "berlin", now: "2026-03-29T02:00:00Z", deny: []string{"deployment-window"}, next: "2026-03-30T07:00:00Z"},
		{name: "spring forward: before, 01:59 CET", env: "berlin", now: "2026-03-29T00:59:00Z", deny: []string{"deployment-window"}, next: "2026-03-29T01:00:00Z"},
		{name: "fall back: 02:30 CEST opens", env: "berlin", now: "2026-10-25T00:30:00Z"},
		{name: "fall back: 02:29 CEST closed", env: "berlin", now: "2026-10-25T00:29:00Z", deny: []string{"deployment-window"}, next: "2026-10-25T00:30:00Z"},
		{name: "fall back: 03:59 CET still open", env: "berlin", now: "2026-10-25T02:59:00Z"},
		{name: "fall back: 04:00 CET closed", env: "berlin", now: "2026-10-25T03:00:00Z", deny: []string{"deployment-window"}, next: "2026-10-26T08:00:00Z"},
		{name: "Monday window in summer time", env: "berlin", now: "2026-03-30T07:00:00Z"},
		{name: "Monday window before DST uses CET", env: "berlin", now: "2026-03-23T07:59:00Z", deny: []string{"deployment-window"}, next: "2026-03-23T08:00:00Z", msg: "opens Mon 2026-03-23 09:00 CET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := prodInput(tt.now)
			in.Environment = tt.env
			in.PR.Labels = tt.labels
			v, err := eng.Evaluate(context.Background(), b, in)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.deny
			if want == nil {
				want = []string{}
			}
			if diff := cmp.Diff(want, rules(v.Deny)); diff != "" {
				t.Fatalf("deny rules (-want +got):\n%s\n%+v", diff, v.Deny)
			}
			if v.Allow != (len(want) == 0) {
				t.Errorf("allow = %v with deny %v", v.Allow, v.Deny)
			}
			var got string
			if v.NextWindow != nil {
				got = v.NextWindow.UTC().Format(time.RFC3339)
			}
			if got != tt.next {
				t.Errorf("next_window = %q, want %q", got, tt.next)
			}
			if tt.msg != "" && !strings.Contains(v.Deny[0].Message, tt.msg) {
				t.Errorf("deny message %q does not contain %q", v.Deny[0].Message, tt.msg)
			}
			if len(tt.labels) > 0 && !contains(rules(v.Warn), "emergency-label") {
				t.Errorf("emergency label not warned: %v", v.Warn)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestBreakingAndPromotion(t *testing.T) {
	policy := `environments:
  staging: {autoApprove: true, allowBreakingChanges: true}
  production:
    autoApprove: true
    allowBreakingChanges: false
    promotion: {after: staging, soak: 2h}
  preview:
    autoApprove: true
    allowBreakingChanges: true
`
	b := mustLoad(t, map[string]string{PolicyFile: policy})
	if len(b.Errors) > 0 {
		t.Fatal(b.Errors)
	}
	now := "2026-03-11T20:00:00Z"
	soaked := map[string]Deployment{"staging": {SHA: "c0ffee", SucceededAt: mustTimeNoT("2026-03-11T18:00:00Z")}}
	tests := []struct {
		name        string
		env         string
		changes     []plan.Change
		deployments map[string]Deployment
		deny        []string
		approval    bool
	}{
		{name: "soaked, not breaking", env: "production", changes: []plan.Change{layerChange("a", plan.ActionAdd, false)}, deployments: soaked, deny: []string{}},
		{name: "breaking denied", env: "production", changes: []plan.Change{layerChange("a", plan.ActionModify, true)}, deployments: soaked, deny: []string{"breaking-change"}},
		{name: "breaking allowed with approval", env: "preview", changes: []plan.Change{layerChange("a", plan.ActionModify, true)}, deny: []string{}, approval: true},
		{name: "soak 1 s short", env: "production", changes: []plan.Change{layerChange("a", plan.ActionAdd, false)},
			deployments: map[string]Deployment{"staging": {SHA: "c0ffee", SucceededAt: mustTimeNoT("2026-03-11T18:00:01Z")}}, deny: []string{"promotion"}},
		{name: "never in staging", env: "production", changes: []plan.Change{layerChange("a", plan.ActionAdd, false)}, deny: []string{"promotion"}},
		{name: "other commit in staging", env: "production", changes: []plan.Change{layerChange("a", plan.ActionAdd, false)},
			deployments: map[string]Deployment{"staging": {SHA: "0ld", SucceededAt: mustTimeNoT("2026-03-01T00:00:00Z")}}, deny: []string{"promotion"}},
		{name: "no changes, nothing to judge", env: "production", deny: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := prodInput(now)
			in.Environment = tt.env
			in.Plan = planOf(tt.changes...)
			in.Deployments = tt.deployments
			v := evaluate(t, b, in)
			if diff := cmp.Diff(tt.deny, rules(v.Deny)); diff != "" {
				t.Errorf("deny (-want +got):\n%s%v", diff, v.Deny)
			}
			if v.Approval.Required != tt.approval {
				t.Errorf("approval required = %v, want %v: %+v", v.Approval.Required, tt.approval, v.Approval)
			}
		})
	}
}

func TestApprovals(t *testing.T) {
	policy := `policyOwners: [kailua-gis/platform]
environments:
  production:
    autoApprove: false
    approvers: [kailua-gis/gis-leads, lkeawe]
    minApprovals: 2
    preventSelfApproval: true
    approvalExpiry: 24h
    approvalRules:
      - name: removals
        condition: resourcesRemoved > 0
        reason: removals break URLs
  staging:
    autoApprove: true
    approvalRules:
      - name: big
        condition: (resourcesModified + resourcesAdded) > 10
      - name: datasource
        condition: type == "datasource"
`
	b := mustLoad(t, map[string]string{PolicyFile: policy})
	if len(b.Errors) > 0 {
		t.Fatal(b.Errors)
	}
	now := mustTimeNoT("2026-03-11T20:00:00Z")
	ok := func(login string, teams ...string) Approval {
		return Approval{Login: login, Teams: teams, Commit: "c0ffee", SubmittedAt: now.Add(-time.Hour)}
	}
	many := make([]plan.Change, 11)
	for i := range many {
		many[i] = layerChange("l"+string(rune('a'+i)), plan.ActionAdd, false)
	}
	ds := plan.Change{Kind: config.KindDataSource, ID: "kailua-postgis", Action: plan.ActionModify}
	tests := []struct {
		name       string
		env        string
		changes    []plan.Change
		approvals  []Approval
		gitops     bool
		protection *Protection
		required   bool
		satisfied  bool
		by         []string
		reasons    int
		from       []string
	}{
		{name: "two approvers satisfy", env: "production", approvals: []Approval{ok("lkeawe"), ok("kai", "kailua-gis/gis-leads")},
			required: true, satisfied: true, by: []string{"lkeawe", "kai"}, reasons: 1, from: []string{"kailua-gis/gis-leads", "lkeawe"}},
		{name: "one is not enough", env: "production", approvals: []Approval{ok("lkeawe")}, required: true, by: []string{"lkeawe"}, reasons: 1, from: []string{"kailua-gis/gis-leads", "lkeawe"}},
		{name: "self approval does not count", env: "production", approvals: []Approval{ok("lkeawe"), ok("ana", "kailua-gis/gis-leads")}, required: true, by: []string{"lkeawe"}, reasons: 1, from: []string{"kailua-gis/gis-leads", "lkeawe"}},
		{name: "stale commit does not count", env: "production", approvals: []Approval{ok("lkeawe"), {Login: "kai", Teams: []string{"kailua-gis/gis-leads"}, Commit: "0ld", SubmittedAt: now}},
			required: true, by: []string{"lkeawe"}, reasons: 1, from: []string{"kailua-gis/gis-leads", "lkeawe"}},
		{name: "expired approval does not count", env: "production", approvals: []Approval{ok("lkeawe"), {Login: "kai", Teams: []string{"kailua-gis/gis-leads"}, Commit: "c0ffee", SubmittedAt: now.Add(-25 * time.Hour)}},
			required: true, by: []string{"lkeawe"}, reasons: 1, from: []string{"kailua-gis/gis-leads", "lkeawe"}},
		{name: "outsider does not count", env: "production", approvals: []Approval{ok("lkeawe"), ok("mallory", "kailua-gis/interns")}, required: true, by: []string{"lkeawe"}, reasons: 1, from: []string{"kailua-gis/gis-leads", "lkeawe"}},
		{name: "GitHub reviewers are eligible", env: "production", approvals: []Approval{ok("lkeawe"), ok("noe")},
			protection: &Protection{Reviewers: []Reviewer{{Type: "User", Login: "noe"}}},
			required:   true, satisfied: true, by: []string{"lkeawe", "noe"}, reasons: 1, from: []string{"kailua-gis/gis-leads", "lkeawe", "noe"}},
		{name: "removal adds its rule", env: "production", changes: []plan.Change{layerChange("old", plan.ActionRemove, true)}, required: true, by: []string{}, reasons: 2, from: []string{"kailua-gis/gis-leads", "lkeawe"}},
		{name: "policy change needs a policy owner too", env: "production", gitops: true, approvals: []Approval{ok("lkeawe"), ok("kai", "kailua-gis/gis-leads")},
			required: true, by: []string{"lkeawe", "kai"}, reasons: 2, from: []string{"kailua-gis/gis-leads", "lkeawe", "kailua-gis/platform"}},
		{name: "policy owner approves", env: "production", gitops: true, approvals: []Approval{ok("lkeawe"), ok("kai", "kailua-gis/gis-leads"), ok("pua", "kailua-gis/platform")},
			required: true, satisfied: true, by: []string{"lkeawe", "kai", "pua"}, reasons: 2, from: []string{"kailua-gis/gis-leads", "lkeawe", "kailua-gis/platform"}},
		{name: "auto-approved staging", env: "staging", satisfied: true, by: []string{}, from: []string{}},
		{name: "big change condition", env: "staging", changes: many, required: true, by: []string{}, reasons: 1, from: []string{}},
		{name: "ten changes is not big", env: "staging", changes: many[:10], satisfied: true, by: []string{}, from: []string{}},
		{name: "datasource type condition", env: "staging", changes: []plan.Change{ds}, required: true, satisfied: false, by: []string{}, reasons: 1, from: []string{}},
		{name: "anyone may approve without approvers", env: "staging", changes: []plan.Change{ds}, approvals: []Approval{ok("ana")}, required: true, satisfied: true, by: []string{"ana"}, reasons: 1, from: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := prodInput("2026-03-11T20:00:00Z")
			in.Environment = tt.env
			if tt.changes != nil {
				in.Plan = planOf(tt.changes...)
			}
			in.Approvals = tt.approvals
			in.PR.TouchesGitops = tt.gitops
			in.Protection = tt.protection
			v := evaluate(t, b, in)
			a := v.Approval
			if a.Required != tt.required || a.Satisfied != tt.satisfied {
				t.Errorf("required, satisfied = %v, %v; want %v, %v\n%+v", a.Required, a.Satisfied, tt.required, tt.satisfied, a)
			}
			if diff := cmp.Diff(tt.by, a.ApprovedBy); diff != "" {
				t.Errorf("approved_by (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.from, a.From); diff != "" {
				t.Errorf("from (-want +got):\n%s", diff)
			}
			if len(a.Reasons) != tt.reasons {
				t.Errorf("reasons = %q, want %d", a.Reasons, tt.reasons)
			}
		})
	}
}

func TestUnprotectedEnvironmentDenied(t *testing.T) {
	b := testBundle(t)
	in := prodInput("2026-03-11T20:00:00Z")
	in.Protection = &Protection{}
	v := evaluate(t, b, in)
	if diff := cmp.Diff([]string{"unprotected-environment"}, rules(v.Deny)); diff != "" {
		t.Fatalf("deny (-want +got):\n%s", diff)
	}
}

func TestCustomPolicies(t *testing.T) {
	custom := `package honua.custom.team

deny contains msg if {
	some c in input.plan.changes
	c.id == "forbidden"
	msg := sprintf("layer %s is forbidden", [c.id])
}

warn contains {"rule": "look", "message": "have a look"} if {
	print("checking", input.environment, count(input.plan.changes))
	count(input.plan.changes) > 0
}

approval contains {"reason": "the GIS lead signs off", "from": ["@lkeawe"]} if {
	input.environment == "production"
}
`
	b := mustLoad(t, map[string]string{PolicyFile: testPolicy, ".gitops/policies/team.rego": custom,
		".gitops/policies/team_test.rego": "package honua.custom.team_test\n\nthis is not rego"})
	if len(b.Errors) > 0 {
		t.Fatal(b.Errors)
	}
	in := prodInput("2026-03-11T20:00:00Z")
	in.Plan = planOf(layerChange("forbidden", plan.ActionAdd, false))
	in.Approvals = []Approval{{Login: "LKeawe", Commit: "c0ffee", SubmittedAt: in.Now}}
	v := evaluate(t, b, in)
	wantDeny := []Finding{{Rule: "custom.team", Message: "layer forbidden is forbidden", Package: "honua.custom.team"}}
	if diff := cmp.Diff(wantDeny, v.Deny); diff != "" {
		t.Errorf("deny (-want +got):\n%s", diff)
	}
	wantWarn := []Finding{{Rule: "look", Message: "have a look", Package: "honua.custom.team"}}
	if diff := cmp.Diff(wantWarn, v.Warn); diff != "" {
		t.Errorf("warn (-want +got):\n%s", diff)
	}
	wantPrints := []string{".gitops/policies/team.rego:10: checking production 1"}
	if diff := cmp.Diff(wantPrints, v.Prints); diff != "" {
		t.Errorf("prints (-want +got):\n%s", diff)
	}
	var custom2 *Requirement
	for i, r := range v.Approval.Requirements {
		if cmp.Equal(r.From, []string{"lkeawe"}) {
			custom2 = &v.Approval.Requirements[i]
		}
	}
	if custom2 == nil || !custom2.Satisfied || custom2.Reasons[0] != "the GIS lead signs off" {
		t.Errorf("custom approval requirement = %+v in %+v", custom2, v.Approval)
	}
}

func TestFailClosed(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		rule  string
		msg   string
	}{
		{name: "syntax error", files: map[string]string{".gitops/policies/bad.rego": "package honua.custom.bad\n\ndeny contains \"x\" if {\n"},
			rule: "policy-error", msg: ".gitops/policies/bad.rego:"},
		{name: "compile error", files: map[string]string{".gitops/policies/bad.rego": "package honua.custom.bad\n\ndeny contains x if {\n\ty := 1\n}\n"},
			rule: "policy-error", msg: ".gitops/policies/bad.rego:3"},
		{name: "runtime error", files: map[string]string{".gitops/policies/bad.rego": "package honua.custom.bad\n\nx := 1 if input.environment\nx := 2 if input.environment\n\ndeny contains \"never\" if x == 3\n"},
			rule: "policy-error", msg: "failed at run time"},
		{name: "builtin error", files: map[string]string{".gitops/policies/bad.rego": "package honua.custom.bad\n\ndeny contains \"never\" if to_number(input.environment) > 1\n"},
			rule: "policy-error", msg: ".gitops/policies/bad.rego:3"},
		{name: "clock is forbidden", files: map[string]string{".gitops/policies/bad.rego": "package honua.custom.bad\n\ndeny contains \"late\" if time.now_ns() > 0\n"},
			rule: "policy-error", msg: "time.now_ns"},
		{name: "wrong package", files: map[string]string{".gitops/policies/bad.rego": "package honua.builtin.windows\n\ndeny := set()\n"},
			rule: "policy-error", msg: "not under honua.custom"},
		{name: "policy file YAML error", files: map[string]string{PolicyFile: "environments:\n  production:\n    autoApprove: [\n"},
			rule: "policy-error", msg: ".gitops/deployment-policy.yaml:"},
		{name: "condition does not parse", files: map[string]string{PolicyFile: "environments:\n  production:\n    approvalRules:\n      - name: odd\n        condition: resourcesRemoved >> 1\n"},
			rule: "policy-error", msg: `.gitops/deployment-policy.yaml:5:20: approval rule "odd": condition "resourcesRemoved >> 1" does not parse`},
		{name: "timeout", files: map[string]string{".gitops/policies/slow.rego": "package honua.custom.slow\n\ndeny contains \"slow\" if {\n\tsome i in numbers.range(1, 100000)\n\tsome j in numbers.range(1, 100000)\n\ti * j < 0\n}\n"},
			rule: "policy-timeout", msg: "time limit of 50ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustLoad(t, tt.files)
			v, err := NewEngine(WithTimeout(50*time.Millisecond)).Evaluate(context.Background(), b, prodInput("2026-03-11T20:00:00Z"))
			if err != nil {
				t.Fatalf("a broken policy is a verdict, not an error: %v", err)
			}
			if v.Allow || len(v.Deny) != 1 || v.Deny[0].Rule != tt.rule {
				t.Fatalf("verdict = %+v, want a single %s deny", v, tt.rule)
			}
			if !strings.Contains(v.Deny[0].Message, tt.msg) {
				t.Errorf("message %q does not contain %q", v.Deny[0].Message, tt.msg)
			}
			if len(v.Errors) == 0 {
				t.Errorf("no errors reported")
			}
			if v.Approval.Satisfied {
				t.Errorf("a failed policy must not satisfy approval")
			}
		})
	}
}

func TestEngineConcurrentAndCached(t *testing.T) {
	eng := NewEngine()
	b := testBundle(t)
	var wg sync.WaitGroup
	verdicts := make([]Verdict, 16)
	for i := range verdicts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := prodInput("2026-03-09T20:00:00Z")
			if i%2 == 0 {
				in.Now = mustTimeNoT("2026-03-10T20:00:00Z")
			}
			v, err := eng.Evaluate(context.Background(), b, in)
			if err != nil {
				t.Error(err)
			}
			verdicts[i] = v
		}()
	}
	wg.Wait()
	for i, v := range verdicts {
		if v.Allow != (i%2 == 0) {
			t.Errorf("verdict %d: allow = %v (%v)", i, v.Allow, v.Deny)
		}
	}
	if len(eng.cache) != 1 {
		t.Errorf("cache holds %d entries, want 1", len(eng.cache))
	}
	// Same content loaded again: same digest, no new compile.
	b2 := testBundle(t)
	if b2.Digest != b.Digest {
		t.Errorf("digest differs for the same policy")
	}
	if _, err := eng.Evaluate(context.Background(), b2, prodInput("2026-03-09T20:00:00Z")); err != nil {
		t.Fatal(err)
	}
	if len(eng.cache) != 1 {
		t.Errorf("cache holds %d entries after reload, want 1", len(eng.cache))
	}
}

func TestDigest(t *testing.T) {
	base := map[string]string{PolicyFile: testPolicy, ".gitops/policies/a.rego": "package honua.custom.a\n\nwarn contains \"a\" if false\n"}
	d0 := mustLoad(t, base).Digest
	changed := map[string]map[string]string{
		"data":   {PolicyFile: testPolicy + "  extra:\n    autoApprove: true\n", ".gitops/policies/a.rego": base[".gitops/policies/a.rego"]},
		"custom": {PolicyFile: testPolicy, ".gitops/policies/a.rego": "package honua.custom.a\n\nwarn contains \"b\" if false\n"},
	}
	for name, files := range changed {
		if d := mustLoad(t, files).Digest; d == d0 {
			t.Errorf("%s change does not change the digest", name)
		}
	}
	// A test file is not policy.
	withTest := map[string]string{PolicyFile: testPolicy, ".gitops/policies/a.rego": base[".gitops/policies/a.rego"], ".gitops/policies/a_test.rego": "package x"}
	if d := mustLoad(t, withTest).Digest; d != d0 {
		t.Errorf("a _test.rego file changes the digest")
	}
}
