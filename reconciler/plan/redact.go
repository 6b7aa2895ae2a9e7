package plan

import (
	"sort"
	"strconv"
	"strings"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// The config model keeps ${NAME} references unexpanded and the validator
// rejects inline secrets, but a plan is posted to GitHub: it must not leak a
// password someone committed by mistake. Masking uses the config package's
// one definition of what is secret (config.IsCredentialKey, and its reading
// of connection strings), so what validation refuses inline is exactly what
// the plan hides. References are kept: they are what a reviewer must see.

// redactValue returns a copy of v with secrets hidden: every string is
// read as a connection string and its credentials masked, and the value of
// a credential key (password: hunter2) is masked whole. The states the plan
// was computed from stay untouched.
func redactValue(v any) any {
	switch t := v.(type) {
	case string:
		if !strings.ContainsAny(t, "=@") {
			return t
		}
		return config.RedactConnectionString(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			if config.IsCredentialKey(k) {
				out[k] = maskAll(e)
				continue
			}
			out[k] = redactValue(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = redactValue(e)
		}
		return out
	}
	return v
}

// maskAll hides every string and number of v but ${NAME} references: for
// the value of a credential key, and for a secret field that is not a
// string (a connection string written as a mapping of its parts).
func maskAll(v any) any {
	switch t := v.(type) {
	case string:
		if t == "" || config.IsSecretRef(strings.TrimSpace(t)) {
			return t
		}
		return config.Redacted
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = maskAll(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = maskAll(e)
		}
		return out
	case nil, bool:
		return t
	}
	return config.Redacted
}

// redactDetails hides secrets in the values of details. A secret field of
// kind (a data source's connectionString) that is not a string is hidden
// whole: its parts cannot be read as a connection string.
func redactDetails(kind config.Kind, details []Detail) []Detail {
	for i := range details {
		d := &details[i]
		if config.IsCredentialKey(lastKey(d.Path)) {
			d.From, d.To = maskAll(d.From), maskAll(d.To)
			continue
		}
		if secretFieldPath(kind, d.Path) {
			if _, ok := d.From.(string); !ok {
				d.From = maskAll(d.From)
			}
			if _, ok := d.To.(string); !ok {
				d.To = maskAll(d.To)
			}
		}
		d.From = redactValue(d.From)
		d.To = redactValue(d.To)
	}
	return details
}

// secretFieldPath reports whether a detail path is a secret field of kind
// or lies within one.
func secretFieldPath(kind config.Kind, path string) bool {
	for _, f := range config.SecretFields[kind] {
		if path == f || strings.HasPrefix(path, f+".") || strings.HasPrefix(path, f+"[") {
			return true
		}
	}
	return false
}

// lastKey is the map key a detail path ends with: "apiKey" of
// "server.auth.apiKey", "a.b" of `labels["a.b"]`, "" when the path ends
// with a list element.
func lastKey(path string) string {
	if strings.HasSuffix(path, `"]`) {
		if i := strings.LastIndex(path, `["`); i >= 0 {
			if k, err := strconv.Unquote(path[i+1 : len(path)-1]); err == nil {
				return k
			}
		}
		return ""
	}
	if strings.HasSuffix(path, "]") {
		return ""
	}
	return path[strings.LastIndexAny(path, ".]")+1:]
}

// collapseSecretFields replaces the details inside a secret field of kind
// that is not a string (a list or mapping where a connection string
// belongs) with one detail of the whole field: the paths of details
// inside it would name its values (connectionString[=hunter2]).
func collapseSecretFields(kind config.Kind, from, to map[string]any, details []Detail) []Detail {
	fields := config.SecretFields[kind]
	if len(fields) == 0 {
		return details
	}
	out := details[:0:0]
	done := map[string]bool{}
	for _, d := range details {
		f := ""
		for _, sf := range fields {
			if strings.HasPrefix(d.Path, sf+".") || strings.HasPrefix(d.Path, sf+"[") {
				f = sf
			}
		}
		if f == "" {
			out = append(out, d)
			continue
		}
		if !done[f] {
			done[f] = true
			out = append(out, Detail{Path: f, From: from[f], To: to[f]})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
