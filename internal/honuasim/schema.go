package honuasim

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// shape is the part of Honua's published metadata schema
// (metadata-schema.json, draft 2020-12) the emulator checks: required
// properties, types, string and array lengths, numeric bounds. It is a copy
// of the rules, not of the file: users' clones do not have the file, and
// the tests check that this copy agrees with it where they overlap.
type shape struct {
	typ      string // object, array, string, integer, number, boolean; "" any
	required []string
	props    map[string]*shape
	items    *shape
	minLen   int // strings
	minItems int
	maxItems int // 0: no limit
	min, max *float64
}

func bound(v float64) *float64 { return &v }

var (
	sString    = &shape{typ: "string"}
	sNonEmpty  = &shape{typ: "string", minLen: 1}
	sBool      = &shape{typ: "boolean"}
	sInteger   = &shape{typ: "integer"}
	sObject    = &shape{typ: "object"}
	sStrings   = &shape{typ: "array", items: sString}
	sLinks     = &shape{typ: "array", items: &shape{typ: "object", required: []string{"href"}, props: map[string]*shape{"href": sNonEmpty, "rel": sString, "type": sString, "title": sString}}}
	sNonNegNum = &shape{typ: "number", min: bound(0)}
	sSymbol    = &shape{typ: "object", props: map[string]*shape{
		"label": sString, "description": sString, "symbolType": sString, "fillColor": sString,
		"strokeColor": sString, "strokeWidth": sNonNegNum, "strokeStyle": sString, "iconHref": sString,
		"size": sNonNegNum, "opacity": {typ: "number", min: bound(0), max: bound(1)},
	}}
	sExtent = &shape{typ: "object", props: map[string]*shape{
		// bbox is one box or a list of boxes; its shape is checked in
		// checkBBox because the schema says oneOf.
		"crs": sString,
		"temporal": {typ: "object", props: map[string]*shape{
			"interval": {typ: "array", items: &shape{typ: "array", minItems: 2, maxItems: 2}},
			"trs":      sString,
		}},
	}}
)

// documentShape is the whole document.
var documentShape = &shape{
	typ:      "object",
	required: []string{"catalog", "folders", "services", "layers", "dataSources"},
	props: map[string]*shape{
		"catalog": {typ: "object", required: []string{"id"}, props: map[string]*shape{
			"id": sNonEmpty, "title": sString, "description": sString, "version": sString,
			"links": sLinks, "keywords": sStrings,
		}},
		"folders": {typ: "array", items: &shape{typ: "object", required: []string{"id"}, props: map[string]*shape{
			"id": sNonEmpty, "title": sString, "order": sInteger,
		}}},
		"dataSources": {typ: "array", items: &shape{typ: "object", required: []string{"id", "provider", "connectionString"}, props: map[string]*shape{
			"id": sNonEmpty, "provider": sNonEmpty, "connectionString": sNonEmpty,
		}}},
		"services": {typ: "array", items: &shape{typ: "object", required: []string{"id", "folderId", "serviceType", "dataSourceId"}, props: map[string]*shape{
			"id": sNonEmpty, "title": sString, "folderId": sNonEmpty, "serviceType": sNonEmpty,
			"dataSourceId": sNonEmpty, "enabled": sBool, "description": sString, "keywords": sStrings,
			"links": sLinks, "esri": sObject,
			"ogc": {typ: "object", props: map[string]*shape{
				"collectionsEnabled": sBool, "itemLimit": {typ: "integer", min: bound(1)},
				"defaultCrs": sString, "additionalCrs": sStrings, "conformanceClasses": sStrings,
			}},
		}}},
		"layers": {typ: "array", items: &shape{typ: "object", required: []string{"id", "serviceId", "geometryType", "idField", "geometryField"}, props: map[string]*shape{
			"id": sNonEmpty, "serviceId": sNonEmpty, "title": sString, "description": sString,
			"geometryType": sNonEmpty, "idField": sNonEmpty, "displayField": sString, "geometryField": sNonEmpty,
			"crs": sStrings, "keywords": sStrings, "links": sLinks, "extent": sExtent,
			"query": {typ: "object", props: map[string]*shape{
				"maxRecordCount": {typ: "integer", min: bound(1)}, "supportedParameters": sStrings,
				"autoFilter": {typ: "object", props: map[string]*shape{"cql": sString}},
			}},
			"storage": {typ: "object", props: map[string]*shape{
				"table": sString, "geometryColumn": sString, "primaryKey": sString, "temporalColumn": sString,
				"srid": sInteger, "crs": sString, "hasZ": sBool, "hasM": sBool,
			}},
			"fields": {typ: "array", items: &shape{typ: "object", required: []string{"name"}, props: map[string]*shape{
				"name": sNonEmpty, "alias": sString, "type": sString, "storageType": sString,
				"nullable": sBool, "editable": sBool, "maxLength": {typ: "integer", min: bound(1)},
				"precision": {typ: "integer", min: bound(0)}, "scale": {typ: "integer", min: bound(0)},
			}}},
			"styles": {typ: "object", props: map[string]*shape{"defaultStyleId": sString, "styleIds": sStrings}},
			"attachments": {typ: "object", props: map[string]*shape{
				"enabled": sBool, "storageProfileId": sNonEmpty, "maxSizeMiB": {typ: "integer", min: bound(1)},
				"allowedContentTypes":    {typ: "array", items: sNonEmpty},
				"disallowedContentTypes": {typ: "array", items: sNonEmpty},
				"requireGlobalIds":       sBool, "returnPresignedUrls": sBool, "exposeOgcLinks": sBool,
			}},
			"itemType": sString, "minScale": sNonNegNum, "maxScale": sNonNegNum,
			"hasZ": sBool, "hasM": sBool, "zField": sString,
		}}},
		"styles": {typ: "array", items: &shape{typ: "object", required: []string{"id"}, props: map[string]*shape{
			"id": sNonEmpty, "title": sString, "renderer": sString, "format": sString, "geometryType": sString,
			"rules": {typ: "array", maxItems: 25, items: &shape{typ: "object", props: map[string]*shape{
				"id": sString, "default": sBool, "minScale": sNonNegNum, "maxScale": sNonNegNum,
				"filter":     {typ: "object", props: map[string]*shape{"field": sString, "value": sString}},
				"symbolizer": sSymbol,
			}}},
			"simple": sSymbol,
			"uniqueValue": {typ: "object", required: []string{"field", "classes"}, props: map[string]*shape{
				"field": sNonEmpty, "defaultSymbol": sSymbol,
				"classes": {typ: "array", minItems: 1, items: &shape{typ: "object", required: []string{"value"}, props: map[string]*shape{
					"value": sString, "symbol": sSymbol,
				}}},
			}},
		}}},
		// Not in the published schema but in HONUA.md: rasters need an id
		// and a source with a type and a uri.
		"rasterDatasets": {typ: "array", items: &shape{typ: "object", required: []string{"id", "source"}, props: map[string]*shape{
			"id": sNonEmpty, "serviceId": sString, "layerId": sString,
			"source": {typ: "object", required: []string{"type", "uri"}, props: map[string]*shape{"type": sNonEmpty, "uri": sNonEmpty}},
		}}},
		"server": sObject,
	},
}

