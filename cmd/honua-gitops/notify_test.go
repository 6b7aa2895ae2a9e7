package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestNotifyTest: `notify test` sends a sample of development's
// notification (Slack, on failures) to the webhook the secret names and
// says it went; a receiver that refuses makes the command fail, naming
// the target but never the secret.
func TestNotifyTest(t *testing.T) {
	var hits atomic.Int32
	status := atomic.Int32{}
	status.Store(http.StatusOK)
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(int(status.Load()))
	}))
	defer slack.Close()
	t.Setenv("HONUA_SECRET_SLACK_WEBHOOK_URL", slack.URL+"/services/T000/B000/s3cretpart")
	out, stderr, code := runCmd(t, "notify", "test", "--env", "development", "../../samples/config")
	if code != exitOK || !strings.Contains(out, "ok") || hits.Load() != 1 {
		t.Fatalf("notify test: exit %d, %d requests\n%s%s", code, hits.Load(), out, stderr)
	}
	status.Store(http.StatusNotFound)
	out, stderr, code = runCmd(t, "notify", "test", "--env", "development", "--event", "failed", "../../samples/config")
	if code == exitOK || !strings.Contains(out, "FAIL") {
		t.Errorf("a refusing receiver: exit %d\n%s%s", code, out, stderr)
	}
	if strings.Contains(out+stderr, "s3cretpart") {
		t.Errorf("the secret was printed:\n%s%s", out, stderr)
	}
	if _, stderr, code := runCmd(t, "notify", "test", "--env", "development", "--event", "sometimes", "../../samples/config"); code != exitUsage || !strings.Contains(stderr, "--event") {
		t.Errorf("a bad --event: exit %d %s", code, stderr)
	}
}
