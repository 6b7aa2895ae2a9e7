package config

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"
)

// TestLoadCancelled checks that a cancelled load is an error, never a
// state, for every kind of source, and that the cancellation is not
// remembered: the same source loads once the context is live.
func TestLoadCancelled(t *testing.T) {
	dir := t.TempDir()
	fsys := fstest.MapFS{"environments/dev/metadata.yaml": {Data: []byte("catalog:\n  id: c\n")}}
	sources := map[string]Source{
		"dir": NewDirSource(dir, DefaultLimits),
		"fs":  &FSSource{FS: fsys, Label: "fs"},
	}
	for name, src := range sources {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			st, err := NewLoader(DefaultLimits).Load(ctx, src)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Load with a cancelled context = %v, %v; want context.Canceled", st, err)
			}
			if _, err := src.Read(ctx, "environments/dev/metadata.yaml"); !errors.Is(err, context.Canceled) {
				t.Errorf("Read with a cancelled context: %v", err)
			}
			if _, err := NewLoader(DefaultLimits).Load(t.Context(), src); err != nil {
				t.Errorf("the source stays cancelled: %v", err)
			}
		})
	}
}
