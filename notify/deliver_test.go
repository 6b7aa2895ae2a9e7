package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSlackPayload(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, map[string]string{"SLACK_WEBHOOK_URL": rcv.URL + "/services/T0/B0/tok3n"}, nil)
	cfg := mustParse(t, map[string]any{"onDeploymentFailed": list(map[string]any{"type": "slack", "channel": "#gis-prod"})})
	ev := sampleEvent(KindFailed)
	ev.RolledBack = true
	ev.Cause = "<script>alert(1)</script> " + strings.Repeat("health check failed ", 300) // past 3000
	h.n.Send(context.Background(), cfg, ev, &MemoryLedger{})
	h.n.Wait()
	reqs := rcv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	m := decode(t, reqs[0].Body)
	if m["channel"] != "#gis-prod" {
		t.Errorf("channel = %v", m["channel"])
	}
	if text, _ := m["text"].(string); !strings.Contains(text, "production: deployment failed (rolled back)") {
		t.Errorf("text = %q", text)
	}
	blocks, _ := m["blocks"].([]any)
	seen := map[string]bool{}
	for _, b := range blocks {
		b := b.(map[string]any)
		typ := b["type"].(string)
		seen[typ] = true
		switch typ {
		case "header":
			tx := b["text"].(map[string]any)
			if tx["type"] != "plain_text" || utf8.RuneCountInString(tx["text"].(string)) > 150 {
				t.Errorf("header = %v", tx)
			}
		case "section":
			tx := b["text"].(map[string]any)
			s := tx["text"].(string)
			if tx["type"] != "mrkdwn" || utf8.RuneCountInString(s) > 3000 {
				t.Errorf("section text: type %v, %d characters", tx["type"], utf8.RuneCountInString(s))
			}
			if strings.Contains(s, "<script>") || !strings.Contains(s, "&lt;script&gt;") {
				t.Errorf("section text does not escape mrkdwn: %.80q", s)
			}
			fields := b["fields"].([]any)
			var all []string
			for _, f := range fields {
				f := f.(map[string]any)
				if f["type"] != "mrkdwn" || utf8.RuneCountInString(f["text"].(string)) > 2000 {
					t.Errorf("field %v", f)
				}
				all = append(all, f["text"].(string))
			}
			joined := strings.Join(all, "|")
			for _, want := range []string{"*Environment*\nproduction", "`8f14e45fceea`", "<https://github.com/kailua-gis/config/pull/12|#12>", "*Who*\nlkeawe"} {
				if !strings.Contains(joined, want) {
					t.Errorf("fields %q lack %q", joined, want)
				}
			}
			if len(fields) > 10 {
				t.Errorf("%d fields", len(fields))
			}
		case "context":
			els := b["elements"].([]any)
			if len(els) == 0 || els[0].(map[string]any)["type"] != "mrkdwn" {
				t.Errorf("context = %v", b)
			}
		case "actions":
			btn := b["elements"].([]any)[0].(map[string]any)
			if btn["type"] != "button" || btn["url"] != ev.URL || btn["text"].(map[string]any)["type"] != "plain_text" {
				t.Errorf("button = %v", btn)
			}
		default:
			t.Errorf("unexpected block %q", typ)
		}
	}
	for _, want := range []string{"header", "section", "context", "actions"} {
		if !seen[want] {
			t.Errorf("no %s block", want)
		}
	}
	if strings.Contains(h.logs.String(), "tok3n") {
		t.Error("the webhook URL's token is in the log")
	}
}

