package githubsim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

// slowReceiver records what arrives and how many deliveries overlapped.
type slowReceiver struct {
	mu       sync.Mutex
	inFlight int
	maxIn    int
	bodies   []string // comment bodies, in arrival order
	ids      map[string]int
}

func (rc *slowReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.inFlight++
	rc.maxIn = max(rc.maxIn, rc.inFlight)
	rc.mu.Unlock()
	time.Sleep(10 * time.Millisecond)
	body, _ := io.ReadAll(r.Body)
	var ev github.IssueCommentEvent
	json.Unmarshal(body, &ev)
	rc.mu.Lock()
	rc.inFlight--
	rc.bodies = append(rc.bodies, ev.GetComment().GetBody())
	rc.ids[r.Header.Get("X-GitHub-Delivery")]++
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func deliverComments(t *testing.T, mode githubsim.DeliveryMode, n int) (*slowReceiver, *fixture) {
	t.Helper()
	rc := &slowReceiver{ids: map[string]int{}}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	f := newFixture(t, githubsim.Options{WebhookURL: hook.URL, Delivery: mode})
	ctx := context.Background()
	f.sim.Push(ctx, f.repo, "topic", "alice", "t", githubsim.FileChange{Path: "t", Content: []byte("t")})
	pr, _ := f.sim.OpenPR(ctx, f.repo, "topic", "", "alice", "t", "")
	if err := f.sim.FlushWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.bodies, rc.ids, rc.maxIn = nil, map[string]int{}, 0
	rc.mu.Unlock()
	for i := range n {
		f.sim.Comment(f.repo, pr, "bob", fmt.Sprint(i))
	}
	if err := f.sim.FlushWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	return rc, f
}

// TestDeliveryModes: GitHub promises no order, delivers concurrently and
// may deliver twice; DeliveryMode does all three, and FlushWebhooks still
// waits for everything.
func TestDeliveryModes(t *testing.T) {
	const n = 24
	rc, f := deliverComments(t, githubsim.DeliveryMode{Shuffle: true, Concurrent: 4, Duplicate: 0.5, Seed: 7}, n)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	comments := f.sim.DeliveriesOf("issue_comment", "created")
	if len(rc.bodies) != len(comments) || len(comments) <= n {
		t.Fatalf("received %d of %d deliveries (%d events): FlushWebhooks returned early, or nothing was duplicated", len(rc.bodies), len(comments), n)
	}
	dups := 0
	for _, d := range comments {
		if d.StatusCode != http.StatusNoContent {
			t.Errorf("delivery %s not attempted: %d %s", d.ID, d.StatusCode, d.Err)
		}
		if d.Duplicate {
			dups++
			if rc.ids[d.ID] != 2 {
				t.Errorf("duplicate %s arrived %d times, want 2 with one id", d.ID, rc.ids[d.ID])
			}
		}
	}
	if dups == 0 || len(comments) != n+dups {
		t.Errorf("%d duplicates among %d deliveries", dups, len(comments))
	}
	inOrder := true
	for i := 1; i < len(rc.bodies); i++ {
		var a, b int
		fmt.Sscan(rc.bodies[i-1], &a)
		fmt.Sscan(rc.bodies[i], &b)
		inOrder = inOrder && a <= b
	}
	if inOrder {
		t.Errorf("shuffled deliveries arrived in order: %v", rc.bodies)
	}
	if rc.maxIn < 2 {
		t.Errorf("at most %d deliveries in flight, want concurrency", rc.maxIn)
	}

	// The default: in order, one at a time, once.
	rc, _ = deliverComments(t, githubsim.DeliveryMode{}, 8)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for i, b := range rc.bodies {
		if b != fmt.Sprint(i) {
			t.Fatalf("default mode out of order: %v", rc.bodies)
		}
	}
	if rc.maxIn != 1 || len(rc.ids) != 8 {
		t.Errorf("default mode: %d in flight, %d ids", rc.maxIn, len(rc.ids))
	}
	if _, err := githubsim.NewServer(githubsim.Options{Delivery: githubsim.DeliveryMode{Duplicate: 2}}); err == nil {
		t.Error("a duplicate probability of 2 was accepted")
	}
}
