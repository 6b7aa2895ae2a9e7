package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// copyTree copies a directory (the samples) so a test can change it.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

const samplesDir = "../../samples/"

func TestPlanSamples(t *testing.T) {
	code, out, stderr := runCLI(t, "plan", "--base", samplesDir+"config", "--head", samplesDir+"config-next")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"Environment production",
		"+ layer bike-lanes (transportation::bike-lanes)",
		"~ layer parcels (planning::parcels)  [BREAKING]",
		"geometryType Polygon → MultiPolygon changes the feature schema clients read",
		"Plan: 2 to add, 1 to change, 0 to remove (1 breaking).",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colour written to a non-terminal")
	}
}

func TestPlanJSONFromEmbeddedSamples(t *testing.T) {
	code, out, stderr := runCLI(t, "plan", "--base", "sample:config", "--head", "sample:config-next", "--format", "json", "--env", "staging", "--env", "production")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var p struct {
		Version      int `json:"version"`
		Environments []struct {
			Name    string `json:"name"`
			Summary struct{ Added, Modified, Removed, Breaking int }
		} `json:"environments"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if p.Version != 1 || len(p.Environments) != 2 || p.Environments[0].Name != "production" || p.Environments[1].Name != "staging" {
		t.Fatalf("plan = %+v", p)
	}
	if s := p.Environments[0].Summary; s.Added != 2 || s.Modified != 1 || s.Breaking != 1 {
		t.Errorf("production summary = %+v", s)
	}
}

func TestPlanExitCodes(t *testing.T) {
	broken := copyTree(t, samplesDir+"config-next")
	layer := filepath.Join(broken, "environments/common/layers/bike-lanes.yaml")
	data, _ := os.ReadFile(layer)
	os.WriteFile(layer, bytes.Replace(data, []byte("serviceId: transportation"), []byte("serviceId: transport"), 1), 0o644)

	tests := []struct {
		name string
		args []string
		code int
		want string // in stdout or stderr
	}{
		{"valid head", []string{"plan", "--base", samplesDir + "config", "--head", samplesDir + "config-next"}, 0, "Plan:"},
		{"invalid head prints plan and errors", []string{"plan", "--base", samplesDir + "config", "--head", broken}, 1, `serviceId "transport" does not exist`},
		{"no head", []string{"plan", "--base", samplesDir + "config"}, 2, "--head is required"},
		{"unknown format", []string{"plan", "--head", samplesDir + "config", "--format", "yaml"}, 2, "use text, markdown or json"},
		{"missing directory", []string{"plan", "--head", "/nonexistent/config"}, 2, "/nonexistent/config"},
		{"unknown environment", []string{"plan", "--head", samplesDir + "config", "--env", "qa"}, 2, "unknown environment"},
		{"unknown flag", []string{"plan", "--bogus"}, 2, "unknown flag"},
		{"no base: everything added", []string{"plan", "--head", samplesDir + "config", "--env", "production"}, 0, "to add"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, stderr)
			}
			if !strings.Contains(out+stderr, tt.want) {
				t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", tt.want, out, stderr)
			}
		})
	}
}

func TestPlanGitRevisions(t *testing.T) {
	dir := t.TempDir()
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	cfg := filepath.Join(dir, "gis")
	copyInto := func(src string) {
		os.RemoveAll(cfg)
		if err := os.Rename(copyTree(t, src), cfg); err != nil {
			t.Fatal(err)
		}
	}
	copyInto(samplesDir + "config")
	git("add", "-A")
	git("commit", "-qm", "base")
	git("checkout", "-qb", "bike-lanes")
	copyInto(samplesDir + "config-next")
	git("add", "-A")
	git("commit", "-qm", "add bike lanes")
	git("checkout", "-q", "main")

	code, out, stderr := runCLI(t, "plan", "--repo", dir, "--path", "gis", "--base", "main", "--head", "bike-lanes", "--env", "production")
	if code != 0 || !strings.Contains(out, "Plan: 2 to add, 1 to change, 0 to remove (1 breaking).") {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	// With --policy, the revisions name the commits the policy judges.
	headSHA, err := exec.Command("git", "-C", dir, "rev-parse", "bike-lanes").Output()
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr = runCLI(t, "plan", "--repo", dir, "--path", "gis", "--base", "main", "--head", "bike-lanes",
		"--env", "production", "--policy", "--now", "2026-11-24T20:00:00Z")
	want := string(headSHA[:12]) + " has never been deployed to staging"
	if code != exitDenied || !strings.Contains(out, want) {
		t.Errorf("plan --policy: exit %d, want %d and %q\n%s\n%s", code, exitDenied, want, out, stderr)
	}

	code, _, stderr = runCLI(t, "plan", "--repo", dir, "--base", "main", "--head", "no-such-branch")
	if code != 2 || !strings.Contains(stderr, "no-such-branch") {
		t.Errorf("unknown revision: exit %d, %s", code, stderr)
	}
}

func TestValidate(t *testing.T) {
	code, out, _ := runCLI(t, "validate", samplesDir+"config")
	if code != 0 || !strings.Contains(out, "3 environments (development, production, staging), 0 errors, 0 warnings") {
		t.Fatalf("exit %d: %s", code, out)
	}
	broken := copyTree(t, samplesDir+"config")
	os.WriteFile(filepath.Join(broken, "environments/common/layers/oops.yaml"), []byte("id: oops\nserviceId: planning\ngeometrytype: Point\n"), 0o644)
	code, out, _ = runCLI(t, "validate", broken)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"environments/common/layers/oops.yaml:1:1: error: layer \"oops\": missing required field geometryType",
		"environments/common/layers/oops.yaml:3:15: warning: layer \"oops\": unknown field geometrytype (did you mean geometryType?)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// A finding in common is printed once, not once per environment.
	if n := strings.Count(out, "missing required field geometryType"); n != 1 {
		t.Errorf("finding printed %d times, want once:\n%s", n, out)
	}
}

func TestRender(t *testing.T) {
	secrets := filepath.Join(t.TempDir(), "secrets.env")
	os.WriteFile(secrets, []byte("# production\nexport KAILUA_PG_PASSWORD_PROD='pa;ss'\n"), 0o600)
	code, out, stderr := runCLI(t, "render", "--env", "production", "--secrets-file", secrets, samplesDir+"config")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Password=pa;ss") {
		t.Error("secret not filled from the secrets file")
	}
	for _, k := range []string{"catalog", "folders", "dataSources", "services", "layers", "styles"} {
		if doc[k] == nil {
			t.Errorf("document lacks %s", k)
		}
	}

	// Only what the operator provides for secrets is read: the variable of
	// the reference's own name only with --secret-env, the prefixed one
	// always.
	t.Setenv("KAILUA_PG_PASSWORD_PROD", "from-env")
	t.Setenv(config.SecretEnvPrefix+"KAILUA_PG_PASSWORD_PROD", "")
	os.Unsetenv(config.SecretEnvPrefix + "KAILUA_PG_PASSWORD_PROD")
	code, out, stderr = runCLI(t, "render", "--env", "production", samplesDir+"config")
	if code != 1 || out != "" || !strings.Contains(stderr, "${KAILUA_PG_PASSWORD_PROD} is not set") {
		t.Errorf("missing secret: exit %d, stdout %q, stderr %s", code, out, stderr)
	}
	code, out, stderr = runCLI(t, "render", "--env", "production", "--secret-env", "KAILUA_PG_PASSWORD_PROD", samplesDir+"config")
	if code != 0 || !strings.Contains(out, "Password=from-env") {
		t.Errorf("--secret-env: exit %d, stderr %s", code, stderr)
	}
	t.Setenv(config.SecretEnvPrefix+"KAILUA_PG_PASSWORD_PROD", "pre;fixed")
	code, out, stderr = runCLI(t, "render", "--env", "production", samplesDir+"config")
	if code != 0 || !strings.Contains(out, "Password=pre;fixed") {
		t.Errorf("prefixed variable: exit %d, stderr %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "render", "--env", "qa", samplesDir+"config")
	if code != 2 || !strings.Contains(stderr, `environment "qa" not found`) {
		t.Errorf("unknown environment: exit %d, %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "render", samplesDir+"config")
	if code != 2 || !strings.Contains(stderr, "--env is required") {
		t.Errorf("no --env: exit %d, %s", code, stderr)
	}
}
