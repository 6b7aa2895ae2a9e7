package app

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metricsNamespace prefixes every collector of the App.
const metricsNamespace = "honua_gitops"

// Webhook results, the values of the result label of
// honua_gitops_webhooks_total.
const (
	resultAccepted         = "accepted"
	resultDuplicate        = "duplicate"
	resultIgnoredBot       = "ignored_bot"
	resultBadSignature     = "bad_signature"
	resultBadJSON          = "bad_json"
	resultBadRequest       = "bad_request"
	resultTooLarge         = "too_large"
	resultDroppedQueueFull = "dropped_queue_full"
	resultDraining         = "dropped_draining"
	resultUnknownEvent     = "unknown_event"
	resultUnhandled        = "unhandled"
)

// unverifiedEvent is the event label of deliveries refused before their
// signature was checked: the header is the sender's word, and an attacker's
// words must not become label values.
const unverifiedEvent = "unverified"

// serverMetrics are the webhook and queue collectors of one Server.
type serverMetrics struct {
	webhooks        *prometheus.CounterVec   // event, result
	decodeFallbacks *prometheus.CounterVec   // event, outcome (repaired, raw)
	handlerErrors   *prometheus.CounterVec   // event
	handlerPanics   *prometheus.CounterVec   // event
	handlerDuration *prometheus.HistogramVec // event, result
	jobsDropped     *prometheus.CounterVec   // reason
}

func newServerMetrics(reg prometheus.Registerer, queueDepth, queueCapacity func() float64) *serverMetrics {
	m := &serverMetrics{
		webhooks: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "webhooks_total",
			Help: "Webhook deliveries received, by event and result.",
		}, []string{"event", "result"})),
		decodeFallbacks: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "webhook_decode_fallbacks_total",
			Help: "Verified deliveries go-github could not decode as sent: repaired (a known quirk was fixed) or raw (handed over with a nil Payload).",
		}, []string{"event", "outcome"})),
		handlerErrors: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "handler_errors_total",
			Help: "Handler runs that returned an error, by event.",
		}, []string{"event"})),
		handlerPanics: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "handler_panics_total",
			Help: "Handler runs that panicked (recovered), by event.",
		}, []string{"event"})),
		handlerDuration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Name: "handler_duration_seconds",
			Help:    "Time handlers took, by event and result (ok, error, panic).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"event", "result"})),
		jobsDropped: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "jobs_dropped_total",
			Help: "Queued deliveries never handled, by reason (shutdown: the drain deadline passed).",
		}, []string{"reason"})),
	}
	register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: metricsNamespace, Name: "queue_depth",
		Help: "Deliveries waiting for a worker.",
	}, queueDepth))
	register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: metricsNamespace, Name: "queue_capacity",
		Help: "Deliveries the queue holds before answering 503.",
	}, queueCapacity))
	return m
}

// apiMetrics are the collectors of the GitHub API transport. Several
// transports may share one registry: they then share the collectors.
type apiMetrics struct {
	requests       *prometheus.CounterVec   // method, route, status (2xx, 3xx, 4xx, 5xx, error)
	duration       *prometheus.HistogramVec // method, route
	cacheHits      *prometheus.CounterVec   // route
	retries        *prometheus.CounterVec   // method, route, reason (5xx, connection)
	rateLimitWaits *prometheus.CounterVec   // kind (primary, secondary)
	rateLimitErrs  *prometheus.CounterVec   // kind
	remaining      *prometheus.GaugeVec     // resource
}

func newAPIMetrics(reg prometheus.Registerer) *apiMetrics {
	return &apiMetrics{
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "github_requests_total",
			Help: "HTTP exchanges with the GitHub API (each attempt), by method, route template and status class.",
		}, []string{"method", "route", "status"})),
		duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Name: "github_request_duration_seconds",
			Help:    "Time of one HTTP exchange with the GitHub API, by method and route template.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"})),
		cacheHits: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "github_cache_hits_total",
			Help: "Conditional GETs answered 304 and served from the ETag cache (free against the primary rate limit), by route template.",
		}, []string{"route"})),
		retries: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "github_retries_total",
			Help: "Requests sent again after a 5xx or a connection error, by method, route template and reason.",
		}, []string{"method", "route", "reason"})),
		rateLimitWaits: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "github_rate_limit_waits_total",
			Help: "Waits for a GitHub rate limit to pass before retrying, by kind (primary, secondary).",
		}, []string{"kind"})),
		rateLimitErrs: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "github_rate_limit_errors_total",
			Help: "Requests failed with a RateLimitError because the limit would not pass within the allowed wait, by kind.",
		}, []string{"kind"})),
		remaining: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Name: "github_rate_limit_remaining",
			Help: "Lowest x-ratelimit-remaining among the identities (App, installations) whose window has not reset, by resource.",
		}, []string{"resource"})),
	}
}

// register registers c on reg, or returns the collector already registered
// under the same description, so that two transports (or a transport and a
// server) can share one registry. Any other conflict is a programming error.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}
