package plan

import (
	"regexp"
	"strings"
)

// The config model keeps ${NAME} references unexpanded and the validator
// rejects inline secrets, but a plan is posted to GitHub: it must not leak a
// password someone committed by mistake. These patterns find the secret part
// of a connection string or URL; a value that is only a ${NAME} reference is
// kept, since the reference is what the reviewer needs to see.
var (
	secretAssignment = regexp.MustCompile(`(?i)\b(password|pwd|passwd|secret|client[ _-]?secret|token|access[ _-]?token|api[ _-]?key|access[ _-]?key|account[ _-]?key|shared[ _-]?access[ _-]?key|sas[ _-]?token|private[ _-]?key|sig)(\s*=\s*)([^;&\s]*)`)
	urlPassword      = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@/\s]+)(@)`)
	secretReference  = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*\}$`)
)

const redacted = "***"

// redactString hides the secrets of a connection string or URL.
func redactString(s string) string {
	if !strings.ContainsAny(s, "=@") {
		return s
	}
	s = secretAssignment.ReplaceAllStringFunc(s, func(m string) string {
		g := secretAssignment.FindStringSubmatch(m)
		if g[3] == "" || secretReference.MatchString(g[3]) {
			return m
		}
		return g[1] + g[2] + redacted
	})
	return urlPassword.ReplaceAllStringFunc(s, func(m string) string {
		g := urlPassword.FindStringSubmatch(m)
		if secretReference.MatchString(g[2]) {
			return m
		}
		return g[1] + redacted + g[3]
	})
}

// redactValue returns a copy of v with redactString applied to every string
// in it; the states the plan was computed from stay untouched.
func redactValue(v any) any {
	switch t := v.(type) {
	case string:
		return redactString(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
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

// redactDetails hides secrets in the values of details.
func redactDetails(details []Detail) []Detail {
	for i := range details {
		details[i].From = redactValue(details[i].From)
		details[i].To = redactValue(details[i].To)
	}
	return details
}
