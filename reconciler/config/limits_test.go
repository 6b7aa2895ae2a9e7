package config

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostileInput checks that input built to exhaust the loader gets one
// clear error and nothing else: no panic, no unbounded memory.
func TestHostileInput(t *testing.T) {
	const layerFile = "environments/common/layers/streets.yaml"
	bomb := "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for i := 0; i < 9; i++ {
		name := fmt.Sprintf("l%d", i)
		bomb += fmt.Sprintf("%s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	deep := strings.Repeat("[", 150) + strings.Repeat("]", 150)
	tests := []struct {
		name    string
		content string
		lim     Limits
		want    string
	}{
		{"alias bomb", "id: streets\n" + bomb, Limits{}, "expands to more than 1000000 values (an alias bomb?)"},
		{"nesting deeper than 100", "id: streets\nx: " + deep + "\n", Limits{}, "nesting deeper than 100 levels"},
		{"file over the size limit", "id: streets\ntitle: " + strings.Repeat("x", 2000) + "\n", Limits{MaxFileSize: 1000}, "over the limit of 1000 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := minimal()
			files[layerFile] = tt.content
			st, err := NewLoader(tt.lim).Load(context.Background(), NewDirSource(writeTree(t, files), tt.lim))
			if err != nil {
				t.Fatal(err)
			}
			d, ok := findDiagnostic(st, tt.want)
			if !ok {
				t.Fatalf("no diagnostic %q; got:\n%s", tt.want, strings.Join(allDiagnostics(st), "\n"))
			}
			if !strings.HasPrefix(d, layerFile+":") {
				t.Errorf("diagnostic %q does not name %s", d, layerFile)
			}
			// The broken file contributes no object: nothing half-read.
			if st.Environments["prod"].Objects[KeyOf(KindLayer, "streets")] != nil {
				t.Error("a layer was taken from the rejected file")
			}
		})
	}
}

func TestTooManyFiles(t *testing.T) {
	files := minimal()
	for i := 0; i < 20; i++ {
		files[fmt.Sprintf("environments/prod/notes/%02d.txt", i)] = "x"
	}
	lim := Limits{MaxFiles: 10}
	st, err := NewLoader(lim).Load(context.Background(), NewDirSource(writeTree(t, files), lim))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := findDiagnostic(st, "more than 10 files"); !ok {
		t.Fatalf("too many files not reported:\n%s", strings.Join(allDiagnostics(st), "\n"))
	}
}

func TestSymlinkRefused(t *testing.T) {
	dir := writeTree(t, minimal())
	outside := filepath.Join(t.TempDir(), "secret.yaml")
	os.WriteFile(outside, []byte("id: x\n"), 0o644)
	link := filepath.Join(dir, "environments/common/layers/linked.yaml")
	if err := os.Symlink(outside, link); err != nil {
		t.Skip("symlinks not supported here:", err)
	}
	st, err := NewLoader(Limits{}).Load(context.Background(), NewDirSource(dir, Limits{}))
	if err != nil {
		t.Fatal(err)
	}
	d, ok := findDiagnostic(st, "is a symlink")
	if !ok || !strings.HasPrefix(d, "environments/common/layers/linked.yaml: error:") {
		t.Fatalf("symlink not reported with its path; got:\n%s", strings.Join(allDiagnostics(st), "\n"))
	}
	if !st.HasErrors() {
		t.Error("a symlink must make the state invalid")
	}
}

func TestPathEscapesRoot(t *testing.T) {
	src := NewDirSource(writeTree(t, minimal()), Limits{})
	for _, p := range []string{"../etc/passwd", "environments/../../x", "/etc/passwd"} {
		if _, err := src.Read(context.Background(), p); err == nil {
			t.Errorf("Read(%q) succeeded; want an error", p)
		}
	}
}

