package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/honua-io/honua-gitops/samples"
)

// runCmd runs honua-gitops with args (through run, as main does) and returns
// stdout, stderr and the exit code.
func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	code, out, errOut := runCLI(t, args...)
	return out, errOut, code
}

func copySample(t *testing.T, name string) string {
	t.Helper()
	fsys, err := samples.FS(name)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dir, fsys); err != nil {
		t.Fatal(err)
	}
	return dir
}

type planJSON struct {
	Environments []struct {
		Name    string `json:"name"`
		Verdict struct {
			Allow bool `json:"allow"`
			Deny  []struct {
				Rule    string `json:"rule"`
				Message string `json:"message"`
			} `json:"deny"`
			Approval struct {
				Required bool     `json:"required"`
				From     []string `json:"from"`
			} `json:"approval"`
			PolicyDigest string `json:"policy_digest"`
		} `json:"verdict"`
	} `json:"environments"`
}

// TestPlanPolicyReadsBase shows that a PR cannot loosen the rules it is
// judged by: head deletes the custom rule that denies its change, and the
// change is still denied, because the policy comes from base.
func TestPlanPolicyReadsBase(t *testing.T) {
	base := copySample(t, "config")
	head := copySample(t, "config-next")
	rule := `package honua.custom.freeze

deny contains {"rule": "no-bike-lanes", "message": "bike lanes wait for the council vote"} if {
	some c in input.plan.changes
	c.id == "bike-lanes"
}
`
	if err := os.WriteFile(filepath.Join(base, ".gitops", "policies", "freeze.rego"), []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	// Head has no freeze.rego: the PR deletes the rule.
	out, stderr, code := runCmd(t, "plan", "--base", base, "--head", head, "--policy", "--format", "json",
		"--now", "2026-03-11T20:00:00Z", "--head-sha", "c0ffee", "--deployed", "staging=c0ffee@2026-03-11T10:00:00Z")
	if code != exitDenied {
		t.Fatalf("exit %d, want %d (denied)\n%s\n%s", code, exitDenied, stderr, out)
	}
	var p planJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Environments {
		v := e.Verdict
		if v.Allow || !hasRule(v.Deny, "no-bike-lanes") {
			t.Errorf("%s: verdict %+v, want denied by no-bike-lanes from base", e.Name, v)
		}
		if !contains(v.Approval.From, "kailua-gis/platform") {
			t.Errorf("%s: a PR that changes .gitops/ needs a policy owner, approval = %+v", e.Name, v.Approval)
		}
	}

	// The same head judged by its own policy would pass the freeze: that
	// is what reading base prevents.
	out, _, _ = runCmd(t, "plan", "--base", head, "--head", head, "--policy", "--format", "json", "--now", "2026-03-11T20:00:00Z")
	if strings.Contains(out, "no-bike-lanes") {
		t.Errorf("head's own policy still has the rule")
	}
}

func hasRule(ds []struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
}, rule string) bool {
	for _, d := range ds {
		if d.Rule == rule {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestPlanPolicyText(t *testing.T) {
	out, stderr, code := runCmd(t, "plan", "--base", "sample:config", "--head", "sample:config-next", "--policy",
		"--now", "2026-03-09T20:00:00Z", "--head-sha", "c0ffee", "--deployed", "staging=c0ffee@2026-03-09T10:00:00Z")
	if code != exitDenied {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{
		"Policy (sha256:",
		"development: allowed",
		"production: waits: window",
		"⏱ deployment-window: production deploys only inside its deployment windows (Tue–Thu 09:00–16:00, Pacific/Honolulu); it is Mon 2026-03-09 10:00 HST now; the next window opens Tue 2026-03-10 09:00 HST",
		"⏱ next deployment window: 2026-03-10T19:00:00Z",
		"staging: allowed, needs approval",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	md, _, _ := runCmd(t, "plan", "--base", "sample:config", "--head", "sample:config-next", "--policy", "--format", "markdown", "--now", "2026-03-09T20:00:00Z")
	if !strings.Contains(md, "### Policy") || !strings.Contains(md, "#### `production`: waits: window, promotion") || !strings.Contains(md, "- ⏱ `deployment-window`:") {
		t.Errorf("markdown lacks the policy section:\n%s", md)
	}
}

func TestPlanPolicyAllowedInWindow(t *testing.T) {
	_, _, code := runCmd(t, "plan", "--base", "sample:config", "--head", "sample:config-next", "--policy",
		"--now", "2026-03-11T20:00:00Z", "--head-sha", "c0ffee", "--deployed", "staging=c0ffee@2026-03-11T10:00:00Z")
	if code != exitOK {
		t.Errorf("exit %d, want 0: in the window, soaked in staging, nothing denies (approval is not a deny)", code)
	}
}

func TestPolicyTestCommand(t *testing.T) {
	dir := copySample(t, "config")
	out, stderr, code := runCmd(t, "policy", "test", dir)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{"policy compiles with the built-in rules (sha256:", "PASS: 10/10", "built-in rules:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// A failing custom test fails the command.
	bad := "package honua.custom.kailua_test\n\ntest_wrong if false\n"
	os.WriteFile(filepath.Join(dir, ".gitops", "policies", "wrong_test.rego"), []byte(bad), 0o644)
	out, _, code = runCmd(t, "policy", "test", "--builtins=false", dir)
	if code != exitInvalid || !strings.Contains(out, "FAIL: 1/11") {
		t.Errorf("exit %d, want %d with FAIL: 1/11:\n%s", code, exitInvalid, out)
	}
	// A policy that does not compile fails it too.
	os.Remove(filepath.Join(dir, ".gitops", "policies", "wrong_test.rego"))
	os.WriteFile(filepath.Join(dir, ".gitops", "policies", "broken.rego"), []byte("package honua.custom.broken\n\ndeny contains x if { y := 1 }\n"), 0o644)
	out, _, code = runCmd(t, "policy", "test", "--builtins=false", dir)
	if code != exitInvalid || !strings.Contains(out, "broken.rego:3") {
		t.Errorf("exit %d, want %d naming broken.rego:3:\n%s", code, exitInvalid, out)
	}
}

func TestPolicyEvalCommand(t *testing.T) {
	dir := copySample(t, "config")
	input := `{
  "environment": "production",
  "now": "2026-03-11T20:00:00Z",
  "sha": "c0ffee",
  "plan": {"summary": {"added": 0, "modified": 1, "removed": 0, "breaking": 0},
           "changes": [{"kind": "layer", "id": "flood-zones", "action": "modify", "breaking": false, "reasons": [], "file": "f.yaml", "line": 1, "collections": [], "details": []}],
           "errors": []},
  "pr": {"number": 3, "author": "ana", "labels": [], "base_sha": "b", "head_sha": "c0ffee", "touches_gitops": false},
  "approvals": [],
  "protection": null,
  "deployments": {"staging": {"sha": "c0ffee", "succeeded_at": "2026-03-11T10:00:00Z"}}
}`
	file := filepath.Join(t.TempDir(), "input.json")
	os.WriteFile(file, []byte(input), 0o644)
	out, stderr, code := runCmd(t, "policy", "eval", "--dir", dir, "--input", file)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	if !strings.Contains(out, `"kailua-gis/emergency-mgmt"`) || !strings.Contains(stderr, "hazard layer changed: flood-zones modify") {
		t.Errorf("verdict lacks the custom approval or print output:\n%s\n%s", out, stderr)
	}
	out, _, code = runCmd(t, "policy", "eval", "--dir", dir, "--input", file, "--query", "data.honua.custom.kailua.approval")
	if code != exitOK || !strings.Contains(out, "hazard layer flood-zones changes") {
		t.Errorf("query: exit %d\n%s", code, out)
	}
	_, stderr, code = runCmd(t, "policy", "eval", "--dir", dir, "--input", file+".missing")
	if code != exitUsage {
		t.Errorf("missing input: exit %d (%s)", code, stderr)
	}
}

// TestPlanPolicySourceProblems checks that a source problem under .gitops/
// (a symlink, a file over the size limit) never makes plan --policy fail as a
// usage error: the plan is printed with head's errors, the verdicts deny
// naming the problem (fail closed), and the exit status is plain plan's, or
// the policy's when that denies.
func TestPlanPolicySourceProblems(t *testing.T) {
	tests := []struct {
		name string
		// change alters the copies of the samples.
		change func(t *testing.T, base, head string)
		// code is the exit status of plan --policy; plain plan's is
		// plainCode.
		code, plainCode int
		// deny maps each environment's expected deny rules to a text
		// one of them must contain.
		deny map[string]string
	}{
		{"symlink under head's .gitops", func(t *testing.T, base, head string) {
			symlink(t, "/etc/passwd", filepath.Join(head, ".gitops", "policies", "evil.rego"))
		}, exitInvalid, exitInvalid, map[string]string{
			"validation":     ".gitops/policies/evil.rego: .gitops/policies/evil.rego is a symlink",
			"policy-invalid": "this PR's .gitops/ does not load or compile (.gitops/policies/evil.rego: .gitops/policies/evil.rego is a symlink",
		}},
		{"oversized file under head's .gitops", func(t *testing.T, base, head string) {
			write(t, filepath.Join(head, ".gitops", "policies", "big.rego"), "package honua.custom.big\n\n"+strings.Repeat("# padding\n", 4096))
		}, exitDenied, exitOK, map[string]string{
			"policy-invalid": ".gitops/policies/big.rego:1: the file is over the limit of 40000 bytes",
		}},
		{"symlink under base's .gitops", func(t *testing.T, base, head string) {
			symlink(t, "/etc/passwd", filepath.Join(base, ".gitops", "policies", "evil.rego"))
		}, exitDenied, exitOK, map[string]string{
			"policy-error": "the policy does not load: .gitops/policies/evil.rego: .gitops/policies/evil.rego is a symlink",
		}},
		{"symlink for base's .gitops", func(t *testing.T, base, head string) {
			real := filepath.Join(t.TempDir(), "gitops")
			if err := os.Rename(filepath.Join(base, ".gitops"), real); err != nil {
				t.Fatal(err)
			}
			symlink(t, real, filepath.Join(base, ".gitops"))
		}, exitDenied, exitOK, map[string]string{
			"policy-error": "the policy does not load: .gitops: .gitops is a symlink",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, head := copySample(t, "config"), copySample(t, "config-next")
			tt.change(t, base, head)
			args := []string{"plan", "--base", base, "--head", head, "--max-file-size", "40000"}
			plain, plainErr, plainCode := runCmd(t, args...)
			if plainCode != tt.plainCode {
				t.Fatalf("plain plan: exit %d, want %d\n%s%s", plainCode, tt.plainCode, plain, plainErr)
			}
			out, stderr, code := runCmd(t, append(args, "--policy", "--now", "2026-03-11T20:00:00Z", "--head-sha", "c0ffee",
				"--deployed", "staging=c0ffee@2026-03-11T10:00:00Z")...)
			if code != tt.code {
				t.Fatalf("plan --policy: exit %d, want %d\n%s%s", code, tt.code, out, stderr)
			}
			if !strings.HasPrefix(out, plain) || !strings.Contains(out, "\nPolicy (sha256:") {
				t.Errorf("plan --policy does not print the plan, then the verdicts:\n%s", out)
			}
			js, _, _ := runCmd(t, append(args, "--policy", "--format", "json", "--now", "2026-03-11T20:00:00Z", "--head-sha", "c0ffee",
				"--deployed", "staging=c0ffee@2026-03-11T10:00:00Z")...)
			var p planJSON
			if err := json.Unmarshal([]byte(js), &p); err != nil {
				t.Fatalf("%v\n%s", err, js)
			}
			if len(p.Environments) != 3 {
				t.Fatalf("%d environments", len(p.Environments))
			}
			for _, e := range p.Environments {
				if e.Verdict.Allow {
					t.Errorf("%s is allowed", e.Name)
				}
				for rule, text := range tt.deny {
					ok := false
					for _, d := range e.Verdict.Deny {
						ok = ok || d.Rule == rule && strings.Contains(d.Message, text)
					}
					if !ok {
						t.Errorf("%s: no %s deny containing %q in %+v", e.Name, rule, text, e.Verdict.Deny)
					}
				}
			}
		})
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
