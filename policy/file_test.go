package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseFileErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown field", "environments:\n  production:\n    autoAprove: true\n", `3:5: error: unknown field "autoAprove"`},
		{"bad timezone", "environments:\n  production:\n    timezone: Mars/Olympus\n", `3:15: error: timezone "Mars/Olympus" is not an IANA time zone name`},
		{"bad day", "environments:\n  p:\n    safety:\n      deploymentWindows:\n        - {dayOfWeek: Funday, startTime: '09:00', endTime: '10:00'}\n", `5:23: error: dayOfWeek "Funday" is not a day`},
		{"bad time", "environments:\n  p:\n    safety:\n      deploymentWindows:\n        - {dayOfWeek: Monday, startTime: '9am', endTime: '10:00'}\n", `startTime "9am" is not a time of day HH:MM`},
		{"empty window", "environments:\n  p:\n    safety:\n      deploymentWindows:\n        - {dayOfWeek: Monday, startTime: '10:00', endTime: '10:00'}\n", "is empty"},
		{"blackout backwards", "environments:\n  p:\n    safety:\n      blackoutPeriods:\n        - {name: x, startDate: 2026-01-02, endDate: 2026-01-01}\n", `blackout period "x" ends (2026-01-01) before it starts (2026-01-02)`},
		{"bad date", "environments:\n  p:\n    safety:\n      blackoutPeriods:\n        - {name: x, startDate: 2026-13-02, endDate: 2026-01-01}\n", `startDate "2026-13-02" is not a date`},
		{"bad duration", "environments:\n  p:\n    promotion: {after: staging, soak: soon}\n", `"soon" is not a duration`},
		{"promotion without after", "environments:\n  p:\n    promotion: {soak: 2h}\n", "promotion needs after"},
		{"bool expected", "environments:\n  p:\n    autoApprove: yes please\n", `expected true or false, not "yes please"`},
		{"bad approver", "environments:\n  p:\n    approvers: ['a/b/c']\n", `"a/b/c" is not a GitHub login or an org/team slug`},
		{"yaml syntax", "environments:\n  p: [\n", "2: error: invalid YAML"},
		{"duplicate key", "environments:\n  p: {}\n  p: {}\n", `"p" is set twice`},
		{"version", "version: 2\n", "version 2 is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := ParseFile(PolicyFile, []byte(tt.yaml))
			var all []string
			for _, d := range diags {
				all = append(all, d.String())
			}
			if !strings.Contains(strings.Join(all, "\n"), tt.want) {
				t.Errorf("diagnostics %q do not contain %q", all, tt.want)
			}
			for _, d := range diags {
				if d.File != PolicyFile || d.Line == 0 {
					t.Errorf("diagnostic %v does not name the file and line", d)
				}
			}
		})
	}
}

func TestParseFileDefaultsAndWindows(t *testing.T) {
	f, diags := ParseFile(PolicyFile, []byte(`
defaults:
  timezone: Pacific/Honolulu
  emergencyLabel: emergency-deploy
  approvers: ['@lkeawe']
environments:
  staging:
    minApprovals: 2
    rollbackOnFailure: false
  production:
    approvers: [kailua-gis/gis-leads]
    promotion: {after: staging, soak: 90m}
    safety:
      deploymentWindows:
        - {dayOfWeek: [Tue, Wednesday, thu], startTime: "09:00", endTime: "16:00"}
        - {dayOfWeek: Fri-Mon, startTime: "22:00", endTime: "24:00"}
`))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	st := f.Env("staging")
	if st.Timezone != "Pacific/Honolulu" || st.EmergencyLabel != "emergency-deploy" || st.MinApprovals != 2 || st.Safety.RollbackOnFailure || !cmp.Equal(st.Approvers, []string{"lkeawe"}) {
		t.Errorf("staging = %+v", st)
	}
	pr := f.Env("production")
	if !cmp.Equal(pr.Approvers, []string{"kailua-gis/gis-leads"}) || pr.Promotion.Soak != 90*time.Minute || pr.AutoApprove || !pr.RequiresValidation {
		t.Errorf("production = %+v", pr)
	}
	w := pr.Safety.DeploymentWindows
	if got := []string{w[0].Text(), w[1].Text()}; !cmp.Equal(got, []string{"Tue–Thu 09:00–16:00", "Sun,Mon,Fri,Sat 22:00–24:00"}) {
		t.Errorf("windows = %q", got)
	}
	if w[1].End != 0 {
		t.Errorf("24:00 must end at midnight (0), got %d", w[1].End)
	}
	if qa := f.Env("qa"); qa.Listed || qa.AutoApprove || qa.Timezone != "Pacific/Honolulu" {
		t.Errorf("unlisted qa = %+v", qa)
	}
}

func FuzzParseFile(f *testing.F) {
	f.Add([]byte(testPolicy))
	f.Add([]byte("environments:\n  p:\n    approvalRules:\n      - {name: a, condition: 'resourcesRemoved > 0'}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, _ := ParseFile(PolicyFile, b)
		if file != nil {
			// Whatever approval rules load must translate to Rego that
			// parses, as NewBundle requires.
			gen := conditionsModule(file)
			if _, err := parseRego(PolicyFile+"#approvalRules", gen); err != nil {
				t.Fatalf("approval rules translate to invalid Rego: %v\n%s", err, gen)
			}
			_ = file.data()
		}
	})
}
