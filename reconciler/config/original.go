package config

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// The original design's environment files (docs/original-format.md): a
// YAML file with a header (apiVersion, kind, metadata) whose kind is one of
// these is read in the original's shape, wherever it is in an environment
// folder. What kind a file is is decided from its content only.
const (
	OriginalAPIVersion          = "honua.io/v1"
	KindServiceCollection       = "ServiceCollection"
	KindDatasourceConfiguration = "DatasourceConfiguration"
	DefaultOriginalServiceType  = "FeatureServer"
	maxOriginalMergeDepth       = 16
)

// OriginalFieldTypes maps the property types of the original design
// (compared ignoring case) to Honua's field types. Other types are passed
// through unchanged, with a warning.
var OriginalFieldTypes = map[string]string{
	"string": "string", "text": "string", "varchar": "string", "char": "string",
	"int": "int32", "integer": "int32", "int32": "int32",
	"long": "int64", "bigint": "int64", "int64": "int64",
	"double": "double", "float": "double", "number": "double", "real": "double", "decimal": "double", "numeric": "double",
	"bool": "boolean", "boolean": "boolean",
	"date": "date",
}

// OriginalProviders maps the data-source types of the original design
// (compared ignoring case) to Honua's providers; others pass unchanged.
var OriginalProviders = map[string]string{
	"postgis": "postgis", "postgresql": "postgis", "postgres": "postgis",
	"sqlite": "sqlite", "spatialite": "sqlite", "geopackage": "sqlite", "gpkg": "sqlite",
}

// originalHeaderRe finds the original design's kind line in a file that does
// not parse, so that its YAML errors are reported wherever it is.
var originalHeaderRe = regexp.MustCompile(`(?m)^kind:[ \t]*["']?(ServiceCollection|DatasourceConfiguration)["']?[ \t]*(#.*)?\r?$`)

// originalKind returns the original-format kind of a file's root node ("" for
// a file in this project's layout).
func originalKind(root *yaml.Node) string {
	if root == nil || root.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "kind" && v.Kind == yaml.ScalarNode {
			switch v.Value {
			case KindServiceCollection, KindDatasourceConfiguration:
				return v.Value
			}
			return ""
		}
	}
	return ""
}

// IsOriginalFormat reports whether data is a file of the original design
// (kind: ServiceCollection or DatasourceConfiguration), and which kind.
func IsOriginalFormat(data []byte) (string, bool) {
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil || len(n.Content) == 0 {
		return "", false
	}
	k := originalKind(n.Content[0])
	return k, k != ""
}

// scalarNode is a new plain scalar holding s, placed at at's position so
// that findings about it point where it comes from.
func scalarNode(s string, at *yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Line: at.Line, Column: at.Column}
}

func keyNode(s string, at *yaml.Node) *yaml.Node { return scalarNode(s, at) }

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < maxOriginalMergeDepth; i++ {
		n = n.Alias
	}
	return n
}

// pairs returns the key and value nodes of a mapping, merge keys ("<<")
// resolved: merged keys come after the mapping's own and only when the
// mapping does not set them.
func pairs(n *yaml.Node) []*yaml.Node {
	return mergedPairs(n, 0)
}

func mergedPairs(n *yaml.Node, depth int) []*yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode || depth > maxOriginalMergeDepth {
		return nil
	}
	var own, merged []*yaml.Node
	set := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			src := deref(v)
			var maps []*yaml.Node
			if src != nil && src.Kind == yaml.SequenceNode {
				maps = src.Content
			} else {
				maps = []*yaml.Node{src}
			}
			for _, m := range maps {
				merged = append(merged, mergedPairs(m, depth+1)...)
			}
			continue
		}
		if set[k.Value] {
			continue // a duplicate: reported by dupKeys
		}
		own = append(own, k, v)
		set[k.Value] = true
	}
	for i := 0; i+1 < len(merged); i += 2 {
		if k := merged[i]; !set[k.Value] {
			set[k.Value] = true
			own = append(own, k, merged[i+1])
		}
	}
	return own
}

// dupKeys reports the keys a mapping of the original format sets twice;
// pairs keeps the first.
func (pf *parsedFile) dupKeys(d *decoder, n *yaml.Node) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			continue
		}
		if line, dup := seen[k.Value]; dup {
			pf.diags = append(pf.diags, errorAt(d.pos(k), "duplicate-key",
				"key %q is already defined at line %d: remove one of the two", k.Value, line))
			continue
		}
		seen[k.Value] = k.Line
	}
}

