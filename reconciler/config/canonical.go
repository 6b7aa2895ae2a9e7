package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// identityKeys are the fields that identify an element of a list of objects,
// in order of preference: a list whose elements all carry one of them is a
// set keyed by it, so reordering it is not a change.
var identityKeys = []string{"name", "id", "value", "href"}

// ListIdentity returns the field that identifies the elements of list, or ""
// when the list is ordered (numbers such as a bbox, or objects without a
// common identity field). A list of strings is a set: its identity is the
// element itself, reported as ".".
func ListIdentity(list []any) string {
	if len(list) == 0 {
		return ""
	}
	allStrings := true
	for _, v := range list {
		if _, ok := v.(string); !ok {
			allStrings = false
			break
		}
	}
	if allStrings {
		return "."
	}
	for _, key := range identityKeys {
		seen := make(map[string]bool, len(list))
		ok := true
		for _, v := range list {
			m, isMap := v.(map[string]any)
			if !isMap {
				ok = false
				break
			}
			s, isStr := m[key].(string)
			if !isStr || seen[s] {
				ok = false
				break
			}
			seen[s] = true
		}
		if ok {
			return key
		}
	}
	return ""
}

// ElementKey returns the identity of one element of a list whose identity is
// id (as returned by ListIdentity).
func ElementKey(elem any, id string) string {
	if id == "." {
		s, _ := elem.(string)
		return s
	}
	m, _ := elem.(map[string]any)
	s, _ := m[id].(string)
	return s
}

// Canonical returns v with every set-like list sorted by its identity, so
// that two values that differ only in list order compare equal.
func Canonical(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = Canonical(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = Canonical(e)
		}
		if id := ListIdentity(out); id != "" {
			sort.SliceStable(out, func(i, j int) bool { return ElementKey(out[i], id) < ElementKey(out[j], id) })
		}
		return out
	}
	return v
}

// Digest is the hex SHA-256 of the canonical JSON encoding of v.
func Digest(v any) string {
	h := sha256.New()
	writeCanonical(h, Canonical(v))
	return hex.EncodeToString(h.Sum(nil))
}

type byteWriter interface{ Write([]byte) (int, error) }

// writeCanonical writes v as JSON with sorted keys and numbers in one form,
// so equal values always give equal bytes.
func writeCanonical(w byteWriter, v any) {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.Write([]byte{'{'})
		for i, k := range keys {
			if i > 0 {
				w.Write([]byte{','})
			}
			b, _ := json.Marshal(k)
			w.Write(b)
			w.Write([]byte{':'})
			writeCanonical(w, t[k])
		}
		w.Write([]byte{'}'})
	case []any:
		w.Write([]byte{'['})
		for i, e := range t {
			if i > 0 {
				w.Write([]byte{','})
			}
			writeCanonical(w, e)
		}
		w.Write([]byte{']'})
	case float64:
		w.Write([]byte(FormatNumber(t)))
	case int64:
		w.Write([]byte(strconv.FormatInt(t, 10)))
	case int:
		w.Write([]byte(strconv.Itoa(t)))
	default:
		b, err := json.Marshal(t)
		if err != nil {
			b = []byte(fmt.Sprintf("%q", fmt.Sprint(t)))
		}
		w.Write(b)
	}
}

// FormatNumber formats a float the way the canonical form and the plan show
// it: integral values without a fraction, others in shortest form.
func FormatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strings.TrimSuffix(strconv.FormatFloat(f, 'g', -1, 64), ".0")
}
