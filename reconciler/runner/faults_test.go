package runner

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/app"
	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// TestRunnerFaults: GitHub failing while the runner polls or reports, and
// Honua refusing or failing the reload, never leave Honua with a document
// other than the old or the new one, and GitHub learns the true outcome.
func TestRunnerFaults(t *testing.T) {
	t.Run("GitHub 502 while polling: the next poll applies", func(t *testing.T) {
		f := newFixture(t)
		r := f.runner("site-a")
		id := f.deploy(f.sha, f.key)
		f.sim.InjectFault("GET /repos/{owner}/{repo}/deployments", githubsim.Fault{Status: 502, Times: 10})
		if err := r.Poll(f.ctx); err == nil {
			t.Fatal("a poll against a failing GitHub reported no error")
		}
		f.sim.ClearFaults()
		if err := r.Poll(f.ctx); err != nil {
			t.Fatal(err)
		}
		if st := f.states(id); st[len(st)-1] != "success" {
			t.Errorf("statuses %v, want … success", st)
		}
	})
	t.Run("Honua refuses the document (422): rolled back", func(t *testing.T) {
		f := newFixture(t)
		r := f.runner("site-a")
		f.deploy(f.sha, f.key)
		if err := r.Poll(f.ctx); err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(f.live)
		next, err := f.sim.Push(f.ctx, testRepo, "main", "ana", "bike lanes",
			githubsim.FileChange{Path: "environments/common/layers/bike-lanes.yaml", Content: []byte(bikeLanes)})
		if err != nil {
			t.Fatal(err)
		}
		f.honua.FailReload(1, http.StatusUnprocessableEntity)
		id := f.deploy(next, f.key)
		if err := r.Poll(f.ctx); err != nil {
			t.Fatal(err)
		}
		after, _ := os.ReadFile(f.live)
		if st := f.states(id); st[len(st)-1] != "failure" || !bytes.Equal(before, after) || !bytes.Equal(f.honua.Loaded(), before) {
			t.Errorf("statuses %v; live document unchanged: %v; Honua serves it: %v", st, bytes.Equal(before, after), bytes.Equal(f.honua.Loaded(), before))
		}
	})
	t.Run("Honua's health flaps, then settles: success", func(t *testing.T) {
		f := newFixture(t)
		r := f.runner("site-a")
		f.honua.FlapHealth([]bool{false, false, true})
		id := f.deploy(f.sha, f.key)
		if err := r.Poll(f.ctx); err != nil {
			t.Fatal(err)
		}
		if st := f.states(id); st[len(st)-1] != "success" {
			t.Errorf("statuses %v, want … success (ready on the third probe)", st)
		}
	})
	t.Run("GitHub 502 on the claim: nothing applied, the next poll applies", func(t *testing.T) {
		f := newFixture(t)
		r := f.runner("site-a")
		id := f.deploy(f.sha, f.key)
		f.sim.InjectFault("POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses", githubsim.Fault{Status: 502, Times: 1})
		_ = r.Poll(f.ctx) // the claim fails: nothing is applied
		if _, err := os.Stat(f.live); !os.IsNotExist(err) {
			t.Errorf("applied although the claim could not be posted")
		}
		if err := r.Poll(f.ctx); err != nil {
			t.Fatal(err)
		}
		if st := f.states(id); st[len(st)-1] != "success" {
			t.Errorf("statuses %v, want … success", st)
		}
	})
}

