package config

import (
	"testing"
)

// TestPosOf: every field of an object, nested ones and list items too, has
// the line and column where it is written; a path the object does not
// have falls back to its nearest parent, then to the object.
func TestPosOf(t *testing.T) {
	src := "id: roads\n" + // 1
		"serviceId: transport\n" + // 2
		"storage:\n" + // 3
		"  table: roads\n" + // 4
		"fields:\n" + // 5
		"  - name: gid\n" + // 6
		"    type: int\n" + // 7
		"  - name: geom\n" + // 8
		"    type: geometry\n" // 9
	pf := parseFile("environments/common/layers/roads.yaml", []byte(src), DefaultLimits, nil)
	if len(pf.objects) != 1 {
		t.Fatalf("objects: %d, diagnostics %v", len(pf.objects), pf.diags)
	}
	o := pf.objects[0]
	for path, want := range map[string][2]int{
		"id":                 {1, 5},
		"serviceId":          {2, 12},
		"storage":            {4, 3},
		"storage.table":      {4, 10},
		"fields":             {6, 3},
		"fields[0]":          {6, 5},
		"fields[0].type":     {7, 11},
		"fields[1].name":     {8, 11},
		"fields[1].type":     {9, 11},
		"fields[1].nope":     {8, 5},  // the parent item
		"fields[7].type":     {6, 3},  // no such item: the list
		"storage.table.deep": {4, 10}, // below a scalar: the scalar
		"absent":             {1, 1},  // the object
		"":                   {1, 1},
	} {
		p := o.PosOf(path)
		if p.File != "environments/common/layers/roads.yaml" || p.Line != want[0] || p.Column != want[1] {
			t.Errorf("PosOf(%q) = %s:%d:%d, want line %d column %d", path, p.File, p.Line, p.Column, want[0], want[1])
		}
	}
	// NewObject, for callers that build objects, takes positions by path.
	n := NewObject(KindLayer, "x", Position{File: "f.yaml", Line: 1, Column: 1}, map[string]any{"id": "x"},
		map[string]Position{"id": {Line: 4, Column: 2}, "a.b": {Line: 6, Column: 3}})
	if p := n.PosOf("a.b.c"); p.Line != 6 || p.Column != 3 {
		t.Errorf("NewObject: PosOf(a.b.c) = %d:%d, want 6:3", p.Line, p.Column)
	}
	if p := n.PosOf("a"); p.Line != 1 {
		t.Errorf("NewObject: PosOf(a) = line %d, want the object's line 1", p.Line)
	}
}

// TestFieldPathHash: the hash the decoder builds step by step is the hash
// of the path's text, which PosOf looks up.
func TestFieldPathHash(t *testing.T) {
	p := fieldPath{}.key("fields").index(12).key("type")
	if p.h != hashPath("fields[12].type") {
		t.Fatal("fields[12].type: the walked hash differs from the text's")
	}
	if q := (fieldPath{}).index(0); q.h != hashPath("[0]") {
		t.Fatal("[0]: the walked hash differs from the text's")
	}
	// "a.b" the key and a→b the path are one text, so one path to PosOf.
	root := fieldPath{}
	if root.key("a").key("b").h != root.key("a.b").h {
		t.Fatal("a→b and the key a.b hash differently, unlike their text")
	}
}