func TestPagerDuty(t *testing.T) {
	rcv := newReceiver(t)
	h := newHarness(t, map[string]string{"PD_KEY": "R0UT1NGKEY0123456789abcdefabcdef"}, nil)
	// PagerDuty only for failures: a success resolves it all the same.
	cfg := mustParse(t, map[string]any{
		"onDeploymentFailed": list(map[string]any{"type": "pagerduty", "serviceKey": "${PD_KEY}", "url": rcv.URL + "/v2/enqueue", "service": "honua-production"}),
		"onDriftDetected":    list(map[string]any{"type": "pagerduty", "serviceKey": "${PD_KEY}", "url": rcv.URL + "/v2/enqueue", "service": "honua-production"}),
	})
	ledger := &MemoryLedger{}
	failed := sampleEvent(KindFailed)
	failed.Cause = strings.Repeat("x", 2000)
	h.n.Send(context.Background(), cfg, failed, ledger)
	h.n.Wait()
	drift := sampleEvent(KindDriftDetected)
	drift.DeploymentID = ""
	h.n.Send(context.Background(), cfg, drift, ledger)
	h.n.Wait()
	ok := sampleEvent(KindCompleted)
	ok.DeploymentID = "dep-43"
	h.n.Send(context.Background(), cfg, ok, ledger)
	h.n.Wait()

	reqs := rcv.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want trigger, trigger, resolve", len(reqs))
	}
	wantKey := "honua-gitops/kailua-gis/config/production"
	for i, want := range []struct{ action, severity string }{{"trigger", "critical"}, {"trigger", "warning"}, {"resolve", ""}} {
		m := decode(t, reqs[i].Body)
		if m["routing_key"] != "R0UT1NGKEY0123456789abcdefabcdef" || m["event_action"] != want.action || m["dedup_key"] != wantKey {
			t.Errorf("event %d: routing_key/event_action/dedup_key = %v %v %v", i, m["routing_key"], m["event_action"], m["dedup_key"])
		}
		if dk := m["dedup_key"].(string); len(dk) > 255 {
			t.Errorf("dedup_key of %d characters", len(dk))
		}
		if want.action == "resolve" {
			if _, has := m["payload"]; has {
				t.Errorf("resolve carries a payload")
			}
			continue
		}
		p := m["payload"].(map[string]any)
		summary, _ := p["summary"].(string)
		if summary == "" || utf8.RuneCountInString(summary) > 1024 {
			t.Errorf("summary of %d characters", utf8.RuneCountInString(summary))
		}
		if p["source"] != "kailua-gis/config" || p["severity"] != want.severity || p["component"] != "honua-production" {
			t.Errorf("payload = %v", p)
		}
		switch p["severity"] {
		case "critical", "error", "warning", "info":
		default:
			t.Errorf("severity %v", p["severity"])
		}
		if _, err := time.Parse(time.RFC3339, p["timestamp"].(string)); err != nil {
			t.Errorf("timestamp: %v", err)
		}
	}
	long := DedupKey(strings.Repeat("r", 200), strings.Repeat("e", 200))
	if len(long) > 255 || long != DedupKey(strings.Repeat("r", 200), strings.Repeat("e", 200)) {
		t.Errorf("long dedup key %q", long)
	}
}

