package config

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Secrets never live in Git: a config names them as ${NAME} references, and
// whatever renders the document fills them from what the operator provided
// for that purpose. A reference is only filled where a secret belongs,
// SecretFields; anywhere else a pull request could copy any secret of the
// runner into public metadata (title: "Parks ${RUNNER_TOKEN}"), so a
// reference elsewhere is a validation error.

// SecretFields are the fields, per kind, whose ${NAME} references are filled
// when the document is rendered: a data source's connection string, the one
// place Honua's document carries credentials (rasters name theirs with
// source.credentialsId, an id, not a secret).
var SecretFields = map[Kind][]string{
	KindDataSource: {"connectionString"},
}

// IsSecretField reports whether the field at path of an object of kind k
// may hold ${NAME} references.
func IsSecretField(k Kind, path string) bool {
	for _, f := range SecretFields[k] {
		if f == path {
			return true
		}
	}
	return false
}

// secretRefRe matches a ${NAME} reference to a secret.
var secretRefRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// anyRefRe matches anything written like a reference, ${...}, for the error
// outside secret fields.
var anyRefRe = regexp.MustCompile(`\$\{[^}]*\}`)

// IsSecretRef reports whether v is exactly one ${NAME} reference.
func IsSecretRef(v string) bool { return isSecretRef(v) }

func isSecretRef(v string) bool {
	m := secretRefRe.FindStringIndex(v)
	return m != nil && m[0] == 0 && m[1] == len(v)
}

