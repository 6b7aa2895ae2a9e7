package config

import (
	"strings"
	"testing"
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
