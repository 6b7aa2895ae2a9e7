package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/google/go-github/v66/github"
)

// Event is one verified webhook delivery.
type Event struct {
	Name           string // X-GitHub-Event
	Action         string // payload "action", "" when none
	DeliveryID     string // X-GitHub-Delivery
	InstallationID int64
	Repo           string // "owner/name", "" when none
	Sender         string // sender.login
	SenderType     string // "User", "Bot"
	// Payload is the *github.XxxEvent github.ParseWebHook gives for Name.
	// It is nil only when go-github cannot decode a genuine delivery even
	// after the known quirks are repaired, or does not know the event: the
	// handler then reads Raw.
	Payload any
	// Raw is the JSON payload: the body, or for a form-encoded delivery
	// its payload field.
	Raw []byte
}

// Handler handles events of the names it is registered for.
type Handler interface {
	Handle(ctx context.Context, ev Event) error
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, ev Event) error

// Handle calls f(ctx, ev).
func (f HandlerFunc) Handle(ctx context.Context, ev Event) error { return f(ctx, ev) }

var _ Handler = HandlerFunc(nil)

// Webhook request headers.
const (
	headerEvent     = "X-GitHub-Event"
	headerDelivery  = "X-GitHub-Delivery"
	headerSignature = "X-Hub-Signature-256"
)

