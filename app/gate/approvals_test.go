package gate

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/honua-io/honua-gitops/policy"
)

const (
	sha1, sha2, sha3 = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222", "3333333333333333333333333333333333333333"
	digA, digB       = "aaaa", "bbbb"
)

// at is minute m of the example day.
func at(m int) time.Time {
	return time.Date(2026, 3, 10, 18, 0, 0, 0, time.UTC).Add(time.Duration(m) * time.Minute)
}

// digestsOf answers from a table of commit → production's digest.
func digestsOf(m map[string]string) DigestLookup {
	return func(sha, env string) (string, bool) {
		if env != "production" {
			return "", false
		}
		d, ok := m[sha]
		return d, ok
	}
}

var team = map[string]Person{
	"kalani": {Login: "kalani", Permission: "write", Teams: []string{"kailua-gis/gis-leads"}},
	"lkeawe": {Login: "lkeawe", Permission: "admin"},
	"mahina": {Login: "mahina", Permission: "maintain", Teams: []string{"kailua-gis/policy-owners", "kailua-gis/gis-leads"}},
	"reader": {Login: "reader", Permission: "read"},
	"triage": {Login: "triage", Permission: "triage"},
	"ci-bot": {Login: "ci-bot", Permission: "write", Bot: true},
	"app":    {Login: "honua-gitops[bot]", Permission: "write"},
	"author": {Login: "author", Permission: "write"},
}

func review(id int64, login, state, commit string, m int) Review {
	return Review{ID: id, Login: login, State: state, CommitID: commit, SubmittedAt: at(m)}
}

func approval(login string, teams []string, commit, digest, via string, m int) policy.Approval {
	return policy.Approval{Login: login, Teams: teams, Commit: commit, SubmittedAt: at(m), PlanDigest: digest, Via: via}
}

