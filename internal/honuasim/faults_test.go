package honuasim_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestFailReload(t *testing.T) {
	good := productionDoc(t)
	s, path := newSim(t, nil)
	writeDoc(t, path, good)
	s.FailReload(2, http.StatusInternalServerError)
	for i := range 2 {
		if a := reload(t, s); a.Status != http.StatusInternalServerError {
			t.Errorf("reload %d = %d, want 500", i+1, a.Status)
		}
	}
	if s.Loaded() != nil {
		t.Error("a failed reload loaded the document")
	}
	if a := reload(t, s); a.Status != http.StatusOK {
		t.Errorf("reload 3 = %d, want 200 once the failures are spent", a.Status)
	}
	s.FailReload(1, http.StatusUnprocessableEntity)
	a := reload(t, s)
	if a.Status != http.StatusUnprocessableEntity || a.Body["error"] == nil || a.Body["details"] == nil {
		t.Errorf("injected 422 = %d %s, want error and details", a.Status, a.Raw)
	}
	if !bytes.Equal(s.Loaded(), good) {
		t.Error("an injected 422 dropped the loaded document")
	}
	s.FailReload(-1, http.StatusInternalServerError)
	for range 3 {
		if a := reload(t, s); a.Status != http.StatusInternalServerError {
			t.Errorf("FailReload(-1): reload = %d, want 500", a.Status)
		}
	}
	s.FailReload(0, 0)
	if a := reload(t, s); a.Status != http.StatusOK {
		t.Errorf("after FailReload(0, 0): reload = %d, want 200", a.Status)
	}
	if got := s.Reloads(); got != 8 {
		t.Errorf("Reloads() = %d, want 8", got)
	}
}

func TestFailCollection(t *testing.T) {
	good := productionDoc(t)
	s, _ := newSim(t, good)
	ids := collectionIDs(t, good)
	s.FailCollection(ids[0], 2)
	if a := get(t, s.URL()+"/ogc/collections/"+ids[0]); a.Status != http.StatusNotFound {
		t.Errorf("1st = %d, want 404", a.Status)
	}
	if a := get(t, s.URL()+"/ogc/collections/"+ids[0]+"/items?limit=1"); a.Status != http.StatusNotFound {
		t.Errorf("2nd (items) = %d, want 404", a.Status)
	}
	if a := get(t, s.URL()+"/ogc/collections/"+ids[1]); a.Status != http.StatusOK {
		t.Errorf("another collection = %d, want 200", a.Status)
	}
	if a := get(t, s.URL()+"/ogc/collections/"+ids[0]); a.Status != http.StatusOK {
		t.Errorf("3rd = %d, want 200 once the failures are spent", a.Status)
	}
	s.FailCollection(ids[1], -1)
	for range 3 {
		if a := get(t, s.URL()+"/ogc/collections/"+ids[1]); a.Status != http.StatusNotFound {
			t.Errorf("FailCollection(-1) = %d, want 404", a.Status)
		}
	}
	s.FailCollection(ids[1], 0)
	if a := get(t, s.URL()+"/ogc/collections/"+ids[1]); a.Status != http.StatusOK {
		t.Errorf("after FailCollection(id, 0) = %d, want 200", a.Status)
	}
}

func TestFlapHealth(t *testing.T) {
	s, _ := newSim(t, productionDoc(t))
	s.FlapHealth([]bool{true, false, false})
	var got []int
	for range 6 {
		got = append(got, get(t, s.URL()+"/healthz/ready").Status)
	}
	want := []int{200, 503, 503, 200, 503, 503}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ready answers = %v, want %v", got, want)
		}
	}
	if a := get(t, s.URL()+"/healthz/live"); a.Status != http.StatusOK {
		t.Errorf("live while flapping = %d, want 200", a.Status)
	}
	s.FlapHealth(nil)
	for range 3 {
		if a := get(t, s.URL()+"/health/ready"); a.Status != http.StatusOK {
			t.Errorf("after FlapHealth(nil): ready = %d, want 200", a.Status)
		}
	}
}

// The slow switches are checked by a client that gives up: a delay much
// longer than its deadline must make it give up, whatever the machine's
// speed. No test measures how long an answer took.
func TestSlowHealthAndLatency(t *testing.T) {
	s, _ := newSim(t, productionDoc(t))
	id := collectionIDs(t, productionDoc(t))[0]
	gaveUp := func(url string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return false
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("GET %s: %v", url, err)
		}
		return true
	}
	s.SlowHealth(time.Minute)
	if !gaveUp(s.URL() + "/healthz/ready") {
		t.Error("SlowHealth: ready answered before the client's deadline")
	}
	if !gaveUp(s.URL() + "/healthz/live") {
		t.Error("SlowHealth: live answered before the client's deadline")
	}
	if a := get(t, s.URL()+"/ogc/collections/"+id); a.Status != http.StatusOK {
		t.Errorf("SlowHealth slowed a collection: %d", a.Status)
	}
	s.SlowHealth(0)
	if a := get(t, s.URL()+"/healthz/ready"); a.Status != http.StatusOK {
		t.Errorf("after SlowHealth(0): ready = %d", a.Status)
	}
	s.SetLatency(time.Minute)
	if !gaveUp(s.URL() + "/ogc/collections/" + id) {
		t.Error("SetLatency: a collection answered before the client's deadline")
	}
	s.SetLatency(0)
	if a := get(t, s.URL()+"/ogc/collections/"+id); a.Status != http.StatusOK {
		t.Errorf("after SetLatency(0): %d", a.Status)
	}
}

// Reloads, reads and switches at once, for -race: every answer is one of
// the two documents, never a mix.
func TestConcurrentUse(t *testing.T) {
	good := productionDoc(t)
	s, _ := newSim(t, good)
	ids := collectionIDs(t, good)
	// do reports instead of ending the test: t.Fatal belongs to the
	// test's own goroutine.
	do := func(method, path string) int {
		req, _ := http.NewRequest(method, s.URL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				switch (w + i) % 4 {
				case 0:
					if st := do(http.MethodPost, "/admin/metadata/reload"); st != http.StatusOK && st != http.StatusInternalServerError {
						t.Errorf("reload = %d", st)
					}
				case 1:
					do(http.MethodGet, "/ogc/collections/"+ids[i%len(ids)]+"/items?limit=2")
				case 2:
					do(http.MethodGet, "/healthz/ready")
					s.FlapHealth([]bool{true, false})
				case 3:
					s.FailCollection(ids[0], 1)
					s.FailReload(1, http.StatusInternalServerError)
					if !bytes.Equal(s.Loaded(), good) {
						t.Error("Loaded() is not the document")
					}
				}
			}
		}()
	}
	wg.Wait()
}
