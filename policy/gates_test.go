package policy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const gatesPolicy = `version: 1
environments:
  staging:
    autoApprove: true
  production:
    timezone: Pacific/Honolulu
    autoApprove: false
    allowBreakingChanges: false
    approvers: [lkeawe, mkalani]
    minApprovals: 2
    preventSelfApproval: true
    promotion:
      after: staging
      soak: 2h
    safety:
      deploymentWindows:
        - dayOfWeek: Tuesday-Thursday
          startTime: "09:00"
          endTime: "16:00"
      blackoutPeriods:
        - name: Holiday freeze
          startDate: 2025-12-20
          endDate: 2026-01-02
        - name: Election
          startDate: 2026-11-03
          endDate: 2026-11-03
          strict: true
`

// TestGatesOfTimeAreMarked checks that windows, blackouts and promotion are
// marked as gates of time, with when they open where that is known, and
// that denies about the change itself are not.
func TestGatesOfTimeAreMarked(t *testing.T) {
	b := mustLoad(t, map[string]string{PolicyFile: gatesPolicy})
	eng := NewEngine()
	monday := "2026-03-09T20:00:00Z" // 10:00 HST Monday: outside the window
	tuesday := mustTimeNoT("2026-03-10T19:00:00Z")

	tests := []struct {
		name    string
		in      func() Input
		gates   map[string]Gate
		changes []string // rules of the denies about the change
		opens   *time.Time
		gated   bool
	}{
		{
			name: "never deployed to staging, outside the window",
			in: func() Input {
				in := prodInput(monday)
				return in
			},
			gates: map[string]Gate{"deployment-window": GateWindow, "promotion": GatePromotion},
			opens: nil, // promotion waits for a deployment, not a time
			gated: true,
		},
		{
			name: "soaking in staging, outside the window",
			in: func() Input {
				in := prodInput(monday)
				in.Deployments = map[string]Deployment{"staging": {SHA: "c0ffee", SucceededAt: mustTimeNoT("2026-03-10T18:00:00Z").Add(-1 * time.Hour)}}
				in.Now = mustTimeNoT("2026-03-10T18:30:00Z") // 08:30 HST Tuesday
				return in
			},
			gates: map[string]Gate{"deployment-window": GateWindow, "promotion": GatePromotion},
			opens: ptr(tuesday), // 09:00 HST; the soak ends 19:00Z as well
			gated: true,
		},
		{
			name: "breaking change outside the window",
			in: func() Input {
				in := prodInput(monday)
				in.Plan = planOf(layerChange("parcels", "remove", true))
				in.Deployments = map[string]Deployment{"staging": {SHA: "c0ffee", SucceededAt: mustTimeNoT("2026-03-01T00:00:00Z")}}
				return in
			},
			gates:   map[string]Gate{"deployment-window": GateWindow},
			changes: []string{"breaking-change"},
			opens:   ptr(tuesday),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := eng.Evaluate(t.Context(), b, tt.in())
			if err != nil {
				t.Fatal(err)
			}
			gates := map[string]Gate{}
			for _, d := range v.Gates() {
				gates[d.Rule] = d.Gate
				if d.Gate == GatePromotion && d.Wait != "2h in staging" {
					t.Errorf("promotion waits for %q, want 2h in staging", d.Wait)
				}
			}
			if v.Timezone != "Pacific/Honolulu" {
				t.Errorf("timezone %q", v.Timezone)
			}
			if diff := cmp.Diff(tt.gates, gates); diff != "" {
				t.Errorf("gates (-want +got):\n%s\ndenies: %+v", diff, v.Deny)
			}
			if diff := cmp.Diff(tt.changes, rulesOrNil(v.ChangeDenies())); diff != "" {
				t.Errorf("change denies (-want +got):\n%s", diff)
			}
			if got := v.OpensAt(); !equalTimePtr(got, tt.opens) {
				t.Errorf("OpensAt = %v, want %v", got, tt.opens)
			}
			if v.Gated() != tt.gated {
				t.Errorf("Gated = %v, want %v", v.Gated(), tt.gated)
			}
		})
	}
}

