package config

import (
	"sort"
	"strings"
)

// fieldType is the JSON type a known field must have.
type fieldType int

const (
	tAny fieldType = iota
	tString
	tInteger
	tNumber
	tBoolean
	tObject
	tArray
)

func (t fieldType) String() string {
	return [...]string{"any value", "a string", "an integer", "a number", "true or false", "a mapping", "a list"}[t]
}

// field describes a known field of the Honua document: its type, bounds,
// and for mappings and lists what they hold. It follows Honua's schema
// (the JSON Schema the server publishes for its metadata document) and the
// rules the server enforces when it loads a document.
type field struct {
	typ      fieldType
	min, max *float64
	minLen   int
	maxItems int
	// children lists the known fields of a mapping; nil means any keys.
	children map[string]*field
	// elem describes the elements of a list.
	elem *field
	// required lists the fields a mapping must have.
	required []string
}

func num(f float64) *float64 { return &f }

var (
	fString  = &field{typ: tString}
	fNonEmpy = &field{typ: tString, minLen: 1}
	fBool    = &field{typ: tBoolean}
	fInt     = &field{typ: tInteger}
	fAny     = &field{typ: tAny}
	fOpenMap = &field{typ: tObject}
	fStrings = &field{typ: tArray, elem: fString}
	fLink    = &field{typ: tObject, required: []string{"href"}, children: map[string]*field{
		"href": fNonEmpy, "rel": fString, "type": fString, "title": fString, "hreflang": fString, "length": fInt,
	}}
	fLinks  = &field{typ: tArray, elem: fLink}
	fExtent = &field{typ: tObject, children: map[string]*field{
		"bbox": fAny, "crs": fString,
		"temporal": {typ: tObject, children: map[string]*field{"interval": fAny, "trs": fString}},
	}}
	fSimpleStyle = &field{typ: tObject, children: map[string]*field{
		"label": fString, "description": fString, "symbolType": fString, "fillColor": fString,
		"strokeColor": fString, "strokeWidth": {typ: tNumber, min: num(0)}, "strokeStyle": fString,
		"iconHref": fString, "size": {typ: tNumber, min: num(0)}, "opacity": {typ: tNumber, min: num(0), max: num(1)},
	}}
)

