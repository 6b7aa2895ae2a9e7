package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// Target types.
const (
	TypeEmail     = "email"
	TypeSlack     = "slack"
	TypePagerDuty = "pagerduty"
	TypeWebhook   = "webhook"
)

// Defaults of a target's settings.
const (
	// DefaultSlackURL is a Slack target's url when it names none.
	DefaultSlackURL = "${SLACK_WEBHOOK_URL}"
	// DefaultPagerDutyKey is a PagerDuty target's serviceKey when it names none.
	DefaultPagerDutyKey = "${PAGERDUTY_SERVICE_KEY}"
	// DefaultPagerDutyURL is the Events API v2 endpoint.
	DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"
)

// MaxTargets bounds the targets of one event: each is a delivery.
const MaxTargets = 50

// Target is one place to tell, as the policy file writes it: secrets are
// still ${NAME} references.
type Target struct {
	Type string
	// Recipients are an email target's addresses (recipients, or to).
	Recipients []string
	// Channel is a Slack target's channel, where the webhook honours one.
	Channel string
	// URL is the Slack webhook, the webhook's address, or PagerDuty's
	// endpoint.
	URL string
	// ServiceKey is PagerDuty's routing key (integration key).
	ServiceKey string
	// Secret signs a webhook's body.
	Secret string
	// Pos is the policy file; Path is where in it the target is written
	// ("environments.production.notifications.onDeploymentFailed[0]" is
	// what a reader looks for; Path is "onDeploymentFailed[0]").
	Pos  config.Position
	Path string
	// Raw is the target as written.
	Raw map[string]any
}