// TestIdlePollsCostNothing: with conditional requests, polls that find
// nothing new are answered 304 and spend no rate limit.
func TestIdlePollsCostNothing(t *testing.T) {
	f := newFixture(t)
	inst := f.sim.Install("kailua-gis")
	atr := ghinstallation.NewAppsTransportFromPrivateKey(http.DefaultTransport, f.sim.AppID(), f.sim.AppKey())
	atr.BaseURL = f.sim.URL()
	itr := ghinstallation.NewFromAppsTransport(atr, inst)
	itr.BaseURL = f.sim.URL()
	tr := app.NewTransport(itr, app.TransportOptions{Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
	gh, err := github.NewClient(&http.Client{Transport: tr}).WithEnterpriseURLs(f.sim.APIURL(), f.sim.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	f.gh = gh
	r := f.runner("site-a")
	f.deploy(f.sha, f.key)
	if err := r.Poll(f.ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Poll(f.ctx); err != nil { // the first conditional reads
		t.Fatal(err)
	}
	f.sim.ResetCounters()
	const polls = 1000
	for range polls {
		if err := r.Poll(f.ctx); err != nil {
			t.Fatal(err)
		}
	}
	calls, units := 0, 0
	for route, c := range f.sim.Counters() {
		if strings.Contains(route, "access_tokens") {
			continue
		}
		calls += c.Calls
		units += c.RateUnits
	}
	t.Logf("%d idle polls: %d requests, %d rate-limit units", polls, calls, units)
	if units != 0 {
		t.Errorf("%d idle polls spent %d rate-limit units, want 0", polls, units)
	}
}

// TestRunnerRefusesCommitsOffTheDefaultBranch: an order, even signed, for a
// commit that is not on the default branch (a pull request's head) is not
// applied.
func TestRunnerRefusesCommitsOffTheDefaultBranch(t *testing.T) {
	f := newFixture(t)
	r := f.runner("site-a")
	side, err := f.sim.Push(f.ctx, testRepo, "feature", "ana", "not merged",
		githubsim.FileChange{Path: "environments/common/layers/bike-lanes.yaml", Content: []byte(bikeLanes)})
	if err != nil {
		t.Fatal(err)
	}
	id := f.deploy(side, f.key)
	if err := r.Poll(f.ctx); err != nil {
		t.Fatal(err)
	}
	st := f.states(id)
	if st[len(st)-1] != "failure" {
		t.Errorf("statuses %v, want … failure", st)
	}
	if _, err := os.Stat(f.live); !os.IsNotExist(err) {
		t.Errorf("a commit off the default branch was applied")
	}
}

// TestRunnerIgnoresStatusesNotByTheApp: a person with write access who
// queues a deployment (their own token) does not start it; nor does a
// signed order of the App once someone else's status is the latest.
func TestRunnerIgnoresStatusesNotByTheApp(t *testing.T) {
	f := newFixture(t)
	r := f.runner("site-a")
	if err := f.sim.SetCollaborator(testRepo, "mallory", githubsim.PermWrite); err != nil {
		t.Fatal(err)
	}
	id := f.deploy(f.sha, f.key)
	if err := f.sim.SetDeploymentStatusAs(testRepo, id, "mallory", "pending", "hold on"); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.SetDeploymentStatusAs(testRepo, id, "mallory", "queued", "go ahead"); err != nil {
		t.Fatal(err)
	}
	if err := r.Poll(f.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.live); !os.IsNotExist(err) {
		t.Errorf("a deployment queued by a person, not the App, was applied")
	}
	if st := f.states(id); st[len(st)-1] != "queued" {
		t.Errorf("statuses %v: the runner touched it", st)
	}
}

// TestRunnerRateLimitsAndSlowHonua: a secondary rate limit while polling
// fails that poll only; Honua answering its reload with 500, or too slowly
// to be ready in time, rolls the deployment back.
func TestRunnerRateLimitsAndSlowHonua(t *testing.T) {
	t.Run("secondary limit while polling", func(t *testing.T) {
		f := newFixture(t)
		r := f.runner("site-a")
		id := f.deploy(f.sha, f.key)
		f.sim.ForceRateLimit("GET /repos/{owner}/{repo}/deployments", githubsim.SecondaryLimit429, 1, time.Second)
		if err := r.Poll(f.ctx); err == nil {
			t.Error("a rate-limited poll reported no error")
		}
		if err := r.Poll(f.ctx); err != nil {
			t.Fatal(err)
		}
		if st := f.states(id); st[len(st)-1] != "success" {
			t.Errorf("statuses %v, want … success", st)
		}
	})
	for _, tc := range []struct {
		name  string
		fault func(f *fixture)
	}{
		{"reload 500", func(f *fixture) { f.honua.FailReload(1, http.StatusInternalServerError) }},
		{"never ready in time", func(f *fixture) { f.honua.FlapHealth([]bool{false}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			r := f.runner("site-a")
			f.deploy(f.sha, f.key)
			if err := r.Poll(f.ctx); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(f.live)
			next, err := f.sim.Push(f.ctx, testRepo, "main", "ana", "bike lanes",
				githubsim.FileChange{Path: "environments/common/layers/bike-lanes.yaml", Content: []byte(bikeLanes)})
			if err != nil {
				t.Fatal(err)
			}
			tc.fault(f)
			id := f.deploy(next, f.key)
			if err := r.Poll(f.ctx); err != nil {
				t.Fatal(err)
			}
			f.honua.FlapHealth(nil)
			after, _ := os.ReadFile(f.live)
			if st := f.states(id); st[len(st)-1] != "failure" && st[len(st)-1] != "error" {
				t.Errorf("statuses %v, want … failure", st)
			}
			if !bytes.Equal(before, after) {
				t.Errorf("the live document is not the one before")
			}
		})
	}
}
