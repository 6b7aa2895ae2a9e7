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
// in order of preference. An identity lets a plan pair the elements of two
// versions of a list and say which one changed; it says nothing about
// whether the list's order matters (see UnorderedList).
var identityKeys = []string{"name", "id", "value", "href"}

// ListIdentity returns the field that identifies the elements of list, or ""
// when they have none (numbers such as a bbox, objects without a common
// field holding a unique string). The elements of a list of strings are
// their own identity, reported as ".".
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

// unorderedLists is the one table of the lists whose order the Honua server
// ignores, by the kind of object that holds them and their path in it (see
// UnorderedList). Every other list is ordered: the server reads a CRS list's
// first entry as the default, draws style rules in order, lists fields in
// queryables order and so on, and a list it does not know is passed through
// as written. docs/plan-json.md repeats this table; keep them together.
var unorderedLists = map[Kind][]string{
	// Honua uses a service's keywords only sorted, in the catalog view.
	KindService: {"keywords"},
	// Honua copies a layer's attachment content types into hash sets.
	KindLayer: {"attachments.allowedContentTypes", "attachments.disallowedContentTypes"},
}

// unordered holds the paths of unorderedLists per kind, and unorderedPrefix
// every path that leads to one of them (the object itself, "" included), so
// that the digest tracks paths only where a table entry can still be met.
var unordered, unorderedPrefix = indexUnorderedLists()

func indexUnorderedLists() (full, prefix map[Kind]map[string]bool) {
	full, prefix = map[Kind]map[string]bool{}, map[Kind]map[string]bool{}
	for k, paths := range unorderedLists {
		full[k], prefix[k] = map[string]bool{}, map[string]bool{"": true}
		for _, p := range paths {
			full[k][p] = true
			for i := range len(p) {
				if p[i] == '.' || p[i] == '[' {
					prefix[k][p[:i]] = true
				}
			}
			prefix[k][p] = true
		}
	}
	return full, prefix
}

// UnorderedList reports whether the Honua server ignores the order of the
// list at path in an object of kind k, so that reordering it is no change.
// Every other list, including any the server does not know, is ordered.
//
// path names map keys joined with dots ("attachments.allowedContentTypes")
// and steps into the elements of a list with "[]" ("fields[].name"); build
// it with FieldPath and ElementPath.
func UnorderedList(k Kind, path string) bool { return unordered[k][path] }

// UnorderedWithin reports whether the value at path in an object of kind k
// is or may hold a list UnorderedList names. Below any other path every
// list is ordered, so a walk over an object need not build paths there.
func UnorderedWithin(k Kind, path string) bool { return unorderedPrefix[k][path] }

// FieldPath returns the path, in the form UnorderedList reads, of key in the
// map at path parent ("" for the object itself). A key that is empty or
// holds '.', '[', ']' or '"' is quoted in brackets (`labels["a.b"]`), so it
// can never pass for a nested path of the table.
func FieldPath(parent, key string) string {
	if key == "" || strings.ContainsAny(key, `.[]"`) {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// ElementPath returns the path, in the form UnorderedList reads, of the
// elements of the list at path list: list + "[]".
func ElementPath(list string) string { return list + "[]" }

// Digest is the hex SHA-256 of the canonical JSON-like encoding of v: keys
// sorted, numbers in one form, and every list in its own order, since
// without an object kind no list is known to be one the server ignores the
// order of. Objects are digested with DigestOf.
func Digest(v any) string { return DigestAt("", "", v) }

// DigestOf is the digest of the value of an object of kind k: as Digest,
// except that the lists UnorderedList names for k are taken as multisets,
// so that equal content gives equal digests whatever the key order, the
// order of those lists or the formatting of the source, and a reordered
// list the server reads in order gives another digest.
func DigestOf(k Kind, v map[string]any) string { return DigestAt(k, "", v) }

// DigestAt is the digest of v found at path (see UnorderedList) in an object
// of kind k: DigestOf for a part of an object. The plan uses it to compare
// the elements of unordered lists as multisets.
func DigestAt(k Kind, path string, v any) string {
	buf := digestBufs.Get().(*[]byte)
	c := canonical{kind: k}
	b := c.append((*buf)[:0], v, path, unorderedPrefix[k][path])
	sum := sha256.Sum256(b)
	*buf = b
	digestBufs.Put(buf)
	return hex.EncodeToString(sum[:])
}

var digestBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// canonical writes the canonical encoding of the values of one kind of
// object.
type canonical struct{ kind Kind }

// append appends the canonical encoding of v, found at path, to b without
// copying v. track is whether path leads to an entry of unorderedLists:
// below paths that lead nowhere, no path is built.
func (c canonical) append(b []byte, v any, path string, track bool) []byte {
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
			child, childTrack := "", false
			if track {
				child = FieldPath(path, k)
				childTrack = unorderedPrefix[c.kind][child]
			}
			b = c.append(b, t[k], child, childTrack)
		}
		return append(b, '}')
	case []any:
		elem, elemTrack := "", false
		if track {
			elem = ElementPath(path)
			elemTrack = unorderedPrefix[c.kind][elem]
		}
		b = append(b, '[')
		if track && unordered[c.kind][path] {
			// A multiset: the elements' encodings in sorted order.
			encoded := make([]string, len(t))
			for i, e := range t {
				encoded[i] = string(c.append(nil, e, elem, elemTrack))
			}
			sort.Strings(encoded)
			for i, e := range encoded {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, e...)
			}
			return append(b, ']')
		}
		for i, e := range t {
			if i > 0 {
				b = append(b, ',')
			}
			b = c.append(b, e, elem, elemTrack)
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
