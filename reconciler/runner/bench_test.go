package runner

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/honua-io/honua-gitops/internal/configgen"
	"github.com/honua-io/honua-gitops/reconciler/apply"
	"github.com/honua-io/honua-gitops/reconciler/config"
)

// okHonua is a Honua that takes every document at once: the benchmark
// measures the runner's side, Honua's own reload excluded.
type okHonua struct{}

func (okHonua) Reload(context.Context) error             { return nil }
func (okHonua) Ready(context.Context) error              { return nil }
func (okHonua) Collection(context.Context, string) error { return nil }

// BenchmarkRenderAndApply is the runner's work for one deployment of a
// large environment, once the commit is fetched (RenderEnv, then Apply):
// load the repository, render the environment's document, find the
// changed collections, and apply (journal, backup, atomic write, reload,
// post-validation of the changed collections against a Honua that answers
// at once). cold is the first deployment (every collection is new), warm a
// redeployment with the loader's cache.
func BenchmarkRenderAndApply(b *testing.B) {
	for _, layers := range []int{1000, 10000} {
		for _, cache := range []string{"cold", "warm"} {
			b.Run(fmt.Sprintf("layers=%d/cache=%s", layers, cache), func(b *testing.B) {
				dir := b.TempDir()
				if err := configgen.WriteTree(filepath.Join(dir, "repo"), layers); err != nil {
					b.Fatal(err)
				}
				live := filepath.Join(dir, "metadata.json")
				ap := &apply.Applier{MetadataPath: live, StateDir: filepath.Join(dir, "state"), Honua: okHonua{}, Logger: quiet()}
				ctx := context.Background()
				// cold: a fresh loader, nothing parsed before (the runner's
				// first deployment); warm: the runner's loader, which parsed
				// the files before and reads only what changed.
				loader := config.NewLoader(config.DefaultLimits)
				if cache == "warm" {
					if _, err := loader.Load(ctx, config.NewDirSource(filepath.Join(dir, "repo"), config.DefaultLimits)); err != nil {
						b.Fatal(err)
					}
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if cache == "cold" {
						loader = config.NewLoader(config.DefaultLimits)
					}
					var prev config.Source
					if cache == "warm" {
						prev = config.NewDirSource(filepath.Join(dir, "repo"), config.DefaultLimits)
					}
					src := config.NewDirSource(filepath.Join(dir, "repo"), config.DefaultLimits)
					doc, cols, err := RenderEnv(ctx, loader, func(string) (string, bool) { return "x", true }, "production", src, prev)
					if err != nil {
						b.Fatal(err)
					}
					if want := map[string]int{"cold": layers, "warm": 0}[cache]; len(cols) != want {
						b.Fatalf("%d changed collections, want %d", len(cols), want)
					}
					out, err := ap.Apply(ctx, apply.Request{DeploymentID: int64(i + 1), Env: "production", SHA: "s", Document: doc, Collections: cols, RollbackOnFailure: true}, nil)
					if err != nil || out.State != apply.StateSuccess {
						b.Fatalf("%v %+v", err, out)
					}
					b.SetBytes(int64(len(doc)))
				}
			})
		}
	}
}
