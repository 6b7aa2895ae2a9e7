package plan

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/honua-io/honua-gitops/reconciler/config"
)

// The differential test checks the plan against the documents the server
// reads. It edits a realistic environment at random, renders base and head
// with config.Render, and compares the two rendered JSON documents with a
// small diff of its own that knows only the document's layout and the table
// of unordered lists in docs/plan-json.md. Every object and field path the
// documents differ at must have a change or detail in the plan, and the plan
// must claim no change the documents do not have.
//
// Paths are compared at the granularity both sides can name without
// sharing code: map keys joined with dots down to the first list (a plan
// path is cut at its first '[' or '#': "fields[name=a].type" and
// "fields#order" are both "fields"), except that a "#order" detail on a
// list the docs call unordered is a claim of its own, which the documents
// never back.

// unorderedFromDocs reads the table of lists compared as sets from
// docs/plan-json.md: kind → paths.
func unorderedFromDocs(t *testing.T) map[string]map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../../docs/plan-json.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "| kind | list |")
	if i < 0 {
		t.Fatal("docs/plan-json.md has no table of unordered lists (| kind | list | ...)")
	}
	row := regexp.MustCompile("^\\| `([a-z]+)` \\| `([A-Za-z.]+)` \\|")
	out := map[string]map[string]bool{}
	for _, line := range strings.Split(doc[i:], "\n")[2:] {
		m := row.FindStringSubmatch(line)
		if m == nil {
			break
		}
		if out[m[1]] == nil {
			out[m[1]] = map[string]bool{}
		}
		out[m[1]][m[2]] = true
	}
	if len(out) == 0 {
		t.Fatal("the table of unordered lists in docs/plan-json.md is empty")
	}
	return out
}

// TestUnorderedListsDocumented: the documented table is the code's table.
func TestUnorderedListsDocumented(t *testing.T) {
	documented := unorderedFromDocs(t)
	for kind, paths := range documented {
		for p := range paths {
			if !config.UnorderedList(config.Kind(kind), p) {
				t.Errorf("docs/plan-json.md lists %s %s as unordered; config.UnorderedList does not", kind, p)
			}
		}
	}
	// The other direction, through the lists the differential test edits.
	for _, k := range config.Kinds {
		for _, p := range []string{"keywords", "links", "crs", "fields", "rules", "styles.styleIds", "uniqueValue.classes",
			"extent.bbox", "ogc.additionalCrs", "ogc.conformanceClasses", "attachments.allowedContentTypes", "attachments.disallowedContentTypes"} {
			if config.UnorderedList(k, p) && !documented[string(k)][p] {
				t.Errorf("config.UnorderedList(%s, %s) is not in the table of docs/plan-json.md", k, p)
			}
		}
	}
}

func TestDifferential(t *testing.T) {
	unordered := unorderedFromDocs(t)
	t.Run("ordered lists", func(t *testing.T) {
		runDifferential(t, unordered, 1, false)
	})
	t.Run("unordered lists too", func(t *testing.T) {
		runDifferential(t, unordered, 2, true)
	})
}

const (
	differentialTrials = 150
	maxEditsPerTrial   = 4
)

func runDifferential(t *testing.T, unordered map[string]map[string]bool, seed uint64, shuffleUnordered bool) {
	base := differentialBase(t)
	baseState, baseDoc := base.build(t)
	edits := 0
	for trial := range differentialTrials {
		g := &editor{rng: rand.New(rand.NewPCG(seed, uint64(trial))), unordered: unordered, shuffleUnordered: shuffleUnordered}
		head := base.clone()
		n := 1 + g.rng.IntN(maxEditsPerTrial)
		for range n {
			g.edit(head)
		}
		edits += n
		headState, headDoc := head.build(t)
		p := Compute(baseState, headState, nil)
		want := renderedDiff(baseDoc, headDoc, unordered)
		got := planPaths(p, unordered)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("trial %d, after the edits\n  %s\nthe plan (+) disagrees with the rendered documents (-):\n%s", trial, strings.Join(g.log, "\n  "), diff)
		}
	}
	t.Logf("%d trials, %d edits", differentialTrials, edits)
}

// draft is an environment being edited: its objects' kinds and values, and
// its top-level settings.
type draft struct {
	objects []draftObject
	extra   map[string]any
}

