package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sort"

	"github.com/honua-io/honua-gitops/reconciler/apply"
)

// Check looks at an environment between deployments and returns its
// health and sync:
//
//   - health probes Honua as post-validation does, once each, no retries:
//     not ready is Unhealthy; ready with a collection of the live document
//     that does not serve is Degraded; otherwise Healthy.
//   - sync compares the live document (the Applier's MetadataPath) with
//     what the current deployment's commit renders, byte for byte (by
//     SHA-256): Synced or OutOfSync (a hand edit, a removed file); Unknown
//     without a store or a recorded deployment.
//
// Only transitions are stored: when Health or Sync differs from the
// store's, the store is updated and changed is true, so that a caller can
// report the change. Nothing reports to GitHub yet; a caller that does
// (a deployment status or check run on a transition) can come later and
// needs nothing more than changed. Without a Store, changed is always false.
//
// When the current commit cannot be rendered (GitHub unreachable), the
// stored sync is kept, health is still stored, and err says why.
func (r *Runner) Check(ctx context.Context, env Environment) (health, sync string, changed bool, err error) {
	live, err := os.ReadFile(env.Applier.MetadataPath)
	livePresent := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", "", false, fmt.Errorf("reading the live document: %w", err)
	}
	health = r.probe(ctx, env, live)
	if ctx.Err() != nil {
		return "", "", false, ctx.Err()
	}
	sync = SyncUnknown
	if r.cfg.Store == nil {
		return health, sync, false, nil
	}
	st, err := r.cfg.Store.Load(env.Name)
	if err != nil {
		return health, "", false, err
	}
	var syncErr error
	if st.Current != nil {
		doc, _, err := r.render(ctx, env.Name, st.Current.SHA, "")
		switch {
		case err != nil:
			sync, syncErr = st.Sync, fmt.Errorf("rendering %s at %s to compare with the live document: %w", env.Name, short(st.Current.SHA), err)
		case livePresent && sha256.Sum256(doc) == sha256.Sum256(live):
			sync = SyncSynced
		default:
			sync = SyncOutOfSync
		}
	}
	changed, err = r.cfg.Store.Observe(env.Name, health, sync, r.cfg.Now())
	if err != nil {
		return health, sync, false, errors.Join(syncErr, err)
	}
	if changed {
		r.cfg.Logger.Info("environment changed", "env", env.Name, "health", health, "sync", sync)
	}
	return health, sync, changed, syncErr
}

// probe is the health of Honua (Probe).
func (r *Runner) probe(ctx context.Context, env Environment, live []byte) string {
	return Probe(ctx, env, live, r.cfg.Logger)
}

// Probe is the health of env's Honua: ready, then every collection of the
// live document, within the environment's health timeout: Unhealthy when
// not ready, Degraded when a collection does not serve, else Healthy. The
// pull controller shares it.
func Probe(ctx context.Context, env Environment, live []byte, logger *slog.Logger) string {
	timeout := env.HealthTimeout
	if timeout <= 0 {
		timeout = apply.DefaultHealthTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	h := env.Applier.Honua
	if err := h.Ready(ctx); err != nil {
		logger.Debug("health: Honua is not ready", "env", env.Name, "err", err)
		return HealthUnhealthy
	}
	if len(bytes.TrimSpace(live)) == 0 {
		return HealthHealthy
	}
	served, err := collectionsOf(live)
	if err != nil {
		// Not a document: nothing to probe by; sync says it differs.
		return HealthHealthy
	}
	ids := make([]string, 0, len(served))
	for id := range served {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if err := h.Collection(ctx, id); err != nil {
			logger.Debug("health: a collection does not serve", "env", env.Name, "collection", id, "err", err)
			return HealthDegraded
		}
	}
	return HealthHealthy
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// collectionsOf lists the OGC collection ids ({serviceId}::{layerId}) a
// document serves: the live one, which may be any document.
func collectionsOf(doc []byte) (map[string]bool, error) {
	var d struct {
		Layers []struct {
			ID        string `json:"id"`
			ServiceID string `json:"serviceId"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("reading the rendered document: %w", err)
	}
	out := make(map[string]bool, len(d.Layers))
	for _, l := range d.Layers {
		out[l.ServiceID+"::"+l.ID] = true
	}
	return out, nil
}
