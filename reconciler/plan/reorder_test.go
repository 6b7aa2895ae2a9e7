package plan

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/honua-io/honua-gitops/reconciler/config"
)

func reversed(list []any) []any {
	out := slices.Clone(list)
	slices.Reverse(out)
	return out
}

// TestReorderIsAChange: the server reads these lists in order (the first
// CRS is the default, rules draw in order, fields are the queryables in
// order ...), so reordering one is a modification with a detail saying so.
func TestReorderIsAChange(t *testing.T) {
	style := func(v map[string]any) {
		v["rules"] = []any{
			map[string]any{"id": "major", "filter": map[string]any{"field": "class", "value": "major"}},
			map[string]any{"id": "minor", "maxScale": int64(20000)},
		}
		v["uniqueValue"] = map[string]any{"field": "class", "classes": []any{
			map[string]any{"value": "major", "symbol": map[string]any{"strokeColor": "#000000"}},
			map[string]any{"value": "minor", "symbol": map[string]any{"strokeColor": "#999999"}},
		}}
	}
	links := []any{map[string]any{"href": "https://a.example/x", "rel": "about"}, map[string]any{"href": "https://b.example/y", "rel": "license"}}
	layer := func(v map[string]any) {
		v["links"] = links
		v["styles"] = map[string]any{"defaultStyleId": "outline", "styleIds": []any{"outline", "fill"}}
		ext := sub(v, "extent")
		ext["bbox"] = []any{[]any{-158.0, 21.0, -157.0, 22.0}, []any{-157.9, 21.2, -157.8, 21.3}}
		ext["temporal"] = map[string]any{"interval": []any{[]any{"2020-01-01T00:00:00Z", nil}, []any{"2019-01-01T00:00:00Z", "2019-12-31T00:00:00Z"}}}
	}
	service := func(v map[string]any) {
		v["links"] = links
		sub(v, "ogc")["conformanceClasses"] = []any{"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core", "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"}
	}
	catalogLists := func(v map[string]any) {
		v["keywords"] = []any{"kailua", "gis"}
		v["links"] = links
	}
	tests := []struct {
		name    string
		key     config.Key
		prep    func(v map[string]any) // applied to base and head
		edit    func(v map[string]any) // applied to head
		id      string
		risk    Risk
		details []string
	}{
		{"layer fields", parcels, nil, func(v map[string]any) { v["fields"] = reversed(v["fields"].([]any)) }, "parcels", RiskMedium, []string{"fields#order"}},
		{"layer keywords", parcels, nil, func(v map[string]any) { v["keywords"] = reversed(v["keywords"].([]any)) }, "parcels", RiskLow, []string{"keywords#order"}},
		{"layer crs: the first is the default", parcels, nil, func(v map[string]any) { v["crs"] = reversed(v["crs"].([]any)) }, "parcels", RiskMedium, []string{"crs#order"}},
		{"layer style ids: the first is the default", parcels, layer, func(v map[string]any) {
			s := sub(v, "styles")
			s["styleIds"] = reversed(s["styleIds"].([]any))
		}, "parcels", RiskLow, []string{"styles.styleIds#order"}},
		{"layer links", parcels, layer, func(v map[string]any) { v["links"] = reversed(v["links"].([]any)) }, "parcels", RiskLow, []string{"links#order"}},
		{"layer bbox: the first is used", parcels, layer, func(v map[string]any) {
			e := sub(v, "extent")
			e["bbox"] = reversed(e["bbox"].([]any))
		}, "parcels", RiskLow, []string{"extent.bbox"}},
		{"layer temporal interval", parcels, layer, func(v map[string]any) {
			tm := sub(sub(v, "extent"), "temporal")
			tm["interval"] = reversed(tm["interval"].([]any))
		}, "parcels", RiskLow, []string{"extent.temporal.interval"}},
		{"style rules: drawing order", outline, style, func(v map[string]any) { v["rules"] = reversed(v["rules"].([]any)) }, "outline", RiskMedium, []string{"rules#order"}},
		{"style classes: the first sets the stroke", outline, style, func(v map[string]any) {
			u := sub(v, "uniqueValue")
			u["classes"] = reversed(u["classes"].([]any))
		}, "outline", RiskMedium, []string{"uniqueValue.classes#order"}},
		{"service additional CRS", planning, nil, func(v map[string]any) {
			o := sub(v, "ogc")
			o["additionalCrs"] = reversed(o["additionalCrs"].([]any))
		}, "planning", RiskMedium, []string{"ogc.additionalCrs#order"}},
		{"service conformance classes", planning, service, func(v map[string]any) {
			o := sub(v, "ogc")
			o["conformanceClasses"] = reversed(o["conformanceClasses"].([]any))
		}, "planning", RiskMedium, []string{"ogc.conformanceClasses#order"}},
		{"service links", planning, service, func(v map[string]any) { v["links"] = reversed(v["links"].([]any)) }, "planning", RiskMedium, []string{"links#order"}},
		{"catalog keywords", catalog, catalogLists, func(v map[string]any) { v["keywords"] = reversed(v["keywords"].([]any)) }, "city", RiskLow, []string{"keywords#order"}},
		{"catalog links", catalog, catalogLists, func(v map[string]any) { v["links"] = reversed(v["links"].([]any)) }, "city", RiskLow, []string{"links#order"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := baseObjects()
			if tt.prep != nil {
				base = mutated(base, tt.key, tt.prep)
			}
			head := mutated(base, tt.key, tt.edit)
			p := Compute(newState(newEnv("production", base...)), newState(newEnv("production", head...)), nil)
			changes := p.Environments[0].Changes
			if len(changes) != 1 {
				t.Fatalf("got %d changes, want 1: %+v", len(changes), changes)
			}
			c := changes[0]
			var paths []string
			for _, d := range c.Details {
				paths = append(paths, d.Path)
			}
			got := outcome{c.Kind, c.ID, c.Action, c.Breaking, c.Risk, paths}
			want := outcome{tt.key.Kind, tt.id, ActionModify, false, tt.risk, tt.details}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("change (-want +got; Reasons holds the detail paths):\n%s", diff)
			}
		})
	}
}

