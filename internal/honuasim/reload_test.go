package honuasim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestSampleDocumentsReloadAndServeTheirLayers(t *testing.T) {
	for _, sample := range []string{"config", "config-next"} {
		for env, doc := range sampleDocs(t, sample) {
			t.Run(sample+"/"+env, func(t *testing.T) {
				s, path := newSim(t, nil)
				if a := get(t, s.URL()+"/healthz/ready"); a.Status != http.StatusServiceUnavailable {
					t.Errorf("ready before any document = %d, want 503", a.Status)
				}
				writeDoc(t, path, doc)
				if a := reload(t, s); a.Status != http.StatusOK || a.Body["status"] != "reloaded" {
					t.Fatalf("reload = %d %s, want 200 reloaded", a.Status, a.Raw)
				}
				if !bytes.Equal(s.Loaded(), doc) {
					t.Error("Loaded() is not the document on disk")
				}
				if got := s.Reloads(); got != 1 {
					t.Errorf("Reloads() = %d, want 1", got)
				}
				if a := get(t, s.URL()+"/healthz/ready"); a.Status != http.StatusOK {
					t.Errorf("ready = %d, want 200", a.Status)
				}
				ids := collectionIDs(t, doc)
				if len(ids) == 0 {
					t.Fatal("the sample has no layers")
				}
				for _, id := range ids {
					a := get(t, s.URL()+"/ogc/collections/"+id)
					if a.Status != http.StatusOK || a.Body["id"] != id {
						t.Errorf("collection %s = %d %s", id, a.Status, a.Raw)
					}
					a = get(t, s.URL()+"/ogc/collections/"+id+"/items?limit=1")
					if a.Status != http.StatusOK || a.Body["type"] != "FeatureCollection" {
						t.Errorf("items of %s = %d %s", id, a.Status, a.Raw)
						continue
					}
					if f, _ := a.Body["features"].([]any); len(f) != 1 {
						t.Errorf("items of %s?limit=1: %d features, want 1", id, len(f))
					}
				}
				list := get(t, s.URL()+"/ogc/collections")
				if cs, _ := list.Body["collections"].([]any); len(cs) != len(ids) {
					t.Errorf("/ogc/collections lists %d, want %d", len(cs), len(ids))
				}
			})
		}
	}
}

func TestUnknownCollectionsAre404(t *testing.T) {
	s, _ := newSim(t, productionDoc(t))
	id := collectionIDs(t, productionDoc(t))[0]
	layer := id[strings.Index(id, "::")+2:]
	for _, path := range []string{
		"/ogc/collections/nosuch::layer",
		"/ogc/collections/nosuch::layer/items?limit=1",
		"/ogc/collections/" + layer, // a layer id alone is not a collection id
		"/ogc/nothing",
	} {
		if a := get(t, s.URL()+path); a.Status != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, a.Status)
		}
	}
}

