package notify

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/config"
)

func parseYAML(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParseConfig(t *testing.T) {
	cfg := mustParse(t, parseYAML(t, `
onApprovalRequired:
  - {type: slack, channel: "#gis-prod"}
onDeploymentCompleted:
  - {type: email, to: gis-team@kailua.example}
  - {type: email, recipients: [a@kailua.example, "${ONCALL_EMAIL}"]}
onDeploymentFailed:
  - {type: pagerduty, service: honua-production}
  - {type: pagerduty, serviceKey: "${PD_KEY}", url: "http://127.0.0.1:1/v2/enqueue"}
onRolledBack:
  - {type: webhook, url: "https://hooks.example.com/honua", secret: "${HOOK_SECRET}"}
onDriftDetected: []
`))
	if got := cfg.ByKind[KindApprovalRequired]; len(got) != 1 || got[0].URL != DefaultSlackURL || got[0].Channel != "#gis-prod" || got[0].Path != "onApprovalRequired[0]" {
		t.Errorf("slack = %+v", got)
	}
	if got := cfg.ByKind[KindCompleted]; len(got) != 2 || got[0].Recipients[0] != "gis-team@kailua.example" || len(got[1].Recipients) != 2 {
		t.Errorf("email = %+v", got)
	}
	pd := cfg.ByKind[KindFailed]
	if len(pd) != 2 || pd[0].ServiceKey != DefaultPagerDutyKey || pd[0].URL != DefaultPagerDutyURL || pd[0].component() != "honua-production" || pd[1].ServiceKey != "${PD_KEY}" {
		t.Errorf("pagerduty = %+v", pd)
	}
	if pd[0].ID() == pd[1].ID() || pd[0].ID() != mustParse(t, parseYAML(t, "onDeploymentFailed: [{type: pagerduty, service: honua-production}]")).ByKind[KindFailed][0].ID() {
		t.Error("target ids are not stable or not distinct")
	}
	if wh := cfg.ByKind[KindRolledBack]; len(wh) != 1 || wh[0].Secret != "${HOOK_SECRET}" {
		t.Errorf("webhook = %+v", wh)
	}
	// A success also resolves the PagerDuty targets of failures.
	if got := cfg.targets(KindCompleted); len(got) != 4 {
		t.Errorf("targets(completed) = %d targets, want the 2 emails and the 2 PagerDuty", len(got))
	}
	if (Config{}).Empty() != true || cfg.Empty() {
		t.Error("Empty")
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown event", "onDeploy: []", "notifications.onDeploy: unknown event; the events are onApprovalRequired"},
		{"not a list", "onDeploymentFailed: {type: slack}", "must be a list of targets"},
		{"not a mapping", "onDeploymentFailed: [slack]", "onDeploymentFailed[0]: a target must be a mapping"},
		{"missing type", "onDeploymentFailed: [{channel: '#x'}]", "type is missing: add type: email, slack, pagerduty or webhook"},
		{"unknown type", "onDeploymentFailed: [{type: teams}]", `unknown type "teams": use email, slack, pagerduty or webhook`},
		{"unknown field", "onDeploymentFailed: [{type: slack, chanel: '#x'}]", `unknown field "chanel" for type slack: its fields are channel, url`},
		{"email without recipients", "onDeploymentFailed: [{type: email}]", "recipients is missing: add recipients: [ops@example.com]"},
		{"bad recipient", "onDeploymentFailed: [{type: email, recipients: [not an address]}]", `recipient "not an address" is not an email address`},
		{"recipients and to", "onDeploymentFailed: [{type: email, recipients: a@b.example, to: c@d.example}]", "recipients and to are the same setting"},
		{"inline slack url", "onDeploymentFailed: [{type: slack, url: 'https://hooks.slack.com/services/T/B/X'}]", "url must be a secret reference such as ${SLACK_WEBHOOK_URL}"},
		{"inline service key", "onDeploymentFailed: [{type: pagerduty, serviceKey: abc123}]", "serviceKey must be a secret reference such as ${PAGERDUTY_SERVICE_KEY}"},
		{"pagerduty for approvals", "onApprovalRequired: [{type: pagerduty}]", "pagerduty is for incidents"},
		{"webhook without url", "onDeploymentFailed: [{type: webhook, secret: '${S}'}]", "url is missing"},
		{"webhook without secret", "onDeploymentFailed: [{type: webhook, url: 'https://h.example'}]", "secret is missing: add secret: ${WEBHOOK_SECRET}"},
		{"webhook inline secret", "onDeploymentFailed: [{type: webhook, url: 'https://h.example', secret: hunter2}]", "secret must be a secret reference"},
		{"webhook bad url", "onDeploymentFailed: [{type: webhook, url: 'ftp://h.example', secret: '${S}'}]", "url must be an http:// or https:// URL"},
		{"url with password", "onDeploymentFailed: [{type: webhook, url: 'https://u:pw@h.example', secret: '${S}'}]", "url has a password"},
		{"bad reference", "onDeploymentFailed: [{type: webhook, url: 'https://h.example/${1X}', secret: '${S}'}]", "url has a reference that is not ${NAME}"},
		{"channel not a string", "onDeploymentFailed: [{type: slack, channel: 5}]", "channel must be a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(".gitops/deployment-policy.yaml", parseYAML(t, tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), ".gitops/deployment-policy.yaml: notifications.") {
				t.Errorf("error %q does not name the file and field", err)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "abc123") || strings.Contains(err.Error(), "T/B/X") {
				t.Errorf("error %q repeats a secret written inline", err)
			}
		})
	}
	// Every problem is reported, not just the first.
	_, err := ParseConfig("p.yaml", parseYAML(t, "onX: []\nonDeploymentFailed: [{type: email}, {type: teams}]"))
	if err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("error = %v, want 3 lines", err)
	}
	_, err = ParseConfig("p.yaml", map[string]any{"onDeploymentFailed": make([]any, MaxTargets+1)})
	if err == nil || !strings.Contains(err.Error(), "at most 50") {
		t.Errorf("error = %v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"onDeploymentFailed: [{type: slack, channel: '#x'}]",
		"onDeploymentCompleted: [{type: email, to: [a@b.example, '${X}']}]",
		"onRolledBack: [{type: webhook, url: 'https://h/${A}', secret: '${S}'}]",
		"onDriftDetected: [{type: pagerduty, serviceKey: '${K}', url: 'http://x'}]",
		"onApprovalRequired: [{type: pagerduty}, {}, 5, [x]]",
		"onX: {type: 1}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var m map[string]any
		if yaml.Unmarshal([]byte(s), &m) != nil {
			return
		}
		cfg, err := ParseConfig("p.yaml", m)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "p.yaml: notifications.") {
				t.Fatalf("error without the file and field: %v", err)
			}
			return
		}
		for k, ts := range cfg.ByKind {
			if !k.Valid() {
				t.Fatalf("kind %q", k)
			}
			for _, tg := range ts {
				if _, ok := fields[tg.Type]; !ok {
					t.Fatalf("type %q", tg.Type)
				}
				_ = tg.String()
				_ = tg.ID()
			}
		}
	})
}

