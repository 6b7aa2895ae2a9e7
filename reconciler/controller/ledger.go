package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/honua-io/honua-gitops/notify"
)

// maxNotified bounds an environment's record of sent notifications.
const maxNotified = 500

// Ledger is an environment's record of the notifications sent, kept in
// the store (EnvRecord.Notified): what notify.Ledger asks for.
type Ledger struct {
	Store *Store
	Env   string
}

// Sent reports whether key was recorded as sent.
func (l Ledger) Sent(_ context.Context, key string) (bool, error) {
	rec, err := l.Store.Load(l.Env)
	if err != nil {
		return false, err
	}
	return slices.Contains(rec.Notified, key), nil
}

// MarkSent records key as sent.
func (l Ledger) MarkSent(_ context.Context, key string) error {
	return l.Store.Update(l.Env, func(r *EnvRecord) error {
		if !slices.Contains(r.Notified, key) {
			r.Notified = append(r.Notified, key)
			if len(r.Notified) > maxNotified {
				r.Notified = slices.Clone(r.Notified[len(r.Notified)-maxNotified:])
			}
		}
		return nil
	})
}

// RecordNotifyFailure puts a notification given up on in its
// environment's audit trail ("notify-failed", under the deployment it was
// about), where `deployment show` shows it.
func (s *Store) RecordNotifyFailure(f notify.Failure) error {
	if CheckEnvName(f.Env) != nil {
		return nil
	}
	id, _, _ := strings.Cut(f.Key, "/")
	return s.Update(f.Env, func(r *EnvRecord) error {
		r.Audit = append(r.Audit, Audit{At: f.At, Who: "controller", From: hostName(), Action: "notify-failed", DeploymentID: id,
			Detail: fmt.Sprintf("%s to %s: %s", f.Kind, f.Target, f.Err)})
		return nil
	})
}
