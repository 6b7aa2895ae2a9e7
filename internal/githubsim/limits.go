package githubsim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Counter counts what one route or one token cost.
type Counter struct {
	Calls       int // requests answered (including 304s and errors)
	NotModified int // 304 answers to conditional requests
	RateUnits   int // units of the primary rate limit spent
	Faults      int // injected faults served
}

// RateLimitKind selects which limit a forced rate limit imitates.
type RateLimitKind int

const (
	// PrimaryLimit answers 403 with x-ratelimit-remaining: 0 and a reset.
	PrimaryLimit RateLimitKind = iota + 1
	// PrimaryLimit429 answers 429 with x-ratelimit-remaining: 0 and a reset.
	PrimaryLimit429
	// SecondaryLimit answers 403 with retry-after and a documentation_url
	// ending in secondary-rate-limits.
	SecondaryLimit
	// SecondaryLimit429 answers 429 with retry-after (GitHub answers a
	// secondary limit with 403 or 429).
	SecondaryLimit429
	// SecondaryLimitNoRetryAfter answers 403 without retry-after: the
	// client must wait until x-ratelimit-reset or back off (at least a
	// minute, GitHub says).
	SecondaryLimitNoRetryAfter
	// SecondaryLimit429NoRetryAfter answers 429 without retry-after.
	SecondaryLimit429NoRetryAfter
)

// secondaryLimitDoc is the documentation_url of GitHub's secondary-limit
// answers (go-github recognises its suffix).
const secondaryLimitDoc = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"

type forcedLimit struct {
	kind       RateLimitKind
	times      int // <= 0: until cleared
	retryAfter time.Duration
}

type rateWindow struct {
	used  int
	reset time.Time
}

// Fault is a failure injected into one route.
type Fault struct {
	Status  int           // answer with this status (5xx) when non-zero
	Latency time.Duration // wait this long first (real time)
	Reset   bool          // drop the connection without answering
	Times   int           // how many requests it hits; <= 0 means until cleared
}

// InjectFault makes route fail. route is the emulator's route, a method and
// GitHub's path template, e.g. "GET /repos/{owner}/{repo}/pulls/{pull_number}",
// or "*" for every REST route.
func (s *Server) InjectFault(route string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fc := f
	s.faults[route] = append(s.faults[route], &fc)
}

// ClearFaults removes every injected fault and forced rate limit.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string][]*Fault{}
	s.rateForce = map[string][]*forcedLimit{}
}

func (s *Server) takeFault(route string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range []string{route, "*"} {
		l := s.faults[k]
		if len(l) == 0 {
			continue
		}
		f := l[0]
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults[k] = l[1:]
			}
		}
		return f
	}
	return nil
}