func TestKinds(t *testing.T) {
	for _, k := range Kinds {
		if got, ok := ParseKind(string(k)); !ok || got != k {
			t.Errorf("ParseKind(%q) = %q", k, got)
		}
		if got, ok := ParseKind(k.PolicyKey()); !ok || got != k {
			t.Errorf("ParseKind(%q) = %q", k.PolicyKey(), got)
		}
	}
	if _, ok := ParseKind("deployed"); ok {
		t.Error("ParseKind accepted deployed")
	}
	ev := sampleEvent(KindFailed)
	if ev.Key() != "dep-42/failed" {
		t.Errorf("Key = %q", ev.Key())
	}
	ev.DeploymentID = "x\r\nInjected: 1"
	if strings.ContainsAny(ev.Key(), "\r\n ") {
		t.Errorf("Key %q is not header-safe", ev.Key())
	}
}

// The sample policy files parse: email's to, PagerDuty's service and
// Slack's default webhook URL are what they write.
func TestSamplePolicies(t *testing.T) {
	for _, file := range []string{"../samples/config/.gitops/deployment-policy.yaml", "../samples/config-next/.gitops/deployment-policy.yaml"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, diags := policy.ParseFile(file, data, config.DefaultLimits)
		if errs := config.FilterSeverity(diags, config.SeverityError); len(errs) > 0 {
			t.Fatalf("%s: %v", file, diags)
		}
		n := 0
		for name, env := range f.Environments {
			cfg, err := ParseConfig(file, env.Notifications)
			if err != nil {
				t.Errorf("%s: %s: %v", file, name, err)
			}
			for _, ts := range cfg.ByKind {
				n += len(ts)
			}
		}
		if n == 0 {
			t.Errorf("%s: no targets", file)
		}
	}
}
