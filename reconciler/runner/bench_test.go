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
// large environment, once the commit is fetched: load the repository,
// render the environment's document, and apply it (journal, backup, atomic
// write, reload and post-validation of 10 changed collections against a
// Honua that answers at once).
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
				cols := make([]string, 10)
				for i := range cols {
					cols[i] = fmt.Sprintf("svc-%d::layer-%d", i, i)
				}
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
					st, err := loader.Load(ctx, config.NewDirSource(filepath.Join(dir, "repo"), config.DefaultLimits))
					if err != nil {
						b.Fatal(err)
					}
					env := st.Environments["production"]
					if env == nil {
						b.Fatalf("no production among %d environments", len(st.Environments))
					}
					doc, err := config.RenderJSON(env, func(string) (string, bool) { return "x", true })
					if err != nil {
						b.Fatal(err)
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
