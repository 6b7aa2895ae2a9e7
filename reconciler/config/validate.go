package config

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// geometryTypes are the geometry types Honua serves.
var geometryTypes = []string{
	"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection",
}

// requiredHints tell how to fill a missing required field.
var requiredHints = map[string]string{
	"geometryType":     "one of " + strings.Join(geometryTypes, ", "),
	"idField":          "the name of the primary-key field, e.g. objectid",
	"geometryField":    "the name of the geometry column, e.g. geom",
	"serviceId":        "the id of the service that publishes the layer",
	"folderId":         "the id of a folder in metadata.yaml",
	"dataSourceId":     "the id of a data source in datasources.yaml",
	"serviceType":      "e.g. FeatureServer or MapServer",
	"provider":         "e.g. postgis or sqlite",
	"connectionString": "with secrets as ${NAME} references",
}

// checkObject validates one object on its own: field types and bounds,
// required fields, unknown fields, and the rules of HONUA.md that need no
// other object. Cross-object rules live in crossCheck.
func checkObject(o *Object) []Diagnostic {
	var ds []Diagnostic
	what := fmt.Sprintf("%s %q", o.Kind, o.ID)
	checkValue(o, what, "", o.Value, kindFields[o.Kind], &ds)

	if r, bad := badIDRune(o.ID); bad {
		ds = append(ds, errorAt(o.PosOf("id"), "id-characters",
			"%s: id holds the control or invisible character %U; ids appear in URLs and plans, where such characters hide or fake text: remove it", what, r))
	}
	if strings.Contains(o.ID, "::") {
		ds = append(ds, errorAt(o.PosOf("id"), "id-separator",
			"%s: id must not contain '::' (it separates service and layer in OGC collection ids): rename it, e.g. %q", what, strings.ReplaceAll(o.ID, "::", "-")))
	}
	switch o.Kind {
	case KindLayer:
		ds = append(ds, checkLayer(o, what)...)
	case KindStyle:
		ds = append(ds, checkStyle(o, what)...)
	}
	ds = append(ds, checkSecrets(o, what)...)
	return ds
}

func checkValue(o *Object, what, path string, v any, f *field, ds *[]Diagnostic) {
	if f == nil || f.typ == tAny {
		return
	}
	label := path
	if label == "" {
		label = "the object"
	}
	if !hasType(v, f.typ) {
		*ds = append(*ds, errorAt(o.PosOf(path), "type",
			"%s: %s must be %s, not %s: %s", what, label, f.typ, describe(v), typeFix(path, f.typ, v)))
		return
	}
	switch f.typ {
	case tString:
		if s := v.(string); len(s) < f.minLen {
			*ds = append(*ds, errorAt(o.PosOf(path), "empty",
				"%s: %s must not be empty: give it a value or remove it", what, label))
		}
	case tInteger, tNumber:
		n := toFloat(v)
		if f.min != nil && n < *f.min {
			*ds = append(*ds, errorAt(o.PosOf(path), "range",
				"%s: %s is %s but must be at least %s", what, label, FormatNumber(n), FormatNumber(*f.min)))
		}
		if f.max != nil && n > *f.max {
			*ds = append(*ds, errorAt(o.PosOf(path), "range",
				"%s: %s is %s but must be at most %s", what, label, FormatNumber(n), FormatNumber(*f.max)))
		}
	case tArray:
		list := v.([]any)
		if f.maxItems > 0 && len(list) > f.maxItems {
			*ds = append(*ds, errorAt(o.PosOf(path), "too-many",
				"%s: %s has %d entries; Honua allows at most %d", what, label, len(list), f.maxItems))
		}
		if f.minLen > 0 && len(list) < f.minLen {
			*ds = append(*ds, errorAt(o.PosOf(path), "too-few",
				"%s: %s must have at least %d entry", what, label, f.minLen))
		}
		for i, e := range list {
			checkValue(o, what, fmt.Sprintf("%s[%d]", path, i), e, f.elem, ds)
		}
	case tObject:
		m := v.(map[string]any)
		for _, r := range f.required {
			if _, ok := m[r]; !ok {
				hint := requiredHints[r]
				if hint != "" {
					hint = " (" + hint + ")"
				}
				*ds = append(*ds, errorAt(o.PosOf(path), "required",
					"%s: missing required field %s: add `%s:`%s", what, joinPath(path, r), r, hint))
			}
		}
		if f.children == nil {
			return
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			cf, known := f.children[k]
			p := joinPath(path, k)
			if !known {
				msg := fmt.Sprintf("%s: unknown field %s", what, p)
				if s := suggest(k, keysOf(f.children)); s != "" {
					msg += fmt.Sprintf(" (did you mean %s?)", s)
				}
				msg += "; it is passed to the server unchanged"
				*ds = append(*ds, warningAt(o.PosOf(p), "unknown-field", "%s", msg))
				continue
			}
			if m[k] == nil && !isRequired(f, k) {
				continue // an explicit null is the same as leaving the field out
			}
			checkValue(o, what, p, m[k], cf, ds)
		}
	}
}

func isRequired(f *field, k string) bool {
	for _, r := range f.required {
		if r == k {
			return true
		}
	}
	return false
}