func TestEmptyFileIsNothing(t *testing.T) {
	files := minimal()
	files["environments/prod/empty.yaml"] = ""
	st := loadTree(t, files)
	if d := allDiagnostics(st); len(d) > 0 {
		t.Fatalf("an empty file gave findings:\n%s", strings.Join(d, "\n"))
	}
}

// aliasFile is a layer file whose aliases expand to about 10^levels values
// in a few hundred bytes.
func aliasFile(id string, levels int) string {
	s := "id: " + id + "\nx0: &x0 [a, a, a, a, a, a, a, a, a, a]\n"
	for i := 1; i < levels; i++ {
		p := fmt.Sprintf("*x%d", i-1)
		s += fmt.Sprintf("x%d: &x%d [%s, %s, %s, %s, %s, %s, %s, %s, %s, %s]\n", i, i, p, p, p, p, p, p, p, p, p, p)
	}
	return s
}

// TestRepositoryValueBudget: files each under the per-file cap add up to a
// repository that would take gigabytes; the budget is spent in path order,
// the file that exceeds it and every file after it are not read, and the
// first one says why, naming the files that spent most of it.
func TestRepositoryValueBudget(t *testing.T) {
	files := minimal()
	for i := 0; i < 30; i++ {
		files[fmt.Sprintf("environments/common/layers/bomb%02d.yaml", i)] = aliasFile(fmt.Sprintf("bomb%02d", i), 4)
	}
	lim := Limits{MaxValues: 100_000}
	dir := writeTree(t, files)
	st, err := NewLoader(lim).Load(context.Background(), NewDirSource(dir, lim))
	if err != nil {
		t.Fatal(err)
	}
	d, ok := findDiagnostic(st, "expand to more than 100000 values together")
	if !ok {
		t.Fatalf("budget not enforced:\n%s", strings.Join(allDiagnostics(st), "\n"))
	}
	// The bombs come first in path order (layers/ before metadata.yaml):
	// as many fit as the budget holds, the next is the first not read.
	per := parseFile("environments/common/layers/bomb00.yaml", []byte(files["environments/common/layers/bomb00.yaml"]), DefaultLimits, nil).values
	fit := int(100_000 / per)
	firstOver := fmt.Sprintf("environments/common/layers/bomb%02d.yaml", fit)
	if !strings.HasPrefix(d, firstOver+":1:1: error: not read:") || !strings.Contains(d, fmt.Sprintf("the most: environments/common/layers/bomb00.yaml: %d", per)) {
		t.Errorf("first file over the budget (%d values a file, %d fit): %s", per, fit, d)
	}
	if _, ok := findDiagnostic(st, "was spent before this file (see "+firstOver+")"); !ok {
		t.Error("later files do not say why they were not read")
	}
	env := st.Environments["prod"]
	for i := 0; i < 30; i++ {
		read := env.Objects[KeyOf(KindLayer, fmt.Sprintf("bomb%02d", i))] != nil
		if read != (i < fit) {
			t.Errorf("bomb%02d read = %v", i, read)
		}
	}
	// The same repository gives the same result, from a warm loader (its
	// cache holds the files that were read) and from a fresh one.
	warm := NewLoader(lim)
	for i := 0; i < 2; i++ {
		again, err := warm.Load(context.Background(), NewDirSource(dir, lim))
		if err != nil {
			t.Fatal(err)
		}
		if g, w := describeState(again), describeState(st); g != w {
			t.Fatalf("load %d differs:\n%s\n---\n%s", i, g, w)
		}
	}
	// A cached file is over the budget when a file before it grows.
	files["environments/common/layers/a-first.yaml"] = aliasFile("a-first", 4)
	st2, err := warm.Load(context.Background(), NewDirSource(writeTree(t, files), lim))
	if err != nil {
		t.Fatal(err)
	}
	last := fmt.Sprintf("bomb%02d", fit-1)
	if st2.Environments["prod"].Objects[KeyOf(KindLayer, last)] != nil {
		t.Errorf("%s came from the cache although the budget is spent before it", last)
	}
}
