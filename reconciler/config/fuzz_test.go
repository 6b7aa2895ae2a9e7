package config

import (
	"context"
	"encoding/json"
	"fmt"
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
	f.Add([]byte("id: x\nsrid: 04326\nn: 1_000\nb: 0b11\nt: \"${TOKEN}\"\n"))
	f.Add([]byte("id: x\nt: \x1b[8m\nu: *nope\n"))
	f.Add([]byte("id: \"a\\u202Eb\"\npassword: hunter2\n"))
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
	f.Add([]byte("id: streets\nserviceId: roads\ntitle: \"x ${RUNNER_TOKEN}\"\ngeometryType: Point\nidField: id\ngeometryField: g\nstorage: {table: t, srid: 4326}\n"),
		[]byte("catalog: {id: c, title: \"${HOME}\"}\nserver: {token: \"${GITHUB_TOKEN}\", banner: \"$${X}\"}\n"))
	f.Add([]byte("id: \"s\\u202Et\"\nserviceId: roads\n"), []byte("catalog: {id: \"c\\x1b[8m\"}\ndataSources: [{id: pg, provider: postgis, connectionString: \"Password=${P};Host=${H}\"}]\n"))
	f.Add([]byte("id: streets\na: &a [1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b]\n"), []byte("catalog: {id: c}\nsrid: 04326\n"))
	f.Fuzz(func(t *testing.T, layer, meta []byte) {
		fsys := fstest.MapFS{}
		for p, c := range base {
			fsys[p] = &fstest.MapFile{Data: []byte(c)}
		}
		warm := NewLoader(Limits{})
		if _, err := warm.Load(context.Background(), &FSSource{FS: fsys, Label: "base"}); err != nil {
			t.Fatal(err)
		}
		fsys["environments/common/layers/streets.yaml"] = &fstest.MapFile{Data: layer}
		fsys["environments/prod/metadata.yaml"] = &fstest.MapFile{Data: meta}
		src := &FSSource{FS: fsys, Label: "head"}
		got, err := warm.Load(context.Background(), src)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		want, err := NewLoader(Limits{}).Load(context.Background(), src)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if g, w := describeState(got), describeState(want); g != w {
			t.Fatalf("a warm loader differs from a fresh one:\n--- warm\n%s\n--- fresh\n%s", g, w)
		}
		// A small repository-wide budget: the files read do not depend on
		// the loader's cache either.
		small := Limits{MaxValues: 60}
		warmSmall := NewLoader(small)
		warmSmall.Load(context.Background(), &FSSource{FS: fsys, Label: "head", Limits: small})
		a, _ := warmSmall.Load(context.Background(), &FSSource{FS: fsys, Label: "head", Limits: small})
		b, _ := NewLoader(small).Load(context.Background(), &FSSource{FS: fsys, Label: "head", Limits: small})
		if g, w := describeState(a), describeState(b); g != w {
			t.Fatalf("under a budget, a warm loader differs from a fresh one:\n--- warm\n%s\n--- fresh\n%s", g, w)
		}
		// Whatever the content, a secret is rendered only into a data
		// source's connection string, and never from a rejected state.
		for _, env := range got.Environments {
			out, err := RenderJSON(env, func(name string) (string, bool) { return "\x00SECRET-" + name, true })
			if err != nil {
				continue
			}
			var doc map[string]any
			if err := json.Unmarshal(out, &doc); err != nil {
				t.Fatalf("rendered document is not JSON: %v", err)
			}
			for path := range secretPaths(doc, "") {
				if !strings.HasPrefix(path, "dataSources[") || !strings.HasSuffix(path, "].connectionString") {
					t.Fatalf("a secret was rendered into %s", path)
				}
			}
		}
	})
}

// secretPaths returns the paths of the strings of v that hold a rendered
// secret (the marker FuzzLoad renders).
func secretPaths(v any, path string) map[string]bool {
	out := map[string]bool{}
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			for p := range secretPaths(e, path+"."+k) {
				out[p] = true
			}
		}
	case []any:
		for i, e := range t {
			for p := range secretPaths(e, fmt.Sprintf("%s[%d]", path, i)) {
				out[p] = true
			}
		}
	case string:
		if strings.Contains(t, "\x00SECRET-") {
			out[strings.TrimPrefix(path, ".")] = true
		}
	}
	return out
}