// webhookHead is the part of every payload the edge reads itself.
type webhookHead struct {
	Action       string `json:"action"`
	Installation struct {
		ID int64 `json:"id"`
	} `json:"installation"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	Sender struct {
		Login string `json:"login"`
		Type  string `json:"type"`
	} `json:"sender"`
}

// serveWebhook verifies, parses and enqueues one delivery, and answers at
// once: handlers run on the queue's workers, never in the request, because
// GitHub gives up on a delivery after 10 s.
func (s *Server) serveWebhook(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		s.reply(w, http.StatusServiceUnavailable, unverifiedEvent, resultDraining)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.logger.Warn("webhook refused: body over the size limit", slog.Int64("limit", s.maxBody))
			s.reply(w, http.StatusRequestEntityTooLarge, unverifiedEvent, resultTooLarge)
			return
		}
		s.logger.Warn("webhook refused: reading body", slog.String("error", err.Error()))
		s.reply(w, http.StatusBadRequest, unverifiedEvent, resultBadRequest)
		return
	}
	// Nothing about the request is believed before its signature is.
	if !s.verifySignature(r.Header.Get(headerSignature), body) {
		s.logger.Warn("webhook refused: missing or invalid signature")
		s.reply(w, http.StatusUnauthorized, unverifiedEvent, resultBadSignature)
		return
	}

	name := r.Header.Get(headerEvent)
	id := r.Header.Get(headerDelivery)
	log := s.logger.With(slog.String("delivery", id), slog.String("event", name))
	if !validEventName(name) {
		// GitHub's event names are short snake_case words; anything else
		// must not become a label value (Prometheus panics on invalid
		// UTF-8) or a handler lookup.
		log.Warn("webhook refused: missing or malformed X-GitHub-Event header")
		s.reply(w, http.StatusBadRequest, unverifiedEvent, resultBadRequest)
		return
	}
	payload, err := jsonPayload(r.Header.Get("Content-Type"), body)
	if err != nil {
		log.Warn("webhook refused: body is not a JSON payload", slog.String("error", err.Error()))
		s.reply(w, http.StatusBadRequest, name, resultBadJSON)
		return
	}
	// json.Unmarshal checks the whole document's syntax before decoding.
	var head webhookHead
	if err := json.Unmarshal(payload, &head); err != nil {
		log.Warn("webhook refused: body is not a JSON object", slog.String("error", errorKind(err)))
		s.reply(w, http.StatusBadRequest, name, resultBadJSON)
		return
	}
	h := s.handler(name)
	known := github.EventForType(name) != nil
	switch {
	case h == nil && !known:
		log.Info("webhook ignored: unknown event")
		s.reply(w, http.StatusAccepted, name, resultUnknownEvent)
		return
	case !fromBotAllowed[name] && s.isBot(head.Sender.Login):
		// The App's own actions (its comments, check runs, deployments)
		// come back as events; acting on them would loop. The exceptions:
		// deployment statuses (a runner may report with the App's
		// identity; the handler tells the App's own states, pending and
		// queued, from the runner's), and the gate runs the App dispatches
		// (their workflow_run and protection-rule requests name the App as
		// sender; their handlers only link and answer, never dispatch).
		log.Debug("webhook ignored: sent by the App itself")
		s.reply(w, http.StatusAccepted, name, resultIgnoredBot)
		return
	case h == nil:
		log.Debug("webhook ignored: no handler for the event")
		s.reply(w, http.StatusAccepted, name, resultUnhandled)
		return
	}

	ev := Event{
		Name:           name,
		Action:         head.Action,
		DeliveryID:     id,
		InstallationID: head.Installation.ID,
		Repo:           head.Repository.FullName,
		Sender:         head.Sender.Login,
		SenderType:     head.Sender.Type,
		Raw:            payload,
	}
	if known {
		ev.Payload = s.decode(log, name, payload)
	}
	switch s.deliveries.admit(id, func() bool { return s.queue.tryEnqueue(job{ev: ev, h: h}) }) {
	case duplicate:
		log.Info("webhook ignored: delivery already accepted")
		s.reply(w, http.StatusAccepted, name, resultDuplicate)
	case refused:
		log.Warn("webhook refused: queue full", slog.Int("capacity", cap(s.queue.jobs)))
		s.reply(w, http.StatusServiceUnavailable, name, resultDroppedQueueFull)
	default:
		log.Debug("webhook accepted", slog.String("action", ev.Action), slog.Int64("installation", ev.InstallationID), slog.String("repo", ev.Repo))
		s.reply(w, http.StatusAccepted, name, resultAccepted)
	}
}

// validEventName reports whether name looks like a GitHub event name:
// 1 to 64 lowercase letters, digits and underscores.
func validEventName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// reply answers a delivery and counts its result.
func (s *Server) reply(w http.ResponseWriter, status int, event, result string) {
	s.metrics.webhooks.WithLabelValues(event, result).Inc()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, result+"\n")
}

// verifySignature reports whether sig is "sha256=" and the hex HMAC-SHA256
// of body under one of the configured secrets (several during a rotation).
// go-github compares in constant time; every secret is tried, so the time
// taken does not say which one matched. The legacy SHA-1 header is not
// accepted.
func (s *Server) verifySignature(sig string, body []byte) bool {
	if !strings.HasPrefix(sig, "sha256=") {
		return false
	}
	ok := false
	for _, secret := range s.secrets {
		if github.ValidateSignature(sig, body, secret) == nil {
			ok = true
		}
	}
	return ok
}

// jsonPayload returns the (supposedly JSON) document of a webhook body: the body itself
// (content type application/json, GitHub's default for Apps) or the
// "payload" field of a form (application/x-www-form-urlencoded).
func jsonPayload(contentType string, body []byte) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errors.New("form body does not parse")
		}
		body = []byte(form.Get("payload"))
	}
	return body, nil
}

// errorKind describes a JSON error without quoting the document.
func errorKind(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return "JSON " + typeErr.Value + " where an object was expected"
	}
	return "malformed JSON"
}

// decode parses a verified payload with go-github. A genuine GitHub
// delivery must not be lost to a decoding quirk: when go-github refuses it,
// decode repairs the quirks known in recorded GitHub payloads and tries
// again, and when that fails too it returns nil (the handler reads Raw).
// Both fallbacks are counted.
func (s *Server) decode(log *slog.Logger, name string, payload []byte) any {
	v, err := github.ParseWebHook(name, payload)
	if err == nil {
		return v
	}
	if fixed, changed := repairTimestamps(payload); changed {
		if v, err2 := github.ParseWebHook(name, fixed); err2 == nil {
			s.metrics.decodeFallbacks.WithLabelValues(name, "repaired").Inc()
			log.Info("webhook payload decoded after repairing zone-less timestamps", slog.String("decode_error", err.Error()))
			return v
		}
	}
	s.metrics.decodeFallbacks.WithLabelValues(name, "raw").Inc()
	log.Warn("webhook payload not decodable by go-github: handing it over raw", slog.String("decode_error", err.Error()))
	return nil
}

// zonelessTimestamp matches the timestamps without a time zone found in
// recorded GitHub payloads: check_run.rerequested examples carry
// app.created_at as "2018-04-25 20:42:10", which github.Timestamp (RFC 3339
// only) refuses.
var zonelessTimestamp = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)$`)

// repairTimestamps rewrites zone-less timestamps in the values of
// timestamp fields (names ending in "_at", and "timestamp") as RFC 3339 UTC,
// which is what GitHub's are. It reports whether anything changed. Other
// strings, such as a commit message that happens to look like a date, are
// left alone.
func repairTimestamps(payload []byte) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, false
	}
	changed := false
	var walk func(v any) any
	walk = func(v any) any {
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				if s, ok := x.(string); ok && (strings.HasSuffix(k, "_at") || k == "timestamp") {
					if m := zonelessTimestamp.FindStringSubmatch(s); m != nil {
						t[k] = m[1] + "T" + m[2] + "Z"
						changed = true
					}
					continue
				}
				t[k] = walk(x)
			}
		case []any:
			for i, x := range t {
				t[i] = walk(x)
			}
		}
		return v
	}
	walk(doc)
	if !changed {
		return nil, false
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

// fromBotAllowed are the events handled even when the App's bot sent them.
var fromBotAllowed = map[string]bool{"deployment_status": true, "workflow_run": true, "deployment_protection_rule": true}
