package plan

import (
	"fmt"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// The helpers build states by hand, the way the loader builds them: one
// config.NewObject per object, merged per environment.

func object(kind config.Kind, id, file string, v map[string]any) *config.Object {
	return config.NewObject(kind, id, config.Position{File: file, Line: 1, Column: 1}, v, nil)
}

func newEnv(name string, objs ...*config.Object) *config.Environment {
	e := &config.Environment{Name: name, Objects: map[config.Key]*config.Object{}}
	for _, o := range objs {
		e.Objects[o.Key()] = o
	}
	return e
}

func newState(envs ...*config.Environment) *config.State {
	s := &config.State{Source: "test", Environments: map[string]*config.Environment{}}
	for _, e := range envs {
		s.Environments[e.Name] = e
	}
	return s
}

func layerValue(id, service string) map[string]any {
	return map[string]any{
		"id":            id,
		"serviceId":     service,
		"title":         "Layer " + id,
		"description":   "The " + id + " layer.",
		"keywords":      []any{"a", "b"},
		"geometryType":  "Polygon",
		"idField":       "objectid",
		"geometryField": "geom",
		"crs":           []any{"http://www.opengis.net/def/crs/OGC/1.3/CRS84", "http://www.opengis.net/def/crs/EPSG/0/4326"},
		"extent": map[string]any{
			"bbox": []any{[]any{-157.78, 21.36, -157.7, 21.43}},
			"crs":  "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
		},
		"query": map[string]any{"maxRecordCount": int64(2000)},
		"storage": map[string]any{
			"table":          "gis." + id,
			"geometryColumn": "geom",
			"primaryKey":     "objectid",
			"srid":           int64(4326),
			"crs":            "EPSG:4326",
		},
		"fields": []any{
			map[string]any{"name": "objectid", "type": "int64", "nullable": false},
			map[string]any{"name": "owner", "type": "string", "nullable": true, "alias": "Owner"},
			map[string]any{"name": "area", "type": "double"},
		},
		"styles":   map[string]any{"defaultStyleId": "outline", "styleIds": []any{"outline"}},
		"minScale": int64(50000),
		"maxScale": int64(0),
	}
}

func serviceValue(id, folder, dataSource string) map[string]any {
	return map[string]any{
		"id":           id,
		"title":        "Service " + id,
		"folderId":     folder,
		"serviceType":  "FeatureServer",
		"dataSourceId": dataSource,
		"enabled":      true,
		"keywords":     []any{"x", "y"},
		"ogc": map[string]any{
			"collectionsEnabled": true,
			"itemLimit":          int64(1000),
			"defaultCrs":         "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
			"additionalCrs":      []any{"http://www.opengis.net/def/crs/EPSG/0/4326", "http://www.opengis.net/def/crs/EPSG/0/3857"},
		},
	}
}

func styleValue(id string) map[string]any {
	return map[string]any{
		"id":           id,
		"title":        "Style " + id,
		"format":       "mvp-style",
		"geometryType": "Polygon",
		"renderer":     "simple",
		"simple":       map[string]any{"fillColor": "#ffffff", "strokeColor": "#000000", "strokeWidth": 1.0, "opacity": 0.5},
	}
}

func dataSourceValue(id string) map[string]any {
	return map[string]any{
		"id":               id,
		"provider":         "postgis",
		"description":      "Main database.",
		"connectionString": "Host=pg.internal;Database=gis;Username=reader;Password=${PG_PASSWORD}",
	}
}

func folderValue(id string) map[string]any {
	return map[string]any{"id": id, "title": "Folder " + id, "order": int64(10)}
}

// baseObjects returns a small, valid environment: a catalog, a folder, a
// data source, two services with three layers, and a style.
func baseObjects() []*config.Object {
	return []*config.Object{
		object(config.KindCatalog, "city", "metadata.yaml", map[string]any{"id": "city", "title": "City"}),
		object(config.KindFolder, "planning", "metadata.yaml", folderValue("planning")),
		object(config.KindFolder, "transport", "metadata.yaml", folderValue("transport")),
		object(config.KindDataSource, "pg", "datasources.yaml", dataSourceValue("pg")),
		object(config.KindDataSource, "lite", "datasources.yaml", dataSourceValue("lite")),
		object(config.KindService, "planning", "metadata.yaml", serviceValue("planning", "planning", "pg")),
		object(config.KindService, "transport", "metadata.yaml", serviceValue("transport", "transport", "lite")),
		object(config.KindLayer, "parcels", "layers/parcels.yaml", layerValue("parcels", "planning")),
		object(config.KindLayer, "zoning", "layers/zoning.yaml", layerValue("zoning", "planning")),
		object(config.KindLayer, "streets", "layers/streets.yaml", layerValue("streets", "transport")),
		object(config.KindStyle, "outline", "styles/outline.yaml", styleValue("outline")),
	}
}

// mutated returns a copy of objs where the object with key k has its value
// changed by f (and its digest recomputed).
func mutated(objs []*config.Object, k config.Key, f func(v map[string]any)) []*config.Object {
	out := make([]*config.Object, 0, len(objs))
	found := false
	for _, o := range objs {
		if o.Key() == k {
			v := config.CopyValue(o.Value).(map[string]any)
			f(v)
			id, _ := v["id"].(string)
			o = config.NewObject(o.Kind, id, o.Pos, v, nil)
			found = true
		}
		out = append(out, o)
	}
	if !found {
		panic(fmt.Sprintf("no object %v", k))
	}
	return out
}

func without(objs []*config.Object, k config.Key) []*config.Object {
	out := make([]*config.Object, 0, len(objs))
	for _, o := range objs {
		if o.Key() != k {
			out = append(out, o)
		}
	}
	return out
}

func fieldOf(v map[string]any, name string) map[string]any {
	for _, f := range v["fields"].([]any) {
		if m := f.(map[string]any); m["name"] == name {
			return m
		}
	}
	panic("no field " + name)
}

func sub(v map[string]any, key string) map[string]any { return v[key].(map[string]any) }
