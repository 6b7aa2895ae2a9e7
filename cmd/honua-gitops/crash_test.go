package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/honua-io/honua-gitops/internal/githubsim"
	"github.com/honua-io/honua-gitops/internal/honuasim"
)

// TestRunnerSurvivesSIGKILL kills a real runner process (SIGKILL) at
// random points while it applies a deployment, then runs it again: every
// time, the live document is byte-identical to the old or the new one,
// Honua serves it, and GitHub shows the outcome that is true of it (success
// exactly when the new document is live).
func TestRunnerSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it a hundred times")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "honua-gitops")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the binary: %v\n%s", err, out)
	}
	fx := newTokenFixture(t, dir)
	sim, tok, gh, key, keyFile, shaA := fx.sim, fx.tok, fx.gh, fx.key, fx.keyFile, fx.sha
	shaB, err := sim.Push(context.Background(), "kailua-gis/config", "main", "ana", "bike lanes",
		githubsim.FileChange{Path: "environments/common/layers/bike-lanes.yaml", Content: []byte("id: bike-lanes\ntitle: Bike lanes\nserviceId: transportation\ngeometryType: LineString\nidField: objectid\ngeometryField: geom\nstorage:\n  table: bike_lanes\n  srid: 4326\n")})
	if err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(dir, "honua", "metadata.json")
	if err := os.MkdirAll(filepath.Dir(live), 0o755); err != nil {
		t.Fatal(err)
	}
	honua := honuasim.New(t, honuasim.Options{MetadataPath: live})
	honua.SetLatency(10 * time.Millisecond) // a wider window to kill in

	deploy := func(sha string) int64 { return queueDeployment(t, gh, key, sha, "development") }

	last := func(id int64) string {
		for _, d := range sim.Deployments("kailua-gis/config") {
			if d.ID == id && len(d.States) > 0 {
				return d.States[len(d.States)-1]
			}
		}
		return ""
	}
	runner := func() *exec.Cmd {
		c := exec.Command(bin, "runner", "--once", "--repo", "kailua-gis/config", "--env", "development",
			"--github-url", sim.APIURL(), "--app-bot", sim.BotLogin(), "--honua-url", honua.URL(),
			"--metadata-path", live, "--state-dir", filepath.Join(dir, "state"), "--order-public-key-file", keyFile,
			"--log-format", "text")
		c.Env = append(os.Environ(), "GITHUB_TOKEN="+tok, "HONUA_SECRET_KAILUA_PG_PASSWORD_DEV=dev-secret")
		return c
	}
	clean := func() {
		t.Helper()
		if out, err := runner().CombinedOutput(); err != nil {
			t.Fatalf("runner --once: %v\n%s", err, out)
		}
	}
	read := func() []byte {
		b, err := os.ReadFile(live)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The two documents, from clean applies.
	deploy(shaA)
	clean()
	docA := read()
	deploy(shaB)
	clean()
	docB := read()
	if bytes.Equal(docA, docB) {
		t.Fatal("the two commits render the same document")
	}

	rng := rand.New(rand.NewPCG(8, 9))
	kills, applied, undone := 0, 0, 0
	for i := 0; i < 80; i++ {
		oldDoc, newDoc, sha := docB, docA, shaA
		if i%2 == 1 {
			oldDoc, newDoc, sha = docA, docB, shaB
		}
		id := deploy(sha)
		c := runner()
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond) // where to kill, not a timing
		_ = c.Process.Signal(syscall.SIGKILL)
		_ = c.Wait()
		if killedBySignal(c) {
			kills++ // it was still running: the kill landed
		}
		clean() // recover and finish
		got := read()
		switch {
		case bytes.Equal(got, newDoc):
			applied++
			if s := last(id); s != "success" {
				t.Errorf("iteration %d: the new document is live but GitHub says %q", i, s)
			}
		case bytes.Equal(got, oldDoc):
			undone++
			if s := last(id); s != "failure" {
				t.Errorf("iteration %d: the old document is live but GitHub says %q", i, s)
			}
			// An undone deployment is not retried: queue the old state
			// again so that the next iteration starts from it.
		default:
			t.Fatalf("iteration %d: the live document is neither the old nor the new one", i)
		}
		if !bytes.Equal(honua.Loaded(), got) {
			t.Fatalf("iteration %d: Honua does not serve the live document", i)
		}
		if bytes.Equal(got, oldDoc) {
			// Bring the environment to newDoc's state for the alternation.
			deploy(sha)
			clean()
			if !bytes.Equal(read(), newDoc) {
				t.Fatalf("iteration %d: redeploying after an undone apply failed", i)
			}
		}
	}
	t.Logf("80 runs: %d killed while running; afterwards %d applied, %d undone", kills, applied, undone)
	if kills < 50 {
		t.Errorf("only %d kills landed while the runner ran, want at least 50", kills)
	}
}

