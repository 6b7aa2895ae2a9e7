package honuasim

import (
	"strings"
	"time"
)

// faults are the switches a test turns on; the Server's mutex guards them.
type faults struct {
	reloadTimes  int // < 0: every reload
	reloadStatus int
	collections  map[string]int // folded collection id -> times (< 0: always)
	slowHealth   time.Duration
	latency      time.Duration
	flap         []bool
	flapNext     int
}

func newFaults() faults { return faults{collections: map[string]int{}} }

// FailReload makes the next times reloads answer status (500 or 422, or
// any other error status) without reading the document; the loaded
// document stays. times < 0 fails every reload until FailReload(0, 0).
func (s *Server) FailReload(times int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.reloadTimes, s.faults.reloadStatus = times, status
}

// FailCollection makes the next times requests for the collection id
// ("serviceId::layerId", ignoring case) or its items answer 404 although
// the layer is loaded. times < 0 fails them until FailCollection(id, 0).
func (s *Server) FailCollection(id string, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if times == 0 {
		delete(s.faults.collections, strings.ToLower(id))
		return
	}
	s.faults.collections[strings.ToLower(id)] = times
}

// SlowHealth delays every health answer (ready and live) by d, on top of
// SetLatency. 0 turns it off.
func (s *Server) SlowHealth(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.slowHealth = d
}

// FlapHealth makes the readiness answers follow pattern in turn (true
// ready, false 503), starting over at its end, for as long as a document
// is loaded. nil ends the flapping.
func (s *Server) FlapHealth(pattern []bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.flap = append([]bool(nil), pattern...)
	s.faults.flapNext = 0
}

// SetLatency delays every answer by d. 0 turns it off.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.latency = d
}

// takeReload consumes one injected reload failure.
func (f *faults) takeReload() (status int, ok bool) {
	if f.reloadTimes == 0 {
		return 0, false
	}
	if f.reloadTimes > 0 {
		f.reloadTimes--
	}
	return f.reloadStatus, true
}

// takeCollection consumes one injected 404 for a collection.
func (f *faults) takeCollection(id string) bool {
	key := strings.ToLower(id)
	n, ok := f.collections[key]
	if !ok {
		return false
	}
	if n > 0 {
		if n == 1 {
			delete(f.collections, key)
		} else {
			f.collections[key] = n - 1
		}
	}
	return true
}

// nextFlap returns the next readiness of the pattern; flapping is false
// when there is none.
func (f *faults) nextFlap() (healthy, flapping bool) {
	if len(f.flap) == 0 {
		return true, false
	}
	h := f.flap[f.flapNext%len(f.flap)]
	f.flapNext++
	return h, true
}