func TestApprovals(t *testing.T) {
	// sha1 and sha2 plan production the same (digA); sha3 changes it (digB).
	digests := digestsOf(map[string]string{sha1: digA, sha2: digA, sha3: digB})
	leads := []string{"kailua-gis/gis-leads"}
	tests := []struct {
		name      string
		reviews   []Review
		records   []Record
		current   string
		head      string
		want      []policy.Approval
		wantStale []string
	}{
		{
			name:    "a review approval, bound to its commit's digest",
			reviews: []Review{review(1, "kalani", "APPROVED", sha1, 1)},
			current: digA,
			want:    []policy.Approval{approval("kalani", leads, sha1, digA, ViaReview, 1)},
		},
		{
			name:    "lowercase webhook state",
			reviews: []Review{review(1, "kalani", "approved", sha1, 1)},
			current: digA,
			want:    []policy.Approval{approval("kalani", leads, sha1, digA, ViaReview, 1)},
		},
		{
			name:    "a push that leaves the plan as it was keeps the approval",
			reviews: []Review{review(1, "kalani", "APPROVED", sha1, 1)},
			head:    sha2,
			current: digA,
			want:    []policy.Approval{approval("kalani", leads, sha1, digA, ViaReview, 1)},
		},
		{
			name:      "a push that changes the plan makes it stale",
			reviews:   []Review{review(1, "kalani", "APPROVED", sha1, 1)},
			head:      sha3,
			current:   digB,
			wantStale: []string{"approval by kalani no longer applies: the plan changed"},
		},
		{
			name:    "changes requested later withdraws",
			reviews: []Review{review(1, "kalani", "APPROVED", sha1, 1), review(2, "kalani", "CHANGES_REQUESTED", sha1, 2)},
			current: digA,
		},
		{
			name:    "a dismissed approval does not count",
			reviews: []Review{review(1, "kalani", "DISMISSED", sha1, 1)},
			current: digA,
		},
		{
			name:    "a comment after an approval leaves it",
			reviews: []Review{review(1, "kalani", "APPROVED", sha1, 1), review(2, "kalani", "COMMENTED", sha1, 2)},
			current: digA,
			want:    []policy.Approval{approval("kalani", leads, sha1, digA, ViaReview, 1)},
		},
		{
			name:    "approved again after requesting changes",
			reviews: []Review{review(1, "kalani", "CHANGES_REQUESTED", sha1, 1), review(2, "kalani", "APPROVED", sha2, 2)},
			current: digA,
			want:    []policy.Approval{approval("kalani", leads, sha2, digA, ViaReview, 2)},
		},
		{
			name:    "reviews out of order are put in time order",
			reviews: []Review{review(2, "kalani", "CHANGES_REQUESTED", sha1, 2), review(1, "kalani", "APPROVED", sha1, 1)},
			current: digA,
		},
		{
			name:    "same instant: the withdrawal wins",
			reviews: []Review{review(1, "kalani", "APPROVED", sha1, 1), review(2, "kalani", "CHANGES_REQUESTED", sha1, 1)},
			current: digA,
		},
		{
			name:    "people without write access and bots never count",
			reviews: []Review{review(1, "reader", "APPROVED", sha1, 1), review(2, "triage", "APPROVED", sha1, 1), review(3, "ci-bot", "APPROVED", sha1, 1), review(4, "honua-gitops[bot]", "APPROVED", sha1, 1), review(5, "stranger", "APPROVED", sha1, 1)},
			current: digA,
		},
		{
			name:    "login case does not matter",
			reviews: []Review{review(1, "Kalani", "APPROVED", sha1, 1)},
			current: digA,
			want:    []policy.Approval{approval("Kalani", leads, sha1, digA, ViaReview, 1)},
		},
		{
			name:    "a button approval of the environment",
			records: []Record{{Env: "production", Login: "lkeawe", Via: ViaButton, Kind: KindApprove, SHA: sha3, PlanDigest: digB, At: at(5)}},
			current: digB,
			want:    []policy.Approval{approval("lkeawe", nil, sha3, digB, ViaButton, 5)},
		},
		{
			name: "records of other environments are ignored",
			records: []Record{
				{Env: "staging", Login: "lkeawe", Via: ViaComment, Kind: KindApprove, SHA: sha1, PlanDigest: digA, At: at(5)},
				{Env: "staging", Login: "kalani", Kind: KindReject, At: at(6)},
			},
			reviews: []Review{review(1, "kalani", "APPROVED", sha1, 1)},
			current: digA,
			want:    []policy.Approval{approval("kalani", leads, sha1, digA, ViaReview, 1)},
		},
		{
			name:    "a rejection after an approval withdraws it",
			reviews: []Review{review(1, "kalani", "APPROVED", sha1, 1)},
			records: []Record{{Env: "Production", Login: "kalani", Via: ViaComment, Kind: KindReject, At: at(3), Reason: "wrong layer"}},
			current: digA,
		},
		{
			name:    "an approval after a rejection stands",
			records: []Record{{Env: "production", Login: "kalani", Via: ViaComment, Kind: KindReject, At: at(3)}, {Env: "production", Login: "kalani", Via: ViaComment, Kind: KindApprove, SHA: sha1, PlanDigest: digA, At: at(4)}},
			current: digA,
			want:    []policy.Approval{approval("kalani", leads, sha1, digA, ViaComment, 4)},
		},
		{
			name:    "someone else's rejection withdraws nothing",
			reviews: []Review{review(1, "kalani", "APPROVED", sha1, 1)},
			records: []Record{{Env: "production", Login: "lkeawe", Kind: KindReject, At: at(3)}},
			current: digA,
			want:    []policy.Approval{approval("kalani", leads, sha1, digA, ViaReview, 1)},
		},
		{
			name:    "changes requested withdraws a button approval too",
			records: []Record{{Env: "production", Login: "kalani", Via: ViaButton, Kind: KindApprove, SHA: sha1, PlanDigest: digA, At: at(1)}},
			reviews: []Review{review(1, "kalani", "CHANGES_REQUESTED", sha1, 2)},
			current: digA,
		},
		{
			name:    "the latest approval that applies counts",
			reviews: []Review{review(1, "kalani", "APPROVED", sha1, 1)},
			records: []Record{{Env: "production", Login: "kalani", Via: ViaButton, Kind: KindApprove, SHA: sha3, PlanDigest: digB, At: at(4)}},
			current: digA,
			want:    []policy.Approval{approval("kalani", leads, sha1, digA, ViaReview, 1)},
		},
		{
			name:    "a newer approval of the current plan replaces a stale one",
			reviews: []Review{review(1, "kalani", "APPROVED", sha1, 1)},
			records: []Record{{Env: "production", Login: "kalani", Via: ViaButton, Kind: KindApprove, SHA: sha3, PlanDigest: digB, At: at(4)}},
			current: digB,
			want:    []policy.Approval{approval("kalani", leads, sha3, digB, ViaButton, 4)},
		},
		{
			name:      "the current plan is not known",
			reviews:   []Review{review(1, "kalani", "APPROVED", sha1, 1)},
			current:   "",
			wantStale: []string{"approval by kalani no longer applies: the current plan is not known yet"},
		},
		{
			name:    "a review on the head commit, its plan unknown, binds to the commit",
			reviews: []Review{review(1, "kalani", "APPROVED", "4444444444444444444444444444444444444444", 1)},
			head:    "4444444444444444444444444444444444444444",
			current: digA,
			want:    []policy.Approval{approval("kalani", leads, "4444444444444444444444444444444444444444", "", ViaReview, 1)},
		},
		{
			name:      "a review on an older commit whose plan is unknown is stale",
			reviews:   []Review{review(1, "kalani", "APPROVED", "4444444444444444444444444444444444444444", 1)},
			head:      sha1,
			current:   digA,
			wantStale: []string{"approval by kalani no longer applies: it was given on 4444444, whose plan is not known"},
		},
		{
			name: "several people, sorted by login, teams filled in",
			reviews: []Review{
				review(1, "mahina", "APPROVED", sha1, 1),
				review(2, "kalani", "APPROVED", sha1, 2),
			},
			records: []Record{{Env: "production", Login: "lkeawe", Via: ViaComment, Kind: KindApprove, SHA: sha1, PlanDigest: digA, At: at(3)}},
			current: digA,
			want: []policy.Approval{
				approval("kalani", leads, sha1, digA, ViaReview, 2),
				approval("lkeawe", nil, sha1, digA, ViaComment, 3),
				approval("mahina", []string{"kailua-gis/policy-owners", "kailua-gis/gis-leads"}, sha1, digA, ViaReview, 1),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head := tt.head
			if head == "" {
				head = sha1
			}
			p := Pull{Repo: "kailua-gis/honua-config", Number: 12, Author: "author", HeadSHA: head, Reviews: tt.reviews}
			valid, stale := Approvals(p, "production", tt.current, digests, tt.records, team)
			if diff := cmp.Diff(tt.want, valid); diff != "" {
				t.Errorf("valid (-want +got):\n%s", diff)
			}
			var reasons []string
			for _, s := range stale {
				reasons = append(reasons, s.Reason)
			}
			if diff := cmp.Diff(tt.wantStale, reasons); diff != "" {
				t.Errorf("stale (-want +got):\n%s", diff)
			}
		})
	}
}