// TestUnorderedListsReordered: the server ignores the order of these lists
// (docs/plan-json.md), so reordering them alone is no change, and beside
// another change it is no detail.
func TestUnorderedListsReordered(t *testing.T) {
	attachments := func(v map[string]any) {
		v["attachments"] = map[string]any{
			"enabled":                true,
			"allowedContentTypes":    []any{"image/png", "image/jpeg", "application/pdf"},
			"disallowedContentTypes": []any{"application/x-msdownload", "text/html"},
		}
	}
	tests := []struct {
		name    string
		key     config.Key
		prep    func(v map[string]any)
		edit    func(v map[string]any)
		details []string // nil: no change at all
	}{
		{"service keywords", planning, nil, func(v map[string]any) { v["keywords"] = reversed(v["keywords"].([]any)) }, nil},
		{"layer content types", parcels, attachments, func(v map[string]any) {
			a := sub(v, "attachments")
			a["allowedContentTypes"] = reversed(a["allowedContentTypes"].([]any))
			a["disallowedContentTypes"] = reversed(a["disallowedContentTypes"].([]any))
		}, nil},
		{"service keywords beside a title", planning, nil, func(v map[string]any) {
			v["keywords"] = reversed(v["keywords"].([]any))
			v["title"] = "Planning"
		}, []string{"title"}},
		{"layer content types beside a keyword", parcels, attachments, func(v map[string]any) {
			a := sub(v, "attachments")
			a["allowedContentTypes"] = append(reversed(a["allowedContentTypes"].([]any)), "image/tiff")
		}, []string{"attachments.allowedContentTypes[=image/tiff]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := baseObjects()
			if tt.prep != nil {
				base = mutated(base, tt.key, tt.prep)
			}
			head := mutated(base, tt.key, tt.edit)
			p := Compute(newState(newEnv("production", base...)), newState(newEnv("production", head...)), nil)
			var got []string
			for _, c := range p.Environments[0].Changes {
				for _, d := range c.Details {
					got = append(got, string(c.Kind)+" "+c.ID+" "+d.Path)
				}
			}
			var want []string
			for _, d := range tt.details {
				want = append(want, string(tt.key.Kind)+" "+tt.key.ID+" "+d)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("details (-want +got):\n%s", diff)
			}
		})
	}
}
