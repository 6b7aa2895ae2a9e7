package plan

import (
	"testing"

	"github.com/google/go-cmp/cmp"
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
			name: "reorder and number spelling are not details",
			from: map[string]any{"crs": []any{"a", "b"}, "srid": int64(4326), "fields": []any{map[string]any{"name": "x"}, map[string]any{"name": "y"}}},
			to:   map[string]any{"crs": []any{"b", "a"}, "srid": 4326.0, "fields": []any{map[string]any{"name": "y"}, map[string]any{"name": "x"}}},
			want: []Detail{},
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
