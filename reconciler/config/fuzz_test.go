package config

import (
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"
)

// FuzzParseFile feeds arbitrary bytes to the parser of config files, as each
// kind of file. It must never panic, every finding must name the file, and
// nothing but mappings with ids may come out as objects.
func FuzzParseFile(f *testing.F) {
	for _, content := range minimal() {
		f.Add([]byte(content))
	}
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("<<: *x\n"))
	f.Add([]byte("{\"id\": \"x\", \"fields\": [{\"name\": 1}]}"))
	f.Add([]byte("id: x\nminScale: .inf\n"))
	f.Add([]byte("\xff\xfe"))
	paths := []string{
		"environments/common/metadata.yaml",
		"environments/prod/layers/x.yaml",
		"environments/prod/styles/x.json",
		"environments/prod/other/x.yml",
	}
	lim := Limits{MaxFileSize: 1 << 16, MaxFiles: 10, MaxDepth: 20, MaxNodes: 10_000}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range paths {
			pf := parseFile(p, data, lim.orDefault())
			for _, d := range pf.diags {
				if d.File != p {
					t.Fatalf("finding names %q, want %q: %s", d.File, p, d)
				}
				if d.Line < 0 || d.Column < 0 || d.Message == "" {
					t.Fatalf("bad finding %+v", d)
				}
			}
			for _, o := range pf.objects {
				if o.Value == nil || o.Digest == "" {
					t.Fatalf("object without value or digest: %+v", o)
				}
			}
			if utf8.Valid(data) {
				continue
			}
			if len(pf.objects) > 0 {
				t.Fatal("objects read from invalid UTF-8")
			}
		}
	})
}

// FuzzInlineSecrets checks the connection-string scanner: it never panics,
// and a string that is one ${NAME} reference per secret never trips it.
func FuzzInlineSecrets(f *testing.F) {
	f.Add("Host=db;Password=${PG}")
	f.Add("postgres://u:p@h/db?sslmode=require")
	f.Add("Server=x;Pwd='abc';")
	f.Add("host=a password=b")
	f.Fuzz(func(t *testing.T, cs string) {
		found := inlineSecrets(cs)
		for _, k := range found {
			if !secretKeyRe.MatchString(strings.ReplaceAll(k, "_", "")) && !secretKeyRe.MatchString(k) && k != "password" {
				t.Fatalf("reported %q, which is not a secret key", k)
			}
		}
	})
}

// FuzzLoad loads a repository in which fuzzed content replaces a layer and
// an environment's metadata. Loading must never fail (problems are
// findings), and a loader that saw the valid repository first (and derives
// its merges from it) must agree with a fresh one.
func FuzzLoad(f *testing.F) {
	base := minimal()
	f.Add([]byte(base["environments/common/layers/streets.yaml"]), []byte(base["environments/prod/metadata.yaml"]))
	f.Add([]byte("id: streets\nserviceId: nowhere\n"), []byte("catalog: {id: x}\nfolders: [{id: Transportation}]\n"))
	f.Add([]byte("id: other\n"), []byte("services:\n  - id: roads\n"))
	f.Fuzz(func(t *testing.T, layer, meta []byte) {
		fsys := fstest.MapFS{}
		for p, c := range base {
			fsys[p] = &fstest.MapFile{Data: []byte(c)}
		}
		warm := NewLoader(Limits{})
		if _, err := warm.Load(&FSSource{FS: fsys, Label: "base"}); err != nil {
			t.Fatal(err)
		}
		fsys["environments/common/layers/streets.yaml"] = &fstest.MapFile{Data: layer}
		fsys["environments/prod/metadata.yaml"] = &fstest.MapFile{Data: meta}
		src := &FSSource{FS: fsys, Label: "head"}
		got, err := warm.Load(src)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		want, err := NewLoader(Limits{}).Load(src)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if g, w := describeState(got), describeState(want); g != w {
			t.Fatalf("a warm loader differs from a fresh one:\n--- warm\n%s\n--- fresh\n%s", g, w)
		}
	})
}
