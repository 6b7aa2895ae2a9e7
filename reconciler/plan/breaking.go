package plan

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// The breaking rules follow "What breaking means" in HONUA.md. Each rule
// that fires gives one reason naming the field, its old and new value, and
// what clients see. The rules read the object values themselves, not the
// details, so they hold whatever the shape of the lists.
//
// Decisions beyond HONUA.md's list, all on the side of asking a person:
//   - removing a folder is breaking (its Esri REST folder URL disappears,
//     which is why moving a service to another folder is breaking), and so
//     is removing a raster dataset (clients read it) or the catalog;
//   - a new catalog id is not: an environment has one catalog and its id is
//     in no URL, so base and head catalogs pair as one modification;
//   - an id whose case changes (same key) is breaking for layers and
//     services, since the collection id in the URL is spelled anew;
//   - a query limit that shrinks (layer query.maxRecordCount, service
//     ogc.itemLimit) is breaking: clients paging with the old limit get
//     fewer items than they ask for; a growing one is not;
//   - on a service, pointing it at another data source (dataSourceId),
//     changing its serviceType (part of its Esri REST URL), disabling it
//     (enabled or ogc.collectionsEnabled becoming false), changing
//     ogc.defaultCrs or dropping an ogc.additionalCrs entry is breaking;
//   - adding a storage.srid or storage.crs that names the SRID the layer
//     already declared is not a SRID change; a storage.srid that is not a
//     whole number declares no SRID (validation rejects it; the plan does
//     not round it to one);
//   - ogc.defaultCrs compares by the CRS clients get: an absent one is
//     CRS84, Honua's default, so adding or removing it as CRS84, or
//     respelling CRS84 (OGC:CRS84, its URI or URN), is not breaking.

// classifyModify returns the reasons a modification is breaking (none when
// it is not) and its risk.
func classifyModify(b, h *config.Object, details []Detail, collections []string) ([]string, Risk) {
	var reasons []string
	risk := RiskLow
	switch h.Kind {
	case config.KindLayer:
		reasons = layerReasons(b, h)
	case config.KindService:
		reasons = serviceReasons(b, h, collections)
	case config.KindDataSource:
		reasons = dataSourceReasons(details, collections)
		for _, d := range details {
			if p := strings.ToLower(d.Path); p == "connectionstring" || p == "provider" {
				risk = RiskCritical
			}
		}
	}
	switch {
	case len(reasons) > 0:
		risk = risk.Max(RiskHigh)
	case len(collections) > 1 || touchesSchema(h.Kind, details):
		risk = RiskMedium
	}
	if reasons == nil {
		reasons = []string{}
	}
	// Values went through show; ids, field names and paths did not.
	for i, r := range reasons {
		reasons[i] = visible(r)
	}
	return reasons, risk
}

// addRisk is the risk of adding o: nothing uses a new object yet, except
// that a new data source brings new credentials.
func addRisk(o *config.Object) Risk {
	if o.Kind == config.KindDataSource {
		return RiskMedium
	}
	return RiskLow
}

// schemaFields are the top-level fields whose non-breaking changes still
// change what clients read or may ask for (a field added, a limit raised,
// the fields or CRS reordered: the queryables order, the default CRS).
var schemaFields = map[config.Kind]map[string]bool{
	config.KindLayer:   {"fields": true, "storage": true, "crs": true, "query": true, "editing": true, "attachments": true, "relationships": true},
	config.KindService: {"ogc": true, "esri": true, "enabled": true},
}

func touchesSchema(k config.Kind, details []Detail) bool {
	for _, d := range details {
		top := d.Path
		if i := strings.IndexAny(top, ".[#"); i >= 0 {
			top = top[:i]
		}
		if !schemaFields[k][top] {
			continue
		}
		// A field's alias or description is cosmetic.
		if strings.HasSuffix(d.Path, "].alias") || strings.HasSuffix(d.Path, "].description") {
			continue
		}
		return true
	}
	return false
}

