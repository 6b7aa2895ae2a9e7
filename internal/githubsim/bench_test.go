package githubsim_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// BenchmarkRoundTrip measures one go-github call against the emulator, with
// and without the contract check.
func BenchmarkRoundTrip(b *testing.B) {
	for _, tc := range []struct {
		name    string
		checked bool
	}{{"contract=off", false}, {"contract=on", true}} {
		b.Run("GetPull/"+tc.name, func(b *testing.B) {
			opts := githubsim.Options{GitRoot: b.TempDir()}
			if tc.checked {
				opts.Spec = githubsim.RequireSpec(b)
				opts.OnViolation = func(v githubsim.Violation) { b.Errorf("%s", v) }
			}
			sim, err := githubsim.NewServer(opts)
			if err != nil {
				b.Fatal(err)
			}
			defer sim.Close()
			ctx := context.Background()
			inst := sim.Install(org)
			if _, err := sim.CreateRepo(ctx, org+"/"+name, "main", ""); err != nil {
				b.Fatal(err)
			}
			sim.Push(ctx, org+"/"+name, "topic", "alice", "t", githubsim.FileChange{Path: "t", Content: []byte("t")})
			n, _ := sim.OpenPR(ctx, org+"/"+name, "topic", "", "alice", "t", "")
			tok, _, _ := sim.IssueToken(inst)
			c, _ := github.NewClient(nil).WithAuthToken(tok).WithEnterpriseURLs(sim.APIURL(), sim.APIURL())
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, err := c.PullRequests.List(ctx, org, name, nil); err != nil {
					b.Fatal(err)
				}
			}
			_ = n
		})
	}
}

// BenchmarkValidate measures the contract check alone on a pull request
// response body.
func BenchmarkValidate(b *testing.B) {
	spec := githubsim.RequireSpec(b)
	sim, err := githubsim.NewServer(githubsim.Options{GitRoot: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	ctx := context.Background()
	inst := sim.Install(org)
	sim.CreateRepo(ctx, org+"/"+name, "main", "")
	sim.Push(ctx, org+"/"+name, "topic", "alice", "t", githubsim.FileChange{Path: "t", Content: []byte("t")})
	sim.OpenPR(ctx, org+"/"+name, "topic", "", "alice", "t", "")
	tok, _, _ := sim.IssueToken(inst)
	c, _ := github.NewClient(nil).WithAuthToken(tok).WithEnterpriseURLs(sim.APIURL(), sim.APIURL())
	req, _ := c.NewRequest("GET", "repos/"+org+"/"+name+"/pulls", nil)
	var raw json.RawMessage
	if _, err := c.Do(ctx, req, &raw); err != nil {
		b.Fatal(err)
	}
	ex := githubsim.Exchange{Method: "GET", Path: "/repos/" + org + "/" + name + "/pulls", Status: 200, ResponseBody: raw, ResponseContentType: "application/json"}
	if vs := spec.CheckExchange(ex); len(vs) > 0 {
		b.Fatal(vs)
	}
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		spec.CheckExchange(ex)
	}
}
