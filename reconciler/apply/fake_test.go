package apply

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var errNotFound = errors.New("404 Not Found")

// fakeHonua is a Honua that reads the live document on Reload, like the
// server, and fails as its switches say.
type fakeHonua struct {
	path string

	mu sync.Mutex
	// loaded is the document the server last reloaded successfully.
	loaded []byte
	// badDoc, when set, makes a reload of exactly these bytes fail (422).
	badDoc []byte
	// reloadAlways makes every reload fail (500).
	reloadAlways bool
	// notReadyWith makes Ready fail while the loaded document is this one.
	notReadyWith []byte
	// serving are the collections that answer 200 once the loaded document
	// is servingWith (nil: any document).
	serving     map[string]bool
	servingWith []byte
	// failFirst makes the first n collection probes fail.
	failFirst int
	// onReady runs at each Ready (a test cancels a context there).
	onReady func()

	reloads, readies, collections int
}

func (f *fakeHonua) Reload(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloads++
	if f.reloadAlways {
		return errors.New("500 Internal Server Error")
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return err
	}
	if f.badDoc != nil && bytes.Equal(b, f.badDoc) {
		return errors.New(`422 {"error":"invalid document"}`)
	}
	f.loaded = b
	return nil
}

func (f *fakeHonua) Ready(ctx context.Context) error {
	f.mu.Lock()
	f.readies++
	on := f.onReady
	bad := f.notReadyWith != nil && bytes.Equal(f.loaded, f.notReadyWith)
	f.mu.Unlock()
	if on != nil {
		on()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if bad {
		return errors.New("503 Service Unavailable")
	}
	return nil
}

func (f *fakeHonua) Collection(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.collections++
	if f.failFirst > 0 {
		f.failFirst--
		return errNotFound
	}
	if f.serving != nil && !f.serving[id] {
		return errNotFound
	}
	if f.servingWith != nil && !bytes.Equal(f.loaded, f.servingWith) {
		return errNotFound
	}
	return nil
}

func (f *fakeHonua) loadedDoc() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loaded
}

// fakeClock is a clock whose Sleep advances it at once.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	slept  time.Duration
	sleeps int
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Microsecond) // time moves, so backups get distinct names
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.slept += d
	c.sleeps++
	return nil
}

// site is one machine: a live document, a state directory, a server.
type site struct {
	t     testing.TB
	dir   string
	path  string
	state string
	honua *fakeHonua
	clock *fakeClock
}

// newSite makes a site whose live document is old (none when nil) and
// loaded by the server.
func newSite(t testing.TB, old []byte) *site {
	t.Helper()
	dir := t.TempDir()
	s := &site{t: t, dir: dir, path: filepath.Join(dir, "etc", "metadata.json"), state: filepath.Join(dir, "state"), clock: newClock()}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		t.Fatal(err)
	}
	if old != nil {
		if err := os.WriteFile(s.path, old, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	s.honua = &fakeHonua{path: s.path, loaded: old}
	return s
}

// applier is a fresh Applier over the site, as a restarted runner makes.
func (s *site) applier() *Applier {
	return &Applier{
		MetadataPath: s.path, StateDir: s.state, Honua: s.honua,
		Now: s.clock.Now, Sleep: s.clock.Sleep,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// live is the live document (nil when there is none).
func (s *site) live() []byte {
	s.t.Helper()
	b, ok, err := readOptional(s.path)
	if err != nil {
		s.t.Fatal(err)
	}
	if !ok {
		return nil
	}
	return b
}

func (s *site) journalExists() bool {
	_, err := os.Stat(filepath.Join(s.state, JournalFile))
	return err == nil
}

// temps lists the temporary files left beside the live document.
func (s *site) temps() []string {
	m, _ := filepath.Glob(filepath.Join(filepath.Dir(s.path), ".*"+tempInfix+"*"))
	return m
}

func doc(name string, size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"catalog":{"id":"` + name + `"},"folders":[],"dataSources":[],"services":[],"layers":[],"pad":"`)
	for b.Len() < size {
		b.WriteString(name)
	}
	b.WriteString(`"}`)
	return b.Bytes()
}

func states(steps []Step) []string {
	var s []string
	for _, st := range steps {
		s = append(s, st.State)
	}
	return s
}