// TestApprovalsFeedThePolicy: what Approvals returns is what the policy
// counts, digests and teams included.
func TestApprovalsFeedThePolicy(t *testing.T) {
	p := Pull{Repo: "kailua-gis/honua-config", Number: 12, Author: "author", HeadSHA: sha1, Reviews: []Review{review(1, "kalani", "APPROVED", sha1, 1)}}
	valid, _ := Approvals(p, "production", digA, digestsOf(map[string]string{sha1: digA}), nil, team)
	if len(valid) != 1 || valid[0].PlanDigest != digA || len(valid[0].Teams) != 1 {
		t.Fatalf("Approvals = %+v", valid)
	}
	// The teams are a copy: the caller's people stay as they were.
	valid[0].Teams[0] = "changed"
	if team["kalani"].Teams[0] != "kailua-gis/gis-leads" {
		t.Error("Approvals shares its Teams with people")
	}
}

func TestWithoutSelf(t *testing.T) {
	p := Pull{Author: "author", Merger: "lkeawe"}
	all := []policy.Approval{
		approval("author", nil, sha1, digA, ViaReview, 1),
		approval("LKEAWE", nil, sha1, digA, ViaButton, 2),
		approval("kalani", nil, sha1, digA, ViaReview, 3),
		approval("author", nil, sha1, digA, ViaRollback, 4),
	}
	tests := []struct {
		name        string
		env         Environment
		pol         policy.EnvPolicy
		wantKept    []string
		wantDropped []string
	}{
		{"self-approval allowed", Environment{Name: "production"}, policy.EnvPolicy{}, []string{"author", "LKEAWE", "kalani", "author"}, nil},
		{"GitHub's prevent_self_review", Environment{Name: "production", PreventSelfReview: true}, policy.EnvPolicy{}, []string{"kalani", "author"}, []string{
			"approval by author does not count: they opened this pull request, and production does not allow approving one's own change",
			"approval by LKEAWE does not count: they merged this pull request, and production does not allow approving one's own change",
		}},
		{"the policy's preventSelfApproval", Environment{}, policy.EnvPolicy{Name: "production", PreventSelfApproval: true}, []string{"kalani", "author"}, []string{
			"approval by author does not count: they opened this pull request, and production does not allow approving one's own change",
			"approval by LKEAWE does not count: they merged this pull request, and production does not allow approving one's own change",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kept, dropped := WithoutSelf(all, p, tt.env, tt.pol)
			var gotKept, gotDropped []string
			for _, a := range kept {
				gotKept = append(gotKept, a.Login)
			}
			for _, s := range dropped {
				gotDropped = append(gotDropped, s.Reason)
			}
			if diff := cmp.Diff(tt.wantKept, gotKept); diff != "" {
				t.Errorf("kept (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantDropped, gotDropped); diff != "" {
				t.Errorf("dropped (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLastApproval(t *testing.T) {
	if !LastApproval(nil).IsZero() {
		t.Error("LastApproval(nil) is not zero")
	}
	got := LastApproval([]policy.Approval{approval("a", nil, "", "", "", 3), approval("b", nil, "", "", "", 7), approval("c", nil, "", "", "", 5)})
	if !got.Equal(at(7)) {
		t.Errorf("LastApproval = %v, want %v", got, at(7))
	}
}