// find returns the value of key in a list of pairs.
func find(ps []*yaml.Node, key string) (k, v *yaml.Node) {
	for i := 0; i+1 < len(ps); i += 2 {
		if ps[i].Value == key {
			return ps[i], ps[i+1]
		}
	}
	return nil, nil
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// original reads a file of the original design: its header is checked, its
// services or datasources are mapped to Honua's objects (as mapping nodes
// in Honua's shape made of the file's own nodes, so positions stay
// exact), and any other top-level key is read as in a document file.
func (pf *parsedFile) original(d *decoder, root *yaml.Node, env, kind string) {
	var rest []*yaml.Node
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], deref(root.Content[i+1])
		if line, dup := seen[k.Value]; dup {
			pf.diags = append(pf.diags, errorAt(d.pos(k), "duplicate-key",
				"key %q is already defined at line %d: remove one of the two", k.Value, line))
			continue
		}
		seen[k.Value] = k.Line
		switch {
		case k.Value == "kind":
		case k.Value == "apiVersion":
			if v.Kind != yaml.ScalarNode || v.Value != OriginalAPIVersion {
				pf.diags = append(pf.diags, errorAt(d.pos(v), "api-version",
					"apiVersion %q is not supported: write apiVersion: %s", v.Value, OriginalAPIVersion))
			}
		case k.Value == "metadata":
			if !isNull(v) && v.Kind != yaml.MappingNode {
				pf.diags = append(pf.diags, errorAt(d.pos(v), "file-shape",
					"metadata must be a mapping (name: ..., description: ...)"))
			}
		case k.Value == "services" && kind == KindServiceCollection:
			pf.originalServices(d, v, env)
		case k.Value == "datasources" && kind == KindDatasourceConfiguration:
			pf.originalDataSources(d, v, env)
		default:
			rest = append(rest, k, root.Content[i+1])
		}
	}
	if len(rest) > 0 {
		pf.document(d, &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: rest, Line: root.Line, Column: root.Column}, env)
	}
}

// entries lists the entries of a list or a map of named mappings: for a
// map, the key is the entry's name (nameKey), given as the name node.
func (pf *parsedFile) entries(d *decoder, v *yaml.Node, what, nameKey string, each func(item, name *yaml.Node)) {
	switch {
	case isNull(v):
	case v.Kind == yaml.SequenceNode:
		for _, item := range v.Content {
			item = deref(item)
			if item.Kind != yaml.MappingNode {
				pf.diags = append(pf.diags, errorAt(d.pos(item), "file-shape", "each entry of %s must be a mapping (%s: ...)", what, nameKey))
				continue
			}
			pf.dupKeys(d, item)
			_, name := find(pairs(item), nameKey)
			each(item, name)
		}
	case v.Kind == yaml.MappingNode:
		ps := pairs(v)
		for i := 0; i+1 < len(ps); i += 2 {
			k, item := ps[i], deref(ps[i+1])
			if item.Kind != yaml.MappingNode {
				pf.diags = append(pf.diags, errorAt(d.pos(item), "file-shape", "%s.%s must be a mapping", what, k.Value))
				continue
			}
			pf.dupKeys(d, item)
			if _, n := find(pairs(item), nameKey); n != nil && n.Value != k.Value {
				pf.diags = append(pf.diags, errorAt(d.pos(n), "name-mismatch",
					"%s %q is listed as %q: remove %s: or make it %q", what, n.Value, k.Value, nameKey, k.Value))
				continue
			}
			each(item, k)
		}
	default:
		pf.diags = append(pf.diags, errorAt(d.pos(v), "file-shape", "%s must be a list (- %s: ...) or a mapping of %s", what, nameKey, what))
	}
}

func (pf *parsedFile) missing(d *decoder, at *yaml.Node, what, field, hint string) {
	pf.diags = append(pf.diags, errorAt(d.pos(at), "required",
		"%s: missing required field %s: add `%s:` (%s)", what, field, field, hint))
}

