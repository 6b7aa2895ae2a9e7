package plan

import (
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// Details returns the field-level differences between two values of an
// object of unknown kind (a top-level setting): DetailsOf with no list
// known to be unordered, so every list is compared in order. An object's
// details come from DetailsOf with its kind.
func Details(from, to map[string]any) []Detail { return DetailsOf("", from, to) }

// DetailsOf returns the field-level differences between two values of an
// object of kind k, sorted by path. Values that are equal up to key order,
// the order of the lists the server ignores the order of
// (config.UnorderedList) and the spelling of numbers (4326 and 4326.0) give
// none; the order of every other list counts.
//
// A path names one place in an object value:
//
//   - map keys are joined with dots: "geometryType", "storage.srid";
//     a key that is not made of letters, digits, '_', '-', '$' or '@'
//     is quoted in brackets: `labels["a.b"]`;
//   - an element of a list of objects identified by a field (see
//     config.ListIdentity) is selected by that field: "fields[name=owner]",
//     "fields[name=owner].type", "links[href=https://example.com]";
//   - an element of a list of strings is selected by its value:
//     "keywords[=bikes]", "crs[=http://www.opengis.net/def/crs/EPSG/0/4326]";
//   - a selector value that is empty or holds '[', ']', '"', '=', ',' or
//     white space is quoted as a Go string: `fields[name="a b"]`;
//   - "#order" after a list's path is the order of its elements: see below.
//
// An added field or element has a nil From, a removed one a nil To. The
// elements of a list of objects with an identity are paired by it, and a
// paired element is compared field by field below its selector; a list of
// strings is compared as a multiset, one detail per added or removed value.
// When such a list is ordered and the elements on both sides are no longer
// in the same relative order, one more detail at "<list path>#order" holds
// the identities of the old and the new list, in their order. Other lists
// (a bbox, a list of objects without a common identity field) are compared
// as a whole: one detail carries the old and the new list. A value that
// changes type (a map becoming a string) is one detail at its path.
func DetailsOf(k config.Kind, from, to map[string]any) []Detail {
	d := differ{kind: k, out: []Detail{}}
	d.diffMap("", d.root(), from, to)
	sort.SliceStable(d.out, func(i, j int) bool { return d.out[i].Path < d.out[j].Path })
	return d.out
}

// differ collects the details of one object. Each place is named twice: by
// its detail path (with element selectors) and by its table path for
// config.UnorderedList (with "[]" for any element), which is untracked where
// no unordered list can be below.
type differ struct {
	kind config.Kind
	out  []Detail
}

// untracked is the table path of places below which no list is unordered:
// the differ builds no paths there.
const untracked = "\x00"

func (d *differ) root() string {
	if config.UnorderedWithin(d.kind, "") {
		return ""
	}
	return untracked
}

// field is the table path of key in the map at tpath.
func (d *differ) field(tpath, key string) string {
	if tpath == untracked {
		return untracked
	}
	if p := config.FieldPath(tpath, key); config.UnorderedWithin(d.kind, p) {
		return p
	}
	return untracked
}

// elem is the table path of the elements of the list at tpath.
func (d *differ) elem(tpath string) string {
	if tpath == untracked {
		return untracked
	}
	if p := config.ElementPath(tpath); config.UnorderedWithin(d.kind, p) {
		return p
	}
	return untracked
}

// unordered reports whether the list at tpath is one the server ignores
// the order of.
func (d *differ) unordered(tpath string) bool {
	return tpath != untracked && config.UnorderedList(d.kind, tpath)
}

func (d *differ) add(path string, from, to any) {
	d.out = append(d.out, Detail{Path: path, From: from, To: to})
}

func (d *differ) diffMap(path, tpath string, a, b map[string]any) {
	for k, av := range a {
		p := keyPath(path, k)
		bv, ok := b[k]
		if !ok {
			d.add(p, av, nil)
			continue
		}
		d.diffValue(p, d.field(tpath, k), av, bv)
	}
	for k, bv := range b {
		if _, ok := a[k]; !ok {
			d.add(keyPath(path, k), nil, bv)
		}
	}
}

func (d *differ) diffValue(path, tpath string, a, b any) {
	switch at := a.(type) {
	case map[string]any:
		if bt, ok := b.(map[string]any); ok {
			d.diffMap(path, tpath, at, bt)
			return
		}
	case []any:
		if bt, ok := b.([]any); ok {
			d.diffList(path, tpath, at, bt)
			return
		}
	}
	if !d.equal(tpath, a, b) {
		d.add(path, a, b)
	}
}

func (d *differ) diffList(path, tpath string, a, b []any) {
	id := listIdentity(a, b)
	switch id {
	case "":
		if !d.equal(tpath, a, b) {
			d.add(path, a, b)
		}
		return
	case ".":
		d.diffStrings(path, a, b)
	default:
		d.diffKeyed(path, d.elem(tpath), id, a, b)
	}
	if d.unordered(tpath) || sameIdentities(a, b, id) {
		return
	}
	if ak, bk := identities(a, id), identities(b, id); commonOrderChanged(ak, bk) {
		d.add(path+"#order", stringList(ak), stringList(bk))
	}
}

// sameIdentities reports whether a and b hold elements of the same
// identities in the same order: the common case, checked without
// allocating.
func sameIdentities(a, b []any, id string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if config.ElementKey(a[i], id) != config.ElementKey(b[i], id) {
			return false
		}
	}
	return true
}

