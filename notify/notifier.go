package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// Defaults of Options.
const (
	DefaultMaxElapsed = 10 * time.Minute
	// attemptTimeout bounds one delivery attempt.
	attemptTimeout = 30 * time.Second
	backoffBase    = time.Second
	backoffCap     = 2 * time.Minute
	// maxFailures is how many recent failures Failures keeps.
	maxFailures = 100
)

// Results, the values of the result label of
// honua_gitops_notifications_total.
const (
	ResultSent      = "sent"
	ResultRetry     = "retry"
	ResultFailed    = "failed"
	ResultDuplicate = "duplicate"
)

// Options configure a Notifier.
type Options struct {
	// SMTPURL is the mail server: smtp://host:587 (STARTTLS, required),
	// smtps://host:465 (TLS), smtp+insecure://host:port (plain text; for
	// tests only). Email targets fail without it.
	SMTPURL string
	// SMTPUser and SMTPPassword authenticate with AUTH PLAIN, only over
	// TLS (or to localhost); see ReadSMTPCredentials.
	SMTPUser, SMTPPassword string
	// From is the sender's address of emails.
	From string
	// Secrets fills ${NAME} references (config.Secrets).
	Secrets func(string) (string, bool)
	// HTTPClient sends Slack, PagerDuty and webhook requests;
	// http.DefaultClient's transport when nil.
	HTTPClient *http.Client
	// MaxElapsed is the retry budget of one message (DefaultMaxElapsed).
	MaxElapsed time.Duration
	// Sleep and Now are the clock, for tests.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
	// Logger logs deliveries; slog.Default() when nil.
	Logger *slog.Logger
	// Registerer registers honua_gitops_notifications_total; none when nil.
	Registerer prometheus.Registerer
	// OnFailure, when set, is told of each message given up on (after its
	// retries, or at once for a permanent error): the runner and the
	// controller keep them in their state store, for their status
	// commands.
	OnFailure func(Failure)
	// TLSConfig is the TLS client configuration towards the SMTP server
	// (tests: trust a self-signed certificate).
	TLSConfig *tls.Config
}

// Notifier delivers events to targets.
type Notifier struct {
	o      Options
	client *http.Client
	log    *slog.Logger
	total  *prometheus.CounterVec // type, result

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	inflight map[string]bool
	failures []Failure
}

// Failure is a notification given up on, for status output.
type Failure struct {
	Key      string // the ledger key
	Kind     Kind
	Env      string
	Target   string // Target.String(): no secrets
	Err      string
	Attempts int
	At       time.Time
}

// Result is the outcome of one target of Test.
type Result struct {
	Kind   Kind
	Target string // Target.String(): no secrets
	Err    error
}

// New checks o and returns a Notifier.
func New(o Options) (*Notifier, error) {
	if o.SMTPURL != "" {
		if _, _, err := smtpAddr(o.SMTPURL); err != nil {
			return nil, err
		}
	}
	if o.MaxElapsed <= 0 {
		o.MaxElapsed = DefaultMaxElapsed
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Secrets == nil {
		o.Secrets = func(string) (string, bool) { return "", false }
	}
	n := &Notifier{o: o, client: o.HTTPClient, log: o.Logger, inflight: map[string]bool{}}
	if n.client == nil {
		n.client = &http.Client{}
	}
	if n.log == nil {
		n.log = slog.Default()
	}
	n.total = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "honua_gitops",
		Name:      "notifications_total",
		Help:      "Notification deliveries by target type and result (sent, retry: an attempt failed and will be retried, failed: given up, duplicate: already sent).",
	}, []string{"type", "result"})
	if o.Registerer != nil {
		if err := o.Registerer.Register(n.total); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("registering notification metrics: %w", err)
			}
			if c, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				n.total = c
			}
		}
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	return n, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Send delivers ev to every target of cfg for ev.Kind that ledger has not
// recorded as sent (key: ev.Key()+"/"+Target.ID()), in the background: it
// returns at once. Each delivery is retried with jittered exponential
// backoff until Options.MaxElapsed, recorded in ledger when it succeeds,
// and counted in honua_gitops_notifications_total; one given up on is in
// Failures. ctx gives values only: the deliveries outlive it (a deployment
// ends before its notifications are sent), until Close. A nil ledger
// sends without recording.
func (n *Notifier) Send(ctx context.Context, cfg Config, ev Event, ledger Ledger) {
	if ev.At.IsZero() {
		ev.At = n.o.Now()
	}
	bg := context.WithoutCancel(ctx)
	for _, t := range cfg.targets(ev.Kind) {
		key := ev.Key() + "/" + t.ID()
		n.mu.Lock()
		busy := n.inflight[key]
		if !busy {
			n.inflight[key] = true
		}
		n.mu.Unlock()
		if busy {
			n.total.WithLabelValues(t.Type, ResultDuplicate).Inc()
			continue
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer func() {
				n.mu.Lock()
				delete(n.inflight, key)
				n.mu.Unlock()
			}()
			ctx, cancel := context.WithCancel(bg)
			defer cancel()
			stop := context.AfterFunc(n.ctx, cancel)
			defer stop()
			n.deliver(ctx, t, ev, key, ledger)
		}()
	}
}

