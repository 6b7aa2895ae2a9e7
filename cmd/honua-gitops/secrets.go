package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

var secretNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseSecretsFile reads a KEY=VALUE file: one assignment a line, blank lines
// and # comments ignored, an optional "export " prefix, values optionally in
// single or double quotes. Errors name the file and line, never the value.
func parseSecretsFile(name string, data []byte) (map[string]string, error) {
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
			return nil, fmt.Errorf("%s:%d: expected KEY=VALUE: write the line as NAME=value", name, line)
		}
		k = strings.TrimSpace(k)
		if !secretNameRe.MatchString(k) {
			return nil, fmt.Errorf("%s:%d: %q is not a valid name: use letters, digits and _ (not starting with a digit)", name, line, k)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
			if v[len(v)-1] != v[0] {
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

// secretsFrom resolves references from the secrets file first, then the
// process environment.
func secretsFrom(file string) (config.Secrets, error) {
	var fromFile map[string]string
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading secrets file: %w", err)
		}
		fromFile, err = parseSecretsFile(file, data)
		if err != nil {
			return nil, err
		}
	}
	return func(name string) (string, bool) {
		if v, ok := fromFile[name]; ok {
			return v, true
		}
		return os.LookupEnv(name)
	}, nil
}
