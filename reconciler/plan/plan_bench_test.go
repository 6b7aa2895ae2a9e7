package plan_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/honua-io/honua-gitops/internal/configgen"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// BenchmarkPlan measures a whole plan between two git revisions (list the
// trees, load and validate both states, diff them) on generated repositories
// of 1,000 and 10,000 layers whose head changes 10 layer files:
//
//   - cold: a new loader and a freshly opened repository every time;
//   - incremental: base already parsed, head's 10 changed files are new;
//   - warm: both revisions' files already parsed (a re-plan);
//   - floor=git-diff-tree: `git diff-tree -r` of the same two commits.
func BenchmarkPlan(b *testing.B) {
	for _, layers := range []int{1000, 10000} {
		dir, err := os.MkdirTemp("", "bench-plan-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		repo, err := configgen.Generate(dir, layers, 10)
		if err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("layers=%d/changed=10", layers)

		b.Run(name+"/cold", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				r, err := config.OpenRepository(repo.Dir)
				if err != nil {
					b.Fatal(err)
				}
				planOnce(b, config.NewLoader(config.Limits{}), r, repo)
				r.Close()
			}
		})
		b.Run(name+"/incremental", func(b *testing.B) {
			b.ReportAllocs()
			r, _ := config.OpenRepository(repo.Dir)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				loader := config.NewLoader(config.Limits{})
				load(b, loader, r, repo.Base)
				b.StartTimer()
				planOnce(b, loader, r, repo)
			}
		})
		b.Run(name+"/warm", func(b *testing.B) {
			b.ReportAllocs()
			r, _ := config.OpenRepository(repo.Dir)
			loader := config.NewLoader(config.Limits{})
			planOnce(b, loader, r, repo)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				planOnce(b, loader, r, repo)
			}
		})
		b.Run(name+"/floor=git-diff-tree", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				out, err := repo.DiffTree()
				if err != nil {
					b.Fatal(err)
				}
				if n := strings.Count(out, "\n"); n != 10 {
					b.Fatalf("git diff-tree lists %d files, want 10", n)
				}
			}
		})
	}
}

// BenchmarkLoadCold measures loading one revision of 10,000 layers from
// scratch, and reports the live heap the loaded state holds.
func BenchmarkLoadCold(b *testing.B) {
	dir, err := os.MkdirTemp("", "bench-load-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	repo, err := configgen.Generate(dir, 10000, 10)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("layers=10000", func(b *testing.B) {
		b.ReportAllocs()
		var heap uint64
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			b.StartTimer()
			r, _ := config.OpenRepository(repo.Dir)
			st := load(b, config.NewLoader(config.Limits{}), r, repo.Head)
			b.StopTimer()
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			heap = max(heap, after.HeapAlloc-min(after.HeapAlloc, before.HeapAlloc))
			runtime.KeepAlive(st)
			r.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(heap)/(1<<20), "live-MB")
	})
}

func load(b *testing.B, loader *config.Loader, r *config.Repository, rev string) *config.State {
	b.Helper()
	src, err := config.NewGitSource(r, rev, "", config.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	st, err := loader.Load(context.Background(), src)
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// planOnce plans repo's base against its head and checks the result, so a
// benchmark can never time a plan that went wrong.
func planOnce(b *testing.B, loader *config.Loader, r *config.Repository, repo *configgen.Repo) *plan.Plan {
	b.Helper()
	base := load(b, loader, r, repo.Base)
	head := load(b, loader, r, repo.Head)
	p := plan.Compute(base, head, nil)
	for _, e := range p.Environments {
		if e.Summary.Modified != repo.Changed || len(e.Errors) > 0 {
			b.Fatalf("%s: %+v, %d errors (first %v); want %d modified", e.Name, e.Summary, len(e.Errors), e.Errors, repo.Changed)
		}
	}
	return p
}