// TestRollback checks what a rollback may cross: closed windows, promotion
// and blackouts, but not a strict blackout; and that one eligible approval,
// the requester's own, is enough.
func TestRollback(t *testing.T) {
	b := mustLoad(t, map[string]string{PolicyFile: gatesPolicy})
	eng := NewEngine()
	tests := []struct {
		name string
		now  string
		by   string
		deny []string
		ok   bool // approval satisfied
	}{
		{name: "closed window, never in staging", now: "2026-03-09T20:00:00Z", by: "lkeawe", ok: true},
		{name: "holiday freeze", now: "2025-12-23T20:00:00Z", by: "lkeawe", ok: true},
		{name: "strict blackout", now: "2026-11-03T20:00:00Z", by: "lkeawe", deny: []string{"blackout"}, ok: true},
		{name: "the PR's author rolls back", now: "2026-03-10T20:00:00Z", by: "ana", ok: false},
		{name: "an approver who is the PR's author", now: "2026-03-10T20:00:00Z", by: "mkalani", ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := prodInput(tt.now)
			in.Rollback = true
			if tt.by == "mkalani" {
				in.PR.Author = "mkalani"
			}
			in.Approvals = []Approval{{Login: tt.by, Commit: in.PR.HeadSHA, SubmittedAt: in.Now, Via: "rollback"}}
			v, err := eng.Evaluate(t.Context(), b, in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.deny, rulesOrNil(v.Deny)); diff != "" {
				t.Errorf("denies (-want +got):\n%s\n%+v", diff, v.Deny)
			}
			if v.Approval.Satisfied != tt.ok {
				t.Errorf("approval satisfied = %v, want %v: %+v", v.Approval.Satisfied, tt.ok, v.Approval)
			}
		})
	}

	// The same deployment without rollback: two approvals, windows, promotion.
	in := prodInput("2026-03-10T20:00:00Z")
	in.Approvals = []Approval{{Login: "lkeawe", Commit: in.PR.HeadSHA, SubmittedAt: in.Now}}
	v, err := eng.Evaluate(t.Context(), b, in)
	if err != nil {
		t.Fatal(err)
	}
	if v.Approval.Satisfied || v.Allow {
		t.Errorf("a deployment that is not a rollback went through: %+v", v)
	}
}

// TestApprovalsBindToThePlanDigest checks that an approval with a plan
// digest counts while the environment's plan is the one approved, on any
// commit, and not once the plan changed.
func TestApprovalsBindToThePlanDigest(t *testing.T) {
	b := mustLoad(t, map[string]string{PolicyFile: gatesPolicy})
	eng := NewEngine()
	in := prodInput("2026-03-10T20:00:00Z")
	in.Plan.Digest = "sha256:plan-a"
	in.Deployments = map[string]Deployment{"staging": {SHA: "c0ffee", SucceededAt: mustTimeNoT("2026-03-01T00:00:00Z")}}
	approve := func(login, commit, digest string) Approval {
		return Approval{Login: login, Commit: commit, PlanDigest: digest, SubmittedAt: in.Now.Add(-time.Minute)}
	}
	tests := []struct {
		name      string
		approvals []Approval
		want      []string
	}{
		{name: "same plan, older commit", approvals: []Approval{approve("lkeawe", "0ld", "sha256:plan-a"), approve("mkalani", "c0ffee", "sha256:plan-a")}, want: []string{"lkeawe", "mkalani"}},
		{name: "plan changed since", approvals: []Approval{approve("lkeawe", "c0ffee", "sha256:plan-b"), approve("mkalani", "c0ffee", "sha256:plan-a")}, want: []string{"mkalani"}},
		{name: "no digest: bound to the commit", approvals: []Approval{approve("lkeawe", "0ld", ""), approve("mkalani", "c0ffee", "")}, want: []string{"mkalani"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := in
			in.Approvals = tt.approvals
			v, err := eng.Evaluate(t.Context(), b, in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, v.Approval.ApprovedBy); diff != "" {
				t.Errorf("approved by (-want +got):\n%s", diff)
			}
		})
	}
}

func rulesOrNil(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func equalTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// TestPromotionOfCommitsThatSkipAnEnvironment: a commit that changes
// production but not staging cannot run in staging first: promotion does
// not hold it (with a warning); one that changes both is held; an input
// that does not say what the commit changes keeps promotion strict.
func TestPromotionOfCommitsThatSkipAnEnvironment(t *testing.T) {
	b := mustLoad(t, map[string]string{PolicyFile: gatesPolicy})
	eng := NewEngine()
	for _, tt := range []struct {
		name    string
		changed []string
		deny    bool
		warn    bool
	}{
		{name: "production only", changed: []string{"production"}, warn: true},
		{name: "staging and production", changed: []string{"staging", "production"}, deny: true},
		{name: "not known", changed: nil, deny: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := prodInput("2026-03-10T20:00:00Z")
			in.ChangedEnvironments = tt.changed
			v, err := eng.Evaluate(t.Context(), b, in)
			if err != nil {
				t.Fatal(err)
			}
			if got := containsRule(v.Deny, "promotion"); got != tt.deny {
				t.Errorf("promotion deny = %v, want %v: %+v", got, tt.deny, v.Deny)
			}
			if got := containsRule(v.Warn, "promotion-skipped"); got != tt.warn {
				t.Errorf("promotion-skipped warning = %v, want %v: %+v", got, tt.warn, v.Warn)
			}
		})
	}
}

func containsRule(fs []Finding, rule string) bool {
	for _, f := range fs {
		if f.Rule == rule {
			return true
		}
	}
	return false
}
