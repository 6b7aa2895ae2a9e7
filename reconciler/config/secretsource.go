package config

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// SecretEnvPrefix marks the environment variables that may fill secret
// references: ${PG_PASSWORD} is read from HONUA_SECRET_PG_PASSWORD. A
// config in Git names references, and a pull request is untrusted: without
// the prefix it could name any variable of the runner's environment (its
// own GitHub token, say) and have it rendered into the server's metadata.
const SecretEnvPrefix = "HONUA_SECRET_"

// SecretSources are what an operator provides to fill secret references,
// and nothing else is read: a secrets file, environment variables with
// SecretEnvPrefix, and environment variables the operator names one by one
// (Allowed), for secrets that already have a name of their own.
type SecretSources struct {
	// File holds the values of the secrets file (ParseSecretsFile), read
	// first.
	File map[string]string
	// LookupEnv reads the process environment (os.LookupEnv); nil reads
	// no environment variable at all.
	LookupEnv func(string) (string, bool)
	// Allowed are references that may be read from the environment
	// variable of the same name, without the prefix.
	Allowed []string
}

// Secrets returns the resolver of these sources: the secrets file, then
// SecretEnvPrefix+NAME, then NAME itself when NAME is Allowed.
func (s SecretSources) Secrets() Secrets {
	allowed := make(map[string]bool, len(s.Allowed))
	for _, a := range s.Allowed {
		allowed[a] = true
	}
	return func(name string) (string, bool) {
		if v, ok := s.File[name]; ok {
			return v, true
		}
		if s.LookupEnv == nil {
			return "", false
		}
		if v, ok := s.LookupEnv(SecretEnvPrefix + name); ok {
			return v, true
		}
		if allowed[name] {
			return s.LookupEnv(name)
		}
		return "", false
	}
}

var secretNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidSecretName reports whether name can be a reference's name: letters,
// digits and _, not starting with a digit.
func ValidSecretName(name string) bool { return secretNameRe.MatchString(name) }

// ParseSecretsFile reads a secrets file: one NAME=value a line, blank lines
// and # comments ignored, an optional "export " prefix, values optionally
// in single or double quotes (kept as written inside them). Errors name the
// file and line and never echo any part of the line: a line that does not
// parse may hold a secret anywhere in it. Nothing is returned on error.
func ParseSecretsFile(name string, data []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		text = strings.TrimPrefix(text, "export ")
		k, v, ok := strings.Cut(text, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: the line is not NAME=value: write it so (the line is not shown, it may hold a secret)", name, line)
		}
		k = strings.TrimSpace(k)
		if !ValidSecretName(k) {
			return nil, fmt.Errorf("%s:%d: the name before '=' is not a valid name: use letters, digits and _, not starting with a digit (the line is not shown, it may hold a secret)", name, line)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 1 && (v[0] == '"' || v[0] == '\'') {
			if len(v) < 2 || v[len(v)-1] != v[0] {
				return nil, fmt.Errorf("%s:%d: the value of %s opens a quote it does not close: add the closing %c", name, line, k, v[0])
			}
			v = v[1 : len(v)-1]
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%s:%d: %s is set twice: remove one", name, line, k)
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}