// invalidCases break one rule each of a valid document; want is a part
// of the problem the server must name. schema marks the cases the
// published JSON schema rejects too.
func invalidCases() []struct {
	name   string
	edit   func(top map[string]any)
	want   string
	schema bool
} {
	return []struct {
		name   string
		edit   func(top map[string]any)
		want   string
		schema bool
	}{
		{"layer serviceId names no service", func(top map[string]any) { item(top, "layers", 0)["serviceId"] = "no-such-service" }, `serviceId "no-such-service" names no service`, false},
		{"duplicate layer id ignoring case", func(top map[string]any) {
			item(top, "layers", 1)["id"] = strings.ToUpper(item(top, "layers", 0)["id"].(string))
		}, "duplicates layers[0]", false},
		{"duplicate style id", func(top map[string]any) { item(top, "styles", 1)["id"] = item(top, "styles", 0)["id"] }, "duplicates styles[0]", false},
		{"minScale of the wrong type", func(top map[string]any) { item(top, "layers", 0)["minScale"] = "big" }, "minScale: must be a number", true},
		{"srid not an integer", func(top map[string]any) {
			item(top, "layers", 0)["storage"].(map[string]any)["srid"] = 3857.5
		}, "srid: must be an integer", true},
		{"layers not an array", func(top map[string]any) { top["layers"] = map[string]any{} }, "layers: must be an array", true},
		{"catalog without id", func(top map[string]any) { delete(top["catalog"].(map[string]any), "id") }, `catalog: required property "id"`, true},
		{"no layers", func(top map[string]any) { delete(top, "layers") }, `document: required property "layers"`, true},
		{"empty connection string", func(top map[string]any) { item(top, "dataSources", 0)["connectionString"] = "" }, "connectionString: must not be empty", true},
		{"layer without geometryField", func(top map[string]any) { delete(item(top, "layers", 0), "geometryField") }, `required property "geometryField"`, true},
		{"maxRecordCount 0", func(top map[string]any) {
			item(top, "layers", 0)["query"] = map[string]any{"maxRecordCount": 0}
		}, "maxRecordCount: 0 is less than the minimum 1", true},
		{"opacity above 1", func(top map[string]any) {
			item(top, "styles", 0)["simple"] = map[string]any{"opacity": 1.5}
		}, "opacity: 1.5 is greater than the maximum 1", true},
		{"26 style rules", func(top map[string]any) {
			rules := make([]any, 26)
			for i := range rules {
				rules[i] = map[string]any{}
			}
			item(top, "styles", 0)["rules"] = rules
		}, "at most 25 items", true},
		{"uniqueValue without classes", func(top map[string]any) {
			item(top, "styles", 0)["uniqueValue"] = map[string]any{"field": "f", "classes": []any{}}
		}, "at least 1 items", true},
		{"service folderId names no folder", func(top map[string]any) { item(top, "services", 0)["folderId"] = "attic" }, `folderId "attic" names no folder`, false},
		{"service dataSourceId names no data source", func(top map[string]any) { item(top, "services", 0)["dataSourceId"] = "x" }, `dataSourceId "x" names no data source`, false},
		{"default style names no style", func(top map[string]any) {
			item(top, "layers", 0)["styles"] = map[string]any{"defaultStyleId": "gone", "styleIds": []any{"gone"}}
		}, `defaultStyleId "gone" names no style`, false},
		{"maxScale greater than minScale", func(top map[string]any) {
			l := item(top, "layers", 0)
			l["minScale"], l["maxScale"] = 1000, 50000
		}, "maxScale 50000 is greater than minScale 1000", false},
		{"style rule minScale greater than maxScale", func(top map[string]any) {
			item(top, "styles", 0)["rules"] = []any{map[string]any{"minScale": 9000, "maxScale": 10}}
		}, "minScale 9000 is greater than maxScale 10", false},
		{"layer without storage.table", func(top map[string]any) { delete(item(top, "layers", 0), "storage") }, "storage.table is missing", false},
		{"table and sqlView", func(top map[string]any) {
			item(top, "layers", 0)["storage"].(map[string]any)["sqlView"] = "select 1"
		}, "both table and sqlView", false},
		{"layer id with ::", func(top map[string]any) { item(top, "layers", 0)["id"] = "a::b" }, `contains "::"`, false},
		{"raster names no layer", func(top map[string]any) {
			top["rasterDatasets"] = []any{map[string]any{"id": "r", "layerId": "nope", "source": map[string]any{"type": "cog", "uri": "s3://b/r.tif"}}}
		}, `layerId "nope" names no layer`, false},
		{"raster without source.uri", func(top map[string]any) {
			top["rasterDatasets"] = []any{map[string]any{"id": "r", "source": map[string]any{"type": "cog"}}}
		}, `source: required property "uri"`, false},
	}
}

