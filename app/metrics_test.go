package app

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metricValue sums the counter, gauge or histogram-count values c reports
// (one metric for a child of a vector). It stands in for
// prometheus/testutil, whose diff dependency the module does not carry.
func metricValue(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	total := 0.0
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			panic(err)
		}
		switch {
		case pb.Counter != nil:
			total += pb.Counter.GetValue()
		case pb.Gauge != nil:
			total += pb.Gauge.GetValue()
		case pb.Histogram != nil:
			total += float64(pb.Histogram.GetSampleCount())
		}
	}
	return total
}

// TestMetricsShareRegistry: a server and transports on one registry share
// collectors instead of failing on the second registration, and every name
// carries the App's prefix.
func TestMetricsShareRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := NewServer(ServerConfig{WebhookSecrets: [][]byte{[]byte("s")}, Registry: reg, Logger: slogDiscard()})
	if err != nil {
		t.Fatal(err)
	}
	t1 := NewTransport(nil, TransportOptions{Registry: reg})
	t2 := NewTransport(nil, TransportOptions{Registry: reg})
	if t1.metrics.requests != t2.metrics.requests {
		t.Error("two transports on one registry do not share their collectors")
	}
	t1.metrics.requests.WithLabelValues("GET", "/x", "2xx").Inc()
	s.metrics.webhooks.WithLabelValues("ping", resultAccepted).Inc()
	t1.metrics.remaining.WithLabelValues("core").Set(1)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(families) < 5 {
		t.Errorf("only %d metric families gathered", len(families))
	}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "honua_gitops_") {
			t.Errorf("metric %s lacks the honua_gitops_ prefix", f.GetName())
		}
	}
}
