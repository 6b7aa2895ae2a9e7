package app

import (
	"fmt"
	"sync"
	"testing"
)

func TestDeliverySetAdmit(t *testing.T) {
	d := newDeliverySet(2)
	ok := func() bool { return true }
	full := func() bool { return false }
	for _, tc := range []struct {
		id      string
		enqueue func() bool
		want    admitResult
	}{
		{"a", ok, admitted},
		{"a", ok, duplicate},
		{"b", full, refused}, // refused: not remembered
		{"b", ok, admitted},  // so the redelivery is admitted
		{"c", ok, admitted},  // evicts a, the least recently seen
		{"a", ok, admitted},
		{"", ok, admitted}, // no id: cannot be deduplicated
		{"", ok, admitted},
		{"", full, refused},
	} {
		if got := d.admit(tc.id, tc.enqueue); got != tc.want {
			t.Errorf("admit(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
	if n := d.len(); n != 2 {
		t.Errorf("%d ids remembered, want the capacity, 2", n)
	}
	d.forget("a")
	if got := d.admit("a", ok); got != admitted {
		t.Errorf("admit after forget = %v, want admitted", got)
	}
}

// TestDeliverySetConcurrentDuplicates: of many concurrent deliveries of
// one id, exactly one is enqueued.
func TestDeliverySetConcurrentDuplicates(t *testing.T) {
	d := newDeliverySet(0)
	var mu sync.Mutex
	enqueued := 0
	enqueue := func() bool {
		mu.Lock()
		enqueued++
		mu.Unlock()
		return true
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.admit(fmt.Sprintf("id-%d", i%5), enqueue)
		}()
	}
	wg.Wait()
	if enqueued != 5 {
		t.Errorf("%d enqueued, want 5 (one per id)", enqueued)
	}
}
