package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"
)

// Webhook headers.
const (
	HeaderEvent     = "X-Honua-Event"
	HeaderDelivery  = "X-Honua-Delivery"
	HeaderSignature = "X-Honua-Signature-256"
)

// WebhookEvent is the JSON body a webhook target receives
// (docs/notifications.md).
type WebhookEvent struct {
	// ID is the delivery's key, the same as X-Honua-Delivery: the same
	// for every retry of it, so a receiver can drop repeats.
	ID           string    `json:"id"`
	Event        Kind      `json:"event"`
	Repo         string    `json:"repo"`
	Environment  string    `json:"environment"`
	SHA          string    `json:"sha"`
	DeploymentID string    `json:"deploymentId"`
	PR           int       `json:"pr"`
	PRURL        string    `json:"prUrl"`
	Who          string    `json:"who"`
	Summary      string    `json:"summary"`
	Cause        string    `json:"cause"`
	RolledBack   bool      `json:"rolledBack"`
	ApproveHow   string    `json:"approveHow"`
	Approvers    []string  `json:"approvers"`
	URL          string    `json:"url"`
	At           time.Time `json:"at"`
	// Test is true for `honua-gitops notify test`.
	Test bool `json:"test"`
}

// Sign returns the X-Honua-Signature-256 value of body: "sha256=" and the
// hex HMAC-SHA256 of body keyed with secret, as GitHub signs webhooks.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (n *Notifier) sendWebhook(ctx context.Context, t Target, ev Event, key string, r *redactor, test bool) error {
	u, err := r.fill("url", t.URL)
	if err != nil {
		return err
	}
	secret, err := r.fill("secret", t.Secret)
	if err != nil {
		return err
	}
	approvers := ev.Approvers
	if approvers == nil {
		approvers = []string{}
	}
	body, err := json.Marshal(WebhookEvent{
		ID: key, Event: ev.Kind, Repo: ev.Repo, Environment: ev.Env, SHA: ev.SHA,
		DeploymentID: ev.DeploymentID, PR: ev.PR, PRURL: ev.PRURL, Who: ev.Who,
		Summary: ev.Summary, Cause: ev.Cause, RolledBack: ev.RolledBack,
		ApproveHow: ev.ApproveHow, Approvers: approvers, URL: ev.URL, At: ev.At.UTC(), Test: test,
	})
	if err != nil {
		return permanent(err)
	}
	h := http.Header{}
	h.Set(HeaderEvent, string(ev.Kind))
	h.Set(HeaderDelivery, key)
	h.Set(HeaderSignature, Sign(secret, body))
	return n.post(ctx, "webhook", u, body, h)
}
