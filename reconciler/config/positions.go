package config

import (
	"slices"
	"strconv"
)

// lineCol is a position within the object's own file, kept small: an
// object remembers one for every field.
type lineCol struct{ line, col int32 }

// fieldPath is a field path ("storage.table", "fields[2].type") as the
// decoder walks down to it, kept as the running 64-bit FNV-1a hash of the
// path's text rather than the text: an object remembers a position for
// every field, and the strings and maps that would take cost more memory
// than the object's value. Two paths of one object with the same hash (a
// chance near 1 in 10^15 for an object of 500 fields) would show one
// field's line for the other; nothing else depends on it.
type fieldPath struct {
	h   uint64
	set bool // false for the object itself (the empty path)
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// key is the path of the field k below p: "p.k", or "k" below the object.
func (p fieldPath) key(k string) fieldPath {
	h := uint64(fnvOffset)
	if p.set {
		h = fnvString(p.h, ".")
	}
	return fieldPath{h: fnvString(h, k), set: true}
}

// index is the path of the list item i below p: "p[i]".
func (p fieldPath) index(i int) fieldPath {
	h := uint64(fnvOffset)
	if p.set {
		h = p.h
	}
	var buf [24]byte
	b := append(buf[:0], '[')
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, ']')
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return fieldPath{h: h, set: true}
}

// hashPath is the hash a fieldPath walked down to path has.
func hashPath(path string) uint64 { return fnvString(fnvOffset, path) }

// positions maps field paths (by hash) to positions: sorted by hash, one
// entry per path, the first position met for it.
type positions []posEntry

type posEntry struct {
	h  uint64
	at lineCol
}

// seal sorts the entries recorded in document order, keeps the first of
// each path, and returns them in a slice of their own size.
func (ps positions) seal() positions {
	if len(ps) == 0 {
		return nil
	}
	slices.SortStableFunc(ps, func(a, b posEntry) int {
		switch {
		case a.h < b.h:
			return -1
		case a.h > b.h:
			return 1
		}
		return 0
	})
	out := make(positions, 0, len(ps))
	for i, e := range ps {
		if i == 0 || e.h != ps[i-1].h {
			out = append(out, e)
		}
	}
	return slices.Clip(out)
}

func (ps positions) find(path string) (lineCol, bool) {
	h := hashPath(path)
	i, ok := slices.BinarySearchFunc(ps, h, func(e posEntry, h uint64) int {
		switch {
		case e.h < h:
			return -1
		case e.h > h:
			return 1
		}
		return 0
	})
	if !ok {
		return lineCol{}, false
	}
	return ps[i].at, true
}
