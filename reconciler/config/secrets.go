package config

import (
	"net/url"
	"regexp"
	"strings"
)

// secretRefRe matches a ${NAME} reference to a secret.
var secretRefRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// secretKeyRe matches the keys of a connection string that carry secrets.
var secretKeyRe = regexp.MustCompile(`(?i)^(password|pwd|passwd|secret|client_?secret|token|access_?token|api_?key|account_?key|shared_?access_?key|sas_?token|private_?key)$`)

// checkSecrets reports a data source whose connection string carries a
// secret inline instead of as a ${NAME} reference. The message never repeats
// the secret.
func checkSecrets(o *Object, what string) []Diagnostic {
	cs, _ := o.Value["connectionString"].(string)
	if cs == "" {
		return nil
	}
	var ds []Diagnostic
	for _, key := range inlineSecrets(cs) {
		ds = append(ds, errorAt(o.PosOf("connectionString"), "inline-secret",
			"%s: connectionString carries the %s inline; secrets must never be in Git: replace the value with a reference such as ${%s} and give the runner that variable",
			what, key, suggestSecretName(o.ID, key)))
	}
	return ds
}

// inlineSecrets returns the names of the secret-bearing parts of a
// connection string whose value is not a whole ${NAME} reference.
func inlineSecrets(cs string) []string {
	var found []string
	// URL form: scheme://user:password@host/db?password=...
	if i := strings.Index(cs, "://"); i > 0 && !strings.Contains(cs[:i], ";") {
		if u, err := url.Parse(cs); err == nil {
			if p, ok := u.User.Password(); ok && !isSecretRef(p) {
				found = append(found, "password")
			}
			for k, vs := range u.Query() {
				if secretKeyRe.MatchString(strings.ReplaceAll(k, " ", "")) {
					for _, v := range vs {
						if !isSecretRef(v) {
							found = append(found, strings.ToLower(k))
						}
					}
				}
			}
			return found
		}
	}
	// Key=value;key=value (ADO.NET, libpq "key=value key=value").
	sep := ";"
	if !strings.Contains(cs, ";") {
		sep = " "
	}
	for _, part := range strings.Split(cs, sep) {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		k = strings.ReplaceAll(strings.TrimSpace(k), " ", "")
		v = strings.Trim(strings.TrimSpace(v), `'"`)
		if secretKeyRe.MatchString(k) && v != "" && !isSecretRef(v) {
			found = append(found, strings.ToLower(k))
		}
	}
	return found
}

func isSecretRef(v string) bool {
	m := secretRefRe.FindStringIndex(v)
	return m != nil && m[0] == 0 && m[1] == len(v)
}

func suggestSecretName(id, key string) string {
	name := strings.ToUpper(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(id, "_"))
	if key == "pwd" || key == "passwd" {
		key = "password"
	}
	return strings.Trim(name, "_") + "_" + strings.ToUpper(key)
}

// SecretRefs returns the names of the ${NAME} references in s.
func SecretRefs(s string) []string {
	var out []string
	for _, m := range secretRefRe.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}