func TestWebhookSignature(t *testing.T) {
	rcv := newReceiver(t)
	const secret = "s3cr3t-for-hmac"
	h := newHarness(t, map[string]string{"HOOK_SECRET": secret}, nil)
	cfg := mustParse(t, map[string]any{"onApprovalRequired": list(map[string]any{"type": "webhook", "url": rcv.URL + "/honua", "secret": "${HOOK_SECRET}"})})
	ev := sampleEvent(KindApprovalRequired)
	ev.Approvers = []string{"kailua-gis/gis-leads", "lkeawe"}
	ev.ApproveHow = "comment /approve production on PR #12"
	h.n.Send(context.Background(), cfg, ev, nil)
	h.n.Wait()
	reqs := rcv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	// Verify as a receiver would, without the package's Sign.
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(r.Body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if got := r.Header.Get("X-Honua-Signature-256"); !hmac.Equal([]byte(got), []byte(want)) {
		t.Errorf("signature %q, want %q", got, want)
	}
	key := ev.Key() + "/" + cfg.ByKind[KindApprovalRequired][0].ID()
	if r.Header.Get("X-Honua-Event") != "approval-required" || r.Header.Get("X-Honua-Delivery") != key || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", r.Header)
	}
	m := decode(t, r.Body)
	for k, v := range map[string]any{
		"event": "approval-required", "id": key, "repo": "kailua-gis/config", "environment": "production",
		"sha": ev.SHA, "deploymentId": "dep-42", "pr": float64(12), "who": "lkeawe", "summary": ev.Summary,
		"cause": "", "rolledBack": false, "url": ev.URL, "at": "2026-03-04T05:00:00Z",
		"approveHow": ev.ApproveHow, "test": false,
	} {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	if a, _ := m["approvers"].([]any); len(a) != 2 {
		t.Errorf("approvers = %v", m["approvers"])
	}
}

func TestRetryUntilRecovered(t *testing.T) {
	rcv := newReceiver(t, 500, 500, 500, 200)
	h := newHarness(t, map[string]string{"S": "k"}, nil)
	cfg := mustParse(t, map[string]any{"onDeploymentCompleted": list(map[string]any{"type": "webhook", "url": rcv.URL, "secret": "${S}"})})
	ledger := &MemoryLedger{}
	h.n.Send(context.Background(), cfg, sampleEvent(KindCompleted), ledger)
	h.n.Wait()
	if n := len(rcv.requests()); n != 4 {
		t.Fatalf("%d requests, want 3 failures and 1 success", n)
	}
	if got := testutil.ToFloat64(h.n.total.WithLabelValues("webhook", ResultSent)); got != 1 {
		t.Errorf("sent = %v", got)
	}
	if got := testutil.ToFloat64(h.n.total.WithLabelValues("webhook", ResultRetry)); got != 3 {
		t.Errorf("retry = %v", got)
	}
	if len(ledger.Keys()) != 1 || len(h.n.Failures()) != 0 {
		t.Errorf("ledger %v, failures %v", ledger.Keys(), h.n.Failures())
	}
	// Exponential, jittered: each wait in [d/2, d] for d = 1s, 2s, 4s.
	for i, d := range h.clock.slept {
		base := time.Second << i
		if d < base/2 || d > base {
			t.Errorf("wait %d = %v, want within [%v, %v]", i, d, base/2, base)
		}
	}
	// Same delivery id on every attempt.
	ids := map[string]bool{}
	for _, r := range rcv.requests() {
		ids[r.Header.Get(HeaderDelivery)] = true
	}
	if len(ids) != 1 {
		t.Errorf("delivery ids %v", ids)
	}
}

func TestNeverRecovers(t *testing.T) {
	rcv := newReceiver(t, 503)
	rcv.sticky = true
	release := make(chan struct{})
	var once sync.Once
	slow := rcv.Config.Handler
	rcv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release // the first answer waits until Send has returned
		slow.ServeHTTP(w, r)
	})
	h := newHarness(t, map[string]string{"S": "k"}, func(o *Options) { o.MaxElapsed = 5 * time.Minute })
	cfg := mustParse(t, map[string]any{"onDeploymentFailed": list(map[string]any{"type": "webhook", "url": rcv.URL, "secret": "${S}"})})
	start := time.Now()
	h.n.Send(context.Background(), cfg, sampleEvent(KindFailed), &MemoryLedger{})
	if d := time.Since(start); d > time.Second {
		t.Errorf("Send took %v", d)
	}
	once.Do(func() { close(release) })
	h.n.Wait()
	f := h.n.Failures()
	if len(f) != 1 || f[0].Kind != KindFailed || f[0].Env != "production" || !strings.Contains(f[0].Err, "503") || f[0].Attempts < 3 {
		t.Fatalf("failures = %+v", f)
	}
	if got := testutil.ToFloat64(h.n.total.WithLabelValues("webhook", ResultFailed)); got != 1 {
		t.Errorf("failed = %v", got)
	}
	var total time.Duration
	for _, d := range h.clock.slept {
		total += d
	}
	if total > 5*time.Minute {
		t.Errorf("waited %v, past MaxElapsed", total)
	}
	// The counter is on the registry, for /metrics.
	if n, err := testutil.GatherAndCount(h.reg, "honua_gitops_notifications_total"); err != nil || n == 0 {
		t.Errorf("gathered %d series: %v", n, err)
	}
	if !strings.Contains(h.logs.String(), "giving up") {
		t.Errorf("log lacks the failure:\n%s", h.logs)
	}
}

