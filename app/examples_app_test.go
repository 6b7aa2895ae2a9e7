package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestRecordedExamplesThroughTheApp delivers every recorded payload of
// @octokit/webhooks-examples 7.6.1 to the real `serve` handler, the App's
// handlers registered, while GitHub is unreachable: every delivery is
// acknowledged (2xx), no handler panics, and unsigned or wrongly signed
// deliveries are refused with 401. The App is given the id of the App in
// the recorded check_run.rerequested payloads that go-github cannot decode
// as sent: those are acted on (the App tries to plan again, and fails
// only because GitHub is unreachable).
func TestRecordedExamplesThroughTheApp(t *testing.T) {
	groups := loadWebhookExamples(t)
	var appID int64
	for _, g := range groups {
		if g.Name != "check_run" {
			continue
		}
		var p struct {
			Action   string `json:"action"`
			CheckRun struct {
				App struct {
					ID int64 `json:"id"`
				} `json:"app"`
				Name string `json:"name"`
			} `json:"check_run"`
		}
		if err := json.Unmarshal(g.Examples[7], &p); err != nil {
			t.Fatal(err)
		}
		appID = p.CheckRun.App.ID
	}
	if appID == 0 {
		t.Fatal("no App id in check_run/7")
	}
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String() + "/api/v3/"
	dead.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	rk := testRSAKey(t)
	svc, err := NewService(ServiceConfig{
		GitHubURL: deadURL, AppID: appID, PrivateKey: rk, WebhookSecrets: [][]byte{[]byte(testSecret)},
		SigningKey: key, DataDir: t.TempDir(), Workers: 4, QueueSize: 1024, Logger: slogDiscard(),
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
	})
	if err != nil {
		t.Fatal(err)
	}
	svc.server.Start()
	h := svc.Handler()
	total := 0
	for _, g := range groups {
		for i, raw := range g.Examples {
			id := fmt.Sprintf("%s/%d", g.Name, i)
			body := []byte(raw)
			for _, bad := range []string{"-", sign([]byte("not-the-secret"), body)} {
				if w := deliver(t, h, delivery{event: g.Name, id: id, body: body, signature: bad}); w.Code != http.StatusUnauthorized {
					t.Errorf("%s with signature %q: status %d, want 401", id, bad, w.Code)
				}
			}
			if w := deliver(t, h, delivery{event: g.Name, id: id, body: body}); w.Code/100 != 2 {
				t.Errorf("%s: status %d, want 2xx", id, w.Code)
			}
			total++
		}
	}
	svc.server.waitIdle()
	shutdown(t, svc.server)
	m := svc.server.metrics
	panics := 0.0
	for _, g := range groups {
		panics += metricValue(m.handlerPanics.WithLabelValues(g.Name))
	}
	if panics != 0 {
		t.Errorf("%v handler panics over %d recorded deliveries", panics, total)
	}
	// The undecodable rerequested check runs were acted on: the App tried
	// to reach GitHub for them (and could not).
	if n := metricValue(m.handlerErrors.WithLabelValues("check_run")); n < 1 {
		t.Errorf("check_run handler errors = %v: the rerequested runs were not acted on", n)
	}
}

func testRSAKey(t *testing.T) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return pemKey(k)
}
