package controller

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is this process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Skipf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIdlePoll is a poll of a controller with nothing new on the
// remote (the branch did not move): one listing of the remote's refs, no
// fetch, nothing applied. Reported: the bytes the Git server sent per poll
// and its requests, beside the same for `git ls-remote` of the same
// remote (ls-remote-bytes/op); ns/op is the controller's time per poll
// (the server's CGI process included); cpu-µs/op is this process's CPU
// per poll.
func BenchmarkIdlePoll(b *testing.B) {
	f := newFixture(b)
	if err := f.c.Poll(f.ctx); err != nil { // the first deployment
		b.Fatal(err)
	}
	if err := f.c.Poll(f.ctx); err != nil {
		b.Fatal(err)
	}
	f.git.bytes.Store(0)
	f.git.requests.Store(0)
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := f.c.Poll(f.ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// This process's CPU: the controller's poll and the Go half of the
	// test's HTTP server (git http-backend runs in a child process).
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	b.ReportMetric(float64(f.git.bytes.Load())/float64(b.N), "bytes/op")
	b.ReportMetric(float64(f.git.requests.Load())/float64(b.N), "requests/op")
	f.git.bytes.Store(0)
	f.git.requests.Store(0)
	const n = 20
	var lsCPU time.Duration
	for range n {
		c := exec.Command("git", "ls-remote", f.git.url("config.git"))
		if out, err := c.CombinedOutput(); err != nil {
			b.Fatalf("git ls-remote: %v\n%s", err, out)
		}
		lsCPU += c.ProcessState.UserTime() + c.ProcessState.SystemTime()
	}
	b.ReportMetric(float64(f.git.bytes.Load())/n, "ls-remote-bytes/op")
	// git ls-remote's own CPU (its process and its helper, git-remote-http).
	b.ReportMetric(float64(lsCPU.Microseconds())/n, "ls-remote-cpu-µs/op")
}

// BenchmarkCommitToCompleted is the latency from a push to the branch to
// development's deployment of it being Completed, with the controller's
// Run loop at --interval 5s: each iteration pushes at a random moment of
// the poll cycle and waits, in real time, for Completed. Reported: p50
// and max seconds (development is autoApprove: no person in the loop).
func BenchmarkCommitToCompleted(b *testing.B) {
	f := newFixture(b)
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.c.Run(ctx, 5*time.Second) }()
	rng := rand.New(rand.NewPCG(1, 2))
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		time.Sleep(time.Duration(rng.Int64N(int64(5 * time.Second)))) // where in the cycle, not a timing
		sha := f.push(fmt.Sprintf("Retitle %d", i), map[string]string{"environments/common/layers/bike-lanes.yaml": strings.Replace(bikeLanes, "Bike lanes", fmt.Sprintf("Bike lanes %d", i), 1)})
		start := time.Now()
		for {
			rec, err := f.store.Load("development")
			if err != nil {
				b.Fatal(err)
			}
			if len(rec.Deployments) > 0 && rec.Deployments[0].SHA == sha && rec.Deployments[0].State == Completed {
				break
			}
			if time.Since(start) > 2*time.Minute {
				b.Fatalf("commit %d not Completed within 2 minutes", i)
			}
			time.Sleep(20 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	cancel()
	<-done
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2].Seconds(), "p50-s")
	b.ReportMetric(lat[len(lat)-1].Seconds(), "max-s")
}
