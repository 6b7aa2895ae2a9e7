package checks

import (
	"strings"
	"testing"
	"time"

	"github.com/honua-io/honua-gitops/policy"
)

// productionVerdict is the verdict of production on the samples: needs
// approval; at monday, outside its window too.
func productionVerdict(t *testing.T, now time.Time) *policy.Verdict {
	t.Helper()
	r := scenario{now: now, deployments: map[string]policy.Deployment{"staging": {SHA: headSHA, SucceededAt: now.Add(-time.Hour)}}}.report(t)
	v, ok := r.Verdict("production")
	if !ok {
		t.Fatal("no verdict for production")
	}
	return &v
}

func TestDeployRunGolden(t *testing.T) {
	waiting := productionVerdict(t, tuesday)
	blocked := productionVerdict(t, monday)
	approvals := []ApprovalRecord{{Env: "production", Login: "lkeawe", Via: ViaButton, At: tuesday.Add(-10 * time.Minute), SHA: headSHA}}
	opens := mustTime("2026-03-10T19:00:00Z")
	for _, tc := range []struct {
		name       string
		d          Deploy
		conclusion string
		status     string
	}{
		{"waiting-approval", Deploy{State: DeployWaitingApproval, Verdict: waiting}, ConclusionActionRequired, StatusCompleted},
		{"waiting-review-in-github", Deploy{State: DeployWaitingApproval, Verdict: waiting, ReviewInGitHub: true, ReviewURL: "https://github.com/kailua-gis/config/actions/runs/7001"}, ConclusionActionRequired, StatusCompleted},
		{"blocked", Deploy{State: DeployBlocked, Verdict: blocked, Approvals: approvals, Until: &opens}, ConclusionNeutral, StatusCompleted},
		{"queued", Deploy{State: DeployQueued, Approvals: approvals, Timezone: "Pacific/Honolulu"}, "", StatusQueued},
		{"in-progress", Deploy{State: DeployInProgress, Approvals: approvals, Description: "applying 3 changes", LogURL: "https://runner.kailua.example/deployments/42/log"}, "", StatusInProgress},
		{"success", Deploy{State: DeploySuccess, Approvals: approvals, LogURL: "https://runner.kailua.example/deployments/42/log", EnvironmentURL: "https://gis.kailua.example/ogc"}, ConclusionSuccess, StatusCompleted},
		{"failure", Deploy{State: DeployFailure, Description: "rolled back: collection planning::parcels failed its health check", LogURL: "https://runner.kailua.example/deployments/42/log"}, ConclusionFailure, StatusCompleted},
		{"error", Deploy{State: DeployError, Description: "restoring the backup failed: permission denied"}, ConclusionFailure, StatusCompleted},
		{"rejected", Deploy{State: DeployRejected, Timezone: "Not/AZone", Rejection: &ApprovalRecord{Env: "production", Login: "lkeawe", Via: ViaComment, At: tuesday, Reason: "wait for the assessor's sign-off"}}, ConclusionFailure, StatusCompleted},
		{"inactive", Deploy{State: DeployInactive}, ConclusionNeutral, StatusCompleted},
		{"rollback", Deploy{State: DeploySuccess, Rollback: true, RollbackOf: "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef", Approvals: []ApprovalRecord{{Env: "production", Login: "lkeawe", Via: ViaRollback, At: tuesday}}}, ConclusionSuccess, StatusCompleted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			d.Env, d.SHA = "production", headSHA
			run := DeployRun(d)
			if run.Conclusion != tc.conclusion || run.Status != tc.status {
				t.Errorf("status %q, conclusion %q; want %q, %q", run.Status, run.Conclusion, tc.status, tc.conclusion)
			}
			if (run.Conclusion == "") != (run.Status != StatusCompleted) {
				t.Errorf("status %q with conclusion %q", run.Status, run.Conclusion)
			}
			checkActions(t, run)
			if got := d.StatusDescription(); len([]rune(got)) > 140 || got == "" || strings.Contains(got, "\n") {
				t.Errorf("status description %q: want one line of 1 to 140 characters", got)
			}
			golden(t, "deploy-"+tc.name+".golden", dump(run)+"\n--- status description ---\n"+d.StatusDescription()+"\n")
		})
	}
}

// checkActions checks GitHub's limits on a run's buttons.
func checkActions(t *testing.T, run CheckRun) {
	t.Helper()
	if len(run.Actions) > MaxActions {
		t.Errorf("%d actions, GitHub takes %d", len(run.Actions), MaxActions)
	}
	if len(run.Actions) > 0 && run.Conclusion == "" {
		t.Errorf("actions on a run in progress: GitHub shows them only on completed runs")
	}
	for _, a := range run.Actions {
		if n := len([]rune(a.Label)); n == 0 || n > MaxActionLabel {
			t.Errorf("label %q: %d characters", a.Label, n)
		}
		if n := len([]rune(a.Description)); n == 0 || n > MaxActionDescription {
			t.Errorf("description %q: %d characters", a.Description, n)
		}
		if n := len([]rune(a.Identifier)); n == 0 || n > MaxActionIdentifier {
			t.Errorf("identifier %q: %d characters", a.Identifier, n)
		}
	}
}

func TestDeployRunApproveButtons(t *testing.T) {
	run := DeployRun(Deploy{Env: "production", SHA: headSHA, State: DeployWaitingApproval})
	var ids []string
	for _, a := range run.Actions {
		ids = append(ids, a.Identifier)
	}
	if strings.Join(ids, ",") != ActionApprove+","+ActionReject {
		t.Errorf("buttons %v, want approve and reject", ids)
	}
	for _, s := range []DeployState{DeployBlocked, DeployQueued, DeployInProgress, DeploySuccess, DeployFailure, DeployError, DeployRejected, DeployInactive} {
		if run := DeployRun(Deploy{Env: "production", SHA: headSHA, State: s}); len(run.Actions) > 0 {
			t.Errorf("%s: buttons %v, want none", s, run.Actions)
		}
	}
	// Approved in GitHub's dialog: no buttons, a link to the gate run.
	run = DeployRun(Deploy{Env: "production", SHA: headSHA, State: DeployWaitingApproval, ReviewInGitHub: true, ReviewURL: "https://github.com/o/r/actions/runs/9"})
	if len(run.Actions) > 0 || !strings.Contains(run.Summary, "Review deployments") || !strings.Contains(run.Summary, "(https://github.com/o/r/actions/runs/9)") {
		t.Errorf("review in GitHub: actions %v, summary %q", run.Actions, run.Summary)
	}
}

// TestLink checks that only plain http(s) URLs become links, and that
// nothing in them can end the link.
func TestLink(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://runner.example/log/1", "[log](https://runner.example/log/1)"},
		{"http://runner.example/a b)c", "[log](http://runner.example/a%20b%29c)"},
		{"https://runner.example/x?q=[a](b)", "[log](https://runner.example/x?q=%5Ba%5D%28b%29)"},
		{"javascript:alert(1)", ""},
		{"https://user:pw@runner.example/", ""},
		{"/relative", ""},
		{"", ""},
	} {
		if got := link("log", tc.in); got != tc.want {
			t.Errorf("link(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