// Wait waits for the deliveries in flight.
func (n *Notifier) Wait() { n.wg.Wait() }

// Close stops retrying and waits for the deliveries in flight to end.
func (n *Notifier) Close() {
	n.cancel()
	n.wg.Wait()
}

// errAlreadySent ends a delivery that another made.
var errAlreadySent = errors.New("already sent")

// deliver sends ev to t until it succeeds, fails for good, or the budget
// is spent.
func (n *Notifier) deliver(ctx context.Context, t Target, ev Event, key string, ledger Ledger) {
	start := n.o.Now()
	claimer, _ := ledger.(Claimer)
	claimed := false
	log := n.log.With("event", string(ev.Kind), "env", oneLine(ev.Env), "target", t.String(), "key", key)
	for attempt := 1; ; attempt++ {
		err := func() error {
			if ledger != nil {
				sent, err := ledger.Sent(ctx, key)
				if err != nil {
					return fmt.Errorf("reading what was sent: %w", err)
				}
				if sent {
					return errAlreadySent
				}
				if claimer != nil && !claimed {
					ok, err := claimer.Claim(ctx, key, n.o.MaxElapsed+attemptTimeout)
					if err != nil {
						return fmt.Errorf("claiming the notification: %w", err)
					}
					if !ok {
						return errAlreadySent
					}
					claimed = true
				}
			}
			actx, cancel := context.WithTimeout(ctx, attemptTimeout)
			defer cancel()
			return n.send(actx, t, ev, key, false)
		}()
		switch {
		case errors.Is(err, errAlreadySent):
			n.total.WithLabelValues(t.Type, ResultDuplicate).Inc()
			log.Debug("notification already sent")
			return
		case err == nil:
			n.total.WithLabelValues(t.Type, ResultSent).Inc()
			log.Info("notification sent", "attempts", attempt)
			if ledger != nil {
				if err := ledger.MarkSent(context.WithoutCancel(ctx), key); err != nil {
					log.Warn("notification sent but not recorded; a redelivery may send it again", "err", err)
				}
			}
			return
		}
		wait := backoff(attempt)
		var re *retryError
		if errors.As(err, &re) && re.after > wait {
			wait = min(re.after, backoffCap)
		}
		var pe *permanentError
		final := errors.As(err, &pe) || ctx.Err() != nil || n.o.Now().Sub(start)+wait > n.o.MaxElapsed
		if !final {
			n.total.WithLabelValues(t.Type, ResultRetry).Inc()
			log.Debug("notification failed; retrying", "attempt", attempt, "in", wait, "err", err)
			if serr := n.o.Sleep(ctx, wait); serr == nil {
				continue
			}
		}
		n.total.WithLabelValues(t.Type, ResultFailed).Inc()
		log.Warn("notification failed; giving up", "attempts", attempt, "err", err)
		n.recordFailure(Failure{Key: key, Kind: ev.Kind, Env: oneLine(ev.Env), Target: t.String(), Err: err.Error(), Attempts: attempt, At: n.o.Now()})
		if claimed {
			if err := claimer.Release(context.WithoutCancel(ctx), key); err != nil {
				log.Warn("releasing the notification's claim", "err", err)
			}
		}
		return
	}
}

// backoff is the wait after the attempt-th failure: exponential, capped,
// with full jitter over its upper half.
func backoff(attempt int) time.Duration {
	d := backoffCap
	if attempt < 20 {
		d = min(backoffBase<<(attempt-1), backoffCap)
	}
	return d/2 + rand.N(d/2+1)
}

func (n *Notifier) recordFailure(f Failure) {
	n.mu.Lock()
	n.failures = append(n.failures, f)
	if len(n.failures) > maxFailures {
		n.failures = append([]Failure(nil), n.failures[len(n.failures)-maxFailures:]...)
	}
	n.mu.Unlock()
	if n.o.OnFailure != nil {
		n.o.OnFailure(f)
	}
}

// Failures returns the recent notifications given up on, oldest first.
func (n *Notifier) Failures() []Failure {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Failure(nil), n.failures...)
}

// Test sends a sample event of kind k, or of every kind when k is "", to
// every target cfg lists for it, once each, synchronously, and returns
// what became of each (for `honua-gitops notify test`). Nothing is
// recorded in a ledger. A PagerDuty sample that triggers an alert is
// resolved at once, under a dedup key of its own.
func (n *Notifier) Test(ctx context.Context, cfg Config, k Kind, env string) []Result {
	kinds := Kinds
	if k != "" {
		kinds = []Kind{k}
	}
	var out []Result
	for _, kind := range kinds {
		ev := SampleEvent(kind, env, n.o.Now())
		for _, t := range cfg.ByKind[kind] {
			actx, cancel := context.WithTimeout(ctx, attemptTimeout)
			err := n.send(actx, t, ev, ev.Key()+"/"+t.ID(), true)
			cancel()
			var pe *permanentError
			if errors.As(err, &pe) {
				err = pe.err
			}
			out = append(out, Result{Kind: kind, Target: t.Path + " " + t.String(), Err: err})
			res := ResultSent
			if err != nil {
				res = ResultFailed
			}
			n.total.WithLabelValues(t.Type, res).Inc()
		}
	}
	return out
}