func TestInvalidDocumentIsRefusedAndThePreviousStaysLoaded(t *testing.T) {
	good := productionDoc(t)
	ids := collectionIDs(t, good)
	s, path := newSim(t, good)
	if !bytes.Equal(s.Loaded(), good) {
		t.Fatal("the document on disk at start is not loaded")
	}
	for i, tc := range invalidCases() {
		t.Run(tc.name, func(t *testing.T) {
			bad := mutate(t, good, tc.edit)
			writeDoc(t, path, bad)
			a := reload(t, s)
			if a.Status != http.StatusUnprocessableEntity {
				t.Fatalf("reload = %d %s, want 422", a.Status, a.Raw)
			}
			if a.Body["error"] == nil || !strings.Contains(fmt.Sprint(a.Body["details"]), tc.want) {
				t.Errorf("422 answer %s does not name %q", a.Raw, tc.want)
			}
			if !bytes.Equal(s.Loaded(), good) {
				t.Error("the refused document replaced the loaded one")
			}
			if got := s.Reloads(); got != i+1 {
				t.Errorf("Reloads() = %d, want %d", got, i+1)
			}
			if a := get(t, s.URL()+"/ogc/collections/"+ids[0]); a.Status != http.StatusOK {
				t.Errorf("after a refused reload, collection %s = %d, want 200", ids[0], a.Status)
			}
			if a := get(t, s.URL()+"/healthz/ready"); a.Status != http.StatusOK {
				t.Errorf("after a refused reload, ready = %d, want 200", a.Status)
			}
			v := call(t, http.MethodPost, s.URL()+"/admin/metadata/validate", adminToken, bad)
			if v.Status != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(v.Body["details"]), tc.want) {
				t.Errorf("validate = %d %s, want 422 naming %q", v.Status, v.Raw, tc.want)
			}
		})
	}
	for _, raw := range []string{"", "{", "[]", `{"catalog":1} {}`} {
		writeDoc(t, path, []byte(raw))
		if a := reload(t, s); a.Status != http.StatusUnprocessableEntity {
			t.Errorf("reload of %q = %d, want 422", raw, a.Status)
		}
	}
	if !bytes.Equal(s.Loaded(), good) {
		t.Error("a refused document replaced the loaded one")
	}
}

func TestReloadSwapsInTheNewDocument(t *testing.T) {
	good := productionDoc(t)
	s, path := newSim(t, good)
	ids := collectionIDs(t, good)
	gone := ids[0]
	next := mutate(t, good, func(top map[string]any) {
		top["layers"] = top["layers"].([]any)[1:]
	})
	writeDoc(t, path, next)
	if a := reload(t, s); a.Status != http.StatusOK {
		t.Fatalf("reload = %d %s", a.Status, a.Raw)
	}
	if !bytes.Equal(s.Loaded(), next) {
		t.Error("Loaded() is not the new document")
	}
	if a := get(t, s.URL()+"/ogc/collections/"+gone); a.Status != http.StatusNotFound {
		t.Errorf("removed layer %s = %d, want 404", gone, a.Status)
	}
	if a := get(t, s.URL()+"/ogc/collections/"+ids[1]); a.Status != http.StatusOK {
		t.Errorf("kept layer %s = %d, want 200", ids[1], a.Status)
	}
}

func TestMissingFileIs500AndKeepsTheDocument(t *testing.T) {
	good := productionDoc(t)
	s, path := newSim(t, good)
	writeDoc(t, path, nil)
	if err := removeFile(path); err != nil {
		t.Fatal(err)
	}
	if a := reload(t, s); a.Status != http.StatusInternalServerError {
		t.Errorf("reload of a missing file = %d, want 500", a.Status)
	}
	if !bytes.Equal(s.Loaded(), good) {
		t.Error("the loaded document was dropped")
	}
}

func TestValidateDoesNotLoad(t *testing.T) {
	good := productionDoc(t)
	s, _ := newSim(t, nil)
	a := call(t, http.MethodPost, s.URL()+"/admin/metadata/validate", adminToken, good)
	if a.Status != http.StatusOK || a.Body["status"] != "valid" {
		t.Fatalf("validate = %d %s, want 200 valid", a.Status, a.Raw)
	}
	if _, ok := a.Body["warnings"].([]any); !ok {
		t.Errorf("validate answer has no warnings list: %s", a.Raw)
	}
	if s.Loaded() != nil || s.Reloads() != 0 {
		t.Error("validate loaded the document")
	}
}

