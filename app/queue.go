package app

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// job is one accepted delivery waiting for a worker.
type job struct {
	ev Event
	h  Handler
}

// queue is a bounded queue of deliveries served by a fixed set of workers.
// It never blocks the webhook request: a full queue refuses at once, and the
// request answers 503 so that GitHub records the delivery as failed and a
// person (or the sweeper) can redeliver it.
type queue struct {
	jobs       chan job
	logger     *slog.Logger
	metrics    *serverMetrics
	deliveries *deliverySet
	timeout    time.Duration

	mu      sync.Mutex
	closed  bool               // no more sends on jobs
	started bool               // workers launched
	cancel  context.CancelFunc // cancels the workers' base context
	wg      sync.WaitGroup     // the workers
	pending int                // jobs queued or running
	idle    *sync.Cond         // signalled when pending drops to 0 (on mu)
}

func newQueue(size int, logger *slog.Logger, m *serverMetrics, d *deliverySet, timeout time.Duration) *queue {
	q := &queue{jobs: make(chan job, size), logger: logger, metrics: m, deliveries: d, timeout: timeout}
	q.idle = sync.NewCond(&q.mu)
	return q
}

// waitIdle blocks until no job is queued or running: for tests and the
// demo, which must know when GitHub's events have had their effect.
func (q *queue) waitIdle() {
	q.mu.Lock()
	for q.pending > 0 {
		q.idle.Wait()
	}
	q.mu.Unlock()
}

// finished accounts for a job that ran or was dropped.
func (q *queue) finished() {
	q.mu.Lock()
	q.pending--
	if q.pending == 0 {
		q.idle.Broadcast()
	}
	q.mu.Unlock()
}

// depth is the number of jobs waiting.
func (q *queue) depth() int { return len(q.jobs) }

// tryEnqueue queues j unless the queue is full or closed; it never blocks.
func (q *queue) tryEnqueue(j job) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	select {
	case q.jobs <- j:
		q.pending++
		return true
	default:
		return false
	}
}

// start launches n workers under a base context that only hardStop cancels
// (the request that enqueued a job is long gone when the job runs). It does
// nothing after the first call or once the queue is closed.
func (q *queue) start(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started || q.closed {
		return
	}
	q.started = true
	ctx, cancel := context.WithCancel(context.Background())
	q.cancel = cancel
	q.wg.Add(n)
	for range n {
		go q.work(ctx)
	}
}

// close stops accepting jobs; the workers finish the queued ones and return.
func (q *queue) close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	close(q.jobs)
	started := q.started
	q.mu.Unlock()
	if !started {
		// Nobody will ever run them: account for them now (outside q.mu:
		// drop takes the delivery set's lock, which admit holds while it
		// takes q.mu).
		for j := range q.jobs {
			q.drop(j)
		}
	}
}

// hardStop cancels the context of running handlers; the workers drop what
// is still queued.
func (q *queue) hardStop() {
	q.mu.Lock()
	cancel := q.cancel
	q.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// wait blocks until every worker has returned.
func (q *queue) wait() { q.wg.Wait() }

func (q *queue) work(ctx context.Context) {
	defer q.wg.Done()
	for j := range q.jobs {
		if ctx.Err() != nil {
			q.drop(j)
			continue
		}
		q.run(ctx, j)
	}
}

// drop accounts for a job that will never run, and forgets its delivery id
// so that a redelivery is processed.
func (q *queue) drop(j job) {
	defer q.finished()
	q.metrics.jobsDropped.WithLabelValues("shutdown").Inc()
	q.deliveries.forget(j.ev.DeliveryID)
	q.logger.Warn("webhook delivery dropped at shutdown", deliveryAttrs(j.ev)...)
}

// run runs one job: a panic or an error is logged and counted, never
// allowed to reach the worker.
func (q *queue) run(base context.Context, j job) {
	defer q.finished()
	ev := j.ev
	logger := q.logger.With(deliveryAttrs(ev)...)
	ctx := WithLogger(base, logger)
	if q.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, q.timeout)
		defer cancel()
	}
	start := time.Now()
	result := "ok"
	defer func() {
		if r := recover(); r != nil {
			result = "panic"
			q.metrics.handlerPanics.WithLabelValues(ev.Name).Inc()
			q.deliveries.forget(ev.DeliveryID)
			logger.Error("webhook handler panicked", slog.String("panic", fmt.Sprint(r)), slog.String("stack", string(debug.Stack())))
		}
		q.metrics.handlerDuration.WithLabelValues(ev.Name, result).Observe(time.Since(start).Seconds())
	}()
	if err := j.h.Handle(ctx, ev); err != nil {
		result = "error"
		q.metrics.handlerErrors.WithLabelValues(ev.Name).Inc()
		q.deliveries.forget(ev.DeliveryID)
		logger.Error("webhook handler failed", slog.String("error", err.Error()))
		return
	}
	logger.Debug("webhook handled")
}

// deliveryAttrs are the attributes every log line about a delivery carries.
func deliveryAttrs(ev Event) []any {
	return []any{
		slog.String("delivery", ev.DeliveryID),
		slog.String("event", ev.Name),
		slog.String("action", ev.Action),
		slog.Int64("installation", ev.InstallationID),
		slog.String("repo", ev.Repo),
	}
}

type loggerKey struct{}

// WithLogger returns a copy of ctx that carries logger, for LoggerFrom.
func WithLogger(ctx context.Context, logger *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, logger)
}

// LoggerFrom returns the logger carried by ctx: in a handler, one that
// already names the delivery, event, action, installation and repository.
// Without one it returns slog.Default().
func LoggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return slog.Default()
}
