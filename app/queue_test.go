package app

import (
	"context"
	"testing"
)

// TestQueueNeverBlocks: a full or closed queue refuses at once.
func TestQueueNeverBlocks(t *testing.T) {
	s, _ := newTestServer(t, ServerConfig{QueueSize: 1})
	q := s.queue
	j := job{ev: Event{Name: "ping"}, h: HandlerFunc(func(context.Context, Event) error { return nil })}
	if !q.tryEnqueue(j) {
		t.Fatal("empty queue refused a job")
	}
	if q.tryEnqueue(j) {
		t.Error("full queue took a job")
	}
	if q.depth() != 1 || metricValue(s.metrics.jobsDropped) != 0 {
		t.Errorf("depth %d", q.depth())
	}
	q.close()
	q.close() // twice is fine
	if q.tryEnqueue(j) {
		t.Error("closed queue took a job")
	}
	if n := metricValue(s.metrics.jobsDropped.WithLabelValues("shutdown")); n != 1 {
		t.Errorf("dropped %v, want the one job never run", n)
	}
}