type draftObject struct {
	kind  config.Kind
	value map[string]any
}

func (d *draft) clone() *draft {
	c := &draft{extra: config.CopyValue(d.extra).(map[string]any)}
	for _, o := range d.objects {
		c.objects = append(c.objects, draftObject{o.kind, config.CopyValue(o.value).(map[string]any)})
	}
	return c
}

// build returns the draft as a state of one environment, the way the loader
// makes objects, and its rendered document as decoded JSON (see asJSON).
func (d *draft) build(t *testing.T) (*config.State, map[string]any) {
	t.Helper()
	env := &config.Environment{Name: "production", Objects: map[config.Key]*config.Object{}, Extra: d.extra}
	for _, o := range d.objects {
		id, _ := o.value["id"].(string)
		obj := config.NewObject(o.kind, id, config.Position{File: "x.yaml", Line: 1}, o.value, nil)
		if _, dup := env.Objects[obj.Key()]; dup {
			t.Fatalf("the edits made two %s objects with id %s", o.kind, id)
		}
		env.Objects[obj.Key()] = obj
	}
	// Every secret has a value of its own, so that a changed reference
	// changes the document as it changes the plan.
	doc, err := config.Render(env, func(name string) (string, bool) { return "secret-" + name, true })
	if err != nil {
		t.Fatal(err)
	}
	return &config.State{Source: "draft", Environments: map[string]*config.Environment{env.Name: env}}, asJSON(doc).(map[string]any)
}

// asJSON returns v as encoding/json decodes its JSON into an any: numbers
// become float64 (4326 and 4326.0 are one number), the rest is copied.
// It stands for a JSON round trip of the document, at a fraction of its
// cost.
func asJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = asJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = asJSON(e)
		}
		return out
	case int64:
		return float64(t)
	case int:
		return float64(t)
	}
	return v
}

// differentialBase is samples/config's production environment, with the
// lists the samples lack added: links, attachments, a temporal extent,
// several style ids, style rules with and without ids, conformance classes,
// and a server setting.
func differentialBase(t *testing.T) *draft {
	t.Helper()
	st, err := config.NewLoader(config.Limits{}).Load(context.Background(), config.NewDirSource("../../samples/config", config.Limits{}))
	if err != nil {
		t.Fatal(err)
	}
	env := st.Environments["production"]
	d := &draft{extra: map[string]any{}}
	if env.Extra != nil {
		d.extra = config.CopyValue(env.Extra).(map[string]any)
	}
	d.extra["server"] = map[string]any{"port": int64(8080), "cors": map[string]any{"origins": []any{"https://a.example", "https://b.example"}}}
	layers, styles, services := 0, 0, 0
	for _, o := range env.Sorted() {
		v := config.CopyValue(o.Value).(map[string]any)
		switch o.Kind {
		case config.KindLayer:
			layers++
			if layers%2 == 1 {
				v["links"] = []any{map[string]any{"href": "https://a.example/" + o.ID, "rel": "describedby"}, map[string]any{"href": "https://b.example/" + o.ID, "rel": "license"}}
				v["attachments"] = map[string]any{"enabled": true, "allowedContentTypes": []any{"image/png", "image/jpeg", "application/pdf"}, "disallowedContentTypes": []any{"text/html", "application/x-msdownload"}}
			}
			if layers%3 == 0 {
				ext, _ := v["extent"].(map[string]any)
				if ext == nil {
					ext = map[string]any{}
					v["extent"] = ext
				}
				ext["temporal"] = map[string]any{"interval": []any{[]any{"2020-01-01T00:00:00Z", nil}}, "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
				v["styles"] = map[string]any{"defaultStyleId": "property-outline", "styleIds": []any{"property-outline", "zoning-districts", "hazard-zones"}}
			}
		case config.KindStyle:
			styles++
			switch styles % 3 {
			case 0:
				v["rules"] = []any{
					map[string]any{"id": "major", "filter": map[string]any{"field": "class", "value": "major"}, "symbolizer": map[string]any{"strokeColor": "#000000", "strokeWidth": 2.0}},
					map[string]any{"id": "minor", "maxScale": int64(20000), "symbolizer": map[string]any{"strokeColor": "#777777"}},
					map[string]any{"id": "other", "default": true},
				}
			case 1:
				v["rules"] = []any{
					map[string]any{"minScale": int64(0), "maxScale": int64(5000), "symbolizer": map[string]any{"fillColor": "#ffffff"}},
					map[string]any{"minScale": int64(5000), "symbolizer": map[string]any{"fillColor": "#eeeeee"}},
				}
			}
		case config.KindService:
			services++
			if services == 1 {
				v["links"] = []any{map[string]any{"href": "https://a.example/svc", "rel": "service-doc"}, map[string]any{"href": "https://b.example/svc", "rel": "license"}}
				ogc, _ := v["ogc"].(map[string]any)
				if ogc != nil {
					ogc["conformanceClasses"] = []any{"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core", "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson", "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"}
				}
			}
		}
		d.objects = append(d.objects, draftObject{o.Kind, v})
	}
	if layers == 0 || styles == 0 || services == 0 {
		t.Fatalf("samples/config production has %d layers, %d styles, %d services", layers, styles, services)
	}
	return d
}

// editor makes random edits. Strings it writes are fresh (never seen
// before), so that edits cannot, by chance, put a list back in another
// order; reordering is an edit of its own. Unless shuffleUnordered, it
// leaves the order and the elements of the documented unordered lists
// alone (it may still add and remove elements).
type editor struct {
	rng              *rand.Rand
	unordered        map[string]map[string]bool
	shuffleUnordered bool
	fresh            int
	targets          []any // the ids value edits go to
	log              []string
}

func (g *editor) freshString() string {
	g.fresh++
	return fmt.Sprintf("v%d", g.fresh)
}

// slot is one value inside an object: where it is and how to replace it.
type slot struct {
	kind   string // the object's kind, or "setting"
	path   string // keys joined with dots, "[]" for any element
	value  any
	set    func(any)
	parent map[string]any // the map holding the value, if any
	key    string
	inList string // the table path of the list holding the value, if any
}

// slots lists every value inside v, v included, in a stable order.
func slots(kind, path string, v any, set func(any), parent map[string]any, key, inList string, out *[]slot) {
	*out = append(*out, slot{kind, path, v, set, parent, key, inList})
	switch t := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(t)) {
			p := k
			if path != "" {
				p = path + "." + k
			}
			slots(kind, p, t[k], func(nv any) { t[k] = nv }, t, k, "", out)
		}
	case []any:
		for i := range t {
			slots(kind, path+"[]", t[i], func(nv any) { t[i] = nv }, nil, "", path, out)
		}
	}
}

