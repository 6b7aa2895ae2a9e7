package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/honua-io/honua-gitops/internal/honuasim"
)

// TestRunnerCommandOnce: `runner --once` with a token applies the
// deployment the App queued, and refuses without an order key.
func TestRunnerCommandOnce(t *testing.T) {
	dir := t.TempDir()
	fx := newTokenFixture(t, dir)
	sim, tok, gh, key, keyFile, sha := fx.sim, fx.tok, fx.gh, fx.key, fx.keyFile, fx.sha
	id := queueDeployment(t, gh, key, sha, "development")
	live := filepath.Join(dir, "honua", "metadata.json")
	if err := os.MkdirAll(filepath.Dir(live), 0o755); err != nil {
		t.Fatal(err)
	}
	honua := honuasim.New(t, honuasim.Options{MetadataPath: live})
	t.Setenv("GITHUB_TOKEN", tok)
	t.Setenv("HONUA_SECRET_KAILUA_PG_PASSWORD_DEV", "dev-secret")
	args := []string{"runner", "--once", "--repo", "kailua-gis/config", "--env", "development",
		"--github-url", sim.APIURL(), "--app-bot", sim.BotLogin(), "--honua-url", honua.URL(),
		"--metadata-path", live, "--state-dir", filepath.Join(dir, "state"), "--log-format", "text"}

	_, stderr, code := runCmd(t, args...)
	if code != exitUsage || !strings.Contains(stderr, "--order-public-key-file") {
		t.Errorf("without an order key: exit %d, %s", code, stderr)
	}
	_, stderr, code = runCmd(t, append(args, "--order-public-key-file", keyFile)...)
	if code != exitOK {
		t.Fatalf("runner --once: exit %d\n%s", code, stderr)
	}
	var states []string
	for _, dd := range sim.Deployments("kailua-gis/config") {
		if dd.ID == id {
			states = dd.States
		}
	}
	if len(states) == 0 || states[len(states)-1] != "success" {
		t.Errorf("deployment statuses %v, want … success\n%s", states, stderr)
	}
	if !strings.Contains(string(honua.Loaded()), "dev-secret") {
		t.Errorf("Honua does not serve the rendered document with its secret filled")
	}
	if strings.Contains(stderr, "dev-secret") {
		t.Errorf("the runner logged a secret")
	}
}

// TestRunnerCommandTwoEnvironments: one runner serves development and
// staging, each with its own Honua (paired --honua-url, a {env} template
// for --metadata-path), and applies each environment's deployment to its
// own server.
func TestRunnerCommandTwoEnvironments(t *testing.T) {
	dir := t.TempDir()
	fx := newTokenFixture(t, dir)
	sim, tok, gh, key, keyFile, sha := fx.sim, fx.tok, fx.gh, fx.key, fx.keyFile, fx.sha
	servers := map[string]*honuasim.Server{}
	for _, env := range []string{"development", "staging"} {
		live := filepath.Join(dir, env, "metadata.json")
		if err := os.MkdirAll(filepath.Dir(live), 0o755); err != nil {
			t.Fatal(err)
		}
		servers[env] = honuasim.New(t, honuasim.Options{MetadataPath: live})
	}
	ids := map[string]int64{
		"development": queueDeployment(t, gh, key, sha, "development"),
		"staging":     queueDeployment(t, gh, key, sha, "staging"),
	}
	t.Setenv("GITHUB_TOKEN", tok)
	t.Setenv("HONUA_SECRET_KAILUA_PG_PASSWORD_DEV", "dev-secret")
	t.Setenv("HONUA_SECRET_KAILUA_PG_PASSWORD_STAGING", "staging-secret")
	base := []string{"runner", "--once", "--repo", "kailua-gis/config", "--env", "development", "--env", "staging",
		"--github-url", sim.APIURL(), "--app-bot", sim.BotLogin(), "--health-interval", "0",
		"--state-dir", filepath.Join(dir, "state"), "--log-format", "text", "--order-public-key-file", keyFile}

	// One server for two environments is refused, naming the fix.
	_, stderr, code := runCmd(t, append(base, "--honua-url", servers["development"].URL(),
		"--metadata-path", filepath.Join(dir, "{env}", "metadata.json"))...)
	if code != exitUsage || !strings.Contains(stderr, "one --honua-url per --env") {
		t.Errorf("one --honua-url for two environments: exit %d, %s", code, stderr)
	}
	_, stderr, code = runCmd(t, append(base, "--honua-url", servers["development"].URL(), "--honua-url", servers["staging"].URL(),
		"--metadata-path", filepath.Join(dir, "{env}", "metadata.json"))...)
	if code != exitOK {
		t.Fatalf("runner --once: exit %d\n%s", code, stderr)
	}
	for env, id := range ids {
		var states []string
		for _, dd := range sim.Deployments("kailua-gis/config") {
			if dd.ID == id {
				states = dd.States
			}
		}
		if len(states) == 0 || states[len(states)-1] != "success" {
			t.Errorf("%s: deployment statuses %v, want … success", env, states)
		}
	}
	if got := string(servers["development"].Loaded()); !strings.Contains(got, "dev-secret") || strings.Contains(got, "staging-secret") {
		t.Errorf("development's Honua does not serve development's document")
	}
	if got := string(servers["staging"].Loaded()); !strings.Contains(got, "staging-secret") || strings.Contains(got, "dev-secret") {
		t.Errorf("staging's Honua does not serve staging's document")
	}
}

