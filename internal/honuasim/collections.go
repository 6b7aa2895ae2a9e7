package honuasim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// catalog is a loaded document with its OGC collections.
type catalog struct {
	doc         []byte
	collections map[string]*collection // folded "serviceId::layerId"
	order       []string               // folded ids, sorted
}

// collection is one layer published as an OGC API collection.
type collection struct {
	ID           string // serviceId::layerId as the document spells it
	Title        string
	Description  string
	GeometryType string
	Extent       any
	CRS          []any
	Limit        int // the most items one page may hold
	IDField      string
}

// newCatalog indexes a document that passed Validate. Layers of disabled
// services, or of services whose ogc.collectionsEnabled is false, are not
// collections.
func newCatalog(doc []byte) *catalog {
	c := &catalog{doc: append([]byte(nil), doc...), collections: map[string]*collection{}}
	var top struct {
		Services []map[string]any `json:"services"`
		Layers   []map[string]any `json:"layers"`
	}
	if err := json.Unmarshal(doc, &top); err != nil {
		return c // Validate accepted it, so this does not happen
	}
	services := map[string]map[string]any{}
	for _, s := range top.Services {
		id, _ := s["id"].(string)
		services[strings.ToLower(id)] = s
	}
	for _, l := range top.Layers {
		sid, _ := l["serviceId"].(string)
		lid, _ := l["id"].(string)
		svc := services[strings.ToLower(sid)]
		if on, ok := svc["enabled"].(bool); ok && !on {
			continue
		}
		ogc, _ := svc["ogc"].(map[string]any)
		if on, ok := ogc["collectionsEnabled"].(bool); ok && !on {
			continue
		}
		col := &collection{ID: sid + "::" + lid, Limit: 1000}
		col.Title, _ = l["title"].(string)
		col.Description, _ = l["description"].(string)
		col.GeometryType, _ = l["geometryType"].(string)
		col.IDField, _ = l["idField"].(string)
		col.Extent = l["extent"]
		col.CRS, _ = l["crs"].([]any)
		if n, ok := ogc["itemLimit"].(float64); ok && int(n) < col.Limit {
			col.Limit = int(n)
		}
		if q, ok := l["query"].(map[string]any); ok {
			if n, ok := q["maxRecordCount"].(float64); ok && int(n) < col.Limit {
				col.Limit = int(n)
			}
		}
		key := strings.ToLower(col.ID)
		c.collections[key] = col
		c.order = append(c.order, key)
	}
	sort.Strings(c.order)
	return c
}

// lookup finds a collection of the loaded document, minding FailCollection.
func (s *Server) lookup(id string) *collection {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		return nil
	}
	col := s.current.collections[strings.ToLower(id)]
	if col == nil || s.faults.takeCollection(id) {
		return nil
	}
	return col
}

func (s *Server) collections(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	cur := s.current
	s.mu.Unlock()
	list := []any{}
	if cur != nil {
		for _, k := range cur.order {
			list = append(list, s.describe(cur.collections[k]))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"collections": list,
		"links":       []any{link(s.URL()+"/ogc/collections", "self", "application/json")},
	})
}

func (s *Server) collection(w http.ResponseWriter, r *http.Request) {
	col := s.lookup(r.PathValue("id"))
	if col == nil {
		notFound(w, r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, s.describe(col))
}

func (s *Server) describe(col *collection) map[string]any {
	self := s.URL() + "/ogc/collections/" + col.ID
	out := map[string]any{
		"id":       col.ID,
		"title":    col.Title,
		"itemType": "feature",
		"links": []any{
			link(self, "self", "application/json"),
			link(self+"/items", "items", "application/geo+json"),
		},
	}
	if col.Description != "" {
		out["description"] = col.Description
	}
	if col.Extent != nil {
		out["extent"] = col.Extent
	}
	if len(col.CRS) > 0 {
		out["crs"] = col.CRS
	}
	return out
}

// maxSynthetic bounds the synthetic features of one page: enough to page
// through, small enough to stay cheap.
const maxSynthetic = 5

func (s *Server) items(w http.ResponseWriter, r *http.Request) {
	col := s.lookup(r.PathValue("id"))
	if col == nil {
		notFound(w, r.PathValue("id"))
		return
	}
	limit := 10
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": fmt.Sprintf("limit %q: must be a positive integer", v)})
			return
		}
		limit = n
	}
	limit = min(limit, col.Limit)
	features := []any{}
	for i := range min(limit, maxSynthetic) {
		features = append(features, map[string]any{
			"type":       "Feature",
			"id":         i + 1,
			"geometry":   geometry(col.GeometryType, float64(i)),
			"properties": map[string]any{col.IDField: i + 1},
		})
	}
	w.Header().Set("Content-Type", "application/geo+json")
	writeJSON(w, http.StatusOK, map[string]any{
		"type":           "FeatureCollection",
		"numberReturned": len(features),
		"numberMatched":  maxSynthetic,
		"features":       features,
		"links":          []any{link(s.URL()+r.URL.RequestURI(), "self", "application/geo+json")},
	})
}

// geometry makes a small GeoJSON geometry of the layer's type near 0,0.
func geometry(typ string, i float64) map[string]any {
	x, y := i*0.01, i*0.01
	pt := []float64{x, y}
	line := [][]float64{{x, y}, {x + 0.005, y + 0.005}}
	ring := [][][]float64{{{x, y}, {x + 0.005, y}, {x + 0.005, y + 0.005}, {x, y + 0.005}, {x, y}}}
	switch strings.ToLower(typ) {
	case "linestring":
		return map[string]any{"type": "LineString", "coordinates": line}
	case "multilinestring":
		return map[string]any{"type": "MultiLineString", "coordinates": [][][]float64{line}}
	case "polygon":
		return map[string]any{"type": "Polygon", "coordinates": ring}
	case "multipolygon":
		return map[string]any{"type": "MultiPolygon", "coordinates": [][][][]float64{ring}}
	case "multipoint":
		return map[string]any{"type": "MultiPoint", "coordinates": [][]float64{pt}}
	}
	return map[string]any{"type": "Point", "coordinates": pt}
}

func link(href, rel, typ string) map[string]any {
	return map[string]any{"href": href, "rel": rel, "type": typ}
}

func notFound(w http.ResponseWriter, id string) {
	writeJSON(w, http.StatusNotFound, map[string]any{"error": fmt.Sprintf("collection %q not found", id)})
}