// kindFields are the known top-level fields of each kind's objects.
var kindFields = map[Kind]*field{
	KindCatalog: {typ: tObject, required: []string{"id"}, children: map[string]*field{
		"id": fNonEmpy, "title": fString, "description": fString, "version": fString,
		"keywords": fStrings, "links": fLinks, "contact": fOpenMap, "license": fAny, "extents": fAny,
	}},
	KindFolder: {typ: tObject, required: []string{"id"}, children: map[string]*field{
		"id": fNonEmpy, "title": fString, "order": fInt, "description": fString,
	}},
	KindDataSource: {typ: tObject, required: []string{"id", "provider", "connectionString"}, children: map[string]*field{
		"id": fNonEmpy, "provider": fNonEmpy, "connectionString": fNonEmpy, "description": fString,
	}},
	KindService: {typ: tObject, required: []string{"id", "folderId", "serviceType", "dataSourceId"}, children: map[string]*field{
		"id": fNonEmpy, "title": fString, "folderId": fNonEmpy, "serviceType": fNonEmpy, "dataSourceId": fNonEmpy,
		"enabled": fBool, "description": fString, "keywords": fStrings, "links": fLinks,
		"ogc": {typ: tObject, children: map[string]*field{
			"collectionsEnabled": fBool, "itemLimit": {typ: tInteger, min: num(1)}, "defaultCrs": fString,
			"additionalCrs": fStrings, "conformanceClasses": fStrings,
		}},
		"esri": fOpenMap,
	}},
	KindLayer: {typ: tObject, required: []string{"id", "serviceId", "geometryType", "idField", "geometryField"}, children: map[string]*field{
		"id": fNonEmpy, "serviceId": fNonEmpy, "title": fString, "description": fString,
		"geometryType": fNonEmpy, "idField": fNonEmpy, "displayField": fString, "geometryField": fNonEmpy,
		"crs": fStrings, "keywords": fStrings, "links": fLinks, "extent": fExtent,
		"query": {typ: tObject, children: map[string]*field{
			"maxRecordCount": {typ: tInteger, min: num(1)}, "supportedParameters": fStrings,
			"autoFilter": {typ: tObject, children: map[string]*field{"cql": fString}},
		}},
		"storage": {typ: tObject, children: map[string]*field{
			"table": fString, "geometryColumn": fString, "primaryKey": fString, "temporalColumn": fString,
			"srid": fInt, "crs": fString, "hasZ": fBool, "hasM": fBool, "sqlView": fAny,
		}},
		"fields": {typ: tArray, elem: &field{typ: tObject, required: []string{"name"}, children: map[string]*field{
			"name": fNonEmpy, "alias": fString, "type": fString, "storageType": fString, "nullable": fBool,
			"editable": fBool, "maxLength": {typ: tInteger, min: num(1)}, "precision": {typ: tInteger, min: num(0)},
			"scale": {typ: tInteger, min: num(0)}, "description": fString, "domain": fAny,
		}}},
		"styles": {typ: tObject, children: map[string]*field{"defaultStyleId": fString, "styleIds": fStrings}},
		"attachments": {typ: tObject, children: map[string]*field{
			"enabled": fBool, "storageProfileId": fNonEmpy, "maxSizeMiB": {typ: tInteger, min: num(1)},
			"allowedContentTypes": fStrings, "disallowedContentTypes": fStrings, "requireGlobalIds": fBool,
			"returnPresignedUrls": fBool, "exposeOgcLinks": fBool,
		}},
		"itemType": fString, "minScale": {typ: tNumber, min: num(0)}, "maxScale": {typ: tNumber, min: num(0)},
		"hasZ": fBool, "hasM": fBool, "zField": fString, "editing": fAny, "relationships": fAny,
	}},
	KindStyle: {typ: tObject, required: []string{"id"}, children: map[string]*field{
		"id": fNonEmpy, "title": fString, "renderer": fString, "format": fString, "geometryType": fString,
		"rules": {typ: tArray, maxItems: 25, elem: &field{typ: tObject, children: map[string]*field{
			"id": fString, "default": fBool, "minScale": {typ: tNumber, min: num(0)}, "maxScale": {typ: tNumber, min: num(0)},
			"filter":     {typ: tObject, children: map[string]*field{"field": fString, "value": fString}},
			"symbolizer": fSimpleStyle,
		}}},
		"simple": fSimpleStyle,
		"uniqueValue": {typ: tObject, required: []string{"field", "classes"}, children: map[string]*field{
			"field": fNonEmpy, "defaultSymbol": fSimpleStyle,
			"classes": {typ: tArray, minLen: 1, elem: &field{typ: tObject, required: []string{"value"}, children: map[string]*field{
				"value": fString, "symbol": fSimpleStyle,
			}}},
		}},
	}},
	KindRaster: {typ: tObject, required: []string{"id", "source"}, children: map[string]*field{
		"id": fNonEmpy, "title": fString, "description": fString, "serviceId": fString, "layerId": fString,
		"keywords": fStrings, "crs": fStrings, "extent": fExtent,
		"source": {typ: tObject, required: []string{"type", "uri"}, children: map[string]*field{
			"type": fNonEmpy, "uri": fNonEmpy, "mediaType": fString, "credentialsId": fString, "disableHttpRangeRequests": fBool,
		}},
		"styles": fAny, "cache": fAny,
	}},
}

// documentKeys are the top-level keys of Honua's metadata document.
var documentKeys = []string{"catalog", "folders", "dataSources", "services", "layers", "styles", "rasterDatasets", "server"}

// kindOfDocumentKey maps a document key to the kind of objects it holds.
func kindOfDocumentKey(key string) (Kind, bool) {
	for _, k := range Kinds {
		if k.documentKey() == key {
			return k, true
		}
	}
	return "", false
}

// maxSuggestLen bounds the names "did you mean" compares, in characters:
// a typo in a name longer than that is not worth guessing, and comparing
// long names costs the product of their lengths.
const maxSuggestLen = 64

// suggest returns the known name closest to name ("did you mean"), or "":
// one that differs only in case, or within two edits (one for names of up
// to four characters). Names longer than maxSuggestLen are not compared,
// and the distance is computed only as far as the limit, so the cost is
// bounded by the number of known names.
func suggest(name string, known []string) string {
	lower := []rune(strings.ToLower(name))
	if len(lower) > maxSuggestLen {
		return ""
	}
	folded := FoldID(name)
	best, bestDist := "", 3
	for _, k := range known {
		if len(k) > 4*maxSuggestLen {
			continue // more than maxSuggestLen characters, whatever they are
		}
		kl := []rune(strings.ToLower(k))
		if len(kl) > maxSuggestLen {
			continue
		}
		if FoldID(k) == folded {
			return k // the same but for case
		}
		limit := 2
		if len(kl) <= 4 {
			limit = 1
		}
		if d := boundedLevenshtein(lower, kl, limit); d <= limit && d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

func keysOf(m map[string]*field) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// boundedLevenshtein is the edit distance of a and b when it is at most
// limit, and limit+1 otherwise: only the band of the table within limit of
// the diagonal is computed, and it stops as soon as a row exceeds limit.
func boundedLevenshtein(a, b []rune, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	const inf = 1 << 30
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		lo, hi := max(1, i-limit), min(len(b), i+limit)
		for j := range cur {
			cur[j] = inf
		}
		if i <= limit {
			cur[0] = i
		}
		rowMin := cur[0]
		for j := lo; j <= hi; j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit+1)
}
