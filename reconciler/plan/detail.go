package plan

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// Details returns the field-level differences between two object values,
// sorted by path. Values that are equal up to key order, the order of
// set-like lists and the spelling of numbers (4326 and 4326.0) give none.
//
// A path names one place in an object value:
//
//   - map keys are joined with dots: "geometryType", "storage.srid";
//     a key that is not made of letters, digits, '_', '-', '$' or '@'
//     is quoted in brackets: `labels["a.b"]`;
//   - an element of a list of objects identified by a field (see
//     config.ListIdentity) is selected by that field: "fields[name=owner]",
//     "fields[name=owner].type", "links[href=https://example.com]";
//   - an element of a list of strings (a set) is selected by its value:
//     "keywords[=bikes]", "crs[=http://www.opengis.net/def/crs/EPSG/0/4326]";
//   - a selector value that is empty or holds '[', ']', '"', '=', ',' or
//     white space is quoted as a Go string: `fields[name="a b"]`.
//
// An added field or element has a nil From, a removed one a nil To. A
// modified element of a keyed list is compared field by field below its
// selector. Ordered lists (a bbox, a list of objects without a common
// identity field) are compared as a whole: one detail carries the old and
// the new list. A value that changes type (a map becoming a string) is one
// detail at its path.
func Details(from, to map[string]any) []Detail {
	out := []Detail{}
	diffMap("", from, to, &out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func diffMap(path string, a, b map[string]any, out *[]Detail) {
	for k, av := range a {
		p := keyPath(path, k)
		bv, ok := b[k]
		if !ok {
			*out = append(*out, Detail{Path: p, From: av, To: nil})
			continue
		}
		diffValue(p, av, bv, out)
	}
	for k, bv := range b {
		if _, ok := a[k]; !ok {
			*out = append(*out, Detail{Path: keyPath(path, k), From: nil, To: bv})
		}
	}
}

func diffValue(path string, a, b any, out *[]Detail) {
	switch at := a.(type) {
	case map[string]any:
		if bt, ok := b.(map[string]any); ok {
			diffMap(path, at, bt, out)
			return
		}
	case []any:
		if bt, ok := b.([]any); ok {
			diffList(path, at, bt, out)
			return
		}
	}
	if !equalValue(a, b) {
		*out = append(*out, Detail{Path: path, From: a, To: b})
	}
}

func diffList(path string, a, b []any, out *[]Detail) {
	id := listIdentity(a, b)
	if id == "" {
		if !equalValue(a, b) {
			*out = append(*out, Detail{Path: path, From: a, To: b})
		}
		return
	}
	if id == "." {
		diffStringSet(path, a, b, out)
		return
	}
	am := make(map[string]any, len(a))
	for _, e := range a {
		am[config.ElementKey(e, id)] = e
	}
	bm := make(map[string]any, len(b))
	for _, e := range b {
		bm[config.ElementKey(e, id)] = e
	}
	for k, ae := range am {
		p := path + "[" + id + "=" + selectorValue(k) + "]"
		be, ok := bm[k]
		if !ok {
			*out = append(*out, Detail{Path: p, From: ae, To: nil})
			continue
		}
		diffValue(p, ae, be, out)
	}
	for k, be := range bm {
		if _, ok := am[k]; !ok {
			*out = append(*out, Detail{Path: path + "[" + id + "=" + selectorValue(k) + "]", From: nil, To: be})
		}
	}
}

// diffStringSet compares two lists of strings as multisets: a set rarely
// holds a value twice, but when it does, the duplicate is a change too.
func diffStringSet(path string, a, b []any, out *[]Detail) {
	count := make(map[string]int, len(a)+len(b))
	for _, e := range a {
		count[e.(string)]--
	}
	for _, e := range b {
		count[e.(string)]++
	}
	for s, n := range count {
		p := path + "[=" + selectorValue(s) + "]"
		for ; n < 0; n++ {
			*out = append(*out, Detail{Path: p, From: s, To: nil})
		}
		for ; n > 0; n-- {
			*out = append(*out, Detail{Path: p, From: nil, To: s})
		}
	}
}

// listIdentity is the identity two versions of a list share: when one of
// them is empty, the other decides; when they disagree (a set became an
// ordered list), the lists compare as a whole.
func listIdentity(a, b []any) string {
	ia, ib := config.ListIdentity(a), config.ListIdentity(b)
	switch {
	case len(a) == 0:
		return ib
	case len(b) == 0:
		return ia
	case ia == ib:
		return ia
	}
	return ""
}

func keyPath(path, key string) string {
	if !simpleKey(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func simpleKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '_', r == '-', r == '$', r == '@':
		default:
			return false
		}
	}
	return true
}

func selectorValue(v string) string {
	if v == "" || strings.ContainsAny(v, "[]\"=, \t\r\n") || strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return strconv.Quote(v)
	}
	return v
}

// equalValue reports whether a and b are the same value for a plan: numbers
// compare by value whatever their Go type, set-like lists ignore order.
func equalValue(a, b any) bool {
	switch at := a.(type) {
	case map[string]any:
		bt, ok := b.(map[string]any)
		if !ok || len(at) != len(bt) {
			return false
		}
		for k, av := range at {
			bv, ok := bt[k]
			if !ok || !equalValue(av, bv) {
				return false
			}
		}
		return true
	case []any:
		bt, ok := b.([]any)
		if !ok || len(at) != len(bt) {
			return false
		}
		if config.ListIdentity(at) != "" || config.ListIdentity(bt) != "" {
			ca, cb := config.Canonical(at).([]any), config.Canonical(bt).([]any)
			at, bt = ca, cb
		}
		for i := range at {
			if !equalValue(at[i], bt[i]) {
				return false
			}
		}
		return true
	}
	if fa, ok := number(a); ok {
		fb, ok := number(b)
		return ok && (fa == fb || math.IsNaN(fa) && math.IsNaN(fb))
	}
	return a == b
}

// number returns v as a float64 when it is a number.
func number(v any) (float64, bool) {
	switch t := v.(type) {
	case int64:
		return float64(t), true
	case int:
		return float64(t), true
	case float64:
		return t, true
	}
	return 0, false
}