// SampleEvent is the event Test sends.
func SampleEvent(k Kind, env string, now time.Time) Event {
	ev := Event{
		Kind: k, Repo: "honua-gitops/notify-test", Env: env,
		SHA:          "0123456789abcdef0123456789abcdef01234567",
		DeploymentID: "notify-test-" + now.UTC().Format("20060102T150405Z"),
		Who:          "honua-gitops notify test",
		Summary:      "This is a test notification: 2 to add, 1 to change",
		At:           now,
	}
	switch k {
	case KindApprovalRequired:
		ev.ApproveHow = "nothing: this is a test"
	case KindFailed:
		ev.Cause = "this is a test notification; nothing failed"
	case KindDriftDetected:
		ev.Summary = "This is a test notification: 1 object differs from Git"
	}
	return ev
}

// send makes one attempt to deliver ev to t.
func (n *Notifier) send(ctx context.Context, t Target, ev Event, key string, test bool) error {
	r := &redactor{secrets: n.o.Secrets}
	var err error
	switch t.Type {
	case TypeEmail:
		err = n.sendEmail(ctx, t, ev, key, r)
	case TypeSlack:
		err = n.sendSlack(ctx, t, ev, r, test)
	case TypePagerDuty:
		err = n.sendPagerDuty(ctx, t, ev, r, test)
	case TypeWebhook:
		err = n.sendWebhook(ctx, t, ev, key, r, test)
	default:
		err = permanent(fmt.Errorf("unknown target type %q", t.Type))
	}
	return r.clean(err)
}

// permanentError is a failure that retrying will not mend (a missing
// secret, a 4xx answer, a refused login).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return &permanentError{err} }

// retryError is a failure worth retrying after a while (429 Retry-After).
type retryError struct {
	err   error
	after time.Duration
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// redactor fills ${NAME} references and keeps their values out of errors.
type redactor struct {
	secrets func(string) (string, bool)
	used    map[string]string // value → reference
}

// fill replaces the references in s with their values; a missing secret
// is a permanent failure naming the secret.
func (r *redactor) fill(field, s string) (string, error) {
	for _, name := range config.SecretRefs(s) {
		v, ok := r.secrets(name)
		if !ok || v == "" {
			return "", permanent(fmt.Errorf("%s: secret %s is not set: give it to the sender (secrets file, HONUA_SECRET_%s or --secret-env %s)", field, name, name, name))
		}
		r.remember(v, "${"+name+"}")
		s = strings.ReplaceAll(s, "${"+name+"}", v)
	}
	return s, nil
}

// remember notes a filled value to keep out of errors, and when it is a
// URL its parts that carry tokens (path, query, password, each long path
// segment and query value), which an answer may quote on their own.
func (r *redactor) remember(v, ref string) {
	if r.used == nil {
		r.used = map[string]string{}
	}
	r.used[v] = ref
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return
	}
	part := func(s string) {
		if len(s) >= 6 {
			r.used[s] = ref
		}
	}
	part(u.Path)
	part(u.EscapedPath())
	part(u.RawQuery)
	if p, ok := u.User.Password(); ok {
		part(p)
	}
	for _, seg := range strings.Split(u.Path, "/") {
		part(seg)
	}
	for _, vs := range u.Query() {
		for _, q := range vs {
			part(q)
		}
	}
}

// clean returns err with every filled value replaced by its reference,
// keeping whether it is permanent and its Retry-After; the original
// error, which may quote a URL with a token, is dropped.
func (r *redactor) clean(err error) error {
	if err == nil || errors.Is(err, errAlreadySent) {
		return err
	}
	msg := err.Error()
	vals := make([]string, 0, len(r.used))
	for v := range r.used {
		vals = append(vals, v)
	}
	// Longest first: a URL before the path and the token in it.
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	for _, v := range vals {
		ref := r.used[v]
		msg = strings.ReplaceAll(msg, v, ref)
		if q := url.QueryEscape(v); q != v {
			msg = strings.ReplaceAll(msg, q, ref)
		}
		if p := url.PathEscape(v); p != v {
			msg = strings.ReplaceAll(msg, p, ref)
		}
	}
	clean := errors.New(msg)
	var pe *permanentError
	if errors.As(err, &pe) {
		return permanent(clean)
	}
	var re *retryError
	if errors.As(err, &re) {
		return &retryError{err: clean, after: re.after}
	}
	return clean
}
