package runner

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// BenchmarkPickup measures how long a queued deployment waits until a
// runner polling every 5 s claims it (its in_progress status): the
// deployment is queued at a random moment of the runner's cycle. Each
// iteration takes seconds of real time: run it with -benchtime=Nx.
func BenchmarkPickup(b *testing.B) {
	f := newFixture(b)
	r := f.runner("site-a")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx, 5*time.Second) }()
	rng := rand.New(rand.NewPCG(1, 2))
	var lat []time.Duration
	sha := f.sha
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		time.Sleep(time.Duration(rng.IntN(5000)) * time.Millisecond) // a random point of the cycle
		queued := time.Now()
		id := f.deploy(sha, f.key)
		for !containsState(f.states(id), "in_progress") {
			time.Sleep(20 * time.Millisecond)
		}
		lat = append(lat, time.Since(queued))
		for st := f.states(id); st[len(st)-1] == "in_progress"; st = f.states(id) {
			time.Sleep(20 * time.Millisecond) // let the apply finish
		}
	}
	b.StopTimer()
	cancel()
	<-done
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Milliseconds()), "max-ms")
}

func containsState(ss []string, s string) bool { return slices.Contains(ss, s) }