// check appends a problem for every way v departs from s; path names v
// ("layers[3].storage.srid").
func (s *shape) check(path string, v any, problems *[]string) {
	if s.typ != "" && !isType(v, s.typ) {
		*problems = append(*problems, fmt.Sprintf("%s: must be %s %s, not %s", path, article(s.typ), s.typ, describe(v)))
		return
	}
	switch t := v.(type) {
	case map[string]any:
		for _, r := range s.required {
			if _, ok := t[r]; !ok {
				*problems = append(*problems, fmt.Sprintf("%s: required property %q is missing", orDocument(path), r))
			}
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p := s.props[k]; p != nil {
				p.check(join(path, k), t[k], problems)
			}
		}
		if s == sExtent {
			checkBBox(join(path, "bbox"), t["bbox"], problems)
		}
	case []any:
		if len(t) < s.minItems {
			*problems = append(*problems, fmt.Sprintf("%s: must have at least %d items, has %d", path, s.minItems, len(t)))
		}
		if s.maxItems > 0 && len(t) > s.maxItems {
			*problems = append(*problems, fmt.Sprintf("%s: must have at most %d items, has %d", path, s.maxItems, len(t)))
		}
		if s.items != nil {
			for i, e := range t {
				s.items.check(fmt.Sprintf("%s[%d]", path, i), e, problems)
			}
		}
	case string:
		if len(t) < s.minLen {
			*problems = append(*problems, fmt.Sprintf("%s: must not be empty", path))
		}
	case float64:
		if s.min != nil && t < *s.min {
			*problems = append(*problems, fmt.Sprintf("%s: %v is less than the minimum %v", path, t, *s.min))
		}
		if s.max != nil && t > *s.max {
			*problems = append(*problems, fmt.Sprintf("%s: %v is greater than the maximum %v", path, t, *s.max))
		}
	}
}

// checkBBox accepts one box (≥ 4 numbers) or a list of boxes, as the
// schema's oneOf does.
func checkBBox(path string, v any, problems *[]string) {
	if v == nil {
		return
	}
	list, ok := v.([]any)
	if !ok {
		*problems = append(*problems, fmt.Sprintf("%s: must be a box of numbers or a list of boxes, not %s", path, describe(v)))
		return
	}
	box := func(b []any) bool {
		if len(b) < 4 {
			return false
		}
		for _, n := range b {
			if _, ok := n.(float64); !ok {
				return false
			}
		}
		return true
	}
	if box(list) {
		return
	}
	for _, e := range list {
		if b, ok := e.([]any); !ok || !box(b) {
			*problems = append(*problems, fmt.Sprintf("%s: must be a box of at least 4 numbers or a list of such boxes", path))
			return
		}
	}
}

func isType(v any, typ string) bool {
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		n, ok := v.(float64)
		return ok && n == math.Trunc(n) && !math.IsInf(n, 0)
	}
	return true
}

func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return fmt.Sprintf("the string %q", t)
	case bool:
		return fmt.Sprintf("the boolean %v", t)
	case float64:
		return fmt.Sprintf("the number %v", t)
	}
	return fmt.Sprintf("%T", v)
}

func article(typ string) string {
	if strings.IndexByte("aeiou", typ[0]) >= 0 {
		return "an"
	}
	return "a"
}

func orDocument(path string) string {
	if path == "" {
		return "document"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
