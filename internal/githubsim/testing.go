package githubsim

import (
	"context"
	"os"
	"testing"
	"time"
)

// TB is the part of testing.TB the emulator needs.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

var _ TB = (testing.TB)(nil)

// SpecsRequired reports whether a missing spec must fail rather than skip
// (CI=true).
func SpecsRequired() bool { return os.Getenv("CI") == "true" }

// New starts an emulator for a test and closes it at the end. Unless the
// options already carry one, it loads GitHub's pinned REST and webhook
// descriptions and checks every exchange and every webhook against them:
// each departure fails the test. When the descriptions are missing the test
// fails in CI and runs unchecked (with a log line) elsewhere.
func New(t TB, opts Options) *Server {
	t.Helper()
	if opts.GitRoot == "" {
		opts.GitRoot = t.TempDir()
	}
	if opts.Spec == nil {
		spec, err := LoadRESTSpec()
		switch {
		case err == nil:
			opts.Spec = spec
		case SpecsRequired():
			t.Fatalf("githubsim: %v", err)
		default:
			t.Logf("githubsim: contract checks off: %v", err)
		}
	}
	if opts.WebhookSpec == nil && opts.Spec != nil {
		ws, err := LoadWebhookSpec()
		if err != nil {
			t.Fatalf("githubsim: %v", err)
		}
		opts.WebhookSpec = ws
	}
	if opts.OnViolation == nil {
		opts.OnViolation = func(v Violation) { t.Errorf("githubsim: GitHub contract violated: %s", v) }
	}
	s, err := NewServer(opts)
	if err != nil {
		t.Fatalf("githubsim: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		s.FlushWebhooks(ctx)
		s.Close()
	})
	return s
}

// RequireSpec returns the REST description or ends the test: it fails in CI
// and skips elsewhere with a message saying how to fetch it.
func RequireSpec(t TB) *Spec {
	t.Helper()
	s, err := LoadRESTSpec()
	if err != nil {
		if SpecsRequired() {
			t.Fatalf("%v", err)
		}
		t.Skipf("%v", err)
	}
	return s
}

// RequireWebhookSpec is RequireSpec for the webhook description.
func RequireWebhookSpec(t TB) *WebhookSpec {
	t.Helper()
	s, err := LoadWebhookSpec()
	if err != nil {
		if SpecsRequired() {
			t.Fatalf("%v", err)
		}
		t.Skipf("%v", err)
	}
	return s
}