func (g *editor) isUnordered(kind, path string) bool { return g.unordered[kind][path] }

// edit makes one random edit of d, retrying until one applies.
func (g *editor) edit(d *draft) {
	for {
		if g.tryEdit(d) {
			return
		}
	}
}

// The value edits.
const (
	opSet     = iota // set a scalar
	opAddKey         // add a key to a map
	opDelete         // delete a key
	opRename         // rename a key
	opRetype         // change the JSON type of a value
	opReorder        // reorder a list
	opInsert         // insert an element into a list
	opRemove         // remove an element from a list
	numOps
)

func (g *editor) tryEdit(d *draft) bool {
	switch n := g.rng.IntN(100); {
	case n < 3:
		return g.addObject(d)
	case n < 6:
		return g.removeObject(d)
	case n < 9:
		return g.renameObject(d)
	}
	// One value of one object, or of the settings.
	var all []slot
	if g.rng.IntN(12) == 0 {
		slots("setting", "", d.extra, nil, nil, "", "", &all)
	} else {
		o := g.target(d)
		slots(string(o.kind), "", o.value, nil, nil, "", "", &all)
	}
	// The edit first, then a value it applies to, so that list edits are
	// as frequent as the others; reorders twice as frequent.
	op := g.rng.IntN(numOps + 1)
	if op == numOps {
		op = opReorder
	}
	var candidates []slot
	for _, s := range all {
		if g.applies(op, s) {
			candidates = append(candidates, s)
		}
	}
	if len(candidates) == 0 {
		return false
	}
	s := candidates[g.rng.IntN(len(candidates))]
	switch op {
	case opSet:
		nv := g.scalar()
		g.logf("set %s %s: %v → %v", s.kind, s.path, s.value, nv)
		s.set(nv)
	case opAddKey:
		m := s.value.(map[string]any)
		k := g.key(m, s.path == "")
		g.logf("add %s %s.%s", s.kind, s.path, k)
		m[k] = g.value(2)
	case opDelete:
		g.logf("delete %s %s", s.kind, s.path)
		delete(s.parent, s.key)
	case opRename:
		k := g.key(s.parent, topLevel(s.path))
		g.logf("rename %s %s → %s", s.kind, s.path, k)
		delete(s.parent, s.key)
		s.parent[k] = s.value
	case opRetype:
		nv := g.otherType(s.value)
		g.logf("retype %s %s: %T → %T", s.kind, s.path, s.value, nv)
		s.set(nv)
	case opReorder:
		l := s.value.([]any)
		nl := slices.Clone(l)
		for reflect.DeepEqual(nl, l) {
			g.rng.Shuffle(len(nl), func(i, j int) { nl[i], nl[j] = nl[j], nl[i] })
		}
		g.logf("reorder %s %s", s.kind, s.path)
		s.set(nl)
	case opInsert:
		l := s.value.([]any)
		e := g.element(l, s.kind, s.path)
		i := g.rng.IntN(len(l) + 1)
		g.logf("insert %s %s[%d]", s.kind, s.path, i)
		s.set(slices.Insert(slices.Clone(l), i, e))
	case opRemove:
		l := s.value.([]any)
		i := g.rng.IntN(len(l))
		g.logf("remove %s %s[%d]", s.kind, s.path, i)
		s.set(slices.Delete(slices.Clone(l), i, i+1))
	}
	return true
}

