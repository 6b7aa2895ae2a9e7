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
			pf := parseFile(p, data, lim.orDefault(), nil)
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

// FuzzConnectionString checks the connection-string reader that validation
// and masking share: it never panics, its spans lie inside the string, it
// reports only credential keys, and masking is complete: read again, the
// masked string has no credential left but ***, references and empty
// values.
func FuzzConnectionString(f *testing.F) {
	for _, c := range connectionStringCases {
		f.Add(c.in)
	}
	f.Add("Host=db;Password=${PG}")
	f.Add("Server=x;Pwd='abc';")
	f.Add("host=a password=b")
	f.Add("jdbc:sqlserver://h;password={a;b}}c};user=u")
	f.Add("Password=\"unclosed;Host=x")
	f.Fuzz(func(t *testing.T, cs string) {
		for _, p := range connectionParts(cs) {
			if p.start < 0 || p.end > len(cs) || p.start > p.end {
				t.Fatalf("part %+v outside %q", p, cs)
			}
		}
		for _, k := range inlineSecrets(cs) {
			if !IsCredentialKey(k) && k != "password" {
				t.Fatalf("reported %q, which is not a credential key", k)
			}
		}
		masked := RedactConnectionString(cs)
		for _, p := range credentialSpans(masked) {
			// Read again, the masked string may split differently (a
			// hidden ';' no longer separates): what is left around *** is
			// at most quoting.
			raw := strings.TrimSpace(masked[p.start:p.end])
			v := strings.Trim(raw, " \t\"'{}")
			if v != "" && v != Redacted && !isSecretRef(raw) {
				t.Fatalf("%q masked to %q still shows %s=%q", cs, masked, p.key, v)
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
