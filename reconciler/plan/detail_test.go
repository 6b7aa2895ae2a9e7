package plan

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/honua-io/honua-gitops/reconciler/config"
)

func TestDetails(t *testing.T) {
	bbox := func(x float64) []any { return []any{[]any{x, 21.36, -157.7, 21.43}} }
	tests := []struct {
		name     string
		from, to map[string]any
		want     []Detail
	}{
		{
			name: "scalar",
			from: map[string]any{"geometryType": "Polygon"},
			to:   map[string]any{"geometryType": "MultiPolygon"},
			want: []Detail{{Path: "geometryType", From: "Polygon", To: "MultiPolygon"}},
		},
		{
			name: "nested map",
			from: map[string]any{"storage": map[string]any{"srid": int64(4326), "table": "a"}},
			to:   map[string]any{"storage": map[string]any{"srid": int64(3857), "table": "a"}},
			want: []Detail{{Path: "storage.srid", From: int64(4326), To: int64(3857)}},
		},
		{
			name: "field added and removed",
			from: map[string]any{"title": "t", "extent": map[string]any{"crs": "x"}},
			to:   map[string]any{"description": "d", "extent": map[string]any{"crs": "x"}},
			want: []Detail{{Path: "description", To: "d"}, {Path: "title", From: "t"}},
		},
		{
			name: "keyed list element modified, added, removed",
			from: map[string]any{"fields": []any{
				map[string]any{"name": "owner", "type": "string"},
				map[string]any{"name": "gone", "type": "int32"},
			}},
			to: map[string]any{"fields": []any{
				map[string]any{"name": "new", "type": "date"},
				map[string]any{"name": "owner", "type": "int64"},
			}},
			want: []Detail{
				{Path: "fields[name=gone]", From: map[string]any{"name": "gone", "type": "int32"}},
				{Path: "fields[name=new]", To: map[string]any{"name": "new", "type": "date"}},
				{Path: "fields[name=owner].type", From: "string", To: "int64"},
			},
		},
		{
			name: "list keyed by value",
			from: map[string]any{"uniqueValue": map[string]any{"classes": []any{map[string]any{"value": "highway", "symbol": map[string]any{"strokeColor": "#e31a1c"}}}}},
			to:   map[string]any{"uniqueValue": map[string]any{"classes": []any{map[string]any{"value": "highway", "symbol": map[string]any{"strokeColor": "#000000"}}}}},
			want: []Detail{{Path: "uniqueValue.classes[value=highway].symbol.strokeColor", From: "#e31a1c", To: "#000000"}},
		},
		{
			name: "string set",
			from: map[string]any{"keywords": []any{"parcels", "TMK"}},
			to:   map[string]any{"keywords": []any{"TMK", "property"}},
			want: []Detail{{Path: "keywords[=parcels]", From: "parcels"}, {Path: "keywords[=property]", To: "property"}},
		},
		{
			name: "string set from empty",
			from: map[string]any{"keywords": []any{}},
			to:   map[string]any{"keywords": []any{"bikes"}},
			want: []Detail{{Path: "keywords[=bikes]", To: "bikes"}},
		},
		{
			name: "selector values quoted when needed",
			from: map[string]any{"keywords": []any{"open data"}, "fields": []any{map[string]any{"name": "a]b"}}},
			to:   map[string]any{"keywords": []any{}, "fields": []any{}},
			want: []Detail{
				{Path: `fields[name="a]b"]`, From: map[string]any{"name": "a]b"}},
				{Path: `keywords[="open data"]`, From: "open data"},
			},
		},
		{
			name: "odd map key quoted",
			from: map[string]any{"labels": map[string]any{"a.b": "x"}},
			to:   map[string]any{"labels": map[string]any{"a.b": "y"}},
			want: []Detail{{Path: `labels["a.b"]`, From: "x", To: "y"}},
		},
		{
			name: "ordered list compared whole",
			from: map[string]any{"extent": map[string]any{"bbox": bbox(-157.78)}},
			to:   map[string]any{"extent": map[string]any{"bbox": bbox(-157.8)}},
			want: []Detail{{Path: "extent.bbox", From: bbox(-157.78), To: bbox(-157.8)}},
		},
		{
			name: "type change",
			from: map[string]any{"editing": true},
			to:   map[string]any{"editing": map[string]any{"enabled": true}},
			want: []Detail{{Path: "editing", From: true, To: map[string]any{"enabled": true}}},
		},
		{
			name: "key order and number spelling are not details",
			from: map[string]any{"srid": int64(4326), "fields": []any{map[string]any{"name": "x", "type": "int64"}}},
			to:   map[string]any{"srid": 4326.0, "fields": []any{map[string]any{"type": "int64", "name": "x"}}},
			want: []Detail{},
		},
		{
			name: "keyed list reordered",
			from: map[string]any{"fields": []any{map[string]any{"name": "x"}, map[string]any{"name": "y"}, map[string]any{"name": "z"}}},
			to:   map[string]any{"fields": []any{map[string]any{"name": "z"}, map[string]any{"name": "x"}, map[string]any{"name": "y"}}},
			want: []Detail{{Path: "fields#order", From: []any{"x", "y", "z"}, To: []any{"z", "x", "y"}}},
		},
		{
			name: "keyed list reordered and edited",
			from: map[string]any{"rules": []any{map[string]any{"id": "a", "maxScale": int64(5000)}, map[string]any{"id": "b"}, map[string]any{"id": "gone"}}},
			to:   map[string]any{"rules": []any{map[string]any{"id": "new"}, map[string]any{"id": "b"}, map[string]any{"id": "a", "maxScale": int64(9000)}}},
			want: []Detail{
				{Path: "rules#order", From: []any{"a", "b", "gone"}, To: []any{"new", "b", "a"}},
				{Path: "rules[id=a].maxScale", From: int64(5000), To: int64(9000)},
				{Path: "rules[id=gone]", From: map[string]any{"id": "gone"}},
				{Path: "rules[id=new]", To: map[string]any{"id": "new"}},
			},
		},
		{
			name: "elements added and removed without reordering",
			from: map[string]any{"fields": []any{map[string]any{"name": "x"}, map[string]any{"name": "y"}}},
			to:   map[string]any{"fields": []any{map[string]any{"name": "w"}, map[string]any{"name": "x"}, map[string]any{"name": "y"}}},
			want: []Detail{{Path: "fields[name=w]", To: map[string]any{"name": "w"}}},
		},
		{
			name: "string list reordered",
			from: map[string]any{"crs": []any{"a", "b"}},
			to:   map[string]any{"crs": []any{"b", "a"}},
			want: []Detail{{Path: "crs#order", From: []any{"a", "b"}, To: []any{"b", "a"}}},
		},
		{
			name: "string list with duplicates reordered",
			from: map[string]any{"keywords": []any{"a", "b", "a"}},
			to:   map[string]any{"keywords": []any{"a", "a", "b", "c"}},
			want: []Detail{
				{Path: "keywords#order", From: []any{"a", "b", "a"}, To: []any{"a", "a", "b", "c"}},
				{Path: "keywords[=c]", To: "c"},
			},
		},
		{
			name: "string list value replaced in place",
			from: map[string]any{"keywords": []any{"a", "b", "c"}},
			to:   map[string]any{"keywords": []any{"a", "x", "c"}},
			want: []Detail{{Path: "keywords[=b]", From: "b"}, {Path: "keywords[=x]", To: "x"}},
		},
		{
			name: "nested keyed list reordered",
			from: map[string]any{"uniqueValue": map[string]any{"classes": []any{map[string]any{"value": "highway"}, map[string]any{"value": "local"}}}},
			to:   map[string]any{"uniqueValue": map[string]any{"classes": []any{map[string]any{"value": "local"}, map[string]any{"value": "highway"}}}},
			want: []Detail{{Path: "uniqueValue.classes#order", From: []any{"highway", "local"}, To: []any{"local", "highway"}}},
		},
		{
			name: "ordered list without identity reordered",
			from: map[string]any{"extent": map[string]any{"bbox": []any{bbox(1)[0], bbox(2)[0]}}},
			to:   map[string]any{"extent": map[string]any{"bbox": []any{bbox(2)[0], bbox(1)[0]}}},
			want: []Detail{{Path: "extent.bbox", From: []any{bbox(1)[0], bbox(2)[0]}, To: []any{bbox(2)[0], bbox(1)[0]}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Details(tt.from, tt.to)); diff != "" {
				t.Errorf("Details (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDetailsOfUnorderedLists: the lists the server ignores the order of
// (config.UnorderedList) compare as multisets for their kind only; the same
// path in another kind is ordered.
func TestDetailsOfUnorderedLists(t *testing.T) {
	types := func(ts ...any) map[string]any {
		return map[string]any{"attachments": map[string]any{"allowedContentTypes": ts}}
	}
	tests := []struct {
		name     string
		kind     config.Kind
		from, to map[string]any
		want     []Detail
	}{
		{
			name: "service keywords reordered",
			kind: config.KindService,
			from: map[string]any{"keywords": []any{"x", "y"}, "title": "a"},
			to:   map[string]any{"keywords": []any{"y", "x"}, "title": "b"},
			want: []Detail{{Path: "title", From: "a", To: "b"}},
		},
		{
			name: "service keywords reordered and one added",
			kind: config.KindService,
			from: map[string]any{"keywords": []any{"x", "y"}},
			to:   map[string]any{"keywords": []any{"z", "y", "x"}},
			want: []Detail{{Path: "keywords[=z]", To: "z"}},
		},
		{
			name: "layer keywords reordered",
			kind: config.KindLayer,
			from: map[string]any{"keywords": []any{"x", "y"}},
			to:   map[string]any{"keywords": []any{"y", "x"}},
			want: []Detail{{Path: "keywords#order", From: []any{"x", "y"}, To: []any{"y", "x"}}},
		},
		{
			name: "layer content types reordered",
			kind: config.KindLayer,
			from: types("image/png", "image/jpeg"),
			to:   types("image/jpeg", "image/png"),
			want: []Detail{},
		},
		{
			name: "layer content types without identity reordered",
			kind: config.KindLayer,
			from: types(int64(1), map[string]any{"type": "image/png"}),
			to:   types(map[string]any{"type": "image/png"}, 1.0),
			want: []Detail{},
		},
		{
			name: "layer content types without identity changed",
			kind: config.KindLayer,
			from: types(int64(1), int64(2)),
			to:   types(int64(2), int64(2)),
			want: []Detail{{Path: "attachments.allowedContentTypes", From: []any{int64(1), int64(2)}, To: []any{int64(2), int64(2)}}},
		},
		{
			name: "service content types are ordered",
			kind: config.KindService,
			from: types("image/png", "image/jpeg"),
			to:   types("image/jpeg", "image/png"),
			want: []Detail{{Path: "attachments.allowedContentTypes#order", From: []any{"image/png", "image/jpeg"}, To: []any{"image/jpeg", "image/png"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, DetailsOf(tt.kind, tt.from, tt.to)); diff != "" {
				t.Errorf("DetailsOf(%s) (-want +got):\n%s", tt.kind, diff)
			}
		})
	}
}
