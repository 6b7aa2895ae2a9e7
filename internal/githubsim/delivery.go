package githubsim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"sync"
	"time"
)

// DeliveryMode sets how the emulator delivers webhooks. GitHub promises no
// order, delivers concurrently and may deliver an event twice; end-to-end
// tests turn these on to show the App depends on none of that. The zero
// value delivers in order, one at a time, each once.
type DeliveryMode struct {
	// Shuffle delivers in no particular order: each delivery waits a random
	// delay of up to MaxDelay before it may leave, and FlushWebhooks
	// releases the waiting ones in random order.
	Shuffle bool
	// MaxDelay bounds Shuffle's delays (default 25ms of real time).
	MaxDelay time.Duration
	// Concurrent is how many deliveries may be in flight at once (default 1).
	Concurrent int
	// Duplicate is the probability (0 to 1) that a delivery is sent a
	// second time with the same X-GitHub-Delivery id.
	Duplicate float64
	// Seed seeds the random choices, so a failing order can be replayed as
	// far as concurrency allows.
	Seed int64
}

func (m DeliveryMode) check() error {
	if m.Concurrent < 0 || m.MaxDelay < 0 || m.Duplicate < 0 || m.Duplicate > 1 {
		return fmt.Errorf("delivery mode %+v: Concurrent and MaxDelay must be >= 0, Duplicate within [0, 1]", m)
	}
	return nil
}

// hookQueue delivers webhooks from a fixed set of worker goroutines it owns
// (DeliveryMode.Concurrent of them); close stops them.
type hookQueue struct {
	s      *Server
	mode   DeliveryMode
	client *http.Client

	mu       sync.Mutex
	cond     *sync.Cond
	pending  []*queued
	inFlight int
	flushing int  // FlushWebhooks callers waiting: delays no longer hold
	closed   bool // no more deliveries are sent
	all      []*Delivery
	rng      *rand.Rand
	timer    *time.Timer // wakes the workers when a delay is over
	workers  sync.WaitGroup
}

type queued struct {
	d   *Delivery
	due time.Time // Shuffle: not before this (real time)
}

func newHookQueue(s *Server, mode DeliveryMode) *hookQueue {
	if mode.Concurrent == 0 {
		mode.Concurrent = 1
	}
	if mode.Shuffle && mode.MaxDelay == 0 {
		mode.MaxDelay = 25 * time.Millisecond
	}
	q := &hookQueue{s: s, mode: mode, client: &http.Client{Timeout: 10 * time.Second}, rng: rand.New(rand.NewSource(mode.Seed))}
	q.cond = sync.NewCond(&q.mu)
	q.workers.Add(mode.Concurrent)
	for range mode.Concurrent {
		go q.work()
	}
	return q
}

func (q *hookQueue) work() {
	defer q.workers.Done()
	for {
		q.mu.Lock()
		var d *Delivery
		for d == nil {
			if len(q.pending) == 0 && q.closed {
				q.mu.Unlock()
				return
			}
			d = q.takeLocked()
			if d == nil {
				q.cond.Wait()
			}
		}
		q.inFlight++
		q.mu.Unlock()
		status, errMsg := q.send(d)
		q.mu.Lock()
		d.StatusCode, d.Err = status, errMsg
		q.inFlight--
		q.cond.Broadcast()
		q.mu.Unlock()
	}
}

// takeLocked removes the next delivery to send, or returns nil (arming the
// timer when one is only waiting for its delay).
func (q *hookQueue) takeLocked() *Delivery {
	if len(q.pending) == 0 {
		return nil
	}
	i := 0
	if q.mode.Shuffle {
		now := time.Now()
		var ready []int
		var soonest time.Time
		for j, p := range q.pending {
			if q.flushing > 0 || q.closed || !p.due.After(now) {
				ready = append(ready, j)
			} else if soonest.IsZero() || p.due.Before(soonest) {
				soonest = p.due
			}
		}
		if len(ready) == 0 {
			q.wakeAt(soonest.Sub(now))
			return nil
		}
		i = ready[q.rng.Intn(len(ready))]
	}
	d := q.pending[i].d
	q.pending = append(q.pending[:i], q.pending[i+1:]...)
	return d
}

// wakeAt broadcasts to the workers after d.
func (q *hookQueue) wakeAt(d time.Duration) {
	if q.timer != nil {
		q.timer.Stop()
	}
	q.timer = time.AfterFunc(d, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
}

func (q *hookQueue) send(d *Delivery) (int, string) {
	url := q.s.opts.WebhookURL
	if url == "" {
		return 0, "no webhook URL configured"
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(d.Body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header = d.Header.Clone()
	resp, err := q.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, ""
}

// enqueue records a delivery and queues it (and, by chance, a duplicate).
func (q *hookQueue) enqueue(d *Delivery) {
	q.mu.Lock()
	defer q.mu.Unlock()
	batch := []*Delivery{d}
	if q.mode.Duplicate > 0 && q.rng.Float64() < q.mode.Duplicate {
		dup := *d
		dup.Header = d.Header.Clone()
		dup.Duplicate = true
		batch = append(batch, &dup)
	}
	for _, x := range batch {
		q.all = append(q.all, x)
		if q.closed {
			continue
		}
		p := &queued{d: x}
		if q.mode.Shuffle {
			p.due = time.Now().Add(time.Duration(q.rng.Int63n(int64(q.mode.MaxDelay) + 1)))
		}
		q.pending = append(q.pending, p)
	}
	q.cond.Broadcast()
}

// flush waits until every queued delivery has been attempted.
func (q *hookQueue) flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.flushing++
	defer func() { q.flushing-- }()
	q.cond.Broadcast()
	for len(q.pending) > 0 || q.inFlight > 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		q.cond.Wait()
	}
	return nil
}

// close sends what is queued, then stops the workers.
func (q *hookQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
	q.workers.Wait()
	q.mu.Lock()
	if q.timer != nil {
		q.timer.Stop()
	}
	q.mu.Unlock()
}
