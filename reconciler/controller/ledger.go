package controller

import (
	"context"
	"slices"
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