// ForceRateLimit makes route (or "*") answer as rate limited the next times
// requests (times <= 0: until ClearFaults). retryAfter is the Retry-After
// of SecondaryLimit and SecondaryLimit429 (default 60s).
func (s *Server) ForceRateLimit(route string, kind RateLimitKind, times int, retryAfter time.Duration) {
	if retryAfter == 0 {
		retryAfter = time.Minute
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateForce[route] = append(s.rateForce[route], &forcedLimit{kind: kind, times: times, retryAfter: retryAfter})
}

// windowLocked returns the current primary-limit window of a rate key
// (an installation, or "app" for the App's JWT).
func (s *Server) windowLocked(key string) *rateWindow {
	now := s.clock.Now()
	w := s.rateUsed[key]
	if w == nil || !now.Before(w.reset) {
		w = &rateWindow{reset: now.Add(time.Hour).Truncate(time.Second)}
		s.rateUsed[key] = w
	}
	return w
}

// rateLimited answers the request as rate limited when forced to or when the
// caller has spent its primary limit.
func (s *Server) rateLimited(w *bufferedResponse, route, key string) bool {
	s.mu.Lock()
	var fl *forcedLimit
	for _, k := range []string{route, "*"} {
		l := s.rateForce[k]
		if len(l) == 0 {
			continue
		}
		fl = l[0]
		if fl.times > 0 {
			fl.times--
			if fl.times == 0 {
				s.rateForce[k] = l[1:]
			}
		}
		break
	}
	exhausted := false
	var reset time.Time
	if key != "" {
		win := s.windowLocked(key)
		exhausted = win.used >= s.opts.RateLimit
		reset = win.reset
	} else {
		reset = s.clock.Now().Add(time.Hour)
	}
	s.mu.Unlock()
	primary := func(status int) {
		w.header.Set("X-RateLimit-Limit", strconv.Itoa(s.opts.RateLimit))
		w.header.Set("X-RateLimit-Remaining", "0")
		w.header.Set("X-RateLimit-Used", strconv.Itoa(s.opts.RateLimit))
		w.header.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		w.header.Set("X-RateLimit-Resource", "core")
		writeError(w, status, "API rate limit exceeded for installation. If you reach out to GitHub Support for help, please include the request ID.",
			"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit")
	}
	secondary := func(status int, retryAfter bool) {
		if retryAfter {
			w.header.Set("Retry-After", strconv.Itoa(int(fl.retryAfter.Seconds())))
		}
		writeError(w, status, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.", secondaryLimitDoc)
	}
	switch {
	case fl != nil && fl.kind == SecondaryLimit:
		secondary(http.StatusForbidden, true)
		return true
	case fl != nil && fl.kind == SecondaryLimit429:
		secondary(http.StatusTooManyRequests, true)
		return true
	case fl != nil && fl.kind == SecondaryLimitNoRetryAfter:
		secondary(http.StatusForbidden, false)
		return true
	case fl != nil && fl.kind == SecondaryLimit429NoRetryAfter:
		secondary(http.StatusTooManyRequests, false)
		return true
	case fl != nil && fl.kind == PrimaryLimit429:
		primary(http.StatusTooManyRequests)
		return true
	case fl != nil:
		primary(http.StatusForbidden)
		return true
	case exhausted:
		primary(http.StatusForbidden)
		return true
	}
	return false
}

// spendRate charges cost units to a rate key and writes the x-ratelimit
// headers, unless the answer already carries them.
func (s *Server) spendRate(h http.Header, key string, cost int) {
	if h.Get("X-RateLimit-Remaining") != "" || key == "" {
		return
	}
	s.mu.Lock()
	win := s.windowLocked(key)
	win.used += cost
	used, reset := win.used, win.reset
	s.mu.Unlock()
	rem := s.opts.RateLimit - used
	if rem < 0 {
		rem = 0
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.opts.RateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(rem))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

func (s *Server) count(route, key string, f func(*Counter)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counters[route]
	if c == nil {
		c = &Counter{}
		s.counters[route] = c
	}
	f(c)
	if key != "" {
		t := s.tokenCounter[key]
		if t == nil {
			t = &Counter{}
			s.tokenCounter[key] = t
		}
		f(t)
	}
}

// RouteCounter returns what a route has cost so far (route as in InjectFault).
func (s *Server) RouteCounter(route string) Counter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.counters[route]; c != nil {
		return *c
	}
	return Counter{}
}

// TokenCounter returns what requests with one token (or "app" for the App's
// JWT) have cost so far. The primary limit itself is the installation's,
// shared by its tokens.
func (s *Server) TokenCounter(tok string) Counter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.tokenCounter[tok]; c != nil {
		return *c
	}
	return Counter{}
}

// Counters returns a copy of every route's counter.
func (s *Server) Counters() map[string]Counter {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Counter{}
	for k, v := range s.counters {
		out[k] = *v
	}
	return out
}

// ResetCounters zeroes the route and token counters (not the rate limits).
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters = map[string]*Counter{}
	s.tokenCounter = map[string]*Counter{}
}

// etagFor is per token, as GitHub's are (they vary by Authorization).
func etagFor(key string, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", key)
	h.Write(body)
	return `W/"` + hex.EncodeToString(h.Sum(nil))[:40] + `"`
}

func etagMatches(header, etag string) bool {
	norm := func(s string) string { return strings.TrimPrefix(strings.TrimSpace(s), "W/") }
	for _, t := range strings.Split(header, ",") {
		if strings.TrimSpace(t) == "*" || norm(t) == norm(etag) {
			return true
		}
	}
	return false
}

// pagination slices a list and writes GitHub's Link header.
func paginate[T any](w http.ResponseWriter, r *http.Request, items []T) ([]T, bool) {
	q := r.URL.Query()
	perPage, page := 30, 1
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeError(w, 422, "Invalid per_page", "")
			return nil, false
		}
		perPage = min(max(n, 1), 100)
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeError(w, 422, "Invalid page", "")
			return nil, false
		}
		page = max(n, 1)
	}
	last := max((len(items)+perPage-1)/perPage, 1)
	link := func(p int, rel string) string {
		u := *r.URL
		qq := u.Query()
		qq.Set("page", strconv.Itoa(p))
		qq.Set("per_page", strconv.Itoa(perPage))
		u.RawQuery = qq.Encode()
		return fmt.Sprintf(`<%s%s>; rel="%s"`, baseURLFrom(r), u.RequestURI(), rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(page-1, "prev"), link(1, "first"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	start := (page - 1) * perPage
	if start >= len(items) {
		return []T{}, true
	}
	return items[start:min(start+perPage, len(items))], true
}

func baseURLFrom(r *http.Request) string {
	return "http://" + r.Host
}
