package githubsim_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// TestCheckExchangeCatches proves the contract check fails what it must.
func TestCheckExchangeCatches(t *testing.T) {
	spec := githubsim.RequireSpec(t)
	user := `{"login":"a","id":1,"node_id":"U","avatar_url":"https://x/a","gravatar_id":"","url":"https://x/u","html_url":"https://x/a","followers_url":"https://x/f","following_url":"https://x/f{/o}","gists_url":"https://x/g{/g}","starred_url":"https://x/s{/o}{/r}","subscriptions_url":"https://x/s","organizations_url":"https://x/o","repos_url":"https://x/r","events_url":"https://x/e{/p}","received_events_url":"https://x/r","type":"User","site_admin":false}`
	reaction := `{"id":1,"node_id":"R","user":` + user + `,"content":"+1","created_at":"2024-01-01T00:00:00Z"}`
	cases := []struct {
		name string
		ex   githubsim.Exchange
		want string // substring of the violation; "" = conforms
	}{
		{"conforms", githubsim.Exchange{Method: "POST", Path: "/repos/o/r/issues/comments/1/reactions", Status: 201, RequestBody: json.RawMessage(`{"content":"+1"}`), ResponseBody: json.RawMessage(reaction), ResponseContentType: "application/json"}, ""},
		{"unknown path", githubsim.Exchange{Method: "GET", Path: "/repos/o/r/nonsense/1", Status: 200}, "path unknown"},
		{"wrong method", githubsim.Exchange{Method: "DELETE", Path: "/repos/o/r/check-runs/1", Status: 204}, "method not allowed"},
		{"bad request body", githubsim.Exchange{Method: "POST", Path: "/repos/o/r/issues/comments/1/reactions", Status: 201, RequestBody: json.RawMessage(`{"content":"thumbsup"}`)}, "request body"},
		{"missing response field", githubsim.Exchange{Method: "POST", Path: "/repos/o/r/issues/comments/1/reactions", Status: 201, RequestBody: json.RawMessage(`{"content":"+1"}`), ResponseBody: json.RawMessage(`{"id":1}`), ResponseContentType: "application/json"}, "missing properties"},
		{"undocumented success", githubsim.Exchange{Method: "GET", Path: "/repos/o/r", Status: 206, ResponseBody: json.RawMessage(`{}`)}, "not documented"},
		{"undeclared query", githubsim.Exchange{Method: "GET", Path: "/repos/o/r/pulls", Query: "colour=red", Status: 200, ResponseBody: json.RawMessage(`[]`), ResponseContentType: "application/json"}, "not declared"},
		{"ill-typed query", githubsim.Exchange{Method: "GET", Path: "/repos/o/r/pulls", Query: "state=merged", Status: 200, ResponseBody: json.RawMessage(`[]`), ResponseContentType: "application/json"}, "query parameter"},
		{"nullable honoured", githubsim.Exchange{Method: "GET", Path: "/repos/o/r/pulls/1/reviews", Status: 200, ResponseBody: json.RawMessage(`[]`), ResponseContentType: "application/json"}, ""},
		{"304 any GET", githubsim.Exchange{Method: "GET", Path: "/repos/o/r/pulls/1", Status: 304}, ""},
		{"error object", githubsim.Exchange{Method: "GET", Path: "/repos/o/r/pulls/1", Status: 404, ResponseBody: json.RawMessage(`{"message":"Not Found"}`), ResponseContentType: "application/json"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vs := spec.CheckExchange(tc.ex)
			if tc.want == "" {
				if len(vs) > 0 {
					t.Errorf("violations: %v", vs)
				}
				return
			}
			if len(vs) == 0 || !strings.Contains(vs[0].What, tc.want) {
				t.Errorf("violations %v, want one containing %q", vs, tc.want)
			}
		})
	}
}

// TestSimLog writes the traffic of a short session to a log file, as
// HONUA_GITOPS_SIM_LOG does, and re-validates it offline.
func TestSimLog(t *testing.T) {
	spec := githubsim.RequireSpec(t)
	path := filepath.Join(t.TempDir(), "sim.jsonl")
	f := newFixture(t, githubsim.Options{LogPath: path})
	ctx := context.Background()
	if _, _, err := f.gh.Repositories.Get(ctx, org, name); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.gh.Checks.CreateCheckRun(ctx, org, name, github.CreateCheckRunOptions{Name: "honua/plan", HeadSHA: f.base}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"method", "path", "query", "status", "request_body", "response_body", "request_content_type", "response_content_type"} {
		if _, ok := last[k]; !ok {
			t.Errorf("log line lacks %q: %s", k, lines[len(lines)-1])
		}
	}
	if _, ok := last["response_body"].(map[string]any); !ok {
		t.Errorf("response_body is not a JSON value: %T", last["response_body"])
	}
	vs, n, err := spec.CheckLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 || len(vs) > 0 {
		t.Errorf("%d exchanges, violations %v", n, vs)
	}
}

// TestSuiteLog re-validates the log of a whole test run when
// HONUA_GITOPS_SIM_LOG names one (run it after the other packages' tests).
func TestSuiteLog(t *testing.T) {
	path := os.Getenv(githubsim.LogEnv)
	if path == "" {
		t.Skip(githubsim.LogEnv + " not set")
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no log yet: %v", err)
	}
	spec := githubsim.RequireSpec(t)
	vs, n, err := spec.CheckLog(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d exchanges checked", n)
	for _, v := range vs {
		// githubsim's own tests break the contract on purpose
		// (TestCheckRunLimits); those are request-side only.
		if strings.Contains(v.What, "request body (checks/create)") {
			continue
		}
		t.Error(v)
	}
}

// TestMissingSpecFailsInCI runs this package's tests again without the
// fetched specs, as a clone of the repository alone has them: with CI=true
// they must fail (and say how to fetch the specs), elsewhere every test
// must pass or skip with that message.
func TestMissingSpecFailsInCI(t *testing.T) {
	if os.Getenv("GITHUBSIM_CHILD") != "" {
		return
	}
	if testing.Short() {
		t.Skip("runs the package's tests twice more")
	}
	empty := t.TempDir()
	for _, ci := range []string{"true", ""} {
		cmd := exec.Command(os.Args[0], "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "GITHUBSIM_CHILD=1", "CI="+ci, githubsim.SpecRootEnv+"="+empty, githubsim.LogEnv+"=")
		out, err := cmd.CombinedOutput()
		failed := err != nil
		if want := ci == "true"; failed != want {
			t.Errorf("CI=%q: failed=%v, want %v\n%s", ci, failed, want, out)
		}
		if !strings.Contains(string(out), "fetch-github-specs.sh") {
			t.Errorf("CI=%q: output does not say how to fetch the spec:\n%s", ci, out)
		}
	}
}