func layerReasons(b, h *config.Object) []string {
	var r []string
	bcol, hcol := layerCollection(b), layerCollection(h)
	if b.ID != h.ID {
		r = append(r, fmt.Sprintf("id %s → %s changes the collection URL %s → %s", b.ID, h.ID, bcol, hcol))
	}
	if from, to, ok := changed(b, h, "serviceId"); ok {
		r = append(r, fmt.Sprintf("serviceId %s → %s moves collection %s to %s", show(from), show(to), bcol, hcol))
	}
	if from, to, ok := changed(b, h, "geometryType"); ok {
		r = append(r, fmt.Sprintf("geometryType %s → %s changes the feature schema clients read", show(from), show(to)))
	}
	r = append(r, sridReasons(b, h)...)
	for _, lost := range lostEntries(b, h, "crs") {
		r = append(r, fmt.Sprintf("crs no longer offers %s: clients requesting that CRS get an error", lost))
	}
	if from, to, ok := changed(b, h, "idField"); ok {
		r = append(r, fmt.Sprintf("idField %s → %s changes the feature ids clients hold", show(from), show(to)))
	}
	if from, to, ok := changed(b, h, "geometryField"); ok {
		r = append(r, fmt.Sprintf("geometryField %s → %s changes the geometries clients read", show(from), show(to)))
	}
	if from, to, ok := changed(b, h, "storage.table"); ok {
		r = append(r, fmt.Sprintf("storage.table %s → %s switches the data behind %s", show(from), show(to), orNone(hcol, "the collection")))
	}
	r = append(r, fieldReasons(b, h)...)
	if from, to, ok := shrinks(b, h, "query.maxRecordCount"); ok {
		r = append(r, fmt.Sprintf("query.maxRecordCount %s → %s shrinks the page size clients may request", show(from), show(to)))
	}
	return r
}

func serviceReasons(b, h *config.Object, collections []string) []string {
	var r []string
	n := countCollections(collections)
	if b.ID != h.ID {
		r = append(r, fmt.Sprintf("id %s → %s changes the URLs of the service and of its %s", b.ID, h.ID, n))
	}
	if from, to, ok := changed(b, h, "folderId"); ok {
		r = append(r, fmt.Sprintf("folderId %s → %s moves the service's Esri REST URL to another folder", show(from), show(to)))
	}
	if from, to, ok := changed(b, h, "dataSourceId"); ok {
		r = append(r, fmt.Sprintf("dataSourceId %s → %s switches the data behind its %s", show(from), show(to), n))
	}
	if from, to, ok := changed(b, h, "serviceType"); ok {
		r = append(r, fmt.Sprintf("serviceType %s → %s changes the service's Esri REST URL", show(from), show(to)))
	}
	if from, ok := turnsOff(b, h, "enabled"); ok {
		r = append(r, fmt.Sprintf("enabled %s → false takes its %s offline", show(from), n))
	}
	if from, ok := turnsOff(b, h, "ogc.collectionsEnabled"); ok {
		r = append(r, fmt.Sprintf("ogc.collectionsEnabled %s → false removes its %s from OGC API", show(from), n))
	}
	if from, to, ok := shrinks(b, h, "ogc.itemLimit"); ok {
		r = append(r, fmt.Sprintf("ogc.itemLimit %s → %s shrinks the page size clients may request", show(from), show(to)))
	}
	if from, to, ok := changed(b, h, "ogc.defaultCrs"); ok && !sameDefaultCRS(from, to) {
		r = append(r, fmt.Sprintf("ogc.defaultCrs %s → %s changes the coordinates clients receive by default", showDefaultCRS(from), showDefaultCRS(to)))
	}
	for _, lost := range lostEntries(b, h, "ogc.additionalCrs") {
		r = append(r, fmt.Sprintf("ogc.additionalCrs no longer offers %s: clients requesting that CRS get an error", lost))
	}
	return r
}

// dataSourceReasons gives one reason per changed field: any change to a
// data source is breaking. Values pass through redactString, so only
// ${NAME} references, never secrets, reach the reason.
func dataSourceReasons(details []Detail, collections []string) []string {
	r := make([]string, 0, len(details))
	n := countCollections(collections)
	for _, d := range details {
		from, to := show(redactValue(d.From)), show(redactValue(d.To))
		switch strings.ToLower(d.Path) {
		case "connectionstring", "provider":
			r = append(r, fmt.Sprintf("%s %s → %s changes the database behind %s", d.Path, from, to, n))
		default:
			r = append(r, fmt.Sprintf("%s %s → %s: any change to a data source is breaking (%s read from it)", d.Path, from, to, n))
		}
	}
	return r
}

func sridReasons(b, h *config.Object) []string {
	fromS, toS, sridChanged := changed(b, h, "storage.srid")
	fromC, toC, crsChanged := changed(b, h, "storage.crs")
	if !sridChanged && !crsChanged {
		return nil
	}
	if sb, ok := declaredSRID(b); ok {
		if sh, ok := declaredSRID(h); ok && sb == sh {
			return nil
		}
	}
	var r []string
	if sridChanged {
		r = append(r, fmt.Sprintf("storage.srid %s → %s changes the coordinates clients receive", show(fromS), show(toS)))
	}
	if crsChanged {
		r = append(r, fmt.Sprintf("storage.crs %s → %s changes the coordinates clients receive", show(fromC), show(toC)))
	}
	return r
}

