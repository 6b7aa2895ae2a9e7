// Package notifytest is a stand-in for Slack's incoming webhooks, for the
// tests of the components that send notifications.
package notifytest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Slack records every message posted to its webhook.
type Slack struct {
	srv  *httptest.Server
	mu   sync.Mutex
	msgs []string
}

// NewSlack starts a receiver, closed when the test ends.
func NewSlack(t testing.TB) *Slack {
	t.Helper()
	s := &Slack{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		s.mu.Lock()
		s.msgs = append(s.msgs, string(b))
		s.mu.Unlock()
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// WebhookURL is the receiver's address in the shape of Slack's.
func (s *Slack) WebhookURL() string { return s.srv.URL + "/services/T000/B000/XXXX" }

// Messages are the bodies received so far, in order.
func (s *Slack) Messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// Secrets fills ${SLACK_WEBHOOK_URL} with the receiver and every other
// name from fallback (unset when nil).
func (s *Slack) Secrets(fallback func(string) (string, bool)) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if name == "SLACK_WEBHOOK_URL" {
			return s.WebhookURL(), true
		}
		if fallback == nil {
			return "", false
		}
		return fallback(name)
	}
}