// SecretRefs returns the names of the ${NAME} references in s.
func SecretRefs(s string) []string {
	var out []string
	for _, m := range secretRefRe.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// SecretUse is one use of a ${NAME} reference: which field holds it and
// where in the field's value it is (Part: the connection-string key it is
// the value of, normalised, such as "password" or "host"; "user",
// "password" or "host" in a URL; "" when it is in no part).
type SecretUse struct {
	Name string
	Path string
	Part string
}

// SecretUses returns the uses of ${NAME} references in the secret fields
// of o, sorted. The plan compares them between base and head: a reference
// that appears, disappears or moves (from a password to a host, where a
// driver would send it to a server) is a change a reviewer must see.
func SecretUses(o *Object) []SecretUse {
	var out []SecretUse
	for _, path := range SecretFields[o.Kind] {
		s, ok := Lookup(o.Value, path).(string)
		if !ok || !strings.Contains(s, "${") {
			continue
		}
		parts := connectionParts(s)
		for _, m := range secretRefRe.FindAllStringSubmatchIndex(s, -1) {
			u := SecretUse{Name: s[m[2]:m[3]], Path: path}
			for _, p := range parts {
				if p.start <= m[0] && m[1] <= p.end {
					u.Part = p.key
					break
				}
			}
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Part < b.Part
	})
	return out
}

// checkSecrets walks an object's value: a ${...} reference outside the
// secret fields is an error (it would never be filled, and filling it would
// publish a secret); a credential written inline, in a connection string or
// as the value of a credential key anywhere (password: hunter2), is an
// error that never repeats the value. It runs on every object of every
// load, so it builds a field's path only for a finding.
func checkSecrets(o *Object, what string) []Diagnostic {
	w := secretWalk{o: o, what: what}
	w.walk(o.Value)
	return w.ds
}

// pathSeg is one step of a path: a mapping key, or a list index when key
// is "" and index >= 0.
type pathSeg struct {
	key   string
	index int
}

type secretWalk struct {
	o    *Object
	what string
	path []pathSeg
	ds   []Diagnostic
}

func (w *secretWalk) pathString() string {
	var b strings.Builder
	for _, s := range w.path {
		if s.index >= 0 {
			fmt.Fprintf(&b, "[%d]", s.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	return b.String()
}

// atSecretField reports whether the walk is at a secret field of the
// object (SecretFields are top-level fields).
func (w *secretWalk) atSecretField() bool {
	return len(w.path) == 1 && w.path[0].index < 0 && IsSecretField(w.o.Kind, w.path[0].key)
}

func (w *secretWalk) walk(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			w.path = append(w.path, pathSeg{key: k, index: -1})
			if s, ok := e.(string); ok && IsCredentialKey(k) && strings.TrimSpace(s) != "" && !strings.Contains(s, "${") && !w.atSecretField() {
				p := w.pathString()
				w.ds = append(w.ds, errorAt(w.o.PosOf(p), "inline-secret",
					"%s: %s holds a credential inline; secrets must never be in Git, and honua-gitops fills secret references only in %s: remove it and give the server the secret another way",
					w.what, p, secretFieldList()))
			} else {
				w.walk(e)
			}
			w.path = w.path[:len(w.path)-1]
		}
	case []any:
		for i, e := range t {
			w.path = append(w.path, pathSeg{index: i})
			w.walk(e)
			w.path = w.path[:len(w.path)-1]
		}
	case string:
		if w.atSecretField() {
			p := w.pathString()
			for _, key := range inlineSecrets(t) {
				w.ds = append(w.ds, errorAt(w.o.PosOf(p), "inline-secret",
					"%s: %s carries the %s inline; secrets must never be in Git: replace the value with a reference such as ${%s} and give the runner that secret",
					w.what, p, key, suggestSecretName(w.o.ID, key)))
			}
			if m := anyRefRe.FindString(t); m != "" && !secretRefRe.MatchString(m) {
				w.ds = append(w.ds, errorAt(w.o.PosOf(p), "secret-reference",
					"%s: %s has a reference that is not ${NAME}: a name is letters, digits and _, not starting with a digit", w.what, p))
			}
			return
		}
		if strings.Contains(t, "://") && strings.Contains(t, "@") && urlHasPassword(t) {
			p := w.pathString()
			w.ds = append(w.ds, errorAt(w.o.PosOf(p), "inline-secret",
				"%s: %s is a URL with a password; secrets must never be in Git, and honua-gitops fills secret references only in %s: remove the password from the URL",
				w.what, p, secretFieldList()))
		}
		if strings.Contains(t, "${") && anyRefRe.MatchString(t) {
			p := w.pathString()
			w.ds = append(w.ds, errorAt(w.o.PosOf(p), "secret-reference",
				"%s: %s holds a ${...} reference, but references are filled only in %s, where secrets belong (elsewhere a change could publish a secret): write the value itself",
				w.what, p, secretFieldList()))
		}
	}
}

// checkExtraSecrets applies the same rules to a top-level key that holds no
// objects (server), whose fields have no positions of their own.
func checkExtraSecrets(key string, v any, pos Position) []Diagnostic {
	o := &Object{Kind: Kind("setting"), ID: key, Pos: pos, Value: map[string]any{key: v}}
	return checkSecrets(o, "top-level key "+key)
}

func secretFieldList() string {
	var out []string
	for _, k := range Kinds {
		for _, f := range SecretFields[k] {
			out = append(out, fmt.Sprintf("a %s's %s", k, f))
		}
	}
	return strings.Join(out, ", ")
}

var nonAlnumRe = regexp.MustCompile(`[^A-Za-z0-9]+`)

func suggestSecretName(id, key string) string {
	name := strings.ToUpper(nonAlnumRe.ReplaceAllString(id, "_"))
	switch {
	case strings.HasSuffix(key, "pwd"), strings.HasSuffix(key, "passwd"):
		key = strings.TrimSuffix(strings.TrimSuffix(key, "pwd"), "passwd") + "password"
	}
	return strings.Trim(name, "_") + "_" + strings.ToUpper(nonAlnumRe.ReplaceAllString(key, "_"))
}

// urlHasPassword reports whether s is a URL whose user information holds a
// password (https://user:password@host), which masking hides.
func urlHasPassword(s string) bool {
	start, ok := urlStart(s)
	if !ok {
		return false
	}
	for _, p := range urlParts(s, start) {
		if p.key == "password" && strings.TrimSpace(s[p.start:p.end]) != "" {
			return true
		}
	}
	return false
}
