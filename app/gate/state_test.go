package gate

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

func ptr(t time.Time) *time.Time { return &t }

var (
	// windowOpens is Tuesday 09:00 in Honolulu.
	windowOpens = time.Date(2026, 3, 10, 19, 0, 0, 0, time.UTC)
	monday      = time.Date(2026, 3, 9, 20, 0, 0, 0, time.UTC) // 10:00 HST
)

func requirement(min int, from []string, by ...string) policy.Requirement {
	if by == nil {
		by = []string{}
	}
	return policy.Requirement{Min: min, From: from, ApprovedBy: by, Satisfied: len(by) >= min}
}

func approvalStatus(rs ...policy.Requirement) policy.ApprovalStatus {
	st := policy.ApprovalStatus{Required: len(rs) > 0, Satisfied: true, Requirements: rs}
	for _, r := range rs {
		st.Satisfied = st.Satisfied && r.Satisfied
		st.ApprovedBy = append(st.ApprovedBy, r.ApprovedBy...)
	}
	return st
}

func TestDeployState(t *testing.T) {
	leads := []string{"kailua-gis/gis-leads", "lkeawe"}
	window := policy.Finding{Rule: "deployment-window", Message: "outside the deployment windows", Gate: policy.GateWindow, Until: ptr(windowOpens), Wait: "the next deployment window"}
	soak := policy.Finding{Rule: "promotion", Message: "not yet soaked", Gate: policy.GatePromotion, Until: ptr(windowOpens.Add(3 * time.Hour)), Wait: "2h in staging"}
	unknownSoak := policy.Finding{Rule: "promotion", Message: "not deployed to staging", Gate: policy.GatePromotion, Wait: "2h in staging"}
	breaking := policy.Finding{Rule: "breaking-change", Message: "removing layer bike-lanes breaks 3 maps"}
	hst := "Pacific/Honolulu"
	tests := []struct {
		name       string
		v          policy.Verdict
		env        Environment
		approvedAt time.Time
		now        time.Time
		want       Decision
	}{
		{
			name: "allowed, no approval needed",
			v:    policy.Verdict{Allow: true},
			now:  monday,
			want: Decision{State: Queued, Description: "queued for the runner"},
		},
		{
			name: "approved",
			v:    policy.Verdict{Allow: true, Approval: approvalStatus(requirement(1, leads, "kalani"))},
			now:  monday,
			want: Decision{State: Queued, Description: "approved by kalani; queued for the runner"},
		},
		{
			name: "needs an approval",
			v:    policy.Verdict{Allow: true, Approval: approvalStatus(requirement(1, leads))},
			now:  monday,
			want: Decision{State: WaitingApproval, Description: "needs 1 approval from kailua-gis/gis-leads, lkeawe", NeedFrom: leads},
		},
		{
			name: "needs one more of two",
			v:    policy.Verdict{Allow: true, Approval: approvalStatus(requirement(2, leads, "kalani"))},
			now:  monday,
			want: Decision{State: WaitingApproval, Description: "needs 1 approval from kailua-gis/gis-leads, lkeawe", NeedFrom: leads},
		},
		{
			name: "needs two, from anyone",
			v:    policy.Verdict{Allow: true, Approval: approvalStatus(requirement(2, []string{}))},
			now:  monday,
			want: Decision{State: WaitingApproval, Description: "needs 2 approvals from anyone with write access"},
		},
		{
			name: "needs approvals of two groups",
			v: policy.Verdict{Allow: true, Approval: approvalStatus(
				requirement(1, leads),
				requirement(1, []string{"kailua-gis/policy-owners"}),
				requirement(1, []string{"mahina"}, "mahina"),
			)},
			now:  monday,
			want: Decision{State: WaitingApproval, Description: "needs 1 approval from kailua-gis/gis-leads, lkeawe and 1 from kailua-gis/policy-owners", NeedFrom: []string{"kailua-gis/gis-leads", "lkeawe", "kailua-gis/policy-owners"}},
		},
		{
			name: "needs approval, and waits for the window",
			v:    policy.Verdict{Allow: false, Deny: []policy.Finding{window}, Timezone: hst, Approval: approvalStatus(requirement(1, leads))},
			now:  monday,
			want: Decision{State: WaitingApproval, Until: ptr(windowOpens), NeedFrom: leads,
				Description: "needs 1 approval from kailua-gis/gis-leads, lkeawe; then waits for the next deployment window: Tue 2026-03-10 09:00 HST"},
		},
		{
			name: "waits for the window",
			v:    policy.Verdict{Allow: false, Deny: []policy.Finding{window}, Timezone: hst, Approval: approvalStatus(requirement(1, leads, "lkeawe"))},
			now:  monday,
			want: Decision{State: Blocked, Until: ptr(windowOpens), Description: "waits for the next deployment window: Tue 2026-03-10 09:00 HST"},
		},
		{
			name: "waits for the window, in UTC without a zone",
			v:    policy.Verdict{Allow: false, Deny: []policy.Finding{window}},
			now:  monday,
			want: Decision{State: Blocked, Until: ptr(windowOpens), Description: "waits for the next deployment window: Tue 2026-03-10 19:00 UTC"},
		},
		{
			name: "two gates: the later opening",
			v:    policy.Verdict{Allow: false, Deny: []policy.Finding{window, soak}, Timezone: hst},
			now:  monday,
			want: Decision{State: Blocked, Until: ptr(windowOpens.Add(3 * time.Hour)), Description: "waits for the next deployment window and 2h in staging: Tue 2026-03-10 12:00 HST"},
		},
		{
			name: "a gate whose opening is not known",
			v:    policy.Verdict{Allow: false, Deny: []policy.Finding{window, unknownSoak}, Timezone: hst},
			now:  monday,
			want: Decision{State: Blocked, Description: "waits for the next deployment window and 2h in staging"},
		},
		{
			name: "denied",
			v:    policy.Verdict{Allow: false, Deny: []policy.Finding{breaking}},
			now:  monday,
			want: Decision{State: Denied, Description: "denied by the deployment policy: removing layer bike-lanes breaks 3 maps"},
		},
		{
			name: "denied beats gates and approvals",
			v:    policy.Verdict{Allow: false, Deny: []policy.Finding{window, breaking, {Rule: "x", Message: "also bad"}}, Approval: approvalStatus(requirement(1, leads))},
			now:  monday,
			want: Decision{State: Denied, Description: "denied by the deployment policy: removing layer bike-lanes breaks 3 maps (and 1 more)"},
		},
		{
			name: "not allowed, with nothing said",
			v:    policy.Verdict{Allow: false},
			now:  monday,
			want: Decision{State: Denied, Description: "denied by the deployment policy"},
		},
		{
			name:       "approved, wait timer running",
			v:          policy.Verdict{Allow: true, Timezone: hst, Approval: approvalStatus(requirement(1, leads, "lkeawe"))},
			env:        Environment{Name: "production", WaitTimer: 30},
			approvedAt: windowOpens,
			now:        windowOpens.Add(10 * time.Minute),
			want:       Decision{State: Blocked, Until: ptr(windowOpens.Add(30 * time.Minute)), Description: "waits for the 30-minute wait timer: Tue 2026-03-10 09:30 HST"},
		},
		{
			name:       "approved, wait timer run out",
			v:          policy.Verdict{Allow: true, Approval: approvalStatus(requirement(1, leads, "lkeawe"))},
			env:        Environment{Name: "production", WaitTimer: 30},
			approvedAt: windowOpens,
			now:        windowOpens.Add(30 * time.Minute),
			want:       Decision{State: Queued, Description: "approved by lkeawe; queued for the runner"},
		},
		{
			name: "wait timer without a start",
			v:    policy.Verdict{Allow: true},
			env:  Environment{Name: "production", WaitTimer: 30},
			now:  monday,
			want: Decision{State: Queued, Description: "queued for the runner"},
		},
		{
			name: "a verdict without requirements (failed closed)",
			v:    policy.Verdict{Allow: true, Approval: policy.ApprovalStatus{Required: true, Min: 1, From: []string{}}},
			now:  monday,
			want: Decision{State: WaitingApproval, Description: "needs 1 approval from anyone with write access"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DeployState(tt.v, tt.env, tt.approvedAt, tt.now)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DeployState (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeployStateDescriptionFits(t *testing.T) {
	long := policy.Finding{Rule: "custom", Message: strings.Repeat("ā", 200)}
	for _, v := range []policy.Verdict{
		{Allow: false, Deny: []policy.Finding{long}},
		{Allow: true, Approval: approvalStatus(requirement(1, []string{strings.Repeat("team/", 40)}))},
	} {
		d := DeployState(v, Environment{}, time.Time{}, monday)
		if len(d.Description) > MaxDescription || !utf8.ValidString(d.Description) || !strings.HasSuffix(d.Description, "…") {
			t.Errorf("description of %d bytes: %q", len(d.Description), d.Description)
		}
	}
}

func TestGitHubState(t *testing.T) {
	for s, want := range map[State]string{Queued: "queued", WaitingApproval: "pending", Blocked: "pending", Denied: "failure"} {
		if got := s.GitHubState(); got != want {
			t.Errorf("%s.GitHubState() = %s, want %s", s, got, want)
		}
	}
}

// TestDeployStateFromTheEngine: a real verdict of the policy engine, for a
// production that needs two approvals within a window, decides as the
// hand-made ones do.
func TestDeployStateFromTheEngine(t *testing.T) {
	const file = `version: 1
environments:
  production:
    timezone: Pacific/Honolulu
    approvers: [lkeawe, kailua-gis/gis-leads]
    minApprovals: 1
    safety:
      deploymentWindows:
        - dayOfWeek: Tuesday-Thursday
          startTime: "09:00"
          endTime: "16:00"
`
	src := &config.FSSource{FS: fstest.MapFS{policy.PolicyFile: &fstest.MapFile{Data: []byte(file)}}, Label: "test"}
	ctx := context.Background()
	b, err := policy.Load(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	env := plan.Environment{Name: "production", Changes: []plan.Change{{Kind: "layer", ID: "bike-lanes", Action: plan.ActionAdd, File: "environments/production/layers/bike-lanes.yaml"}}}
	env.Summary.Added = 1
	digest := env.Digest()
	p := Pull{Repo: "kailua-gis/honua-config", Number: 12, Author: "author", HeadSHA: sha1, Reviews: []Review{{ID: 1, Login: "kalani", State: "approved", CommitID: sha1, SubmittedAt: monday.Add(-time.Hour)}}}
	eng := policy.NewEngine()
	judge := func(now time.Time, approvals []policy.Approval) policy.Verdict {
		v, err := eng.Evaluate(ctx, b, policy.Input{
			Environment: "production", Now: now, SHA: sha1,
			Plan:      policy.PlanInput{Summary: env.Summary, Changes: env.Changes, Digest: digest},
			PR:        policy.PR{Number: 12, Author: "author", HeadSHA: sha1},
			Approvals: approvals,
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	// Monday, no approval: waits for both.
	d := DeployState(judge(monday, nil), Environment{Name: "production"}, time.Time{}, monday)
	want := Decision{State: WaitingApproval, Until: ptr(windowOpens), NeedFrom: []string{"lkeawe", "kailua-gis/gis-leads"},
		Description: "needs 1 approval from lkeawe, kailua-gis/gis-leads; then waits for the next deployment window: Tue 2026-03-10 09:00 HST"}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("Monday, unapproved (-want +got):\n%s", diff)
	}

	// kalani of gis-leads approved the plan: Monday it waits for the
	// window, Tuesday it is queued.
	valid, _ := Approvals(p, "production", digest, digestsOf(map[string]string{sha1: digest}), nil, team)
	d = DeployState(judge(monday, valid), Environment{Name: "production"}, LastApproval(valid), monday)
	if d.State != Blocked || d.Description != "waits for the next deployment window: Tue 2026-03-10 09:00 HST" {
		t.Errorf("Monday, approved: %+v", d)
	}
	tuesday := windowOpens.Add(time.Hour)
	d = DeployState(judge(tuesday, valid), Environment{Name: "production"}, LastApproval(valid), tuesday)
	if d.State != Queued || d.Description != "approved by kalani; queued for the runner" {
		t.Errorf("Tuesday, approved: %+v", d)
	}

	// A push that changes the plan drops the approval.
	valid, stale := Approvals(p, "production", "another digest", digestsOf(map[string]string{sha1: digest}), nil, team)
	if len(valid) != 0 || len(stale) != 1 {
		t.Fatalf("after the plan changed: valid %v, stale %v", valid, stale)
	}
	if d := DeployState(judge(tuesday, valid), Environment{Name: "production"}, time.Time{}, tuesday); d.State != WaitingApproval {
		t.Errorf("Tuesday, plan changed: %+v", d)
	}
}
