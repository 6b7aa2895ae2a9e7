package plan

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/honua-io/honua-gitops/reconciler/config"
)

// outcome is what the classifier decided about one change.
type outcome struct {
	Kind     config.Kind
	ID       string
	Action   Action
	Breaking bool
	Risk     Risk
	Reasons  []string
}

func outcomes(e Environment) []outcome {
	out := []outcome{}
	for _, c := range e.Changes {
		out = append(out, outcome{c.Kind, c.ID, c.Action, c.Breaking, c.Risk, c.Reasons})
	}
	return out
}

var (
	parcels   = config.KeyOf(config.KindLayer, "parcels")
	streets   = config.KeyOf(config.KindLayer, "streets")
	planning  = config.KeyOf(config.KindService, "planning")
	transport = config.KeyOf(config.KindService, "transport")
	pg        = config.KeyOf(config.KindDataSource, "pg")
	outline   = config.KeyOf(config.KindStyle, "outline")
	catalog   = config.Key{Kind: config.KindCatalog} // every catalog has this key
	folder    = config.KeyOf(config.KindFolder, "transport")
)

func modify(k config.Key, f func(v map[string]any)) func([]*config.Object) []*config.Object {
	return func(objs []*config.Object) []*config.Object { return mutated(objs, k, f) }
}

func remove(k config.Key) func([]*config.Object) []*config.Object {
	return func(objs []*config.Object) []*config.Object { return without(objs, k) }
}

