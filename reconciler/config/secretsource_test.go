package config

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseSecretsFile(t *testing.T) {
	got, err := ParseSecretsFile("s.env", []byte("A=1\n\n# c\nexport B = \"two words\"\nC='x=y'\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got["A"] != "1" || got["B"] != "two words" || got["C"] != "x=y" {
		t.Errorf("got %v", got)
	}
	for _, bad := range []struct{ in, want, secret string }{
		{"A=1\nhunter2\n", "s.env:2: the line is not NAME=value", "hunter2"},
		{"1A=x\n", "s.env:1: the name before '=' is not a valid name", "1A"},
		// A colon where '=' belongs: the "name" holds the secret.
		{"PGPASSWORD: s3cr=t\n", "s.env:1: the name before '=' is not a valid name", "s3cr"},
		{"A='0pen!x\n", "s.env:1: the value of A opens a quote", "0pen!x"},
		{"A=\"\n", "s.env:1: the value of A opens a quote", ""},
		{"A=1\nA=2\n", "s.env:2: A is set twice", ""},
	} {
		m, err := ParseSecretsFile("s.env", []byte(bad.in))
		if err == nil || !strings.Contains(err.Error(), bad.want) || m != nil {
			t.Errorf("%q: err = %v, want %q", bad.in, err, bad.want)
			continue
		}
		if bad.secret != "" && strings.Contains(err.Error(), bad.secret) {
			t.Errorf("%q: the error echoes %q: %v", bad.in, bad.secret, err)
		}
	}
}

func TestSecretSources(t *testing.T) {
	env := map[string]string{"RUNNER_TOKEN": "ghs_x", "HONUA_SECRET_PG": "pg-env", "NAMED": "named", "HONUA_SECRET_BOTH": "env"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	s := SecretSources{File: map[string]string{"BOTH": "file"}, LookupEnv: lookup, Allowed: []string{"NAMED"}}.Secrets()
	for name, want := range map[string]string{"PG": "pg-env", "NAMED": "named", "BOTH": "file"} {
		if v, ok := s(name); !ok || v != want {
			t.Errorf("%s = %q %v, want %q", name, v, ok, want)
		}
	}
	if v, ok := s("RUNNER_TOKEN"); ok {
		t.Errorf("an unprefixed variable nobody named was read: %q", v)
	}
	if _, ok := (SecretSources{}).Secrets()("PG"); ok {
		t.Error("no sources read something")
	}
}

// FuzzParseSecretsFile: the secrets-file parser never panics, returns
// nothing half-read on error, never echoes a line in an error, accepts only
// valid names, and what it reads survives being written back and read again.
func FuzzParseSecretsFile(f *testing.F) {
	f.Add([]byte("A=1\nexport B='x'\n# c\n"))
	f.Add([]byte("A=\"unterminated\n"))
	f.Add([]byte("A= 'q' \r\nB=\n"))
	f.Add([]byte("PGPASSWORD: hunter2=x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseSecretsFile("f", data)
		if err != nil {
			if m != nil {
				t.Fatalf("error %v with a partial result", err)
			}
			// Whatever the error, no run of 6 characters of a line that
			// is not a name shows in it.
			msg := strings.TrimPrefix(err.Error(), "f:")
			for _, line := range strings.Split(string(data), "\n") {
				for i := 0; i+6 <= len(line); i++ {
					frag := line[i : i+6]
					if ValidSecretName(frag) || strings.TrimSpace(frag) != frag || strings.ContainsAny(frag, "'\"") {
						continue
					}
					if strings.Contains(msg, frag) {
						t.Fatalf("error %q echoes %q of the input", err, frag)
					}
				}
			}
			return
		}
		var again bytes.Buffer
		for k, v := range m {
			if !ValidSecretName(k) {
				t.Fatalf("invalid name %q accepted", k)
			}
			if strings.ContainsAny(v, "'\n\r") {
				continue
			}
			again.WriteString(k + "='" + v + "'\n")
		}
		m2, err := ParseSecretsFile("f", again.Bytes())
		if err != nil {
			t.Fatalf("re-reading %q: %v", again.String(), err)
		}
		for k, v := range m2 {
			if m[k] != v {
				t.Fatalf("%s: %q became %q", k, m[k], v)
			}
		}
	})
}