// applies reports whether edit op may change s. An object's id has edits
// of its own; a setting is edited below its key; unless shuffleUnordered,
// the order and elements of the documented unordered lists stay.
func (g *editor) applies(op int, s slot) bool {
	root := s.path == ""
	if s.parent != nil && s.key == "id" && topLevel(s.path) || s.kind == "setting" && topLevel(s.path) && !root {
		return false
	}
	if s.inList != "" && !g.shuffleUnordered && g.isUnordered(s.kind, s.inList) {
		return false
	}
	l, isList := s.value.([]any)
	switch op {
	case opSet:
		return !root && !isComposite(s.value)
	case opAddKey:
		_, ok := s.value.(map[string]any)
		return ok
	case opDelete, opRename:
		return s.parent != nil
	case opRetype:
		return !root
	case opReorder:
		if !isList || !g.shuffleUnordered && g.isUnordered(s.kind, s.path) {
			return false
		}
		for _, e := range l[min(1, len(l)):] {
			if !reflect.DeepEqual(e, l[0]) {
				return true // two different elements: another order exists
			}
		}
		return false
	case opInsert:
		return isList
	case opRemove:
		return isList && len(l) > 0
	}
	return false
}

// topLevel reports whether path names a key of the object itself.
func topLevel(path string) bool { return !strings.ContainsAny(path, ".[") }

// target returns the object a value edit applies to: one of the two ids
// the trial picked first, so that edits meet in one object (a reordered
// list beside another change of the same object) as often as not.
func (g *editor) target(d *draft) draftObject {
	for len(g.targets) < 2 {
		g.targets = append(g.targets, d.objects[g.rng.IntN(len(d.objects))].value["id"])
	}
	id := g.targets[g.rng.IntN(len(g.targets))]
	for _, o := range d.objects {
		if o.value["id"] == id {
			return o
		}
	}
	// Removed or renamed since: any object.
	return d.objects[g.rng.IntN(len(d.objects))]
}

func (g *editor) logf(format string, args ...any) {
	g.log = append(g.log, fmt.Sprintf(format, args...))
}