// diffKeyed pairs the elements of two lists by their identity field id.
func (d *differ) diffKeyed(path, elem, id string, a, b []any) {
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
			d.add(p, ae, nil)
			continue
		}
		d.diffValue(p, elem, ae, be)
	}
	for k, be := range bm {
		if _, ok := am[k]; !ok {
			d.add(path+"["+id+"="+selectorValue(k)+"]", nil, be)
		}
	}
}

// diffStrings compares two lists of strings as multisets: a list rarely
// holds a value twice, but when it does, the duplicate is a change too.
func (d *differ) diffStrings(path string, a, b []any) {
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
			d.add(p, s, nil)
		}
		for ; n > 0; n-- {
			d.add(p, nil, s)
		}
	}
}

// identities returns the identities of a list's elements, in its order.
func identities(list []any, id string) []string {
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = config.ElementKey(e, id)
	}
	return out
}

// commonOrderChanged reports whether the values that a and b have in common
// are in another relative order in b than in a: elements added or removed
// do not count, a reordering does. A value present n times in one list and
// m times in the other counts as its first min(n, m) occurrences in each.
func commonOrderChanged(a, b []string) bool {
	left := make(map[string]int, len(a))
	for _, s := range a {
		left[s]++
	}
	common := make(map[string]int, len(b))
	for _, s := range b {
		if common[s] < left[s] {
			common[s]++
		}
	}
	keep := func(list []string) []string {
		n := maps.Clone(common)
		out := make([]string, 0, len(list))
		for _, s := range list {
			if n[s] > 0 {
				n[s]--
				out = append(out, s)
			}
		}
		return out
	}
	return !slices.Equal(keep(a), keep(b))
}

func stringList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// listIdentity is the identity two versions of a list share: when one of
// them is empty, the other decides; when they disagree (strings became
// objects), the lists compare as a whole.
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
	// A selector names an element by its value, which may hold a
	// credential (links[href=https://u:pw@host]): masked as values are.
	if strings.ContainsAny(v, "=@") {
		v = config.RedactConnectionString(v)
	}
	if v == "" || strings.ContainsAny(v, "[]\"=, \t\r\n") || strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return strconv.Quote(v)
	}
	return v
}

// equalValue reports whether a and b are the same value for a plan when the
// kind of object they belong to does not matter: numbers compare by value
// whatever their Go type, lists in order.
func equalValue(a, b any) bool { return (&differ{}).equal(untracked, a, b) }

// equal reports whether a and b, found at table path tpath, are the same
// value: numbers compare by value whatever their Go type, and a list the
// server ignores the order of compares as a multiset.
func (d *differ) equal(tpath string, a, b any) bool {
	switch at := a.(type) {
	case map[string]any:
		bt, ok := b.(map[string]any)
		if !ok || len(at) != len(bt) {
			return false
		}
		for k, av := range at {
			bv, ok := bt[k]
			if !ok || !d.equal(d.field(tpath, k), av, bv) {
				return false
			}
		}
		return true
	case []any:
		bt, ok := b.([]any)
		if !ok || len(at) != len(bt) {
			return false
		}
		elem := d.elem(tpath)
		if d.unordered(tpath) {
			count := make(map[string]int, len(at))
			for i := range at {
				count[config.DigestAt(d.kind, elem, at[i])]++
				count[config.DigestAt(d.kind, elem, bt[i])]--
			}
			for _, n := range count {
				if n != 0 {
					return false
				}
			}
			return true
		}
		for i := range at {
			if !d.equal(elem, at[i], bt[i]) {
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
