package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/honua-io/honua-gitops/internal/honuasim"
)

// TestControllerAndDeploymentCommands: the controller deploys a pushed
// commit to development by itself; staging waits; `deployment approve`
// (teams resolved through the approvers file) releases it at the next
// poll; the audit trail names the approvers; `deployment rollback` puts
// the first commit back and the controller applies it.
func TestControllerAndDeploymentCommands(t *testing.T) {
	dir := t.TempDir()
	git := func(d string, args ...string) string { return gitIn(t, d, args...) }
	bare, work, first := sampleRemote(t, dir)

	servers := map[string]*honuasim.Server{}
	for _, env := range []string{"development", "staging"} {
		live := filepath.Join(dir, env, "metadata.json")
		if err := os.MkdirAll(filepath.Dir(live), 0o755); err != nil {
			t.Fatal(err)
		}
		servers[env] = honuasim.New(t, honuasim.Options{MetadataPath: live})
	}
	state := filepath.Join(dir, "state")
	t.Setenv("HONUA_SECRET_KAILUA_PG_PASSWORD_DEV", "dev-secret")
	t.Setenv("HONUA_SECRET_KAILUA_PG_PASSWORD_STAGING", "staging-secret")
	poll := func() {
		t.Helper()
		if _, stderr, code := runCmd(t, "controller", "--once", "--git-url", "file://"+bare, "--env", "development", "--env", "staging",
			"--honua-url", servers["development"].URL(), "--honua-url", servers["staging"].URL(),
			"--metadata-path", filepath.Join(dir, "{env}", "metadata.json"), "--state-dir", state, "--log-format", "text"); code != exitOK {
			t.Fatalf("controller --once: exit %d\n%s", code, stderr)
		}
	}
	type listing struct {
		Environments []struct {
			Env         string `json:"env"`
			Deployments []struct {
				ID    string `json:"id"`
				SHA   string `json:"sha"`
				State string `json:"state"`
			} `json:"deployments"`
		} `json:"environments"`
	}
	newest := func(env string) (string, string, string) {
		t.Helper()
		out, stderr, code := runCmd(t, "deployment", "list", "--state-dir", state, "--env", env, "--format", "json")
		if code != exitOK {
			t.Fatalf("deployment list: %s", stderr)
		}
		var l listing
		if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Environments) != 1 || len(l.Environments[0].Deployments) == 0 {
			t.Fatalf("deployment list: %v\n%s", err, out)
		}
		d := l.Environments[0].Deployments[0]
		return d.ID, d.SHA, d.State
	}

	poll()
	if _, _, st := newest("development"); st != "Completed" {
		t.Fatalf("development after the first poll: %s", st)
	}
	id, _, st := newest("staging")
	if st != "AwaitingApproval" {
		t.Fatalf("staging: %s", st)
	}
	approvers := filepath.Join(dir, "approvers.yaml")
	write(t, approvers, "teams:\n  kailua-gis/gis-engineers: [ana, bob]\n  kailua-gis/platform: [mkalani]\n")
	// reader is no approver: refused, with the reason.
	if _, stderr, code := runCmd(t, "deployment", "approve", id, "--state-dir", state, "--as", "reader", "--approvers-file", approvers); code == exitOK || !strings.Contains(stderr, "reader") {
		t.Errorf("reader's approval: exit %d %s", code, stderr)
	}
	for _, who := range []string{"ana", "mkalani"} {
		if _, stderr, code := runCmd(t, "deployment", "approve", id, "--state-dir", state, "--as", who, "--approvers-file", approvers); code != exitOK {
			t.Fatalf("%s's approval: exit %d %s", who, code, stderr)
		}
	}
	poll()
	if _, _, st := newest("staging"); st != "Completed" {
		t.Fatalf("staging after the approvals: %s", st)
	}
	if !bytes.Contains(servers["staging"].Loaded(), []byte("staging-secret")) {
		t.Errorf("staging's Honua does not serve staging's document")
	}
	out, _, code := runCmd(t, "deployment", "show", id, "--state-dir", state, "--format", "json")
	if code != exitOK || !strings.Contains(out, `"ana"`) || !strings.Contains(out, `"mkalani"`) {
		t.Errorf("deployment show: the approvers are not in it:\n%s", out)
	}

	// A change, deployed to development; then rolled back from the CLI.
	layer := filepath.Join(work, "environments", "common", "layers", "bike-lanes.yaml")
	write(t, layer, "id: bike-lanes\ntitle: Bike lanes\nserviceId: transportation\ngeometryType: LineString\nidField: objectid\ngeometryField: geom\nstorage:\n  table: bike_lanes\n  srid: 4326\n")
	git(work, "add", "-A")
	git(work, "commit", "-q", "-m", "bike lanes")
	git(work, "push", "-q", "origin", "main")
	poll()
	if _, _, st := newest("development"); st != "Completed" || !bytes.Contains(servers["development"].Loaded(), []byte(`"bike-lanes"`)) {
		t.Fatalf("development after the change: %s", st)
	}
	// Ids are to the second (the original's form): the first commit's own
	// deployment may have this second's id.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	if _, stderr, code := runCmd(t, "deployment", "rollback", "--env", "development", "--state-dir", state, "--as", "kai"); code != exitOK {
		t.Fatalf("deployment rollback: exit %d %s", code, stderr)
	}
	poll()
	_, sha, st := newest("development")
	if sha != first || st != "Completed" || bytes.Contains(servers["development"].Loaded(), []byte(`"bike-lanes"`)) {
		out, _, _ := runCmd(t, "deployment", "list", "--state-dir", state, "--env", "development")
		t.Errorf("development after the rollback: %s %s; serves bike-lanes: %v\n%s", sha[:7], st, bytes.Contains(servers["development"].Loaded(), []byte(`"bike-lanes"`)), out)
	}
	// The next poll does not fight the rollback: the branch did not move.
	poll()
	if _, sha2, _ := newest("development"); sha2 != first {
		t.Errorf("the controller redeployed the branch head over the rollback")
	}
}