func isComposite(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// key returns a key m does not have: a fresh one, sometimes a name the
// server knows, sometimes one the plan must quote. At an object's top
// level it is never "id".
func (g *editor) key(m map[string]any, top bool) string {
	for {
		var k string
		switch g.rng.IntN(4) {
		case 0:
			k = []string{"title", "description", "keywords", "links", "name", "value", "href", "symbolizer", "nullable", "maxScale"}[g.rng.IntN(10)]
		case 1:
			k = []string{"a.b", "two words", `q"uote`}[g.rng.IntN(3)] + g.freshString()
		default:
			k = "k" + g.freshString()
		}
		if _, taken := m[k]; !taken && !(top && k == "id") {
			return k
		}
	}
}

func (g *editor) scalar() any {
	switch g.rng.IntN(6) {
	case 0:
		return int64(g.rng.IntN(100000))
	case 1:
		return float64(g.rng.IntN(1000)) + 0.5
	case 2:
		return g.rng.IntN(2) == 0
	case 3:
		if g.rng.IntN(3) == 0 {
			return nil
		}
	}
	return g.freshString()
}

// value returns a random value, at most depth levels deep.
func (g *editor) value(depth int) any {
	if depth == 0 {
		return g.scalar()
	}
	switch g.rng.IntN(5) {
	case 0:
		m := map[string]any{}
		for range 1 + g.rng.IntN(3) {
			m[g.key(m, false)] = g.value(depth - 1)
		}
		return m
	case 1:
		return []any{g.freshString(), g.freshString()}
	case 2:
		return []any{map[string]any{"name": g.freshString(), "type": "string"}, map[string]any{"name": g.freshString(), "type": "int32"}}
	}
	return g.scalar()
}

// otherType returns a value of another JSON type than v.
func (g *editor) otherType(v any) any {
	for {
		nv := g.value(1)
		if reflect.TypeOf(nv) != reflect.TypeOf(v) {
			return nv
		}
	}
}

// element returns a new element for list: a copy of one of its maps with
// fresh identities, a fresh string, or (for a list the edits may reorder
// and duplicate) a duplicate of one of its strings.
func (g *editor) element(list []any, kind, path string) any {
	if len(list) > 0 {
		switch e := list[g.rng.IntN(len(list))].(type) {
		case map[string]any:
			c := config.CopyValue(e).(map[string]any)
			for _, k := range []string{"name", "id", "value", "href"} {
				if _, ok := c[k].(string); ok {
					c[k] = g.freshString()
				}
			}
			return c
		case string:
			if g.rng.IntN(4) == 0 && (g.shuffleUnordered || !g.isUnordered(kind, path)) {
				return e
			}
			return g.freshString()
		}
	}
	return g.value(1)
}

func (g *editor) addObject(d *draft) bool {
	o := d.objects[g.rng.IntN(len(d.objects))]
	if o.kind == config.KindCatalog {
		return false
	}
	v := config.CopyValue(o.value).(map[string]any)
	v["id"] = "new-" + g.freshString()
	g.logf("add %s %s (a copy of %v)", o.kind, v["id"], o.value["id"])
	d.objects = append(d.objects, draftObject{o.kind, v})
	return true
}

func (g *editor) removeObject(d *draft) bool {
	i := g.rng.IntN(len(d.objects))
	if d.objects[i].kind == config.KindCatalog {
		return false
	}
	g.logf("remove %s %v", d.objects[i].kind, d.objects[i].value["id"])
	d.objects = slices.Delete(d.objects, i, i+1)
	return true
}

// renameObject gives an object a new id, or the same id in upper case
// (the same key: a modification of its id).
func (g *editor) renameObject(d *draft) bool {
	o := d.objects[g.rng.IntN(len(d.objects))]
	old, _ := o.value["id"].(string)
	id := strings.ToUpper(old)
	if id == old || g.rng.IntN(2) == 0 {
		id = old + "-" + g.freshString()
	}
	g.logf("rename %s %s → %s", o.kind, old, id)
	o.value["id"] = id
	return true
}

// The rendered documents' diff.

// documentLists maps the document's object lists to their kinds.
var documentLists = map[string]string{
	"folders": "folder", "dataSources": "datasource", "services": "service",
	"layers": "layer", "styles": "style", "rasterDatasets": "raster",
}

// renderedDiff returns, per object ("kind/id" in lower case, "catalog", or
// "setting/key"), "(added)", "(removed)" or the paths its documents differ
// at.
func renderedDiff(a, b map[string]any, unordered map[string]map[string]bool) map[string][]string {
	out := map[string][]string{}
	record := func(key string, paths map[string]bool) {
		if len(paths) > 0 {
			out[key] = slices.Sorted(maps.Keys(paths))
		}
	}
	for _, k := range unionKeys(a, b) {
		av, inA := a[k]
		bv, inB := b[k]
		switch kind, isList := documentLists[k]; {
		case k == "catalog":
			paths := map[string]bool{}
			diffRendered(unordered["catalog"], "", "", av, bv, paths)
			record("catalog", paths)
		case isList:
			ao, bo := byID(av), byID(bv)
			for _, id := range unionKeys(ao, bo) {
				key := kind + "/" + id
				switch x, y := ao[id], bo[id]; {
				case x == nil:
					out[key] = []string{"(added)"}
				case y == nil:
					out[key] = []string{"(removed)"}
				default:
					paths := map[string]bool{}
					diffRendered(unordered[kind], "", "", x, y, paths)
					record(key, paths)
				}
			}
		case !inA:
			out["setting/"+k] = []string{"(added)"}
		case !inB:
			out["setting/"+k] = []string{"(removed)"}
		default:
			paths := map[string]bool{}
			diffRendered(nil, k, k, av, bv, paths)
			record("setting/"+k, paths)
		}
	}
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return slices.Sorted(maps.Keys(keys))
}

func byID(list any) map[string]any {
	out := map[string]any{}
	l, _ := list.([]any)
	for _, e := range l {
		m := e.(map[string]any)
		out[strings.ToLower(m["id"].(string))] = m
	}
	return out
}

var simpleKeyRe = regexp.MustCompile(`^[A-Za-z0-9_$@-]+$`)

// diffRendered adds to paths where a and b, found at path (tpath in the
// table's form), differ: the path of a key present on one side, of a
// scalar or type that changed, of a list that differs (in order, or as a
// multiset for a documented unordered list). A key the plan quotes
// (`["a.b"]`) is recorded at its map's path.
func diffRendered(unordered map[string]bool, path, tpath string, a, b any, paths map[string]bool) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		if !sameRendered(unordered, tpath, a, b) {
			paths[path] = true
		}
		return
	}
	for _, k := range unionKeys(am, bm) {
		if !simpleKeyRe.MatchString(k) {
			if !sameRendered(unordered, "", am[k], bm[k]) || hasKey(am, k) != hasKey(bm, k) {
				paths[path] = true
			}
			continue
		}
		p := k
		if path != "" {
			p = path + "." + k
		}
		tp := k
		if tpath != "" {
			tp = tpath + "." + k
		}
		if hasKey(am, k) != hasKey(bm, k) {
			paths[p] = true
			continue
		}
		diffRendered(unordered, p, tp, am[k], bm[k], paths)
	}
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