func TestWarningsDoNotRefuse(t *testing.T) {
	doc := mutate(t, productionDoc(t), func(top map[string]any) {
		st := item(top, "layers", 0)["storage"].(map[string]any)
		st["srid"], st["crs"] = 4326, "EPSG:3857"
		delete(item(top, "styles", 0), "format")
	})
	s, path := newSim(t, nil)
	writeDoc(t, path, doc)
	a := reload(t, s)
	if a.Status != http.StatusOK {
		t.Fatalf("reload = %d %s, want 200", a.Status, a.Raw)
	}
	w := fmt.Sprint(a.Body["warnings"])
	for _, want := range []string{"disagree", "no format"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings %s do not mention %q", w, want)
		}
	}
}

func TestAdminNeedsTheToken(t *testing.T) {
	good := productionDoc(t)
	s, _ := newSim(t, good)
	for _, ep := range []string{"/admin/metadata/reload", "/admin/metadata/validate"} {
		for _, tok := range []string{"", "wrong"} {
			a := call(t, http.MethodPost, s.URL()+ep, tok, good)
			if a.Status != http.StatusUnauthorized {
				t.Errorf("POST %s with token %q = %d, want 401", ep, tok, a.Status)
			}
		}
		if a := call(t, http.MethodPost, s.URL()+ep, adminToken, good); a.Status != http.StatusOK {
			t.Errorf("POST %s with the token = %d %s, want 200", ep, a.Status, a.Raw)
		}
	}
	if got := s.Reloads(); got != 1 {
		t.Errorf("Reloads() = %d, want 1 (refused requests do not count)", got)
	}
	// Health and collections are public.
	if a := get(t, s.URL()+"/healthz/live"); a.Status != http.StatusOK {
		t.Errorf("live = %d", a.Status)
	}
}

func TestNoTokenConfiguredAdminIsOpen(t *testing.T) {
	path := t.TempDir() + "/m.json"
	writeDoc(t, path, productionDoc(t))
	s := newOpenSim(t, path)
	if a := call(t, http.MethodPost, s.URL()+"/admin/metadata/reload", "", nil); a.Status != http.StatusOK {
		t.Errorf("reload without token configured = %d, want 200", a.Status)
	}
}

func TestStartRefusesAnInvalidDocument(t *testing.T) {
	path := t.TempDir() + "/m.json"
	writeDoc(t, path, []byte(`{"catalog":{"id":"c"}}`))
	if _, err := newServer(path); err == nil || !strings.Contains(err.Error(), "required property") {
		t.Errorf("NewServer on an invalid document: %v, want an error naming the problem", err)
	}
	if _, err := newServer(""); err == nil {
		t.Error("NewServer without a MetadataPath succeeded")
	}
}

func TestItemsLimit(t *testing.T) {
	good := productionDoc(t)
	s, _ := newSim(t, good)
	id := collectionIDs(t, good)[0]
	for _, tc := range []struct {
		query  string
		status int
		n      int
	}{
		{"?limit=1", 200, 1},
		{"?limit=3", 200, 3},
		{"", 200, 5},
		{"?limit=0", 400, 0},
		{"?limit=x", 400, 0},
	} {
		a := get(t, s.URL()+"/ogc/collections/"+id+"/items"+tc.query)
		if a.Status != tc.status {
			t.Errorf("items%s = %d, want %d", tc.query, a.Status, tc.status)
			continue
		}
		if tc.status == 200 {
			var fc struct {
				Features []json.RawMessage `json:"features"`
			}
			_ = json.Unmarshal([]byte(a.Raw), &fc)
			if len(fc.Features) != tc.n {
				t.Errorf("items%s: %d features, want %d", tc.query, len(fc.Features), tc.n)
			}
		}
	}
}
