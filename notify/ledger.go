package notify

import (
	"context"
	"sync"
	"time"
)

// Ledger records which notifications were sent, so that an event is sent
// once per target however often it is delivered to the sender and however
// many replicas send it. Keys are Event.Key()+"/"+Target.ID(). The runner
// and the controller keep it in their store, the App on GitHub.
type Ledger interface {
	Sent(ctx context.Context, key string) (bool, error)
	MarkSent(ctx context.Context, key string) error
}

// Claimer is a Ledger that can also claim a key for a while, so that of
// several replicas handed the same event at once only one delivers it.
// Claim reports false when another holds an unexpired claim or the key is
// sent; a claim expires after ttl, so that a replica that died mid-delivery
// does not keep the notification from a later redelivery. Release gives a
// claim up after a delivery that failed for good.
type Claimer interface {
	Ledger
	Claim(ctx context.Context, key string, ttl time.Duration) (bool, error)
	Release(ctx context.Context, key string) error
}

// MemoryLedger is a Ledger and Claimer in memory, for tests and for a
// single process. The zero value is ready to use.
type MemoryLedger struct {
	// Now is the clock of claims; time.Now when nil.
	Now func() time.Time

	mu     sync.Mutex
	sent   map[string]bool
	claims map[string]time.Time
}

var _ Claimer = (*MemoryLedger)(nil)

// Sent reports whether key was marked sent.
func (l *MemoryLedger) Sent(_ context.Context, key string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent[key], nil
}

// MarkSent records key as sent.
func (l *MemoryLedger) MarkSent(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sent == nil {
		l.sent = map[string]bool{}
	}
	l.sent[key] = true
	delete(l.claims, key)
	return nil
}

// Claim claims key for ttl.
func (l *MemoryLedger) Claim(_ context.Context, key string, ttl time.Duration) (bool, error) {
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sent[key] {
		return false, nil
	}
	if until, ok := l.claims[key]; ok && now().Before(until) {
		return false, nil
	}
	if l.claims == nil {
		l.claims = map[string]time.Time{}
	}
	l.claims[key] = now().Add(ttl)
	return true, nil
}

// Release drops a claim on key.
func (l *MemoryLedger) Release(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.claims, key)
	return nil
}

// Keys returns the keys marked sent.
func (l *MemoryLedger) Keys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.sent))
	for k := range l.sent {
		out = append(out, k)
	}
	return out
}
