package honuasim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Result is what the server says about a document: Errors make it refuse
// the document (422), Warnings do not.
type Result struct {
	Errors   []string `json:"errors,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// OK reports whether the document would be loaded.
func (r Result) OK() bool { return len(r.Errors) == 0 }

// Validate checks a metadata document as Honua.Server does when it loads
// one: the published schema's required properties, types and bounds, then
// the load-time rules of HONUA.md (unique ids ignoring case, references,
// scales, storage). It is pure; the server calls it on reload and validate.
func Validate(doc []byte) Result {
	var r Result
	dec := json.NewDecoder(bytes.NewReader(doc))
	var v any
	if err := dec.Decode(&v); err != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("document: not valid JSON: %v", err))
		return r
	}
	if dec.More() {
		r.Errors = append(r.Errors, "document: more than one JSON value")
		return r
	}
	top, ok := v.(map[string]any)
	if !ok {
		r.Errors = append(r.Errors, fmt.Sprintf("document: must be an object, not %s", describe(v)))
		return r
	}
	documentShape.check("", top, &r.Errors)
	if len(r.Errors) > 0 {
		// The rules below assume the shape; a document with the wrong
		// shape gets its shape problems only, as the server's
		// deserializer fails before its validator runs.
		return r
	}
	checkRules(top, &r)
	return r
}

// kind is one list of the document, with its objects by folded id.
type kind struct {
	key  string
	objs []map[string]any
	ids  map[string]bool // strings.ToLower(id)
}

func collect(top map[string]any, key string, r *Result) *kind {
	k := &kind{key: key, ids: map[string]bool{}}
	list, _ := top[key].([]any)
	seen := map[string]int{}
	for i, e := range list {
		o := e.(map[string]any) // shape-checked
		k.objs = append(k.objs, o)
		id, _ := o["id"].(string)
		folded := strings.ToLower(id)
		if j, dup := seen[folded]; dup {
			r.Errors = append(r.Errors, fmt.Sprintf("%s[%d]: id %q duplicates %s[%d] (ids are unique ignoring case)", key, i, id, key, j))
			continue
		}
		seen[folded] = i
		k.ids[folded] = true
	}
	return k
}

func (k *kind) has(id string) bool { return k.ids[strings.ToLower(id)] }

func checkRules(top map[string]any, r *Result) {
	folders := collect(top, "folders", r)
	sources := collect(top, "dataSources", r)
	services := collect(top, "services", r)
	layers := collect(top, "layers", r)
	styles := collect(top, "styles", r)
	rasters := collect(top, "rasterDatasets", r)

	for i, s := range services.objs {
		at := fmt.Sprintf("services[%d] (%s)", i, s["id"])
		if id := s["id"].(string); strings.Contains(id, "::") {
			r.Errors = append(r.Errors, fmt.Sprintf("%s: id contains \"::\", the separator of OGC collection ids", at))
		}
		if f := s["folderId"].(string); !folders.has(f) {
			r.Errors = append(r.Errors, fmt.Sprintf("%s: folderId %q names no folder", at, f))
		}
		if d := s["dataSourceId"].(string); !sources.has(d) {
			r.Errors = append(r.Errors, fmt.Sprintf("%s: dataSourceId %q names no data source", at, d))
		}
	}
	layerKeys := map[string]bool{} // folded serviceId::layerId
	for i, l := range layers.objs {
		checkLayer(fmt.Sprintf("layers[%d] (%s)", i, l["id"]), l, services, styles, r)
		layerKeys[strings.ToLower(l["serviceId"].(string)+"::"+l["id"].(string))] = true
		layerKeys["\x00"+strings.ToLower(l["id"].(string))] = true
	}
	for i, s := range styles.objs {
		at := fmt.Sprintf("styles[%d] (%s)", i, s["id"])
		for _, f := range []string{"format", "geometryType"} {
			if _, ok := s[f]; !ok {
				r.Warnings = append(r.Warnings, fmt.Sprintf("%s: no %s", at, f))
			}
		}
		rules, _ := s["rules"].([]any)
		for j, e := range rules {
			rule := e.(map[string]any)
			minS, hasMin := rule["minScale"].(float64)
			maxS, hasMax := rule["maxScale"].(float64)
			if hasMin && hasMax && minS > maxS {
				r.Errors = append(r.Errors, fmt.Sprintf("%s: rules[%d]: minScale %v is greater than maxScale %v", at, j, minS, maxS))
			}
		}
	}
	for i, x := range rasters.objs {
		at := fmt.Sprintf("rasterDatasets[%d] (%s)", i, x["id"])
		svc, hasSvc := x["serviceId"].(string)
		if hasSvc && svc != "" && !services.has(svc) {
			r.Errors = append(r.Errors, fmt.Sprintf("%s: serviceId %q names no service", at, svc))
		}
		if lay, ok := x["layerId"].(string); ok && lay != "" {
			key := "\x00" + strings.ToLower(lay)
			if hasSvc && svc != "" {
				key = strings.ToLower(svc + "::" + lay)
			}
			if !layerKeys[key] {
				r.Errors = append(r.Errors, fmt.Sprintf("%s: layerId %q names no layer", at, lay))
			}
		}
	}
}

func checkLayer(at string, l map[string]any, services, styles *kind, r *Result) {
	if id := l["id"].(string); strings.Contains(id, "::") {
		r.Errors = append(r.Errors, fmt.Sprintf("%s: id contains \"::\", the separator of OGC collection ids", at))
	}
	if s := l["serviceId"].(string); !services.has(s) {
		r.Errors = append(r.Errors, fmt.Sprintf("%s: serviceId %q names no service", at, s))
	}
	if st, ok := l["styles"].(map[string]any); ok {
		if d, _ := st["defaultStyleId"].(string); d != "" && !styles.has(d) {
			r.Errors = append(r.Errors, fmt.Sprintf("%s: styles.defaultStyleId %q names no style", at, d))
		}
		ids, _ := st["styleIds"].([]any)
		for j, e := range ids {
			if id := e.(string); !styles.has(id) {
				r.Errors = append(r.Errors, fmt.Sprintf("%s: styles.styleIds[%d] %q names no style", at, j, id))
			}
		}
	}
	// minScale and maxScale are ≥ 0 by the shape; scales are denominators,
	// so the most zoomed-in (maxScale) must not be the greater.
	minS, hasMin := l["minScale"].(float64)
	maxS, hasMax := l["maxScale"].(float64)
	if hasMin && hasMax && maxS > minS {
		r.Errors = append(r.Errors, fmt.Sprintf("%s: maxScale %v is greater than minScale %v", at, maxS, minS))
	}
	storage, _ := l["storage"].(map[string]any)
	table, _ := storage["table"].(string)
	_, hasView := storage["sqlView"]
	switch {
	case table == "" && !hasView:
		r.Errors = append(r.Errors, fmt.Sprintf("%s: storage.table is missing", at))
	case table != "" && hasView:
		r.Errors = append(r.Errors, fmt.Sprintf("%s: storage has both table and sqlView", at))
	}
	srid, hasSRID := storage["srid"].(float64)
	crs, _ := storage["crs"].(string)
	switch {
	case !hasSRID && crs == "":
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s: storage has neither srid nor crs", at))
	case hasSRID && crs != "":
		if code, ok := crsCode(crs); ok && int64(srid) != code {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s: storage.srid %v and storage.crs %s disagree", at, srid, crs))
		}
	}
}

var epsgRe = regexp.MustCompile(`(?i)EPSG(?::|/0/|/)(\d+)$`)

// crsCode returns the EPSG code a CRS name stands for.
func crsCode(crs string) (int64, bool) {
	if strings.HasSuffix(crs, "CRS84") {
		return 4326, true
	}
	m := epsgRe.FindStringSubmatch(crs)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	return n, err == nil
}