// sameRendered compares two decoded JSON values; a documented unordered
// list compares as a multiset of its elements' JSON.
func sameRendered(unordered map[string]bool, tpath string, a, b any) bool {
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if !aok || !bok || !unordered[tpath] {
		return reflect.DeepEqual(a, b)
	}
	enc := func(l []any) []string {
		out := make([]string, len(l))
		for i, e := range l {
			j, _ := json.Marshal(e)
			out[i] = string(j)
		}
		sort.Strings(out)
		return out
	}
	return slices.Equal(enc(al), enc(bl))
}

// selector matches an element selector of a detail path.
var selector = regexp.MustCompile(`\[[^\]]*\]`)

// planPaths returns the plan in renderedDiff's form. A "#order" detail on a
// list the docs call unordered is a claim the documents cannot back: it
// shows as its own path, which renderedDiff never has.
func planPaths(p *Plan, unordered map[string]map[string]bool) map[string][]string {
	out := map[string][]string{}
	for _, e := range p.Environments {
		for _, c := range e.Changes {
			key := string(c.Kind) + "/" + strings.ToLower(c.ID)
			switch c.Kind {
			case config.KindCatalog:
				key = "catalog"
			case KindSetting:
				key = "setting/" + c.ID
			}
			switch c.Action {
			case ActionAdd:
				out[key] = []string{"(added)"}
			case ActionRemove:
				out[key] = []string{"(removed)"}
			default:
				paths := map[string]bool{}
				for _, d := range c.Details {
					if list, ok := strings.CutSuffix(d.Path, "#order"); ok && unordered[string(c.Kind)][selector.ReplaceAllString(list, "[]")] {
						paths[d.Path+" (on an unordered list)"] = true
					}
					p := d.Path
					if i := strings.IndexAny(p, "[#"); i >= 0 {
						p = p[:i]
					}
					paths[p] = true
				}
				if len(paths) == 0 {
					paths["(a modification without details)"] = true
				}
				out[key] = slices.Sorted(maps.Keys(paths))
			}
		}
	}
	return out
}
