package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/honua-io/honua-gitops/notify"
)

// TestLedger: a key marked sent is sent for every reader of the store,
// once; the record stays bounded.
func TestLedger(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	l := Ledger{Store: s, Env: "production"}
	ctx := context.Background()
	if sent, err := l.Sent(ctx, "k1"); err != nil || sent {
		t.Fatalf("a fresh key: %v %v", sent, err)
	}
	for range 2 {
		if err := l.MarkSent(ctx, "k1"); err != nil {
			t.Fatal(err)
		}
	}
	other := Ledger{Store: &Store{Dir: s.Dir}, Env: "production"}
	if sent, _ := other.Sent(ctx, "k1"); !sent {
		t.Error("another reader of the store does not see the key")
	}
	rec, _ := s.Load("production")
	if len(rec.Notified) != 1 {
		t.Errorf("a key marked twice is recorded %d times", len(rec.Notified))
	}
	for i := range maxNotified + 10 {
		if err := l.MarkSent(ctx, fmt.Sprint("k", i+2)); err != nil {
			t.Fatal(err)
		}
	}
	rec, _ = s.Load("production")
	if len(rec.Notified) != maxNotified || rec.Notified[len(rec.Notified)-1] != fmt.Sprint("k", maxNotified+11) {
		t.Errorf("the record is not bounded to the newest %d: %d", maxNotified, len(rec.Notified))
	}
}

// TestNotifyFailureInAudit: a notification given up on goes in the audit
// trail under its deployment.
func TestNotifyFailureInAudit(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	if err := s.RecordNotifyFailure(notify.Failure{Key: "staging-20261129101010-abcdef0/approval-required/t1", Kind: notify.KindApprovalRequired,
		Env: "staging", Target: "slack #gis-staging", Err: "HTTP 404"}); err != nil {
		t.Fatal(err)
	}
	rec, _ := s.Load("staging")
	if len(rec.Audit) != 1 || rec.Audit[0].Action != "notify-failed" || rec.Audit[0].DeploymentID != "staging-20261129101010-abcdef0" || !strings.Contains(rec.Audit[0].Detail, "HTTP 404") {
		t.Errorf("audit: %+v", rec.Audit)
	}
}
