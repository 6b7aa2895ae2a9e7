package checks

import (
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/samples"
)

// strictProduction is the sample policy with breaking changes not allowed
// in production.
func strictProduction(t testing.TB) map[string]string {
	t.Helper()
	fsys, err := samples.FS("config")
	if err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(fsys, ".gitops/deployment-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "    allowBreakingChanges: true    # allowed", "    allowBreakingChanges: false   # allowed", 1)
	const prod = "  production:\n    autoApprove: false\n"
	i := strings.Index(s, prod)
	if i < 0 {
		t.Fatal("the sample policy has no production section")
	}
	j := strings.Index(s[i:], "allowBreakingChanges: true")
	s = s[:i+j] + "allowBreakingChanges: false" + s[i+j+len("allowBreakingChanges: true"):]
	return map[string]string{".gitops/deployment-policy.yaml": s}
}

func TestPolicyRunGolden(t *testing.T) {
	stagingDeployed := map[string]policy.Deployment{"staging": {SHA: headSHA, SucceededAt: tuesday.Add(-time.Hour)}}
	for _, tc := range []struct {
		name string
		s    scenario
		o    PolicyOptions
		want string
	}{
		{"policy-run", scenario{
			deployments: stagingDeployed,
			approvals: map[string][]policy.Approval{"staging": {
				{Login: "kai", Teams: []string{"kailua-gis/gis-engineers"}, Commit: headSHA, SubmittedAt: tuesday.Add(-30 * time.Minute), Via: "review"},
			}},
		}, PolicyOptions{Stale: []StaleApproval{{Env: "production", Login: "lkeawe"}}}, ConclusionSuccess},
		{"policy-run-gated", scenario{now: monday}, PolicyOptions{}, ConclusionSuccess},
		{"policy-run-denied", scenario{base: strictProduction(t), head: strictProduction(t), deployments: stagingDeployed}, PolicyOptions{}, ConclusionFailure},
		{"policy-run-unchanged", scenario{headName: "config"}, PolicyOptions{}, ConclusionNeutral},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := PolicyRun(tc.s.report(t), tc.o)
			if run.Conclusion != tc.want {
				t.Errorf("conclusion %q, want %q", run.Conclusion, tc.want)
			}
			golden(t, tc.name+".golden", dump(run))
		})
	}
}