func layerMod(k config.Key, id string, breaking bool, risk Risk, reasons ...string) outcome {
	if reasons == nil {
		reasons = []string{}
	}
	return outcome{k.Kind, id, ActionModify, breaking, risk, reasons}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		edit func([]*config.Object) []*config.Object
		want []outcome
	}{
		// Breaking: removals.
		{
			name: "remove layer",
			edit: remove(parcels),
			want: []outcome{{config.KindLayer, "parcels", ActionRemove, true, RiskHigh, []string{"layer parcels removed: collection planning::parcels disappears (its URL returns 404)"}}},
		},
		{
			name: "remove service",
			edit: func(o []*config.Object) []*config.Object { return without(without(o, transport), streets) },
			want: []outcome{
				{config.KindService, "transport", ActionRemove, true, RiskHigh, []string{"service transport removed: collection transport::streets disappears"}},
				{config.KindLayer, "streets", ActionRemove, true, RiskHigh, []string{"layer streets removed: collection transport::streets disappears (its URL returns 404)"}},
			},
		},
		{
			name: "remove style",
			edit: remove(outline),
			want: []outcome{{config.KindStyle, "outline", ActionRemove, true, RiskHigh, []string{"style outline removed: clients that request it get an error"}}},
		},
		{
			name: "remove data source",
			edit: remove(pg),
			want: []outcome{{config.KindDataSource, "pg", ActionRemove, true, RiskCritical, []string{"data source pg removed: the services reading it lose their data (2 collections)"}}},
		},
		{
			name: "remove folder",
			edit: remove(folder),
			want: []outcome{{config.KindFolder, "transport", ActionRemove, true, RiskHigh, []string{"folder transport removed: its Esri REST folder URL disappears"}}},
		},
		{
			name: "rename layer is remove plus add",
			edit: func(objs []*config.Object) []*config.Object {
				objs = mutated(objs, parcels, func(v map[string]any) { v["id"] = "tax-parcels" })
				return objs
			},
			want: []outcome{
				{config.KindLayer, "parcels", ActionRemove, true, RiskHigh, []string{"layer parcels removed: collection planning::parcels disappears (its URL returns 404); it looks renamed to tax-parcels, whose new URL is planning::tax-parcels"}},
				{config.KindLayer, "tax-parcels", ActionAdd, false, RiskLow, []string{}},
			},
		},
		// Breaking: layer modifications, one rule each.
		{
			name: "layer id case",
			edit: modify(parcels, func(v map[string]any) { v["id"] = "Parcels" }),
			want: []outcome{layerMod(parcels, "Parcels", true, RiskHigh, "id parcels → Parcels changes the collection URL planning::parcels → planning::Parcels")},
		},
		{
			name: "layer serviceId",
			edit: modify(parcels, func(v map[string]any) { v["serviceId"] = "transport" }),
			want: []outcome{layerMod(parcels, "parcels", true, RiskHigh, "serviceId planning → transport moves collection planning::parcels to transport::parcels")},
		},
		{
			name: "layer geometryType",
			edit: modify(parcels, func(v map[string]any) { v["geometryType"] = "MultiPolygon" }),
			want: []outcome{layerMod(parcels, "parcels", true, RiskHigh, "geometryType Polygon → MultiPolygon changes the feature schema clients read")},
		},
		{
			name: "layer storage.srid",
			edit: modify(parcels, func(v map[string]any) { sub(v, "storage")["srid"] = int64(3857) }),
			want: []outcome{layerMod(parcels, "parcels", true, RiskHigh, "storage.srid 4326 → 3857 changes the coordinates clients receive")},
		},
		{
			name: "layer storage.crs",
			edit: modify(parcels, func(v map[string]any) {
				st := sub(v, "storage")
				delete(st, "srid")
				st["crs"] = "EPSG:2784"
			}),
			want: []outcome{layerMod(parcels, "parcels", true, RiskHigh,
				"storage.srid 4326 → (none) changes the coordinates clients receive",
				"storage.crs EPSG:4326 → EPSG:2784 changes the coordinates clients receive")},
		},
		{
			name: "layer crs list loses an entry",
			edit: modify(parcels, func(v map[string]any) { v["crs"] = []any{"http://www.opengis.net/def/crs/OGC/1.3/CRS84"} }),
			want: []outcome{layerMod(parcels, "parcels", true, RiskHigh, "crs no longer offers http://www.opengis.net/def/crs/EPSG/0/4326: clients requesting that CRS get an error")},
		},
		{
			name: "layer idField",
			edit: modify(parcels, func(v map[string]any) { v["idField"] = "gid" }),
			want: []outcome{layerMod(parcels, "parcels", true, RiskHigh, "idField objectid → gid changes the feature ids clients hold")},
		},
		{
			name: "layer geometryField",
			edit: modify(parcels, func(v map[string]any) { v["geometryField"] = "shape" }),
			want: []outcome{layerMod(parcels, "parcels", true, RiskHigh, "geometryField geom → shape changes the geometries clients read")},
		},
		{
			name: "layer storage.table",
			edit: modify(parcels, func(v map[string]any) { sub(v, "storage")["table"] = "gis.parcels_2025" }),
			want: []outcome{layerMod(parcels, "parcels", true, RiskHigh, "storage.table gis.parcels → gis.parcels_2025 switches the data behind planning::parcels")},
		},
		{
			name: "field removed",
			edit: modify(parcels, func(v map[string]any) { v["fields"] = v["fields"].([]any)[:2] }),
			want: []outcome{layerMod(parcels, "parcels", true, RiskHigh, "field area removed: clients reading it break")},
		},
		{
			name: "field type",
			edit: modify(parcels, func(v map[string]any) { fieldOf(v, "owner")["type"] = "int32" }),
			want: []outcome{layerMod(parcels, "parcels", true, RiskHigh, "field owner type string → int32 changes the feature schema clients read")},
		},
		{
			name: "field becomes non-nullable",
			edit: modify(parcels, func(v map[string]any) { fieldOf(v, "owner")["nullable"] = false }),
			want: []outcome{layerMod(parcels, "parcels", true, RiskHigh, "field owner nullable true → false: features and edits without a value are rejected")},
		},
		{
			name: "field without nullable becomes non-nullable",
			edit: modify(parcels, func(v map[string]any) { fieldOf(v, "area")["nullable"] = false }),
			want: []outcome{layerMod(parcels, "parcels", true, RiskHigh, "field area nullable (none) → false: features and edits without a value are rejected")},
		},
		{
			name: "query limit shrinks",
			edit: modify(parcels, func(v map[string]any) { sub(v, "query")["maxRecordCount"] = int64(1000) }),
			want: []outcome{layerMod(parcels, "parcels", true, RiskHigh, "query.maxRecordCount 2000 → 1000 shrinks the page size clients may request")},
		},
		// Breaking: service modifications.
		{
			name: "service folderId",
			edit: modify(planning, func(v map[string]any) { v["folderId"] = "transport" }),
			want: []outcome{layerMod(planning, "planning", true, RiskHigh, "folderId planning → transport moves the service's Esri REST URL to another folder")},
		},
		{
			name: "service id case",
			edit: modify(planning, func(v map[string]any) { v["id"] = "Planning" }),
			want: []outcome{layerMod(planning, "Planning", true, RiskHigh, "id planning → Planning changes the URLs of the service and of its 2 collections")},
		},
		{
			name: "service dataSourceId",
			edit: modify(planning, func(v map[string]any) { v["dataSourceId"] = "lite" }),
			want: []outcome{layerMod(planning, "planning", true, RiskHigh, "dataSourceId pg → lite switches the data behind its 2 collections")},
		},
		{
			name: "service serviceType",
			edit: modify(planning, func(v map[string]any) { v["serviceType"] = "MapServer" }),
			want: []outcome{layerMod(planning, "planning", true, RiskHigh, "serviceType FeatureServer → MapServer changes the service's Esri REST URL")},
		},
		{
			name: "service disabled",
			edit: modify(planning, func(v map[string]any) { v["enabled"] = false }),
			want: []outcome{layerMod(planning, "planning", true, RiskHigh, "enabled true → false takes its 2 collections offline")},
		},
		{
			name: "service collections disabled",
			edit: modify(planning, func(v map[string]any) { sub(v, "ogc")["collectionsEnabled"] = false }),
			want: []outcome{layerMod(planning, "planning", true, RiskHigh, "ogc.collectionsEnabled true → false removes its 2 collections from OGC API")},
		},
		{
			name: "service item limit shrinks",
			edit: modify(planning, func(v map[string]any) { sub(v, "ogc")["itemLimit"] = 500.0 }),
			want: []outcome{layerMod(planning, "planning", true, RiskHigh, "ogc.itemLimit 1000 → 500 shrinks the page size clients may request")},
		},
		{
			name: "service default CRS",
			edit: modify(planning, func(v map[string]any) { sub(v, "ogc")["defaultCrs"] = "http://www.opengis.net/def/crs/EPSG/0/3857" }),
			want: []outcome{layerMod(planning, "planning", true, RiskHigh, "ogc.defaultCrs http://www.opengis.net/def/crs/OGC/1.3/CRS84 → http://www.opengis.net/def/crs/EPSG/0/3857 changes the coordinates clients receive by default")},
		},
		{
			name: "service loses an additional CRS",
			edit: modify(planning, func(v map[string]any) {
				sub(v, "ogc")["additionalCrs"] = []any{"http://www.opengis.net/def/crs/EPSG/0/4326"}
			}),
			want: []outcome{layerMod(planning, "planning", true, RiskHigh, "ogc.additionalCrs no longer offers http://www.opengis.net/def/crs/EPSG/0/3857: clients requesting that CRS get an error")},
		},
		// Breaking: any change to a data source.
		{
			name: "data source connection string",
			edit: modify(pg, func(v map[string]any) {
				v["connectionString"] = "Host=pg2.internal;Database=gis;Username=reader;Password=${PG2_PASSWORD}"
			}),
			want: []outcome{layerMod(pg, "pg", true, RiskCritical,
				"connectionString Host=pg.internal;Database=gis;Username=reader;Password=${PG_PASSWORD} → Host=pg2.internal;Database=gis;Username=reader;Password=${PG2_PASSWORD} changes the database behind 2 collections")},
		},
		{
			name: "data source description",
			edit: modify(pg, func(v map[string]any) { v["description"] = "Primary database." }),
			want: []outcome{layerMod(pg, "pg", true, RiskHigh, "description Main database. → Primary database.: any change to a data source is breaking (2 collections read from it)")},
		},
		{
			name: "data source inline password never shown",
			edit: modify(pg, func(v map[string]any) {
				v["connectionString"] = "Host=pg.internal;Database=gis;Username=reader;Password=hunter2"
			}),
			want: []outcome{layerMod(pg, "pg", true, RiskCritical,
				"connectionString Host=pg.internal;Database=gis;Username=reader;Password=${PG_PASSWORD} → Host=pg.internal;Database=gis;Username=reader;Password=*** changes the database behind 2 collections")},
		},

		// Not breaking.
		{
			name: "layer title",
			edit: modify(parcels, func(v map[string]any) { v["title"] = "Tax Parcels" }),
			want: []outcome{layerMod(parcels, "parcels", false, RiskLow)},
		},
		{
			name: "layer description",
			edit: modify(parcels, func(v map[string]any) { v["description"] = "Parcels." }),
			want: []outcome{layerMod(parcels, "parcels", false, RiskLow)},
		},
		{
			name: "layer keywords",
			edit: modify(parcels, func(v map[string]any) { v["keywords"] = []any{"a", "c"} }),
			want: []outcome{layerMod(parcels, "parcels", false, RiskLow)},
		},
		{
			name: "layer extent",
			edit: modify(parcels, func(v map[string]any) { sub(v, "extent")["bbox"] = []any{[]any{-158.0, 21.0, -157.0, 22.0}} }),
			want: []outcome{layerMod(parcels, "parcels", false, RiskLow)},
		},
		{
			name: "layer scales",
			edit: modify(parcels, func(v map[string]any) { v["minScale"] = int64(100000) }),
			want: []outcome{layerMod(parcels, "parcels", false, RiskLow)},
		},
		{
			name: "query limit grows",
			edit: modify(parcels, func(v map[string]any) { sub(v, "query")["maxRecordCount"] = int64(5000) }),
			want: []outcome{layerMod(parcels, "parcels", false, RiskMedium)},
		},
		{
			name: "field added",
			edit: modify(parcels, func(v map[string]any) {
				v["fields"] = append(v["fields"].([]any), map[string]any{"name": "zone", "type": "string"})
			}),
			want: []outcome{layerMod(parcels, "parcels", false, RiskMedium)},
		},
		{
			name: "field alias",
			edit: modify(parcels, func(v map[string]any) { fieldOf(v, "owner")["alias"] = "Owner name" }),
			want: []outcome{layerMod(parcels, "parcels", false, RiskLow)},
		},
		{
			name: "field becomes nullable",
			edit: modify(parcels, func(v map[string]any) { fieldOf(v, "objectid")["nullable"] = true }),
			want: []outcome{layerMod(parcels, "parcels", false, RiskMedium)},
		},
		{
			name: "crs list gains an entry",
			edit: modify(parcels, func(v map[string]any) {
				v["crs"] = append(v["crs"].([]any), "http://www.opengis.net/def/crs/EPSG/0/3857")
			}),
			want: []outcome{layerMod(parcels, "parcels", false, RiskMedium)},
		},
		{
			name: "no edit",
			edit: func(objs []*config.Object) []*config.Object { return objs },
			want: []outcome{},
		},
		{
			name: "style colours",
			edit: modify(outline, func(v map[string]any) { sub(v, "simple")["fillColor"] = "#00ff00" }),
			want: []outcome{layerMod(outline, "outline", false, RiskMedium)},
		},
		{
			name: "service title",
			edit: modify(transport, func(v map[string]any) { v["title"] = "Transportation" }),
			want: []outcome{layerMod(transport, "transport", false, RiskLow)},
		},
		{
			name: "service item limit grows",
			edit: modify(transport, func(v map[string]any) { sub(v, "ogc")["itemLimit"] = int64(5000) }),
			want: []outcome{layerMod(transport, "transport", false, RiskMedium)},
		},
		{
			name: "folder title",
			edit: modify(folder, func(v map[string]any) { v["title"] = "Transportation" }),
			want: []outcome{layerMod(folder, "transport", false, RiskLow)},
		},
		{
			name: "catalog id change pairs as one modification",
			edit: modify(catalog, func(v map[string]any) { v["id"] = "kailua" }),
			want: []outcome{{config.KindCatalog, "kailua", ActionModify, false, RiskLow, []string{}}},
		},
		{
			name: "layer added",
			edit: func(objs []*config.Object) []*config.Object {
				return append(objs, object(config.KindLayer, "bike-lanes", "layers/bike-lanes.yaml", layerValue("bike-lanes", "transport")))
			},
			want: []outcome{{config.KindLayer, "bike-lanes", ActionAdd, false, RiskLow, []string{}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := baseObjects()
			head := tt.edit(baseObjects())
			p := Compute(newState(newEnv("production", base...)), newState(newEnv("production", head...)), nil)
			if len(p.Environments) != 1 {
				t.Fatalf("got %d environments, want 1", len(p.Environments))
			}
			if diff := cmp.Diff(tt.want, outcomes(p.Environments[0])); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSRIDDeclaredTwice(t *testing.T) {
	tests := []struct {
		name         string
		from, to     map[string]any
		wantBreaking bool
	}{
		{"srid added beside the same crs", map[string]any{"crs": "EPSG:4326"}, map[string]any{"crs": "EPSG:4326", "srid": int64(4326)}, false},
		{"crs added beside the same srid", map[string]any{"srid": int64(4326)}, map[string]any{"srid": 4326.0, "crs": "http://www.opengis.net/def/crs/EPSG/0/4326"}, false},
		{"crs urn form", map[string]any{"srid": int64(2784)}, map[string]any{"crs": "urn:ogc:def:crs:EPSG::2784"}, false},
		{"crs disagrees with srid", map[string]any{"srid": int64(4326), "crs": "EPSG:4326"}, map[string]any{"srid": int64(4326), "crs": "EPSG:3857"}, true},
		{"srid removed, nothing left", map[string]any{"srid": int64(4326)}, map[string]any{}, true},
		{"srid not a whole number beside the same crs", map[string]any{"srid": int64(4326), "crs": "EPSG:4326"}, map[string]any{"srid": 4326.5, "crs": "EPSG:4326"}, true},
		{"srid not a whole number alone", map[string]any{"srid": int64(4326)}, map[string]any{"srid": 4326.5}, true},
		{"srid becomes a whole number", map[string]any{"srid": 4326.5, "crs": "EPSG:4326"}, map[string]any{"srid": int64(4326), "crs": "EPSG:4326"}, true},
		{"srid out of range", map[string]any{"srid": int64(4326)}, map[string]any{"srid": 4294971622.0}, true},
		{"srid a whole float beside the same crs", map[string]any{"srid": int64(4326), "crs": "EPSG:4326"}, map[string]any{"srid": 4326.0, "crs": "EPSG:4326"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := layerValue("parcels", "planning")
			h := layerValue("parcels", "planning")
			b["storage"], h["storage"] = tt.from, tt.to
			bo := object(config.KindLayer, "parcels", "p.yaml", b)
			ho := object(config.KindLayer, "parcels", "p.yaml", h)
			got := len(sridReasons(bo, ho)) > 0
			if got != tt.wantBreaking {
				t.Errorf("breaking = %v, want %v (reasons %q)", got, tt.wantBreaking, sridReasons(bo, ho))
			}
		})
	}
}

// TestDefaultCRS: a service's default CRS is what clients get without
// asking; an absent ogc.defaultCrs is CRS84, and so is every spelling of it.
func TestDefaultCRS(t *testing.T) {
	const crs84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
	tests := []struct {
		name         string
		from, to     any // nil: absent
		wantBreaking bool
	}{
		{"CRS84 added", nil, crs84, false},
		{"OGC:CRS84 added", nil, "OGC:CRS84", false},
		{"CRS84 removed", crs84, nil, false},
		{"CRS84 URN removed", "urn:ogc:def:crs:OGC:1.3:CRS84", nil, false},
		{"CRS84 respelled", crs84, "[OGC:CRS84]", false},
		{"CRS84 in another case", "OGC:CRS84", "ogc:crs84", false},
		{"another CRS added", nil, "http://www.opengis.net/def/crs/EPSG/0/3857", true},
		{"another CRS removed", "http://www.opengis.net/def/crs/EPSG/0/3857", nil, true},
		{"CRS84 to EPSG:4326, whose axes are the other way round", crs84, "http://www.opengis.net/def/crs/EPSG/0/4326", true},
		{"CRS84h is not CRS84", nil, "http://www.opengis.net/def/crs/OGC/0/CRS84h", true},
		{"a name merely ending in CRS84", "EPSG:XCRS84", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			value := func(crs any) map[string]any {
				v := serviceValue("planning", "planning", "pg")
				delete(sub(v, "ogc"), "defaultCrs")
				if crs != nil {
					sub(v, "ogc")["defaultCrs"] = crs
				}
				return v
			}
			b, h := value(tt.from), value(tt.to)
			bo := object(config.KindService, "planning", "m.yaml", b)
			ho := object(config.KindService, "planning", "m.yaml", h)
			var got []string
			for _, r := range serviceReasons(bo, ho, nil) {
				if strings.HasPrefix(r, "ogc.defaultCrs") {
					got = append(got, r)
				}
			}
			if (len(got) > 0) != tt.wantBreaking {
				t.Errorf("breaking = %v, want %v (reasons %q)", len(got) > 0, tt.wantBreaking, got)
			}
		})
	}
}
