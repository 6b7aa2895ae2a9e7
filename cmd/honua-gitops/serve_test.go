package main

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// serveFiles writes an App key, a webhook secret and an order-signing key.
func serveFiles(t *testing.T) (dir, appKey, secret, signing string) {
	t.Helper()
	dir = t.TempDir()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	appKey = filepath.Join(dir, "app.pem")
	write(t, appKey, string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)})))
	secret = filepath.Join(dir, "secret")
	write(t, secret, "s3cret-value\n")
	_, ek, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ek)
	if err != nil {
		t.Fatal(err)
	}
	signing = filepath.Join(dir, "order.pem")
	write(t, signing, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	return dir, appKey, secret, signing
}

// TestServeRefusesIncompleteConfig: serve names what is missing and how to
// fix it, and never starts without a webhook secret.
func TestServeRefusesIncompleteConfig(t *testing.T) {
	dir, appKey, secret, signing := serveFiles(t)
	empty := filepath.Join(dir, "empty")
	write(t, empty, "\n")
	data := filepath.Join(dir, "data")
	full := []string{"serve", "--app-id", "42", "--private-key-file", appKey, "--webhook-secret-file", secret, "--order-signing-key-file", signing, "--data-dir", data}
	without := func(flag string) []string {
		var out []string
		for i := 0; i < len(full); i++ {
			if full[i] == flag {
				i++
				continue
			}
			out = append(out, full[i])
		}
		return out
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no webhook secret", without("--webhook-secret-file"), "refuses to start without a webhook secret"},
		{"empty webhook secret", append(without("--webhook-secret-file"), "--webhook-secret-file", empty), "is empty"},
		{"no app id", without("--app-id"), "--app-id is required"},
		{"no signing key", without("--order-signing-key-file"), "openssl genpkey -algorithm ed25519"},
		{"signing key is not Ed25519", append(without("--order-signing-key-file"), "--order-signing-key-file", appKey), "--order-signing-key-file"},
		{"no data dir", without("--data-dir"), "--data-dir is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HONUA_GITOPS_WEBHOOK_SECRET_FILE", "")
			os.Unsetenv("HONUA_GITOPS_WEBHOOK_SECRET_FILE")
			_, stderr, code := runCmd(t, tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, tt.want)
			}
			if strings.Contains(stderr, "s3cret-value") {
				t.Errorf("an error quotes the webhook secret: %s", stderr)
			}
		})
	}
}

// TestServeFlagsFromEnvironment: every flag has a HONUA_GITOPS_ variable;
// the command line wins; list flags take comma-separated lists.
func TestServeFlagsFromEnvironment(t *testing.T) {
	cmd := newServeCmd()
	fs := cmd.Flags()
	if err := fs.Parse([]string{"--workers", "9"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"HONUA_GITOPS_APP_ID":              "123",
		"HONUA_GITOPS_WORKERS":             "2",
		"HONUA_GITOPS_WEBHOOK_SECRET_FILE": "/run/a, /run/b",
		"HONUA_GITOPS_SWEEP_INTERVAL":      "90s",
	}
	if err := applyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	get := func(name string) string { return fs.Lookup(name).Value.String() }
	for name, want := range map[string]string{
		"app-id": "123", "workers": "9", "webhook-secret-file": "[/run/a,/run/b]", "sweep-interval": "1m30s",
	} {
		if got := get(name); got != want {
			t.Errorf("--%s = %s, want %s", name, got, want)
		}
	}
	err := applyEnv(newServeCmd().Flags(), func(k string) (string, bool) {
		if k == "HONUA_GITOPS_QUEUE_SIZE" {
			return "many", true
		}
		return "", false
	})
	if err == nil || !strings.Contains(err.Error(), "HONUA_GITOPS_QUEUE_SIZE") {
		t.Errorf("a bad variable: %v, want an error naming it", err)
	}
	var _ *pflag.FlagSet = fs
}

// TestServeStaysUpWithoutGitHub: serve starts with GitHub unreachable,
// answers health checks, refuses unsigned webhooks, acknowledges signed ones,
// and drains when its context ends.
func TestServeStaysUpWithoutGitHub(t *testing.T) {
	dir, appKey, secret, signing := serveFiles(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// A GitHub that is not there: a port nothing listens on.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String() + "/api/v3/"
	dead.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr syncWriter
	go func() {
		done <- runContext(ctx, []string{"serve", "--listen", addr, "--github-url", deadURL, "--app-id", "42",
			"--private-key-file", appKey, "--webhook-secret-file", secret, "--order-signing-key-file", signing,
			"--data-dir", filepath.Join(dir, "data"), "--sweep-interval", "0"}, io.Discard, &stderr)
	}()
	base := "http://" + addr
	var resp *http.Response
	for range 200 {
		if resp, err = http.Get(base + "/healthz"); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond) // waiting for the listener, not timing anything
	}
	if err != nil {
		cancel()
		t.Fatalf("serve never answered: %v\n%s", err, stderr.String())
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
	if r, err := http.Get(base + "/readyz"); err != nil || r.StatusCode != 200 {
		t.Errorf("/readyz with GitHub unreachable: %v %v, want 200", r, err)
	}
	body := `{"zen":"z","hook_id":1,"sender":{"login":"alice","type":"User"}}`
	post := func(sig string) int {
		req, _ := http.NewRequest("POST", base+"/webhooks/github", strings.NewReader(body))
		req.Header.Set("X-GitHub-Event", "ping")
		req.Header.Set("X-GitHub-Delivery", "d-"+sig[:min(len(sig), 8)])
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	mac := hmac.New(sha256.New, []byte("s3cret-value"))
	mac.Write([]byte(body))
	if code := post(""); code != http.StatusUnauthorized {
		t.Errorf("unsigned webhook: %d, want 401", code)
	}
	if code := post("sha256=" + hex.EncodeToString(mac.Sum(nil))); code != http.StatusAccepted {
		t.Errorf("signed webhook: %d, want 202", code)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("serve exited %d after its context ended\n%s", code, stderr.String())
	}
}

// syncWriter is a buffer several goroutines write to.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