// declaredSRID is the one EPSG code a layer's storage.srid and storage.crs
// declare, when they declare exactly one and it can be read. An SRID is a
// positive whole number that fits PostGIS's int32: 4326.5 declares none
// rather than 4326, so that 4326 → 4326.5 is not taken for the same SRID.
func declaredSRID(o *config.Object) (int64, bool) {
	var codes []int64
	if v := config.Lookup(o.Value, "storage.srid"); v != nil {
		f, ok := number(v)
		if !ok || f != math.Trunc(f) || f <= 0 || f > math.MaxInt32 {
			return 0, false
		}
		codes = append(codes, int64(f))
	}
	if v := config.Lookup(o.Value, "storage.crs"); v != nil {
		s, _ := v.(string)
		c, ok := epsgCode(s)
		if !ok {
			return 0, false
		}
		codes = append(codes, c)
	}
	if len(codes) == 0 || len(codes) == 2 && codes[0] != codes[1] {
		return 0, false
	}
	return codes[0], true
}

// epsgCode reads "EPSG:4326", "urn:ogc:def:crs:EPSG::4326" and
// "http://www.opengis.net/def/crs/EPSG/0/4326".
func epsgCode(s string) (int64, bool) {
	u := strings.ToUpper(s)
	i := strings.LastIndex(u, "EPSG")
	if i < 0 {
		return 0, false
	}
	j := strings.LastIndexAny(u, ":/")
	if j < i {
		return 0, false
	}
	c, err := strconv.ParseInt(u[j+1:], 10, 64)
	return c, err == nil && c > 0
}

// sameDefaultCRS reports whether two values of ogc.defaultCrs give clients
// the same default CRS: absent means CRS84, and every spelling of CRS84 is
// CRS84. Other CRS compare as written.
func sameDefaultCRS(from, to any) bool {
	if (from == nil || isCRS84(from)) && (to == nil || isCRS84(to)) {
		return true
	}
	return equalValue(from, to)
}

// showDefaultCRS shows a value of ogc.defaultCrs, saying what an absent one
// means.
func showDefaultCRS(v any) string {
	if v == nil {
		return "(none: CRS84)"
	}
	return show(v)
}

// isCRS84 reports whether v names OGC's CRS84 (WGS 84 longitude, latitude):
// "CRS84", "OGC:CRS84", "[OGC:CRS84]", "urn:ogc:def:crs:OGC:1.3:CRS84",
// "http://www.opengis.net/def/crs/OGC/1.3/CRS84" and the like, in any case.
func isCRS84(v any) bool {
	s, _ := v.(string)
	u := strings.ToUpper(strings.TrimSpace(s))
	u = strings.TrimSuffix(strings.TrimPrefix(u, "["), "]")
	return u == "CRS84" || strings.HasSuffix(u, ":CRS84") || strings.HasSuffix(u, "/CRS84")
}

type field struct {
	name string
	v    map[string]any
}

func fieldReasons(b, h *config.Object) []string {
	bf, hf := fieldsByName(b), fieldsByName(h)
	var r []string
	for _, f := range bf {
		g, ok := findField(hf, f.name)
		if !ok {
			r = append(r, fmt.Sprintf("field %s removed: clients reading it break", f.name))
			continue
		}
		if from, to := f.v["type"], g.v["type"]; !equalValue(from, to) {
			r = append(r, fmt.Sprintf("field %s type %s → %s changes the feature schema clients read", f.name, show(from), show(to)))
		}
		if nullable(f.v) && !nullable(g.v) {
			r = append(r, fmt.Sprintf("field %s nullable %s → false: features and edits without a value are rejected", f.name, show(f.v["nullable"])))
		}
	}
	return r
}

