package config

import (
	"fmt"
	"sort"
	"strings"
)

// Secrets resolves ${NAME} references. ok is false when NAME is not set.
type Secrets func(name string) (value string, ok bool)

// MissingSecretError lists the ${NAME} references that could not be filled,
// with where each is used.
type MissingSecretError struct {
	Missing []MissingSecret
}

// MissingSecret is one reference that has no value.
type MissingSecret struct {
	Name string
	Pos  Position
}

func (e *MissingSecretError) Error() string {
	var b strings.Builder
	for i, m := range e.Missing {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: secret ${%s} is not set: export %s in the runner's environment or add it to the --secrets-file", m.Pos, m.Name, m.Name)
	}
	return b.String()
}

// Render builds the environment's Honua metadata document: every object in a
// stable order (by id), ${NAME} references filled from secrets, unknown
// fields kept. A reference without a value is an error that names it; it is
// never rendered as an empty string. Render refuses an environment with
// errors. The document shares nothing with the environment.
func Render(env *Environment, secrets Secrets) (map[string]any, error) {
	doc, err := layout(env, secrets)
	if err != nil {
		return nil, err
	}
	for k, v := range doc {
		doc[k] = copyFilled(v)
	}
	return doc, nil
}

// RenderJSON renders the environment's document as indented JSON (what
// encoding/json writes for Render's document with two-space indent and no
// HTML escaping), straight from the environment's objects: no copy of
// the document is made on the way.
func RenderJSON(env *Environment, secrets Secrets) ([]byte, error) {
	doc, err := layout(env, secrets)
	if err != nil {
		return nil, err
	}
	out, err := appendJSON(make([]byte, 0, 64<<10), doc, 0)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", env.Name, err)
	}
	return append(out, '\n'), nil
}

// filledObject is an object of the document: its value with the secret
// fields filled (fields holds the filled ones; the value is not changed).
type filledObject struct {
	value  map[string]any
	fields map[string]any
}

// copyFilled copies a value of layout's document.
func copyFilled(v any) any {
	switch t := v.(type) {
	case filledObject:
		return t.copy()
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = copyFilled(e)
		}
		return out
	}
	return CopyValue(v)
}

func (f filledObject) copy() map[string]any {
	out := CopyValue(f.value).(map[string]any)
	for k, v := range f.fields {
		out[k] = v
	}
	return out
}

// layout is the document's top level: the environment's extra keys
// (shared, not copied), the object lists and the catalog as filledObjects.
func layout(env *Environment, secrets Secrets) (map[string]any, error) {
	if errs := env.Errors(); len(errs) > 0 {
		return nil, fmt.Errorf("environment %s has %d errors; the first: %s", env.Name, len(errs), errs[0])
	}
	doc := make(map[string]any, len(env.Extra)+len(Kinds))
	for k, v := range env.Extra {
		doc[k] = v
	}
	for _, k := range Kinds {
		if k != KindCatalog {
			doc[k.documentKey()] = []any{}
		}
	}
	delete(doc, KindRaster.documentKey()) // optional: only when there are rasters
	var missing []MissingSecret
	for _, o := range env.Sorted() {
		v := filledObject{value: o.Value, fields: fill(o, secrets, &missing)}
		if o.Kind == KindCatalog {
			doc["catalog"] = v
			continue
		}
		key := o.Kind.documentKey()
		list, _ := doc[key].([]any)
		doc[key] = append(list, v)
	}
	if len(missing) > 0 {
		sort.Slice(missing, func(i, j int) bool { return missing[i].Name < missing[j].Name })
		return nil, &MissingSecretError{Missing: missing}
	}
	return doc, nil
}

// fill returns o's secret fields (SecretFields, top-level fields) that
// hold ${NAME} references, with the references replaced by their values.
// References anywhere else are validation errors, and an environment with
// errors is never rendered, so nothing else is filled.
func fill(o *Object, secrets Secrets, missing *[]MissingSecret) map[string]any {
	var out map[string]any
	for _, path := range SecretFields[o.Kind] {
		s, ok := o.Value[path].(string)
		if !ok || !strings.Contains(s, "${") {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		out[path] = secretRefRe.ReplaceAllStringFunc(s, func(ref string) string {
			name := ref[2 : len(ref)-1]
			if secrets != nil {
				if val, ok := secrets(name); ok {
					return val
				}
			}
			*missing = append(*missing, MissingSecret{Name: name, Pos: o.PosOf(path)})
			return ref
		})
	}
	return out
}

// CopyValue returns a deep copy of a JSON-compatible value (maps and lists
// are copied, scalars shared).
func CopyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = CopyValue(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = CopyValue(e)
		}
		return out
	}
	return v
}