func TestPermanentFailureIsNotRetried(t *testing.T) {
	rcv := newReceiver(t, 404)
	var told []Failure
	var mu sync.Mutex
	h := newHarness(t, map[string]string{"S": "k"}, func(o *Options) {
		o.OnFailure = func(f Failure) { mu.Lock(); told = append(told, f); mu.Unlock() }
	})
	cfg := mustParse(t, map[string]any{"onDeploymentFailed": list(map[string]any{"type": "webhook", "url": rcv.URL, "secret": "${S}"})})
	h.n.Send(context.Background(), cfg, sampleEvent(KindFailed), nil)
	h.n.Wait()
	if n := len(rcv.requests()); n != 1 {
		t.Errorf("%d requests for a 404", n)
	}
	if f := h.n.Failures(); len(f) != 1 || f[0].Attempts != 1 {
		t.Errorf("failures = %+v", f)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(told) != 1 || told[0].Kind != KindFailed || told[0].Target == "" {
		t.Errorf("OnFailure was told %+v, want the one failure", told)
	}
}

func TestExactlyOnce(t *testing.T) {
	slack, hook := newReceiver(t), newReceiver(t)
	secrets := map[string]string{"SLACK_WEBHOOK_URL": slack.URL, "S": "k"}
	cfg := mustParse(t, map[string]any{"onDeploymentCompleted": list(
		map[string]any{"type": "slack"},
		map[string]any{"type": "webhook", "url": hook.URL, "secret": "${S}"},
	)})
	ev := sampleEvent(KindCompleted)
	ledger := &MemoryLedger{}

	// Redelivery to one sender, at once and afterwards.
	a := newHarness(t, secrets, nil)
	a.n.Send(context.Background(), cfg, ev, ledger)
	a.n.Send(context.Background(), cfg, ev, ledger)
	a.n.Wait()
	a.n.Send(context.Background(), cfg, ev, ledger)
	a.n.Wait()
	// Two replicas sharing the ledger, at the same time.
	b, c := newHarness(t, secrets, nil), newHarness(t, secrets, nil)
	ev2 := ev
	ev2.DeploymentID = "dep-43"
	var wg sync.WaitGroup
	for _, h := range []*harness{b, c, b, c} {
		wg.Add(1)
		go func() { defer wg.Done(); h.n.Send(context.Background(), cfg, ev2, ledger) }()
	}
	wg.Wait()
	b.n.Wait()
	c.n.Wait()
	for name, r := range map[string]*receiver{"slack": slack, "webhook": hook} {
		if n := len(r.requests()); n != 2 {
			t.Errorf("%s got %d messages, want 1 per deployment (2)", name, n)
		}
	}
	if n := len(ledger.Keys()); n != 4 {
		t.Errorf("ledger has %d keys, want 4", n)
	}
	// Another kind of the same deployment is another message.
	a.n.Send(context.Background(), cfg, Event{Kind: KindCompleted, DeploymentID: "dep-44", Env: "production"}, ledger)
	a.n.Wait()
	if n := len(hook.requests()); n != 3 {
		t.Errorf("webhook got %d, want 3", n)
	}
}

func TestSecretsNeverShown(t *testing.T) {
	const token, key, hmacKey = "xoxb-SUPERSECRET-TOKEN", "PDKEY-SUPERSECRET", "HMAC-SUPERSECRET"
	rcv := newReceiver(t, 500)
	rcv.sticky = true
	h := newHarness(t, map[string]string{"SLACK_WEBHOOK_URL": rcv.URL + "/services/" + token, "PD": key, "S": hmacKey}, func(o *Options) { o.MaxElapsed = time.Minute })
	cfg := mustParse(t, map[string]any{"onDeploymentFailed": list(
		map[string]any{"type": "slack"},
		map[string]any{"type": "pagerduty", "serviceKey": "${PD}", "url": rcv.URL + "/?k=" + "${PD}"},
		map[string]any{"type": "webhook", "url": rcv.URL + "/" + "${S}", "secret": "${S}"},
		map[string]any{"type": "webhook", "url": rcv.URL, "secret": "${MISSING_SECRET}"},
	)})
	h.n.Send(context.Background(), cfg, sampleEvent(KindFailed), nil)
	h.n.Wait()
	// And a server that is not there: the transport's error quotes the URL.
	down := newHarness(t, map[string]string{"SLACK_WEBHOOK_URL": "http://127.0.0.1:1/services/" + token}, func(o *Options) { o.MaxElapsed = time.Second })
	down.n.Send(context.Background(), mustParse(t, map[string]any{"onDeploymentFailed": list(map[string]any{"type": "slack"})}), sampleEvent(KindFailed), nil)
	down.n.Wait()

	var shown []string
	shown = append(shown, h.logs.String(), down.logs.String())
	for _, f := range append(h.n.Failures(), down.n.Failures()...) {
		shown = append(shown, f.Err, f.Target, f.Key)
	}
	for _, r := range h.n.Test(context.Background(), cfg, KindFailed, "production") {
		shown = append(shown, r.Target)
		if r.Err != nil {
			shown = append(shown, r.Err.Error())
		}
	}
	all := strings.Join(shown, "\n")
	for _, s := range []string{token, key, hmacKey} {
		if strings.Contains(all, s) {
			t.Errorf("secret %q shown:\n%s", s, all)
		}
	}
	if len(h.n.Failures()) != 4 || len(down.n.Failures()) != 1 {
		t.Errorf("failures: %d and %d", len(h.n.Failures()), len(down.n.Failures()))
	}
	if !strings.Contains(all, "secret MISSING_SECRET is not set") {
		t.Errorf("the missing secret is not named:\n%s", all)
	}
}

func TestTestCommand(t *testing.T) {
	rcv := newReceiver(t)
	pd := newReceiver(t)
	h := newHarness(t, map[string]string{"SLACK_WEBHOOK_URL": rcv.URL, "PAGERDUTY_SERVICE_KEY": "k"}, nil)
	cfg := mustParse(t, map[string]any{
		"onApprovalRequired": list(map[string]any{"type": "slack", "channel": "#a"}),
		"onDeploymentFailed": list(map[string]any{"type": "slack", "channel": "#b"}, map[string]any{"type": "pagerduty", "url": pd.URL}),
		"onRolledBack":       list(map[string]any{"type": "webhook", "url": rcv.URL, "secret": "${NOPE}"}),
	})
	res := h.n.Test(context.Background(), cfg, "", "staging")
	if len(res) != 4 {
		t.Fatalf("results = %+v", res)
	}
	for _, r := range res {
		if (r.Err != nil) != strings.Contains(r.Target, "webhook") {
			t.Errorf("%s: %v", r.Target, r.Err)
		}
	}
	if len(rcv.requests()) != 2 {
		t.Errorf("slack got %d", len(rcv.requests()))
	}
	// A PagerDuty sample triggers and resolves its own alert.
	reqs := pd.requests()
	if len(reqs) != 2 {
		t.Fatalf("pagerduty got %d", len(reqs))
	}
	a, b := decode(t, reqs[0].Body), decode(t, reqs[1].Body)
	if a["event_action"] != "trigger" || b["event_action"] != "resolve" || a["dedup_key"] != b["dedup_key"] || !strings.HasSuffix(a["dedup_key"].(string), "/test") {
		t.Errorf("pagerduty test = %v, %v", a, b)
	}
	if a["payload"].(map[string]any)["severity"] != "info" {
		t.Errorf("test severity = %v", a["payload"])
	}
	if res := h.n.Test(context.Background(), cfg, KindFailed, "staging"); len(res) != 2 {
		t.Errorf("Test(failed) = %+v", res)
	}
}