// fieldsByName returns a layer's fields that have a name, sorted by name.
func fieldsByName(o *config.Object) []field {
	list, _ := o.Value["fields"].([]any)
	out := make([]field, 0, len(list))
	for _, e := range list {
		m, _ := e.(map[string]any)
		if name, ok := m["name"].(string); ok {
			out = append(out, field{name, m})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func findField(fs []field, name string) (field, bool) {
	i := sort.Search(len(fs), func(i int) bool { return fs[i].name >= name })
	if i < len(fs) && fs[i].name == name {
		return fs[i], true
	}
	return field{}, false
}

// nullable is a field's nullability: absent means nullable.
func nullable(f map[string]any) bool {
	b, ok := f["nullable"].(bool)
	return !ok || b
}

// changed returns the values at path in b and h when they differ.
func changed(b, h *config.Object, path string) (from, to any, ok bool) {
	from, to = config.Lookup(b.Value, path), config.Lookup(h.Value, path)
	return from, to, !equalValue(from, to)
}

// shrinks returns the numbers at path when both are numbers and the new one
// is smaller.
func shrinks(b, h *config.Object, path string) (from, to any, ok bool) {
	from, to = config.Lookup(b.Value, path), config.Lookup(h.Value, path)
	fb, okb := number(from)
	fh, okh := number(to)
	return from, to, okb && okh && fh < fb
}

// turnsOff reports a switch that was on (true or absent) and is now false.
func turnsOff(b, h *config.Object, path string) (from any, ok bool) {
	from = config.Lookup(b.Value, path)
	if now, ok := config.Lookup(h.Value, path).(bool); !ok || now {
		return from, false
	}
	was, isBool := from.(bool)
	return from, from == nil || isBool && was
}

// lostEntries returns the strings of the list at path in b that the list in
// h no longer has, sorted.
func lostEntries(b, h *config.Object, path string) []string {
	have := map[string]bool{}
	hl, _ := config.Lookup(h.Value, path).([]any)
	for _, e := range hl {
		if s, ok := e.(string); ok {
			have[s] = true
		}
	}
	var lost []string
	bl, _ := config.Lookup(b.Value, path).([]any)
	for _, e := range bl {
		if s, ok := e.(string); ok && !have[s] {
			lost = append(lost, s)
			have[s] = true
		}
	}
	sort.Strings(lost)
	return lost
}

func layerCollection(o *config.Object) string {
	if svc := o.Str("serviceId"); svc != "" {
		return config.CollectionID(svc, o.ID)
	}
	return ""
}

// removalReason says what clients lose when o is removed; renamedTo is an
// added object with the same content, when there is one.
func removalReason(o *config.Object, collections []string, renamedTo *config.Object) string {
	var r string
	switch o.Kind {
	case config.KindLayer:
		if c := layerCollection(o); c != "" {
			r = fmt.Sprintf("layer %s removed: collection %s disappears (its URL returns 404)", o.ID, c)
		} else {
			r = fmt.Sprintf("layer %s removed: its collection disappears", o.ID)
		}
	case config.KindService:
		if len(collections) == 0 {
			r = fmt.Sprintf("service %s removed: its URLs disappear", o.ID)
		} else {
			r = fmt.Sprintf("service %s removed: %s", o.ID, disappear(collections))
		}
	case config.KindStyle:
		r = fmt.Sprintf("style %s removed: clients that request it get an error", o.ID)
	case config.KindDataSource:
		r = fmt.Sprintf("data source %s removed: the services reading it lose their data (%s)", o.ID, countCollections(collections))
	case config.KindFolder:
		r = fmt.Sprintf("folder %s removed: its Esri REST folder URL disappears", o.ID)
	case config.KindRaster:
		r = fmt.Sprintf("raster %s removed: clients reading it get an error", o.ID)
	case config.KindCatalog:
		r = fmt.Sprintf("catalog %s removed: the server rejects a document without a catalog", o.ID)
	default:
		r = fmt.Sprintf("%s %s removed", o.Kind, o.ID)
	}
	if renamedTo != nil {
		r += fmt.Sprintf("; it looks renamed to %s", renamedTo.ID)
		if c := layerCollection(renamedTo); o.Kind == config.KindLayer && c != "" {
			r += fmt.Sprintf(", whose new URL is %s", c)
		}
	}
	return visible(r)
}

// disappear says which collections disappear.
func disappear(cs []string) string {
	if len(cs) == 1 {
		return "collection " + cs[0] + " disappears"
	}
	return "collections " + listSome(cs, 3) + " disappear"
}

func countCollections(cs []string) string {
	if len(cs) == 1 {
		return "1 collection"
	}
	return fmt.Sprintf("%d collections", len(cs))
}

// listSome lists the first n items and counts the others.
func listSome(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

// maxShown bounds a value shown in a reason or a text line.
const maxShown = 120

// show formats a value for a reason: strings bare, absent as (none), other
// values as compact JSON, all cut to maxShown characters, with control and
// format characters made visible (see visible): a reason is one line that
// shows what the config holds, whatever the config holds.
func show(v any) string {
	switch t := v.(type) {
	case nil:
		return "(none)"
	case string:
		return visible(truncate(t, maxShown))
	}
	return formatValue(v)
}

// formatValue formats a value for a detail line: JSON, numbers as the
// canonical form writes them, cut to maxShown characters, with the control
// and format characters JSON leaves alone (DEL, C1, bidi and zero-width
// characters) made visible.
func formatValue(v any) string {
	if v == nil {
		return "(none)"
	}
	return visible(truncate(compactJSON(v), maxShown))
}

func compactJSON(v any) string {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(sb.String(), "\n")
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + "…"
}