// ID identifies the target for the ledger: its type and a digest of its
// settings as written (references, not values), stable across replicas
// and restarts, and different when the target is edited.
func (t Target) ID() string {
	h := sha256.New()
	for _, s := range append([]string{t.Type, t.Channel, t.URL, t.ServiceKey, t.Secret, t.component()}, t.Recipients...) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return t.Type + "-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// String describes the target for people without any secret: a URL is
// shown as its scheme and host, or as the reference it is written as.
func (t Target) String() string {
	switch t.Type {
	case TypeEmail:
		return "email " + strings.Join(t.Recipients, ", ")
	case TypeSlack:
		if t.Channel != "" {
			return "slack " + t.Channel
		}
		return "slack " + t.URL
	case TypePagerDuty:
		return "pagerduty " + t.ServiceKey
	case TypeWebhook:
		return "webhook " + safeURL(t.URL)
	}
	return t.Type
}

// component is a PagerDuty target's service label (service:), sent as the
// event's component.
func (t Target) component() string {
	s, _ := t.Raw["service"].(string)
	return s
}

// safeURL shows a URL's scheme and host only: the path and query of a
// webhook's URL often carry a token.
func safeURL(s string) string {
	if config.IsSecretRef(s) {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || strings.Contains(u.Host, "${") {
		return "(url)"
	}
	return u.Scheme + "://" + u.Host
}

// Config is an environment's notifications: its targets by kind.
type Config struct {
	ByKind map[Kind][]Target
}

// Empty reports whether no event has a target.
func (c Config) Empty() bool {
	for _, ts := range c.ByKind {
		if len(ts) > 0 {
			return false
		}
	}
	return true
}

// targets returns the targets to tell about an event of kind k. A success
// also goes to every PagerDuty target of the failure kinds, to resolve the
// environment's alert even when onDeploymentCompleted lists no PagerDuty.
func (c Config) targets(k Kind) []Target {
	out := append([]Target(nil), c.ByKind[k]...)
	if k != KindCompleted {
		return out
	}
	seen := map[string]bool{}
	for _, t := range out {
		seen[t.ID()] = true
	}
	for _, fk := range []Kind{KindFailed, KindRolledBack, KindDriftDetected} {
		for _, t := range c.ByKind[fk] {
			if t.Type == TypePagerDuty && !seen[t.ID()] {
				seen[t.ID()] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// fields are each type's settings, besides type.
var fields = map[string][]string{
	TypeEmail:     {"recipients", "to"},
	TypeSlack:     {"channel", "url"},
	TypePagerDuty: {"serviceKey", "url", "service"},
	TypeWebhook:   {"url", "secret"},
}

var anyRefRe = regexp.MustCompile(`\$\{[^}]*\}`)

// ParseConfig reads an environment's notifications block (the policy's
// EnvPolicy.Notifications) from the policy file named file. Unknown keys,
// types and fields, missing settings and secrets written inline are errors
// that name the field and the fix; all of them are returned, joined.
func ParseConfig(file string, raw map[string]any) (Config, error) {
	cfg := Config{ByKind: map[Kind][]Target{}}
	var errs []error
	fail := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: notifications.%s: %s", file, path, fmt.Sprintf(format, args...)))
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		var kind Kind
		for _, k := range Kinds {
			if policyKeys[k] == key {
				kind = k
			}
		}
		if kind == "" {
			fail(key, "unknown event; the events are onApprovalRequired, onDeploymentCompleted, onDeploymentFailed, onRolledBack and onDriftDetected")
			continue
		}
		var list []any
		switch v := raw[key].(type) {
		case nil:
		case []any:
			list = v
		default:
			fail(key, "must be a list of targets such as [{type: slack, channel: \"#deploys\"}]")
			continue
		}
		if len(list) > MaxTargets {
			fail(key, "has %d targets; at most %d are sent per event", len(list), MaxTargets)
			continue
		}
		for i, e := range list {
			path := fmt.Sprintf("%s[%d]", key, i)
			t, terrs := parseTarget(kind, path, e)
			for _, m := range terrs {
				fail(path, "%s", m)
			}
			if len(terrs) == 0 {
				t.Pos = config.Position{File: file}
				t.Path = path
				cfg.ByKind[kind] = append(cfg.ByKind[kind], t)
			}
		}
	}
	return cfg, errors.Join(errs...)
}

func parseTarget(kind Kind, path string, e any) (Target, []string) {
	var errs []string
	m, ok := e.(map[string]any)
	if !ok {
		return Target{}, []string{"a target must be a mapping such as {type: email, recipients: [ops@example.com]}"}
	}
	t := Target{Raw: m}
	typ, ok := m["type"].(string)
	if !ok {
		if _, has := m["type"]; has {
			return t, []string{"type must be one of email, slack, pagerduty, webhook"}
		}
		return t, []string{"type is missing: add type: email, slack, pagerduty or webhook"}
	}
	allowed, ok := fields[typ]
	if !ok {
		return t, []string{fmt.Sprintf("unknown type %q: use email, slack, pagerduty or webhook", oneLine(truncate(typ, 64)))}
	}
	t.Type = typ
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if k == "type" || contains(allowed, k) {
			continue
		}
		errs = append(errs, fmt.Sprintf("unknown field %q for type %s: its fields are %s", oneLine(truncate(k, 64)), typ, strings.Join(allowed, ", ")))
	}
	str := func(k string) string {
		v, has := m[k]
		if !has || v == nil {
			return ""
		}
		s, ok := v.(string)
		if !ok {
			errs = append(errs, fmt.Sprintf("%s must be a string", k))
			return ""
		}
		if r := anyRefRe.FindString(s); r != "" && len(config.SecretRefs(r)) == 0 {
			errs = append(errs, fmt.Sprintf("%s has a reference that is not ${NAME}: a name is letters, digits and _, not starting with a digit", k))
		}
		return s
	}
	// mustRef is a setting that is a secret: it must be a ${NAME}
	// reference, never the value, which would be in Git for all to read.
	mustRef := func(k, v string) {
		if v != "" && !config.IsSecretRef(v) {
			errs = append(errs, fmt.Sprintf("%s must be a secret reference such as ${%s}: a secret written in the policy file is in Git for anyone who can read the repository; give the sender the secret and name it here", k, suggest(typ, k)))
		}
	}
	switch typ {
	case TypeEmail:
		if _, both := m["to"]; both {
			if _, has := m["recipients"]; has {
				errs = append(errs, "recipients and to are the same setting: keep one")
			}
		}
		for _, k := range []string{"recipients", "to"} {
			switch v := m[k].(type) {
			case nil:
			case string:
				t.Recipients = append(t.Recipients, v)
			case []any:
				for _, r := range v {
					s, ok := r.(string)
					if !ok {
						errs = append(errs, fmt.Sprintf("%s must be a list of email addresses", k))
						break
					}
					t.Recipients = append(t.Recipients, s)
				}
			default:
				errs = append(errs, fmt.Sprintf("%s must be an email address or a list of them", k))
			}
		}
		if len(t.Recipients) == 0 {
			errs = append(errs, "recipients is missing: add recipients: [ops@example.com]")
		}
		for _, r := range t.Recipients {
			if strings.Contains(r, "${") {
				if len(config.SecretRefs(r)) == 0 {
					errs = append(errs, "recipients has a reference that is not ${NAME}")
				}
				continue
			}
			if a, err := mail.ParseAddress(r); err != nil || a.Name != "" {
				errs = append(errs, fmt.Sprintf("recipient %q is not an email address such as ops@example.com", oneLine(truncate(r, 128))))
			}
		}
	case TypeSlack:
		t.Channel = str("channel")
		t.URL = str("url")
		if t.URL == "" {
			t.URL = DefaultSlackURL
		}
		mustRef("url", t.URL)
	case TypePagerDuty:
		t.ServiceKey = str("serviceKey")
		if t.ServiceKey == "" {
			t.ServiceKey = DefaultPagerDutyKey
		}
		mustRef("serviceKey", t.ServiceKey)
		t.URL = str("url")
		if t.URL == "" {
			t.URL = DefaultPagerDutyURL
		}
		if msg := checkURL(t.URL); msg != "" {
			errs = append(errs, msg)
		}
		str("service")
		if kind == KindApprovalRequired {
			errs = append(errs, "pagerduty is for incidents, and an approval is not one: use slack, email or webhook for onApprovalRequired")
		}
	case TypeWebhook:
		t.URL = str("url")
		t.Secret = str("secret")
		if t.URL == "" {
			errs = append(errs, "url is missing: add url: https://hooks.example.com/honua")
		} else if msg := checkURL(t.URL); msg != "" {
			errs = append(errs, msg)
		}
		if t.Secret == "" {
			errs = append(errs, "secret is missing: add secret: ${WEBHOOK_SECRET} (signs the body; the receiver checks X-Honua-Signature-256)")
		}
		mustRef("secret", t.Secret)
	}
	return t, errs
}

// checkURL checks a URL written without references; one with references
// is checked when they are filled.
func checkURL(s string) string {
	if strings.Contains(s, "${") {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "url must be an http:// or https:// URL"
	}
	if _, has := u.User.Password(); has {
		return "url has a password, which would be in Git: write url: ${NAME} and give the sender the URL as that secret"
	}
	return ""
}

func suggest(typ, field string) string {
	switch {
	case typ == TypeSlack:
		return "SLACK_WEBHOOK_URL"
	case typ == TypePagerDuty:
		return "PAGERDUTY_SERVICE_KEY"
	case typ == TypeWebhook && field == "secret":
		return "WEBHOOK_SECRET"
	}
	return strings.ToUpper(field)
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
