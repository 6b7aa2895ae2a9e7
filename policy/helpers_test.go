package policy

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// mapSource is a config.Source over files in memory.
func mapSource(files map[string]string) config.Source {
	fsys := fstest.MapFS{}
	for p, c := range files {
		fsys[p] = &fstest.MapFile{Data: []byte(c)}
	}
	return &config.FSSource{FS: fsys, Label: "test"}
}

func mustLoad(t testing.TB, files map[string]string) *Bundle {
	t.Helper()
	b, err := Load(context.Background(), mapSource(files))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sampleFiles(t testing.TB) map[string]string {
	t.Helper()
	files := map[string]string{}
	root := filepath.Join("..", "samples", "config", ".gitops")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join("..", "samples", "config"), p)
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func layerChange(id string, action plan.Action, breaking bool) plan.Change {
	c := plan.Change{Kind: config.KindLayer, ID: id, Action: action, Breaking: breaking, File: "environments/common/layers/" + id + ".yaml", Line: 1}
	if breaking {
		c.Reasons = []string{"geometryType changed"}
	}
	return c
}

func planOf(changes ...plan.Change) PlanInput {
	p := PlanInput{Changes: changes}
	for _, c := range changes {
		switch c.Action {
		case plan.ActionAdd:
			p.Summary.Added++
		case plan.ActionModify:
			p.Summary.Modified++
		case plan.ActionRemove:
			p.Summary.Removed++
		}
		if c.Breaking {
			p.Summary.Breaking++
		}
	}
	return p
}

func evaluate(t testing.TB, b *Bundle, in Input) Verdict {
	t.Helper()
	v, err := NewEngine().Evaluate(context.Background(), b, in)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