// TestControllerSurvivesSIGKILL kills a real controller process (SIGKILL)
// at random points while it applies a pushed commit, then runs it again:
// every time the live document is byte-identical to the old one or is the
// new commit's, Honua serves it, and the state store tells the truth
// (Completed exactly when the new document is live).
func TestControllerSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it many times")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "honua-gitops")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the binary: %v\n%s", err, out)
	}
	git := func(d string, args ...string) string { return gitIn(t, d, args...) }
	bare, work, _ := sampleRemote(t, dir)
	layer := filepath.Join(work, "environments", "common", "layers", "bike-lanes.yaml")
	push := func(title string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(layer), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, layer, "id: bike-lanes\ntitle: "+title+"\nserviceId: transportation\ngeometryType: LineString\nidField: objectid\ngeometryField: geom\nstorage:\n  table: bike_lanes\n  srid: 4326\n")
		git(work, "add", "-A")
		git(work, "commit", "-q", "-m", title)
		git(work, "push", "-q", "origin", "main")
	}
	live := filepath.Join(dir, "honua", "metadata.json")
	if err := os.MkdirAll(filepath.Dir(live), 0o755); err != nil {
		t.Fatal(err)
	}
	honua := honuasim.New(t, honuasim.Options{MetadataPath: live})
	honua.SetLatency(20 * time.Millisecond) // a wider window to kill in
	state := filepath.Join(dir, "state")
	ctl := func() *exec.Cmd {
		c := exec.Command(bin, "controller", "--once", "--git-url", "file://"+bare, "--env", "development",
			"--honua-url", honua.URL(), "--metadata-path", live, "--state-dir", state, "--health-interval", "0", "--log-format", "text")
		c.Env = append(os.Environ(), "HONUA_SECRET_KAILUA_PG_PASSWORD_DEV=dev-secret")
		return c
	}
	clean := func() {
		t.Helper()
		if out, err := ctl().CombinedOutput(); err != nil {
			t.Fatalf("controller --once: %v\n%s", err, out)
		}
	}
	read := func() []byte {
		b, err := os.ReadFile(live)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	newest := func() (string, string) {
		t.Helper()
		out, err := exec.Command(bin, "deployment", "list", "--state-dir", state, "--env", "development", "--format", "json").Output()
		if err != nil {
			t.Fatalf("deployment list: %v", err)
		}
		var list struct {
			Environments []struct {
				Deployments []struct {
					SHA   string `json:"sha"`
					State string `json:"state"`
				} `json:"deployments"`
			} `json:"environments"`
		}
		if err := json.Unmarshal(out, &list); err != nil || len(list.Environments) != 1 || len(list.Environments[0].Deployments) == 0 {
			t.Fatalf("deployment list: %v\n%s", err, out)
		}
		d := list.Environments[0].Deployments[0]
		return d.SHA, d.State
	}
	clean() // the first deployment
	// How long a run that applies takes here: the kills land within it.
	push("Bike lanes (calibration)")
	began := time.Now()
	clean()
	span := time.Since(began)
	rng := rand.New(rand.NewPCG(3, 4))
	kills, applied, undone := 0, 0, 0
	for i := 0; i < 80; i++ {
		old := read()
		title := fmt.Sprintf("Bike lanes %d", i)
		push(title)
		sha := git(work, "rev-parse", "HEAD")
		c := ctl()
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(span)))) // where to kill, not a timing
		_ = c.Process.Signal(syscall.SIGKILL)
		_ = c.Wait()
		if killedBySignal(c) {
			kills++ // it was still running: the kill landed
		}
		clean() // recover and carry on
		got := read()
		gotSHA, st := newest()
		switch {
		case bytes.Contains(got, []byte(`"`+title+`"`)):
			applied++
			if gotSHA != sha || st != "Completed" {
				t.Errorf("iteration %d: the new document is live but the store says %s %s", i, gotSHA[:7], st)
			}
		case bytes.Equal(got, old):
			undone++
			if gotSHA == sha && st == "Completed" {
				t.Errorf("iteration %d: the old document is live but the store says Completed", i)
			}
		default:
			t.Fatalf("iteration %d: the live document is neither the old one nor the new commit's", i)
		}
		if !bytes.Equal(honua.Loaded(), got) {
			t.Fatalf("iteration %d: Honua does not serve the live document", i)
		}
	}
	t.Logf("80 runs (a run takes %v here): %d killed while running; afterwards %d applied, %d undone", span.Round(time.Millisecond), kills, applied, undone)
	if kills < 50 {
		t.Errorf("only %d kills landed while the controller ran, want at least 50", kills)
	}
}

// killedBySignal reports whether c ended by a signal (and not by exiting
// before it came).
func killedBySignal(c *exec.Cmd) bool {
	ws, ok := c.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}
