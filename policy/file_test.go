package policy

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/honua-io/honua-gitops/reconciler/config"
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
		{"promotion after itself", "defaults:\n  promotion: {after: staging}\nenvironments:\n  staging: {}\n", "2:14: error: environment staging: promotion.after names the environment itself (inherited from defaults?)"},
		{"bool expected", "environments:\n  p:\n    autoApprove: yes please\n", `expected true or false, not "yes please"`},
		{"bad approver", "environments:\n  p:\n    approvers: ['a/b/c']\n", `"a/b/c" is not a GitHub login or an org/team slug`},
		{"yaml syntax", "environments:\n  p: [\n", "3:1: error: invalid YAML: did not find expected node content"},
		{"duplicate key", "environments:\n  p: {}\n  p: {}\n", `"p" is set twice`},
		{"version", "version: 2\n", "version 2 is not supported"},
		{"approvals mode", "environments:\n  p:\n    approvals: github\n", `3:16: error: approvals "github" is not a mode: write app`},
		{"repository approvals mode", "approvals: dialog\n", `1:12: error: approvals "dialog" is not a mode`},
		// The header of the original format.
		{"api version", "apiVersion: honua.io/v2\nkind: DeploymentPolicy\n", `1:13: error: apiVersion "honua.io/v2" is not supported: write apiVersion: honua.io/v1`},
		{"kind", "apiVersion: honua.io/v1\nkind: Deployment\n", `2:7: error: kind "Deployment" is not a deployment policy: write kind: DeploymentPolicy`},
		{"metadata field", "metadata:\n  name: p\n  owner: ana\n", `3:3: error: unknown field "owner" (known: name, description, labels, annotations)`},
		{"metadata labels", "metadata:\n  labels: [a]\n", `2:11: error: metadata.labels must be a mapping`},
		{"metadata not a mapping", "metadata: honua\n", `1:11: error: metadata must be a mapping`},
		// Durations are bounded before they are multiplied: 106752 days
		// once wrapped around to a negative number, "never expires".
		{"expiry in days", "environments:\n  p:\n    approvalExpiry: 106752d\n", `3:21: error: approvalExpiry "106752d" is longer than the limit of 366 days`},
		{"expiry just over", "environments:\n  p:\n    approvalExpiry: 367d\n", `approvalExpiry "367d" is longer than the limit of 366 days`},
		{"expiry in seconds", "environments:\n  p:\n    approvalExpiry: 9223372036854775807\n", `approvalExpiry "9223372036854775807" is longer than the limit of 366 days`},
		{"expiry past int64", "environments:\n  p:\n    approvalExpiry: 99999999999999999999999\n", `is longer than the limit of 366 days`},
		{"expiry in hours", "environments:\n  p:\n    approvalExpiry: 9000000h\n", `approvalExpiry "9000000h" is longer than the limit of 366 days`},
		{"expiry past time.Duration", "environments:\n  p:\n    approvalExpiry: 99999999999h\n", `approvalExpiry "99999999999h" is longer than the limit of 366 days`},
		{"soak", "environments:\n  p:\n    promotion: {after: staging, soak: 400d}\n", `3:39: error: promotion.soak "400d" is longer than the limit of 366 days`},
		{"negative expiry", "environments:\n  p:\n    approvalExpiry: -1h\n", `approvalExpiry "-1h" is not a duration`},
		{"health check", "environments:\n  p:\n    safety: {healthCheckTimeout: 9999999999}\n", "must be between 1 and 86400"},
		// Numbers are read by YAML 1.2, as config files are.
		{"octal-looking number", "environments:\n  p:\n    minApprovals: 010\n", "3:19: error: 010 has a leading zero"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := ParseFile(PolicyFile, []byte(tt.yaml), config.DefaultLimits)
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

// TestParseFileDurationsAtTheLimit checks the other side of the bound.
func TestParseFileDurationsAtTheLimit(t *testing.T) {
	for _, d := range []string{"366d", "31622400", "8784h", "1h30m", "0"} {
		f, diags := ParseFile(PolicyFile, []byte("environments:\n  p:\n    approvalExpiry: "+d+"\n"), config.DefaultLimits)
		if len(diags) > 0 {
			t.Errorf("%s: %v", d, diags)
			continue
		}
		if got := f.Env("p").ApprovalExpiry; got < 0 || got > MaxDuration {
			t.Errorf("%s = %v", d, got)
		}
	}
}

// TestParseFileReadsLikeConfig checks that the policy file gets the config
// reader's limits and positions: it comes from a PR's base, written by
// people who may make mistakes or, on a shared repository, worse.
func TestParseFileReadsLikeConfig(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 'b'; i <= 'j'; i++ {
		bomb += fmt.Sprintf("%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	bomb += "environments:\n  p:\n    notifications: {x: *j}\n"
	tests := []struct {
		name string
		data string
		lim  config.Limits
		want string
	}{
		{"syntax error on line 7", "version: 1\nenvironments:\n  production:\n    autoApprove: false\n    approvers:\n      - lkeawe\n    safety: {requireBackup: true, healthCheckTimeout: 60\n    minApprovals: 1\n",
			config.DefaultLimits, ".gitops/deployment-policy.yaml:7:1: error: invalid YAML: did not find expected ',' or '}'"},
		{"alias bomb", bomb, config.DefaultLimits, "expands to more than 1000000 values (an alias bomb?)"},
		{"over the size limit", "version: 1\n" + strings.Repeat("# padding\n", 1000), config.Limits{MaxFileSize: 4096}, "1:1: error: file is 10011 bytes, over the limit of 4096 bytes"},
		{"over the default size limit", "version: 1\n" + strings.Repeat("# padding\n", 110_000), config.Limits{}, "over the limit of 1048576 bytes"},
		{"too deep", "environments:\n  p:\n    notifications:\n      x: " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n", config.DefaultLimits, "nesting deeper than 100 levels"},
		{"invalid UTF-8", "version: 1\nenvironments:\n  p\xff: {}\n", config.DefaultLimits, "3:4: error: file is not valid UTF-8"},
		{"two documents", "version: 1\n---\nversion: 1\n", config.DefaultLimits, "more than one YAML document"},
		{"control character", "version: 1\nenvironments:\n  p:\n    emergencyLabel: a\x07b\n", config.DefaultLimits, "4:22: error: invalid YAML: control character U+0007 is not allowed"},
		{"unknown anchor", "environments:\n  p:\n    approvers: *owners\n", config.DefaultLimits, "3:16: error: invalid YAML: alias *owners has no anchor"},
		{"duplicate key in notifications", "environments:\n  p:\n    notifications:\n      onDeploymentFailed: []\n      onDeploymentFailed: []\n", config.DefaultLimits, `5:7: error: key "onDeploymentFailed" is already defined at line 4`},
		{"YAML 1.1 number in notifications", "environments:\n  p:\n    notifications:\n      onDeploymentFailed: [{type: webhook, retries: 010}]\n", config.DefaultLimits, "4:53: error: 010 has a leading zero"},
		{"notifications not a mapping", "environments:\n  p:\n    notifications: [slack]\n", config.DefaultLimits, "3:20: error: notifications must be a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := ParseFile(PolicyFile, []byte(tt.data), tt.lim)
			var all []string
			for _, d := range diags {
				all = append(all, d.String())
			}
			if !strings.Contains(strings.Join(all, "\n"), tt.want) {
				t.Errorf("diagnostics %q do not contain %q", all, tt.want)
			}
		})
	}
	// A merge key in notifications is YAML that config files accept.
	f, diags := ParseFile(PolicyFile, []byte("slack: &slack {type: slack, channel: '#gis'}\nenvironments:\n  p:\n    notifications:\n      onDeploymentFailed: [{<<: *slack, channel: '#incidents'}]\n"), config.DefaultLimits)
	if len(diags) != 1 || !strings.Contains(diags[0].Message, `unknown field "slack"`) {
		t.Errorf("diagnostics = %v, want only the unknown top-level field", diags)
	}
	if f != nil {
		got := f.Env("p").Notifications["onDeploymentFailed"]
		if want := []any{map[string]any{"type": "slack", "channel": "#incidents"}}; !cmp.Equal(got, want) {
			t.Errorf("merged notifications = %#v, want %#v", got, want)
		}
	}
}

// TestExpiryBeyondTheLimitDenies checks what the bound on durations is for:
// an approvalExpiry that once wrapped around ("never expires") now keeps the
// policy from loading, so a 14-month-old approval cannot count.
func TestExpiryBeyondTheLimitDenies(t *testing.T) {
	b := mustLoad(t, map[string]string{PolicyFile: "environments:\n  production:\n    approvalExpiry: 106752d\n"})
	in := prodInput("2026-03-11T20:00:00Z")
	in.Approvals = []Approval{{Login: "lkeawe", Commit: "c0ffee", SubmittedAt: mustTimeNoT("2025-01-11T20:00:00Z")}}
	v := evaluate(t, b, in)
	if v.Allow || v.Approval.Satisfied || len(v.Deny) != 1 || !strings.Contains(v.Deny[0].Message, "longer than the limit of 366 days") {
		t.Errorf("verdict = %+v, want a policy-error deny naming the limit", v)
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
`), config.DefaultLimits)
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
	if b, err := os.ReadFile("testdata/original-format.yaml"); err == nil {
		f.Add(b)
	}
	// What an attacker tries next: header variants, durations past the
	// bound or past int64, deep and long conditions, many conditions
	// inherited by many environments, control characters, aliases,
	// YAML 1.1 numbers.
	for _, s := range []string{
		"apiVersion: honua.io/v1\nkind: DeploymentPolicy\nmetadata: {name: p, labels: {a: b}, annotations: {x: y}, description: d}\n",
		"apiVersion: honua.io/v2\nkind: DeploymentPolicy\n", "apiVersion: [honua.io/v1]\nkind: {a: b}\nmetadata: [x]\n",
		"kind: deploymentpolicy\nmetadata: {name: [x], labels: {a: [b]}}\n", "apiVersion: \"honua.io/v1\\u0000\"\n",
		"environments:\n  p:\n    approvalExpiry: 106752d\n", "environments:\n  p:\n    approvalExpiry: 366d\n",
		"environments:\n  p:\n    approvalExpiry: 9223372036854775807\n", "environments:\n  p:\n    approvalExpiry: 99999999999999999999999d\n",
		"environments:\n  p:\n    promotion: {after: q, soak: 2562047h47m16.854775808s}\n", "environments:\n  p:\n    approvalExpiry: 0.5h\n",
		"defaults:\n  promotion: {after: staging, soak: 1d}\nenvironments:\n  staging: {}\n",
		"environments:\n  p:\n    approvalRules:\n      - {name: d, condition: '" + strings.Repeat("(", 20) + "true" + strings.Repeat(")", 20) + "'}\n",
		"environments:\n  p:\n    approvalRules:\n      - {name: n, condition: '" + strings.Repeat("!", 40) + "true'}\n",
		"defaults:\n  approvalRules:\n    - {name: o, condition: 'true" + strings.Repeat(" || true", 31) + "'}\nenvironments: {a: {}, b: {}, c: {}}\n",
		"environments:\n  p:\n    approvalRules:\n      - {name: s, condition: secretsChanged, approvers: [kailua-gis/platform]}\n",
		"environments:\n  p:\n    emergencyLabel: \"a\\x07b\"\n    timezone: \"UTC\\u0000\"\n",
		"x: &x {autoApprove: true}\nenvironments: {a: *x, b: *x, c: *nope}\n",
		"environments:\n  p:\n    minApprovals: 010\n    largeRemoval: 0x10\n    notifications: {a: [{<<: {b: 1}, b: 2}]}\n",
		"environments:\n  p:\n    safety: {healthCheckTimeout: 1e9, deploymentWindows: [{dayOfWeek: Fri-Mon, startTime: '24:00', endTime: '00:00'}]}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, diags := ParseFile(PolicyFile, b, config.Limits{MaxFileSize: 64 << 10})
		for _, d := range diags {
			if d.File != PolicyFile || d.Line < 1 {
				t.Fatalf("diagnostic %v does not name the file and line", d)
			}
		}
		if file == nil {
			return
		}
		// Whatever approval rules load must translate to Rego that
		// parses, as NewBundle requires, and stay within the limits.
		gen := conditionsModule(file)
		if _, err := parseRego(PolicyFile+"#approvalRules", gen); err != nil {
			t.Fatalf("approval rules translate to invalid Rego: %v\n%s", err, gen)
		}
		terms := 0
		count := func(rules []ApprovalRule) {
			for _, r := range rules {
				if r.expr != nil {
					terms += r.expr.size()
				}
			}
		}
		count(file.Defaults.ApprovalRules)
		for _, e := range append(slices.Collect(maps.Values(file.Environments)), file.Defaults) {
			if e.ownRules {
				count(e.ApprovalRules)
			}
			if len(diags) == 0 {
				if e.ApprovalExpiry < 0 || e.ApprovalExpiry > MaxDuration || e.Promotion != nil && (e.Promotion.Soak < 0 || e.Promotion.Soak > MaxDuration) {
					t.Fatalf("durations out of bounds: %v, %+v", e.ApprovalExpiry, e.Promotion)
				}
			}
		}
		if terms > MaxFileConditionTerms {
			t.Fatalf("the file's conditions have %d terms", terms)
		}
		_ = file.data()
	})
}

// TestTooManyEnvironments: a file of 1 MiB can list tens of thousands of
// environments; past the bound they are refused, not compiled.
func TestTooManyEnvironments(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("environments:\n")
	for i := range MaxEnvironments + 5 {
		fmt.Fprintf(&sb, "  e%d: {autoApprove: true}\n", i)
	}
	f, diags := ParseFile(PolicyFile, []byte(sb.String()), config.DefaultLimits)
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "more than 1000 environments") || diags[0].Line != MaxEnvironments+2 {
		t.Fatalf("diagnostics %v", diags)
	}
	if len(f.Environments) != MaxEnvironments {
		t.Errorf("%d environments kept", len(f.Environments))
	}
}

// TestParseFileApprovalModes: the repository's approvals: is every
// environment's mode unless defaults: or the environment says otherwise;
// without any it is the App's.
func TestParseFileApprovalModes(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       map[string]string
	}{
		{"none", "environments:\n  production: {}\n", map[string]string{"production": ApprovalsApp, "": ApprovalsApp}},
		{"repository", "approvals: github-environment\nenvironments:\n  production: {}\n  staging: {approvals: app}\n",
			map[string]string{"production": ApprovalsGitHubEnvironment, "staging": ApprovalsApp, "": ApprovalsGitHubEnvironment}},
		{"defaults win over the repository", "approvals: github-environment\ndefaults: {approvals: app}\nenvironments:\n  production: {approvals: github-environment}\n  staging: {}\n",
			map[string]string{"production": ApprovalsGitHubEnvironment, "staging": ApprovalsApp, "": ApprovalsApp}},
	} {
		f, diags := ParseFile(".gitops/deployment-policy.yaml", []byte(tc.yaml), config.Limits{})
		if len(diags) > 0 {
			t.Fatalf("%s: %v", tc.name, diags)
		}
		for env, want := range tc.want {
			got := f.Defaults.Approvals
			if env != "" {
				got = f.Environments[env].Approvals
			}
			if got != want {
				t.Errorf("%s: %q approvals %q, want %q", tc.name, env, got, want)
			}
		}
	}
}
