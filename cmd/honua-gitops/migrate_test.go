package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/config"
)

const originalFixture = "../../reconciler/config/testdata/original"

func TestMigrateCommand(t *testing.T) {
	dir := copyTree(t, originalFixture)
	secrets := filepath.Join(t.TempDir(), "secrets.env")
	if err := os.WriteFile(secrets, []byte("DB_USER=gis\nDB_PASSWORD=pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	render := func() map[string]string {
		out := map[string]string{}
		for _, env := range []string{"development", "production"} {
			code, stdout, stderr := runCLI(t, "render", "--env", env, "--secrets-file", secrets, dir)
			if code != 0 {
				t.Fatalf("render %s: %d %s", env, code, stderr)
			}
			out[env] = stdout
		}
		return out
	}
	before := render()
	original := filepath.Join(dir, "environments/common/services/city-services.yaml")

	code, stdout, stderr := runCLI(t, "migrate", "--dry-run", dir)
	if code != 0 || !strings.Contains(stdout, "write     environments/common/layers/parks.yaml") || !strings.Contains(stdout, "dry run, nothing written") {
		t.Fatalf("dry run: %d\n%s\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(original); err != nil {
		t.Fatalf("dry run removed the original: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "environments/common/layers")); err == nil {
		t.Fatal("dry run wrote layers/")
	}

	code, stdout, stderr = runCLI(t, "migrate", dir)
	if code != 0 || !strings.Contains(stdout, "remove    environments/common/services/city-services.yaml") {
		t.Fatalf("migrate: %d\n%s\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(original); !os.IsNotExist(err) {
		t.Fatalf("original kept: %v", err)
	}
	after := render()
	for env := range before {
		if before[env] != after[env] {
			t.Errorf("%s renders differently after migrate", env)
		}
	}
	code, stdout, _ = runCLI(t, "migrate", dir)
	if code != 0 || !strings.Contains(stdout, "nothing to migrate") {
		t.Errorf("second run: %d %s", code, stdout)
	}
}

func TestMigrateCommandRefuses(t *testing.T) {
	dir := copyTree(t, originalFixture)
	p := filepath.Join(dir, "environments/common/layers/parks.yaml")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	// Another layer in the file migrate would write: it must stay.
	mine := "id: parks-old\nserviceId: parks\ngeometryType: Point\nidField: id\ngeometryField: g\nstorage: {table: t, srid: 4326}\n"
	if err := os.WriteFile(p, []byte(mine), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "migrate", dir)
	if code != exitInvalid || !strings.Contains(stderr, "parks.yaml: error: exists with other content") {
		t.Fatalf("got %d\n%s", code, stderr)
	}
	if got, _ := os.ReadFile(p); string(got) != mine {
		t.Error("existing file overwritten")
	}
}

// The fixture's policy has the original design's header, which the policy
// reads as it is.
func TestOriginalFixturePolicy(t *testing.T) {
	p := filepath.Join(originalFixture, filepath.FromSlash(policy.PolicyFile))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := policy.ParseFile(policy.PolicyFile, data, config.Limits{})
	if len(diags) > 0 || f == nil || f.Metadata.Name != "riverton-gis" {
		t.Fatalf("policy: %v %+v", diags, f)
	}
}