// originalServices maps a ServiceCollection's services and their layers.
func (pf *parsedFile) originalServices(d *decoder, v *yaml.Node, env string) {
	pf.entries(d, v, "services", "name", func(item, name *yaml.Node) {
		if name == nil || name.Kind != yaml.ScalarNode || name.Value == "" {
			pf.missing(d, item, "a service of the ServiceCollection", "name", "the service's id, e.g. parks")
			return
		}
		what := fmt.Sprintf("service %q", name.Value)
		svc := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: item.Line, Column: item.Column}
		svc.Content = append(svc.Content, keyNode("id", name), name)
		var layers, dsKey, ds *yaml.Node
		hasType := false
		ps := pairs(item)
		for i := 0; i+1 < len(ps); i += 2 {
			k, val := ps[i], ps[i+1]
			switch k.Value {
			case "name":
			case "layers":
				layers = deref(val)
			case "datasource", "dataSourceId":
				if ds != nil {
					pf.diags = append(pf.diags, errorAt(d.pos(k), "duplicate-key",
						"%s: the data source is already given at line %d: keep one of datasource and dataSourceId", what, dsKey.Line))
					continue
				}
				dsKey, ds = k, val
			default:
				if k.Value == "serviceType" {
					hasType = true
				}
				svc.Content = append(svc.Content, k, val)
			}
		}
		if !hasType {
			svc.Content = append(svc.Content, keyNode("serviceType", item), scalarNode(DefaultOriginalServiceType, item))
		}
		// Honua reads all the layers of a service from the service's one
		// data source: the layers' datasource names it, or must agree.
		type layerDS struct{ layer, ds *yaml.Node }
		var layerDSs []layerDS
		var layerObjs []*Object
		if !isNull(layers) {
			pf.entries(d, layers, "layers", "name", func(l, lname *yaml.Node) {
				o, lds := pf.originalLayer(d, l, lname, name, env)
				if o != nil {
					layerObjs = append(layerObjs, o)
				}
				if lds != nil {
					layerDSs = append(layerDSs, layerDS{l, lds})
				}
			})
		}
		for _, l := range layerDSs {
			if ds == nil {
				dsKey, ds = l.ds, l.ds
				continue
			}
			if FoldID(l.ds.Value) != FoldID(deref(ds).Value) {
				pf.diags = append(pf.diags, errorAt(d.pos(l.ds), "datasource-mismatch",
					"%s reads data source %q (line %d) but this layer reads %q: Honua reads all the layers of a service from one data source: move the layer to a service of %q",
					what, deref(ds).Value, ds.Line, l.ds.Value, l.ds.Value))
			}
		}
		if ds == nil {
			// Without it the service and its layers are not read: one
			// error says what to add.
			pf.missing(d, item, what, "datasource", "the id of a data source of a DatasourceConfiguration, on the service or its layers")
			return
		}
		svc.Content = append(svc.Content, keyNode("dataSourceId", dsKey), ds)
		if o := d.object(KindService, svc, env); o != nil {
			pf.objects = append(pf.objects, o)
		}
		pf.objects = append(pf.objects, layerObjs...)
	})
}

// originalLayer maps one layer of a service. It returns the layer (nil
// when a required field is missing, which is reported) and its datasource
// node.
func (pf *parsedFile) originalLayer(d *decoder, item, name, service *yaml.Node, env string) (*Object, *yaml.Node) {
	ps := pairs(item)
	_, ds := find(ps, "datasource")
	if ds != nil && (ds.Kind != yaml.ScalarNode || ds.Value == "") {
		pf.diags = append(pf.diags, errorAt(d.pos(ds), "type", "datasource must be the id of a data source"))
		ds = nil
	}
	if name == nil || name.Kind != yaml.ScalarNode || name.Value == "" {
		pf.missing(d, item, fmt.Sprintf("a layer of service %q", service.Value), "name", "the layer's id, e.g. parks")
		return nil, ds
	}
	what := fmt.Sprintf("layer %q", name.Value)
	_, storage := find(ps, "storage")
	storage = deref(storage)
	var storagePairs []*yaml.Node
	if storage != nil && !isNull(storage) {
		if storage.Kind != yaml.MappingNode {
			pf.diags = append(pf.diags, errorAt(d.pos(storage), "type", "%s: storage must be a mapping", what))
			return nil, ds
		}
		pf.dupKeys(d, storage)
		storagePairs = pairs(storage)
	}
	has := func(honua, storageKey string) bool {
		if _, v := find(ps, honua); v != nil {
			return true
		}
		if storageKey != "" {
			if _, v := find(storagePairs, storageKey); v != nil {
				return true
			}
		}
		return false
	}
	ok := true
	if _, v := find(ps, "geometryColumn"); v == nil && !has("geometryField", "geometryColumn") {
		pf.missing(d, item, what, "geometryColumn", "the name of the geometry column, e.g. geom")
		ok = false
	}
	if _, v := find(ps, "idColumn"); v == nil && !has("idField", "primaryKey") {
		pf.missing(d, item, what, "idColumn", "the name of the primary-key column, e.g. objectid")
		ok = false
	}
	if _, v := find(ps, "table"); v == nil && !has("", "table") && !has("", "sqlView") {
		pf.missing(d, item, what, "table", "the table that holds the features, e.g. public.parks")
		ok = false
	}
	if !ok {
		return nil, ds
	}

	layer := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: item.Line, Column: item.Column}
	layer.Content = append(layer.Content, keyNode("id", name), name, keyNode("serviceId", service), scalarNode(service.Value, service))
	var stor []*yaml.Node
	var storKey *yaml.Node
	for i := 0; i+1 < len(ps); i += 2 {
		k, v := ps[i], ps[i+1]
		switch k.Value {
		case "name", "datasource":
		case "table":
			stor = append(stor, keyNode("table", k), v)
		case "geometryColumn":
			layer.Content = append(layer.Content, keyNode("geometryField", k), v)
			stor = append(stor, keyNode("geometryColumn", k), v)
		case "idColumn":
			layer.Content = append(layer.Content, keyNode("idField", k), v)
			stor = append(stor, keyNode("primaryKey", k), v)
		case "storage":
			storKey = k
		case "properties":
			layer.Content = append(layer.Content, keyNode("fields", k), pf.originalProperties(d, what, v))
		default:
			layer.Content = append(layer.Content, k, v)
		}
	}
	if len(stor) > 0 || storKey != nil {
		at := storKey
		if at == nil {
			at = stor[0]
		}
		sn := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: at.Line, Column: at.Column}
		if storKey != nil {
			sn.Line, sn.Column = storage.Line, storage.Column
		}
		// The layer's own storage: keys first; a key given both ways is
		// reported as a duplicate by the decoder.
		sn.Content = append(append(sn.Content, storagePairs...), stor...)
		layer.Content = append(layer.Content, keyNode("storage", at), sn)
	}
	return d.object(KindLayer, layer, env), ds
}

