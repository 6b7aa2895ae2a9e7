package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// PagerDuty Events API v2 limits.
const (
	pdSummaryMax  = 1024
	pdDedupKeyMax = 255
)

// pdEvent is an Events API v2 event.
type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
	Client      string     `json:"client,omitempty"`
	ClientURL   string     `json:"client_url,omitempty"`
	Links       []pdLink   `json:"links,omitempty"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// DedupKey is the PagerDuty dedup_key of an environment:
// "honua-gitops/<repo>/<env>", or a digest of it past PagerDuty's 255
// characters. A failure triggers the environment's alert, a success
// resolves it.
func DedupKey(repo, env string) string {
	k := "honua-gitops/" + oneLine(repo) + "/" + oneLine(env)
	if len(k) <= pdDedupKeyMax {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return "honua-gitops/" + hex.EncodeToString(sum[:])
}

// pagerDutyEvent returns the event for ev, or nil when ev is not one
// PagerDuty hears of (an approval).
func pagerDutyEvent(t Target, ev Event, routingKey string, test bool) *pdEvent {
	dedup := DedupKey(ev.Repo, ev.Env)
	if test {
		dedup = truncate(dedup, pdDedupKeyMax-len("/test")) + "/test"
	}
	e := &pdEvent{RoutingKey: routingKey, DedupKey: dedup}
	var severity string
	switch ev.Kind {
	case KindCompleted:
		e.EventAction = "resolve"
		return e
	case KindFailed:
		severity = "critical"
		if ev.RolledBack {
			severity = "error"
		}
	case KindRolledBack:
		severity = "error"
	case KindDriftDetected:
		severity = "warning"
	default:
		return nil
	}
	if test {
		severity = "info"
	}
	e.EventAction = "trigger"
	summary := "[honua-gitops] " + ev.title()
	if ev.Cause != "" {
		summary += ": " + oneLine(ev.Cause)
	}
	source := oneLine(ev.Repo)
	if source == "" {
		source = "honua-gitops"
	}
	details := map[string]any{"environment": ev.Env, "sha": ev.SHA, "deploymentId": ev.DeploymentID, "rolledBack": ev.RolledBack}
	for k, v := range map[string]string{"who": ev.Who, "summary": ev.Summary, "cause": ev.Cause, "pullRequest": ev.PRURL} {
		if v != "" {
			details[k] = v
		}
	}
	e.Payload = &pdPayload{
		Summary:       truncate(summary, pdSummaryMax),
		Source:        truncate(source, 255),
		Severity:      severity,
		Component:     t.component(),
		Group:         oneLine(ev.Env),
		Class:         "deployment " + string(ev.Kind),
		CustomDetails: details,
	}
	if !ev.At.IsZero() {
		e.Payload.Timestamp = ev.At.UTC().Format(time.RFC3339)
	}
	e.Client = "honua-gitops"
	if l := ev.link(); l != "" {
		e.ClientURL = l
		e.Links = []pdLink{{Href: l, Text: "Deployment"}}
	}
	if ev.PRURL != "" && ev.PRURL != ev.link() && ev.link() != "" {
		e.Links = append(e.Links, pdLink{Href: ev.PRURL, Text: "Pull request"})
	}
	return e
}

func (n *Notifier) sendPagerDuty(ctx context.Context, t Target, ev Event, r *redactor, test bool) error {
	key, err := r.fill("serviceKey", t.ServiceKey)
	if err != nil {
		return err
	}
	u, err := r.fill("url", t.URL)
	if err != nil {
		return err
	}
	if test && ev.Kind == KindApprovalRequired {
		return nil
	}
	e := pagerDutyEvent(t, ev, key, test)
	if e == nil {
		return nil
	}
	body, err := json.Marshal(e)
	if err != nil {
		return permanent(err)
	}
	if err := n.post(ctx, "pagerduty", u, body, nil); err != nil {
		return err
	}
	if test && e.EventAction == "trigger" {
		body, _ = json.Marshal(pdEvent{RoutingKey: key, EventAction: "resolve", DedupKey: e.DedupKey})
		return n.post(ctx, "pagerduty", u, body, nil)
	}
	return nil
}
