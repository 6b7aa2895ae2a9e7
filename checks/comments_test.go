package checks

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/honua-io/honua-gitops/policy"
)

func TestCommentsGolden(t *testing.T) {
	waiting := productionVerdict(t, tuesday)
	approved := *waiting
	approved.Approval.Satisfied = true
	for i := range approved.Approval.Requirements {
		approved.Approval.Requirements[i].Satisfied = true
	}
	partly := *waiting
	partly.Approval.ApprovedBy = []string{"lkeawe"}
	partly.Approval.Requirements = []policy.Requirement{
		{Min: 1, From: []string{"kailua-gis/gis-leads", "lkeawe"}, ApprovedBy: []string{"lkeawe"}, Satisfied: true},
		{Min: 1, From: []string{"kailua-gis/platform", "mkalani"}, Reasons: []string{"the pull request changes .gitops/"}},
	}
	gated := productionVerdict(t, monday)
	gated.Approval.Satisfied = true
	approval := ApprovalRecord{Env: "production", Login: "lkeawe", Via: ViaComment, At: tuesday, SHA: headSHA, PlanDigest: strings.Repeat("13b3", 16)}
	for _, tc := range []struct {
		name, body string
	}{
		{"help", HelpText()},
		{"approval", ApprovalRecordComment(approval, nil)},
		{"approval-still-needed", ApprovalRecordComment(approval, &partly)},
		{"approval-complete", ApprovalRecordComment(approval, &approved)},
		{"approval-complete-gated", ApprovalRecordComment(approval, gated)},
		{"rejection", RejectionComment(ApprovalRecord{Env: "production", Login: "lkeawe", Via: ViaComment, At: tuesday, SHA: headSHA, Reason: "wait for the assessor's sign-off"})},
		{"deploy-result-success", DeployResultComment("production", headSHA, DeploySuccess, "", "https://runner.kailua.example/deployments/42/log")},
		{"deploy-result-failure", DeployResultComment("production", headSHA, DeployFailure, "rolled back: collection planning::parcels failed its health check", "https://runner.kailua.example/deployments/42/log")},
		{"deploy-result-error", DeployResultComment("production", headSHA, DeployError, "restoring the backup failed: permission denied", "")},
		{"rollback", RollbackComment(RollbackRecord{Env: "production", To: "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef", Of: headSHA, Login: "lkeawe", At: tuesday})},
		{"refusal", RefusalComment("only people with write access can /approve; @ana has read access")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, "comment-"+tc.name+".golden", tc.body)
		})
	}
}

// TestCommentMarkersRoundTrip checks that what a comment records reads back
// as it was written.
func TestCommentMarkersRoundTrip(t *testing.T) {
	a := ApprovalRecord{Env: "production", Login: "lkeawe", Via: ViaButton, At: tuesday, SHA: headSHA, PlanDigest: strings.Repeat("ab", 32)}
	ms := ParseMarkers(ApprovalRecordComment(a, nil))
	if len(ms) != 1 || ms[0].Kind != MarkerApproval {
		t.Fatalf("markers %+v, want one approval", ms)
	}
	var got ApprovalRecord
	if err := ms[0].Decode(&got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("approval record (-want +got):\n%s", diff)
	}

	r := ApprovalRecord{Env: "staging", Login: "kai", Via: ViaComment, At: tuesday.Add(time.Minute), SHA: headSHA, Reason: "not before <the> \"drill\" -->"}
	ms = ParseMarkers(RejectionComment(r))
	if len(ms) != 1 || ms[0].Kind != MarkerRejection {
		t.Fatalf("markers %+v, want one rejection", ms)
	}
	got = ApprovalRecord{}
	if err := ms[0].Decode(&got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("rejection record (-want +got):\n%s", diff)
	}

	rb := RollbackRecord{Env: "production", To: "deadbeef", Of: headSHA, Login: "lkeawe", At: tuesday}
	ms = ParseMarkers(RollbackComment(rb))
	var gotRB RollbackRecord
	if len(ms) != 1 || ms[0].Kind != MarkerRollback || ms[0].Decode(&gotRB) != nil || gotRB != rb {
		t.Errorf("rollback markers %+v, want %+v", ms, rb)
	}

	ms = ParseMarkers(DeployResultComment("production", headSHA, DeployFailure, "x", ""))
	var res DeployResult
	if len(ms) != 1 || ms[0].Kind != MarkerDeployResult || ms[0].Decode(&res) != nil || res != (DeployResult{Env: "production", SHA: headSHA, State: DeployFailure}) {
		t.Errorf("deploy result markers %+v", ms)
	}

	// A reason of any length still gives a marker.
	r.Reason = strings.Repeat("<&>\x00", 10000)
	if ms := ParseMarkers(RejectionComment(r)); len(ms) != 1 {
		t.Errorf("a long reason loses the marker: %d markers", len(ms))
	}
}
