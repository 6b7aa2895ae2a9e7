package config

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
)

// TestIncrementalLoadMatchesFullLoad is a differential test of the caches:
// a loader that has seen earlier revisions (and derives merges from them)
// must produce exactly what a fresh loader produces, over a random walk of
// edits: changed titles, broken and fixed references, added, removed and
// duplicated objects, overrides in an environment.
func TestIncrementalLoadMatchesFullLoad(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	files := fstest.MapFS{}
	for p, c := range minimal() {
		files[p] = &fstest.MapFile{Data: []byte(c)}
	}
	layer := func(i int, service, style, title string) string {
		return fmt.Sprintf("id: l%d\nserviceId: %s\ntitle: %s\ngeometryType: Point\nidField: a\ngeometryField: g\nstorage: {table: t%d, srid: 4326}\nstyles: {defaultStyleId: %s}\n", i, service, title, i, style)
	}
	for i := 0; i < 40; i++ {
		files[fmt.Sprintf("environments/common/layers/l%02d.yaml", i)] = &fstest.MapFile{Data: []byte(layer(i, "roads", "line", "x"))}
	}
	incremental := NewLoader(Limits{})
	for step := 0; step < 300; step++ {
		i := rng.Intn(40)
		p := fmt.Sprintf("environments/common/layers/l%02d.yaml", i)
		switch rng.Intn(14) {
		case 0, 1, 2, 9, 10, 11, 12, 13:
			files[p] = &fstest.MapFile{Data: []byte(layer(i, "roads", "line", fmt.Sprint("t", step)))}
		case 3:
			files[p] = &fstest.MapFile{Data: []byte(layer(i, "nowhere", "line", "broken"))}
		case 4:
			delete(files, p)
		case 5:
			files[p] = &fstest.MapFile{Data: []byte(layer(rng.Intn(40), "roads", "line", "maybe a duplicate"))}
		case 6:
			files[fmt.Sprintf("environments/prod/layers/l%02d.yaml", i)] = &fstest.MapFile{Data: []byte(layer(i, "roads", "missing-style", "override"))}
		case 7:
			delete(files, fmt.Sprintf("environments/prod/layers/l%02d.yaml", i))
		case 8:
			files["environments/common/styles/missing-style.yaml"] = &fstest.MapFile{Data: []byte("id: missing-style\nformat: f\ngeometryType: Point\n")}
			if rng.Intn(2) == 0 {
				delete(files, "environments/common/styles/missing-style.yaml")
			}
		}
		snapshot := fstest.MapFS{}
		for k, v := range files {
			snapshot[k] = v
		}
		src := &FSSource{FS: snapshot, Label: "step"}
		got, err := incremental.Load(context.Background(), src)
		if err != nil {
			t.Fatal(err)
		}
		want, err := NewLoader(Limits{}).Load(context.Background(), src)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := describeState(got), describeState(want); g != w {
			t.Fatalf("step %d: incremental load differs from a full load:\n--- incremental\n%s\n--- full\n%s", step, g, w)
		}
	}
	if n := incremental.derived.Load(); n < 30 {
		t.Errorf("only %d of 300 merges were derived from their parent: the shortcut is not exercised", n)
	}
	t.Logf("%d merges derived", incremental.derived.Load())
}

// describeState prints a state's objects (key, digest, origin file) and
// findings in a canonical order.
func describeState(st *State) string {
	var b strings.Builder
	for _, d := range st.Diagnostics {
		fmt.Fprintln(&b, d)
	}
	for _, n := range st.EnvironmentNames() {
		e := st.Environments[n]
		fmt.Fprintln(&b, "env", n)
		var objs []string
		for k, o := range e.Objects {
			objs = append(objs, fmt.Sprintf("  %s/%s %s %s", k.Kind, k.ID, o.Digest[:12], o.Pos))
		}
		sort.Strings(objs)
		b.WriteString(strings.Join(objs, "\n") + "\n")
		for _, d := range e.Diagnostics {
			fmt.Fprintln(&b, "  ", d)
		}
	}
	return b.String()
}
