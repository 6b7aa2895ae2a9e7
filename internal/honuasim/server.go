// Package honuasim is a stand-in for the Honua server (Honua.Server, the
// document model): it serves the endpoints a deployer uses — reload and
// validate the metadata document, health, and the OGC API collections of
// the loaded layers — from a metadata document on disk, and refuses
// documents the real server refuses. Tests switch faults on through its Go
// API; the local demo runs it as a process.
package honuasim

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	// MetadataPath is the JSON document the server reads on start and on
	// every reload (Honua's HONUA__METADATA__PATH). Required. When the file
	// does not exist yet the server starts with nothing loaded (not ready).
	MetadataPath string
	// AdminToken, when set, must come as "Authorization: Bearer <token>"
	// on every /admin/ request; without it they answer 401.
	AdminToken string
	// Addr makes the server listen there (e.g. "127.0.0.1:8082" for the
	// demo) instead of on a random loopback port.
	Addr string
}

// Server is a running stand-in for Honua.
type Server struct {
	opts Options
	hs   *httptest.Server

	// reloadMu makes reloads one at a time, so that two racing reloads
	// cannot swap in the older read last.
	reloadMu sync.Mutex

	mu      sync.Mutex
	current *catalog // nil until a document is loaded
	reloads int
	faults  faults
}

// NewServer starts a server. When the document at opts.MetadataPath exists
// it must be valid, as the real server refuses to start on an invalid one.
// Close it when done.
func NewServer(opts Options) (*Server, error) {
	if opts.MetadataPath == "" {
		return nil, errors.New("honuasim options: MetadataPath is required")
	}
	s := &Server{opts: opts, faults: newFaults()}
	doc, err := os.ReadFile(opts.MetadataPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading metadata %s: %w", opts.MetadataPath, err)
	default:
		if r := Validate(doc); !r.OK() {
			return nil, fmt.Errorf("loading metadata %s: %d problems; the first: %s", opts.MetadataPath, len(r.Errors), r.Errors[0])
		}
		s.current = newCatalog(doc)
	}
	s.hs = httptest.NewUnstartedServer(s.routes())
	if opts.Addr != "" {
		l, err := net.Listen("tcp", opts.Addr)
		if err != nil {
			return nil, fmt.Errorf("listening on %s: %w", opts.Addr, err)
		}
		s.hs.Listener.Close()
		s.hs.Listener = l
	}
	s.hs.Start()
	return s, nil
}

// Close stops the server and waits for the requests in flight.
func (s *Server) Close() { s.hs.Close() }

// URL is the server's base URL, without a trailing slash.
func (s *Server) URL() string { return s.hs.URL }

// Loaded returns the document currently loaded (a copy), or nil before one
// has been.
func (s *Server) Loaded() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		return nil
	}
	return append([]byte(nil), s.current.doc...)
}

// Reloads counts the reload requests that passed authentication, whatever
// they answered (failed and injected failures too).
func (s *Server) Reloads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloads
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/metadata/reload", s.admin(s.reload))
	mux.HandleFunc("POST /admin/metadata/validate", s.admin(s.validate))
	mux.HandleFunc("GET /healthz/ready", s.ready)
	mux.HandleFunc("GET /health/ready", s.ready)
	mux.HandleFunc("GET /healthz/live", s.live)
	mux.HandleFunc("GET /health/live", s.live)
	mux.HandleFunc("GET /ogc/collections", s.collections)
	mux.HandleFunc("GET /ogc/collections/{id}", s.collection)
	mux.HandleFunc("GET /ogc/collections/{id}/items", s.items)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "not found: " + r.URL.Path})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.wait(r, s.latency()) {
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// wait sleeps d unless the request goes away first; false when it did.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// admin requires the admin bearer token when one is configured.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.AdminToken != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.AdminToken)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="honua-admin"`)
				writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "admin token required"})
				return
			}
		}
		h(w, r)
	}
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.mu.Lock()
	s.reloads++
	status, injected := s.faults.takeReload()
	s.mu.Unlock()
	if injected {
		body := map[string]any{"error": fmt.Sprintf("injected reload failure (%d)", status)}
		if status == http.StatusUnprocessableEntity {
			body["details"] = []string{"injected by FailReload"}
		}
		writeJSON(w, status, body)
		return
	}
	doc, err := os.ReadFile(s.opts.MetadataPath)
	if err != nil {
		// The path is the operator's own configuration; naming it helps.
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": fmt.Sprintf("reading metadata %s: %v", s.opts.MetadataPath, err)})
		return
	}
	res := Validate(doc)
	if !res.OK() {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "metadata is invalid; the previous metadata stays loaded", "details": res.Errors, "warnings": nonNil(res.Warnings)})
		return
	}
	c := newCatalog(doc)
	s.mu.Lock()
	s.current = c
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"status": "reloaded", "warnings": nonNil(res.Warnings)})
}

// maxDocument bounds a posted document.
const maxDocument = 32 << 20

func (s *Server) validate(w http.ResponseWriter, r *http.Request) {
	doc, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDocument))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": fmt.Sprintf("reading the document: %v", err)})
		return
	}
	res := Validate(doc)
	if !res.OK() {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "metadata is invalid", "details": res.Errors, "warnings": nonNil(res.Warnings)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "valid", "warnings": nonNil(res.Warnings)})
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	slow := s.faults.slowHealth
	healthy, flapped := s.faults.nextFlap()
	loaded := s.current != nil
	s.mu.Unlock()
	if !s.wait(r, slow) {
		return
	}
	switch {
	case !loaded:
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "Unhealthy", "reason": "no metadata loaded"})
	case flapped && !healthy:
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "Unhealthy", "reason": "not ready (FlapHealth)"})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"status": "Healthy"})
	}
}

func (s *Server) live(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	slow := s.faults.slowHealth
	s.mu.Unlock()
	if !s.wait(r, slow) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "Healthy"})
}

func (s *Server) latency() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.latency
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away; nothing to do
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
