package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
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

// Digest is the hex SHA-256 of the canonical JSON-like encoding of v: keys
// sorted, set-like lists in identity order, numbers in one form. Equal
// content gives equal digests, whatever the key order, list order of sets or
// formatting of the source.
func Digest(v any) string {
	buf := digestBufs.Get().(*[]byte)
	b := appendCanonical((*buf)[:0], v)
	sum := sha256.Sum256(b)
	*buf = b
	digestBufs.Put(buf)
	return hex.EncodeToString(sum[:])
}

var digestBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// appendCanonical appends the canonical encoding of v to b without copying
// v: set-like lists are written in identity order through a permutation.
func appendCanonical(b []byte, v any) []byte {
	switch t := v.(type) {
	case map[string]any:
		var small [16]string
		keys := small[:0]
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, k)
			b = append(b, ':')
			b = appendCanonical(b, t[k])
		}
		return append(b, '}')
	case []any:
		order := make([]int, len(t))
		for i := range order {
			order[i] = i
		}
		if id := ListIdentity(t); id != "" {
			sort.SliceStable(order, func(i, j int) bool { return ElementKey(t[order[i]], id) < ElementKey(t[order[j]], id) })
		}
		b = append(b, '[')
		for i, idx := range order {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonical(b, t[idx])
		}
		return append(b, ']')
	case string:
		return strconv.AppendQuote(b, t)
	case float64:
		return append(b, FormatNumber(t)...)
	case int64:
		return strconv.AppendInt(b, t, 10)
	case int:
		return strconv.AppendInt(b, int64(t), 10)
	case bool:
		return strconv.AppendBool(b, t)
	case nil:
		return append(b, "null"...)
	}
	return fmt.Appendf(b, "%q", fmt.Sprint(v))
}

// FormatNumber formats a float the way the canonical form and the plan show
// it: integral values without a fraction, others in shortest form.
func FormatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strings.TrimSuffix(strconv.FormatFloat(f, 'g', -1, 64), ".0")
}