// originalProperties maps properties: [{name, type}] to Honua's fields,
// with the type mapped (OriginalFieldTypes).
func (pf *parsedFile) originalProperties(d *decoder, what string, v *yaml.Node) *yaml.Node {
	v = deref(v)
	if v == nil || v.Kind != yaml.SequenceNode {
		return v // the field check reports the type
	}
	out := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: v.Line, Column: v.Column}
	for _, item := range v.Content {
		item = deref(item)
		if item.Kind != yaml.MappingNode {
			out.Content = append(out.Content, item)
			continue
		}
		f := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: item.Line, Column: item.Column}
		pf.dupKeys(d, item)
		ps := pairs(item)
		for i := 0; i+1 < len(ps); i += 2 {
			k, val := ps[i], deref(ps[i+1])
			if k.Value == "type" && val.Kind == yaml.ScalarNode && val.ShortTag() == "!!str" {
				if t, ok := OriginalFieldTypes[strings.ToLower(val.Value)]; ok {
					val = scalarNode(t, val)
				} else {
					pf.diags = append(pf.diags, warningAt(d.pos(val), "field-type",
						"%s: property type %q is not one the original format maps (%s); it is passed to the server unchanged",
						what, val.Value, strings.Join(originalTypeNames(), ", ")))
				}
			}
			f.Content = append(f.Content, k, val)
		}
		out.Content = append(out.Content, f)
	}
	return out
}

func originalTypeNames() []string {
	var out []string
	for k := range OriginalFieldTypes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// originalDataSources maps a DatasourceConfiguration's datasources.
func (pf *parsedFile) originalDataSources(d *decoder, v *yaml.Node, env string) {
	pf.entries(d, v, "datasources", "name", func(item, name *yaml.Node) {
		if name == nil || name.Kind != yaml.ScalarNode || name.Value == "" {
			pf.missing(d, item, "a data source of the DatasourceConfiguration", "name", "the data source's id")
			return
		}
		what := fmt.Sprintf("data source %q", name.Value)
		ps := pairs(item)
		if _, t := find(ps, "type"); t == nil {
			if _, p := find(ps, "provider"); p == nil {
				pf.missing(d, item, what, "type", "postgis or sqlite")
				return
			}
		}
		ds := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: item.Line, Column: item.Column}
		ds.Content = append(ds.Content, keyNode("id", name), name)
		for i := 0; i+1 < len(ps); i += 2 {
			k, val := ps[i], deref(ps[i+1])
			switch k.Value {
			case "name":
			case "type":
				if val.Kind == yaml.ScalarNode && val.ShortTag() == "!!str" {
					if p, ok := OriginalProviders[strings.ToLower(val.Value)]; ok {
						val = scalarNode(p, val)
					}
				}
				ds.Content = append(ds.Content, keyNode("provider", k), val)
			default:
				ds.Content = append(ds.Content, k, ps[i+1])
			}
		}
		if o := d.object(KindDataSource, ds, env); o != nil {
			pf.objects = append(pf.objects, o)
		}
	})
}