func TestServersOf(t *testing.T) {
	envs := []string{"development", "staging"}
	got, err := serversOf(envs, []string{"http://dev:8080", "http://stg:8080"}, []string{"/srv/{env}/m.json"}, []string{"https://gis.example/{env}"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got[1].env != "staging" || got[1].honuaURL != "http://stg:8080" || got[1].metadataPath != "/srv/staging/m.json" || got[1].publicURL != "https://gis.example/staging" {
		t.Errorf("staging: %+v", got[1])
	}
	if got[0].publicURL != "https://gis.example/development" {
		t.Errorf("development: %+v", got[0])
	}
	one, err := serversOf([]string{"production"}, []string{"http://prod:8080"}, []string{"/srv/m.json"}, nil, nil)
	if err != nil || one[0].publicURL != "http://prod:8080" {
		t.Errorf("one environment: %+v, %v", one, err)
	}
	for _, tc := range []struct {
		name              string
		envs, urls, paths []string
		want              string
	}{
		{"no url", envs, nil, []string{"/srv/{env}"}, "--honua-url is required"},
		{"shared document", envs, []string{"http://{env}:8080"}, []string{"/srv/m.json"}, "one --metadata-path per --env"},
		{"three for two", envs, []string{"a", "b", "c"}, []string{"/srv/{env}"}, "given 3 times for 2 environments"},
		{"same pair", envs, []string{"http://x", "http://x"}, []string{"/srv/{env}"}, "would share http://x"},
		{"twice", []string{"staging", "staging"}, []string{"http://{env}"}, []string{"/srv/{env}"}, "given twice"},
		{"bad name", []string{"../etc"}, []string{"http://x"}, []string{"/srv/m"}, "folder name"},
	} {
		if _, err := serversOf(tc.envs, tc.urls, tc.paths, nil, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"128MiB": 128 << 20, "1GiB": 1 << 30, "67108864": 64 << 20, "40000KiB": 40000 << 10, "64MiB": 64 << 20, "off": math.MaxInt64} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("%s: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "128MB", "-1MiB", "1.5GiB", "10MiB", "99999999999TiB", "MiB"} {
		if _, err := parseByteSize(in); err == nil {
			t.Errorf("%q was taken as a size", in)
		}
	}
}

func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"128MiB", "off", "1GiB", "x", "9223372036854775807B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseByteSize(s)
		if err == nil && n < 32<<20 {
			t.Fatalf("%q: %d is below the floor", s, n)
		}
	})
}

// TestInitWritesTheGateWorkflow: init writes the gate workflow, says it is
// up to date the second time, and keeps a changed one unless --force.
func TestInitWritesTheGateWorkflow(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".github", "workflows", "honua-gate.yml")
	if _, stderr, code := runCmd(t, "init", dir); code != exitOK {
		t.Fatalf("init: exit %d %s", code, stderr)
	}
	got, err := os.ReadFile(p)
	if err != nil || !strings.Contains(string(got), "workflow_dispatch") || !strings.Contains(string(got), "environment: ${{ inputs.environment }}") {
		t.Fatalf("the gate workflow: %v\n%s", err, got)
	}
	if stdout, _, code := runCmd(t, "init", dir); code != exitOK || !strings.Contains(stdout, "up to date") {
		t.Errorf("init again: exit %d %q", code, stdout)
	}
	write(t, p, "name: mine\n")
	if _, stderr, code := runCmd(t, "init", dir); code != exitUsage || !strings.Contains(stderr, "--force") {
		t.Errorf("init over a changed file: exit %d %s", code, stderr)
	}
	if b, _ := os.ReadFile(p); string(b) != "name: mine\n" {
		t.Errorf("init replaced a changed file without --force")
	}
	if _, _, code := runCmd(t, "init", "--force", dir); code != exitOK {
		t.Errorf("init --force: exit %d", code)
	}
	if b, _ := os.ReadFile(p); !strings.Contains(string(b), "workflow_dispatch") {
		t.Errorf("init --force did not replace the file")
	}
}