func hasType(v any, t fieldType) bool {
	switch t {
	case tString:
		_, ok := v.(string)
		return ok
	case tInteger:
		switch n := v.(type) {
		case int64:
			return true
		case float64:
			return n == math.Trunc(n)
		}
		return false
	case tNumber:
		switch v.(type) {
		case int64, float64:
			return true
		}
		return false
	case tBoolean:
		_, ok := v.(bool)
		return ok
	case tObject:
		_, ok := v.(map[string]any)
		return ok
	case tArray:
		_, ok := v.([]any)
		return ok
	}
	return true
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case float64:
		return n
	}
	return 0
}

func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "empty (null)"
	case string:
		if len(t) > 40 {
			t = t[:40] + "…"
		}
		return strconv.Quote(t)
	case bool:
		return strconv.FormatBool(t)
	case int64, float64:
		return FormatNumber(toFloat(t))
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

func typeFix(path string, t fieldType, v any) string {
	key := path
	if i := strings.LastIndexAny(key, ".]"); i >= 0 {
		key = key[i+1:]
	}
	if key == "" {
		key = path
	}
	switch t {
	case tInteger, tNumber:
		if s, ok := v.(string); ok {
			if _, err := strconv.ParseFloat(s, 64); err == nil {
				return fmt.Sprintf("remove the quotes (%s: %s)", key, s)
			}
		}
		return "write a number"
	case tBoolean:
		if s, ok := v.(string); ok && (strings.EqualFold(s, "true") || strings.EqualFold(s, "false")) {
			return fmt.Sprintf("remove the quotes (%s: %s)", key, strings.ToLower(s))
		}
		return "write true or false"
	case tString:
		return "quote the value"
	case tArray:
		return "write a list (`- item` lines or [a, b])"
	case tObject:
		return "write a mapping of `key: value` lines"
	}
	return "fix the value"
}

func checkLayer(o *Object, what string) []Diagnostic {
	var ds []Diagnostic
	if gt := o.Str("geometryType"); gt != "" && !containsString(geometryTypes, gt) {
		msg := fmt.Sprintf("%s: geometryType %q is not one Honua knows (%s)", what, gt, strings.Join(geometryTypes, ", "))
		if s := suggest(gt, geometryTypes); s != "" {
			msg = fmt.Sprintf("%s: geometryType %q is not one Honua knows: did you mean %s?", what, gt, s)
		}
		ds = append(ds, warningAt(o.PosOf("geometryType"), "geometry-type", "%s", msg))
	}
	minS, hasMin := number(o.Value["minScale"])
	maxS, hasMax := number(o.Value["maxScale"])
	if hasMin && hasMax && maxS > minS {
		ds = append(ds, errorAt(o.PosOf("maxScale"), "scale",
			"%s: maxScale %s is greater than minScale %s; scales are denominators, so maxScale (most zoomed in) must be the smaller: swap them",
			what, FormatNumber(maxS), FormatNumber(minS)))
	}
	storage, _ := o.Value["storage"].(map[string]any)
	table, _ := storage["table"].(string)
	_, hasView := storage["sqlView"]
	switch {
	case table == "" && !hasView:
		p := "storage"
		if storage == nil {
			p = "id"
		}
		ds = append(ds, errorAt(o.PosOf(p), "storage-table",
			"%s: no storage.table: add `storage: {table: schema.table_name}` naming the table that holds the features", what))
	case table != "" && hasView:
		ds = append(ds, errorAt(o.PosOf("storage.sqlView"), "storage-table",
			"%s: storage has both table and sqlView: keep one of them", what))
	}
	srid, hasSRID := storage["srid"]
	crs, _ := storage["crs"].(string)
	switch {
	case storage != nil && !hasSRID && crs == "":
		ds = append(ds, warningAt(o.PosOf("storage"), "srid",
			"%s: storage has neither srid nor crs; Honua will assume EPSG:4326: add `srid:` and `crs:` to say what the data is in", what))
	case hasSRID && crs != "":
		if code, ok := crsCode(crs); ok {
			if s, isNum := number(srid); isNum && int64(s) != code {
				ds = append(ds, warningAt(o.PosOf("storage.crs"), "srid",
					"%s: storage.srid %s and storage.crs %s disagree: make them name the same reference system", what, FormatNumber(s), crs))
			}
		}
	}
	return ds
}

func checkStyle(o *Object, what string) []Diagnostic {
	var ds []Diagnostic
	for _, f := range []string{"format", "geometryType"} {
		if _, ok := o.Value[f]; !ok {
			ds = append(ds, warningAt(o.PosOf("id"), "style-"+strings.ToLower(f),
				"%s: no %s; the Honua server expects one: add `%s:`", what, f, f))
		}
	}
	rules, _ := o.Value["rules"].([]any)
	for i, r := range rules {
		rm, _ := r.(map[string]any)
		minS, hasMin := number(rm["minScale"])
		maxS, hasMax := number(rm["maxScale"])
		if hasMin && hasMax && minS > maxS {
			ds = append(ds, errorAt(o.PosOf(fmt.Sprintf("rules[%d].minScale", i)), "scale",
				"%s: rule %d has minScale %s greater than maxScale %s: swap them", what, i+1, FormatNumber(minS), FormatNumber(maxS)))
		}
	}
	return ds
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
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

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
