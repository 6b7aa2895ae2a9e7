package app

import (
	"container/list"
	"sync"
)

// defaultDeliveryCacheSize is how many delivery ids the Server remembers.
// GitHub never redelivers on its own; redeliveries are a person's click
// (or a script's call) minutes to days later, so a few thousand ids cover
// far more than the deliveries of the last hours of an App's life.
const defaultDeliveryCacheSize = 4096

// deliverySet remembers the X-GitHub-Delivery ids accepted onto the queue,
// the oldest forgotten first once it holds capacity ids.
type deliverySet struct {
	mu       sync.Mutex
	capacity int
	ll       *list.List // of string, newest at the front
	ids      map[string]*list.Element
}

func newDeliverySet(capacity int) *deliverySet {
	if capacity <= 0 {
		capacity = defaultDeliveryCacheSize
	}
	return &deliverySet{capacity: capacity, ll: list.New(), ids: make(map[string]*list.Element, capacity)}
}

// admitResult is what admit did with a delivery.
type admitResult int

const (
	admitted  admitResult = iota // enqueued and remembered
	duplicate                    // seen before: not enqueued
	refused                      // enqueue refused (queue full or closed): not remembered
)

// admit enqueues a delivery unless its id was seen, and remembers the id
// only when enqueue succeeded, so that a delivery refused with 503 is
// processed when it is redelivered. The check and the enqueue happen under
// one lock: two concurrent deliveries of one id cannot both be enqueued. An
// empty id (not sent by GitHub) cannot be deduplicated: it is enqueued.
func (d *deliverySet) admit(id string, enqueue func() bool) admitResult {
	if id == "" {
		if enqueue() {
			return admitted
		}
		return refused
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.ids[id]; ok {
		d.ll.MoveToFront(e)
		return duplicate
	}
	if !enqueue() {
		return refused
	}
	d.ids[id] = d.ll.PushFront(id)
	for d.ll.Len() > d.capacity {
		oldest := d.ll.Back()
		d.ll.Remove(oldest)
		delete(d.ids, oldest.Value.(string))
	}
	return admitted
}

// forget drops an id, so that a redelivery is processed again: the queue
// calls it when a handler failed or panicked, because a manual redelivery is
// how people retry a delivery that failed.
func (d *deliverySet) forget(id string) {
	if id == "" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.ids[id]; ok {
		d.ll.Remove(e)
		delete(d.ids, id)
	}
}

// len is the number of remembered ids.
func (d *deliverySet) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ll.Len()
}
