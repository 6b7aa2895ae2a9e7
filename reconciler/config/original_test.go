package config

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const originalFixture = "testdata/original"

// readTree reads every file under dir (path → content).
func readTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func loadDir(t testing.TB, dir string) *State {
	t.Helper()
	st, err := NewLoader(Limits{}).Load(context.Background(), NewDirSource(dir, Limits{}))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// lineOf is the 1-based line and column of the first occurrence of text in
// the fixture file.
func lineOf(t *testing.T, file, text string) (int, int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(originalFixture, file))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(text))
	if i < 0 {
		t.Fatalf("%q not in %s", text, file)
	}
	line := bytes.Count(data[:i], []byte("\n")) + 1
	return line, i - bytes.LastIndexByte(data[:i], '\n')
}

func TestOriginalFixtureLoads(t *testing.T) {
	st := loadDir(t, originalFixture)
	if st.HasErrors() {
		t.Fatalf("fixture has errors:\n%s", strings.Join(allDiagnostics(st), "\n"))
	}
	if got := strings.Join(st.EnvironmentNames(), ","); got != "development,production" {
		t.Fatalf("environments %s", got)
	}
	prod, dev := st.Environments["production"], st.Environments["development"]
	obj := func(e *Environment, k Kind, id string) *Object {
		t.Helper()
		o := e.Objects[KeyOf(k, id)]
		if o == nil {
			t.Fatalf("%s: no %s %q", e.Name, k, id)
		}
		return o
	}
	for _, id := range []string{"parks", "trails", "bus-stops"} {
		obj(dev, KindLayer, id)
	}
	obj(prod, KindLayer, "permits")
	if dev.Objects[KeyOf(KindLayer, "permits")] != nil {
		t.Error("production's layer leaked into development")
	}

	const sc = "environments/common/services/city-services.yaml"
	parks := obj(prod, KindLayer, "parks")
	want := map[string]any{
		"id": "parks", "serviceId": "parks", "title": "Parks", "geometryField": "geom", "idField": "park_id",
		"storage.table": "public.parks", "storage.geometryColumn": "geom", "storage.primaryKey": "park_id",
		"storage.srid": int64(4326), "caching.ttlSeconds": int64(300), "geometryType": "MultiPolygon",
	}
	for p, w := range want {
		if got := Lookup(parks.Value, p); got != w {
			t.Errorf("parks %s = %#v, want %#v", p, got, w)
		}
	}
	if _, ok := parks.Value["datasource"]; ok {
		t.Error("datasource kept on the layer; it belongs to the service")
	}
	fields, _ := parks.Value["fields"].([]any)
	var types []string
	for _, f := range fields {
		types = append(types, f.(map[string]any)["type"].(string))
	}
	if got := strings.Join(types, ","); got != "int32,string,double,date" {
		t.Errorf("parks field types %s", got)
	}
	if got := obj(prod, KindLayer, "trails").Value["fields"].([]any)[0].(map[string]any)["type"]; got != "int64" {
		t.Errorf("long mapped to %v", got)
	}
	if got := obj(prod, KindLayer, "bus-stops").Value["shelter"]; got != true {
		t.Errorf("unknown layer field not passed through: %v", got)
	}
	if got := obj(prod, KindLayer, "permits").Value["fields"].([]any)[2].(map[string]any)["type"]; got != "money" {
		t.Errorf("unknown property type changed: %v", got)
	}

	svc := obj(prod, KindService, "parks")
	for p, w := range map[string]any{"serviceType": DefaultOriginalServiceType, "dataSourceId": "city-db", "folderId": "recreation", "description": "City parks and the trail network"} {
		if got := Lookup(svc.Value, p); got != w {
			t.Errorf("service parks %s = %#v, want %#v", p, got, w)
		}
	}
	if _, ok := svc.Value["layers"]; ok {
		t.Error("layers kept on the service")
	}
	if got := obj(prod, KindService, "transportation").Value["serviceType"]; got != "MapServer" {
		t.Errorf("explicit serviceType replaced: %v", got)
	}
	if got := obj(prod, KindService, "permits").Value["dataSourceId"]; got != "city-db" {
		t.Errorf("map-form service's datasource: %v", got)
	}

	devDS := obj(dev, KindDataSource, "city-db")
	for p, w := range map[string]any{"provider": "postgis", "commandTimeout": int64(30), "pooling.maxSize": int64(5), "healthCheck.enabled": true} {
		if got := Lookup(devDS.Value, p); got != w {
			t.Errorf("dev data source %s = %#v, want %#v", p, got, w)
		}
	}
	if cs := devDS.Str("connectionString"); !strings.Contains(cs, "${DB_PASSWORD}") {
		t.Errorf("connection string %q", cs)
	}
	if _, ok := devDS.Value["type"]; ok {
		t.Error("type kept next to provider")
	}

	// Positions point into the original file.
	checkPos := func(o *Object, path, file, text string) {
		t.Helper()
		l, c := lineOf(t, file, text)
		if got := o.PosOf(path); got.File != file || got.Line != l || got.Column != c {
			t.Errorf("%s %s at %s, want %s:%d:%d", o.ID, path, got, file, l, c)
		}
	}
	checkPos(parks, "storage.table", sc, "public.parks")
	checkPos(parks, "idField", sc, "park_id\n")
	checkPos(parks, "storage.primaryKey", sc, "park_id\n")
	checkPos(parks, "fields[0].type", sc, "integer")
	checkPos(parks, "caching.ttlSeconds", sc, "300")
	checkPos(parks, "id", sc, "parks\n        title: Parks\n")
	checkPos(svc, "dataSourceId", sc, "city-db")
	checkPos(devDS, "provider", "environments/development/datasources.yaml", "postgresql")
	checkPos(devDS, "id", "environments/development/datasources.yaml", "city-db")
	if l, _ := lineOf(t, sc, "- name: parks\n    title"); svc.Pos.Line != l {
		t.Errorf("service at %s, want line %d", svc.Pos, l)
	}

	// Passed-through fields are reported as they are in this layout.
	if d, ok := findDiagnostic(st, "unknown field caching"); !ok || !strings.HasPrefix(d, sc+":") {
		t.Errorf("no pass-through warning for caching: %q", d)
	}
	if d, ok := findDiagnostic(st, `property type "money"`); !ok || !strings.Contains(d, "warning") {
		t.Errorf("no warning for an unmapped type: %q", d)
	}
}

func TestOriginalMissingFields(t *testing.T) {
	const p = "environments/common/services/city-services.yaml"
	base := readTree(t, originalFixture)[p]
	cases := []struct {
		name, drop, want string
		line             string // the text of the line the error must name
	}{
		{"geometry column", "        geometryColumn: shape\n", "missing required field geometryColumn: add `geometryColumn:`", "- name: trails"},
		{"id column", "        idColumn: trail_id\n", "missing required field idColumn: add `idColumn:`", "- name: trails"},
		{"table", "        table: public.trails\n", "missing required field table: add `table:`", "- name: trails"},
		{"geometry type", "        geometryType: MultiLineString\n", "missing required field geometryType: add `geometryType:`", "- name: trails"},
		{"folder", "    folderId: transportation\n", "missing required field folderId: add `folderId:`", "- name: transportation"},
		{"data source", "        datasource: city-db\n        table: transit.bus_stops\n", "missing required field datasource: add `datasource:`", "- name: transportation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(base, c.drop) {
				t.Fatalf("fixture lacks %q", c.drop)
			}
			content := strings.Replace(base, c.drop, strings.Replace(c.drop, "        datasource: city-db\n", "", 1), 1)
			if c.name != "data source" {
				content = strings.Replace(base, c.drop, "", 1)
			}
			files := readTree(t, originalFixture)
			files[p] = content
			st := loadTree(t, files)
			var errs []Diagnostic
			for _, n := range st.EnvironmentNames() {
				errs = append(errs, st.Environments[n].Errors()...)
			}
			errs = dedupe(errs)
			if len(errs) != 1 {
				t.Fatalf("want one error, got %d:\n%s", len(errs), strings.Join(allDiagnostics(st), "\n"))
			}
			i := strings.Index(content, c.line)
			line := strings.Count(content[:i], "\n") + 1
			if d := errs[0]; d.File != p || d.Line != line || !strings.Contains(d.Message, c.want) {
				t.Errorf("got %s\nwant %s:%d: ...%s", d, p, line, c.want)
			}
		})
	}
}

func TestOriginalShapes(t *testing.T) {
	files := minimal()
	// Decided by content: an ordinary document's kind: is an unknown key,
	// a stray file without the header stays unread.
	files["environments/prod/other.yaml"] = "kind: Deployment\n"
	files["environments/prod/notes/readme.yaml"] = "services: []\n"
	files["environments/prod/nested/deep/ds.yml"] = `apiVersion: honua.io/v1
kind: DatasourceConfiguration
datasources:
  - name: extra
    type: SQLite
    connectionString: Data Source=/data/extra.db
`
	files["environments/prod/more.yaml"] = `kind: ServiceCollection
services:
  - name: mixed
    folderId: transportation
    datasource: pg
    layers:
      - name: a
        datasource: extra
        table: t
        geometryColumn: g
        idColumn: id
        geometryType: Point
`
	st := loadTree(t, files)
	prod := st.Environments["prod"]
	if o := prod.Objects[KeyOf(KindDataSource, "extra")]; o == nil || o.Str("provider") != "sqlite" {
		t.Errorf("nested DatasourceConfiguration not read: %+v", o)
	}
	for _, want := range []string{
		"other.yaml:1:1: warning: unknown top-level key kind",
		"notes/readme.yaml:1:1: warning: file is not read",
		`more.yaml:8:21: error: service "mixed" reads data source "pg" (line 5) but this layer reads "extra"`,
	} {
		if _, ok := findDiagnostic(st, want); !ok {
			t.Errorf("no %q in\n%s", want, strings.Join(allDiagnostics(st), "\n"))
		}
	}
	// A nested original file with a YAML error says so instead of being
	// skipped as stray.
	files["environments/prod/nested/deep/ds.yml"] = "kind: DatasourceConfiguration\ndatasources:\n  a: [\n"
	if d, ok := findDiagnostic(loadTree(t, files), "nested/deep/ds.yml:4:1: error: invalid YAML"); !ok {
		t.Errorf("YAML error of a nested original file hidden:\n%s", strings.Join(allDiagnostics(loadTree(t, files)), "\n"))
		_ = d
	}
	files["environments/prod/more.yaml"] = "apiVersion: honua.io/v2\nkind: ServiceCollection\nservices: {}\n"
	if d, ok := findDiagnostic(loadTree(t, files), "more.yaml:1:13: error: apiVersion"); !ok {
		t.Errorf("wrong apiVersion accepted: %s", d)
	}
}

func renderAll(t *testing.T, dir string) map[string]string {
	t.Helper()
	st := loadDir(t, dir)
	out := map[string]string{}
	for _, n := range st.EnvironmentNames() {
		doc, err := RenderJSON(st.Environments[n], func(name string) (string, bool) { return "secret-" + name, true })
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		out[n] = string(doc)
	}
	return out
}

func TestMigrateRoundTrip(t *testing.T) {
	dir := writeTree(t, readTree(t, originalFixture))
	before := renderAll(t, dir)
	res, err := Migrate(context.Background(), dir, MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Originals) != 4 {
		t.Errorf("originals %v", res.Originals)
	}
	after := readTree(t, dir)
	for p, content := range after {
		if k, ok := IsOriginalFormat([]byte(content)); ok && strings.HasPrefix(p, EnvironmentsDir) {
			t.Errorf("%s is still a %s", p, k)
		}
	}
	for _, p := range []string{"environments/common/layers/parks.yaml", "environments/common/layers/trails.yaml",
		"environments/common/layers/bus-stops.yaml", "environments/production/layers/permits.yaml",
		"environments/common/services-city-services.yaml", "environments/production/config-datasources.yaml"} {
		if _, ok := after[p]; !ok {
			t.Errorf("%s not written", p)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "environments/common/services")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("emptied folder left behind: %v", err)
	}
	if !strings.Contains(after["environments/common/services-city-services.yaml"], "#       team: gis") {
		t.Errorf("header metadata lost:\n%s", after["environments/common/services-city-services.yaml"])
	}
	got := renderAll(t, dir)
	for env, doc := range before {
		if got[env] != doc {
			t.Errorf("%s renders differently after migrate:\nbefore:\n%s\nafter:\n%s", env, doc, got[env])
		}
	}
	if len(got) != len(before) {
		t.Errorf("environments %d, want %d", len(got), len(before))
	}
	// A second run finds nothing to do.
	res, err = Migrate(context.Background(), dir, MigrateOptions{})
	if err != nil || len(res.Originals) != 0 || len(res.Actions) != 0 {
		t.Errorf("second run: %+v, %v", res, err)
	}
}

func TestMigrateRefusesToClobber(t *testing.T) {
	files := readTree(t, originalFixture)
	files["environments/common/services-city-services.yaml"] = "# my notes\n"
	dir := writeTree(t, files)
	_, err := Migrate(context.Background(), dir, MigrateOptions{})
	var me *MigrateError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "environments/common/services-city-services.yaml: error: exists with other content") {
		t.Fatalf("got %v", err)
	}
	if got := readTree(t, dir); !equalTrees(got, files) {
		t.Error("a refused migration changed files")
	}
}

func TestMigrateRefusesErrors(t *testing.T) {
	files := readTree(t, originalFixture)
	delete(files, "environments/common/metadata.yaml")
	dir := writeTree(t, files)
	_, err := Migrate(context.Background(), dir, MigrateOptions{})
	if err == nil || !strings.Contains(err.Error(), "no catalog") {
		t.Fatalf("got %v", err)
	}
	if !equalTrees(readTree(t, dir), files) {
		t.Error("a refused migration changed files")
	}
}

func TestMigrateDryRun(t *testing.T) {
	files := readTree(t, originalFixture)
	dir := writeTree(t, files)
	res, err := Migrate(context.Background(), dir, MigrateOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Actions) == 0 {
		t.Error("dry run planned nothing")
	}
	if !equalTrees(readTree(t, dir), files) {
		t.Error("dry run changed files")
	}
}

func equalTrees(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for p, c := range a {
		if b[p] != c {
			return false
		}
	}
	return true
}

// FuzzOriginalFile feeds arbitrary bytes with the original design's header
// to the parser, at the places such files are read: it must never panic,
// every finding must name the file, and objects must have values.
func FuzzOriginalFile(f *testing.F) {
	for p, content := range readTree(f, originalFixture) {
		if strings.HasPrefix(p, EnvironmentsDir) {
			f.Add([]byte(content))
		}
	}
	f.Add([]byte("kind: ServiceCollection\nservices:\n  a: &a {layers: [*a]}\n"))
	f.Add([]byte("kind: ServiceCollection\nservices:\n  - name: s\n    <<: {datasource: d, layers: [{name: l, <<: *x}]}\n"))
	f.Add([]byte("kind: DatasourceConfiguration\ndatasources: {a: {type: 1, connectionString: [x]}}\n"))
	f.Add([]byte("kind: ServiceCollection\nservices: [{name: s, datasource: d, layers: [{name: l, properties: [{type: 7}, x], storage: 3}]}]\n"))
	paths := []string{
		"environments/prod/services.yaml",
		"environments/common/nested/deep/datasources.yml",
		"environments/prod/layers/x.yaml",
	}
	lim := Limits{MaxFileSize: 1 << 16, MaxFiles: 10, MaxDepth: 20, MaxNodes: 10_000}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range paths {
			pf := parseFile(p, data, lim.orDefault(), nil)
			for _, d := range pf.diags {
				if d.File != p || d.Line < 0 || d.Column < 0 || d.Message == "" {
					t.Fatalf("bad finding %+v", d)
				}
			}
			for _, o := range pf.objects {
				if o.Value == nil || o.Digest == "" {
					t.Fatalf("object without value or digest: %+v", o)
				}
			}
		}
	})
}

// FuzzMigrateValue checks what migrate writes: every object read from a
// file, written as YAML the way migrate writes it, reads back as the same
// value.
func FuzzMigrateValue(f *testing.F) {
	for p, content := range readTree(f, originalFixture) {
		if strings.HasPrefix(p, EnvironmentsDir) {
			f.Add([]byte(content))
		}
	}
	for _, content := range minimal() {
		f.Add([]byte(content))
	}
	f.Add([]byte("id: x\na: \"true\"\nb: \"04326\"\nc: \"1_000\"\nd: 1.0\ne: 1e300\nf: \"line\\nnext \"\ng: \"\\u2028\"\nh: ''\ni: null\nj: [\"-\", \"?\", \": x\"]\nk: \"#c\"\n"))
	lim := Limits{MaxFileSize: 1 << 16, MaxFiles: 10, MaxDepth: 20, MaxNodes: 10_000}.orDefault()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range []string{"environments/prod/services.yaml", "environments/prod/layers/x.yaml"} {
			pf := parseFile(p, data, lim, nil)
			for _, o := range pf.objects {
				out := encodeYAML(valueNode(o.Value))
				root, diags := parseYAML("out.yaml", out, lim)
				if len(diags) > 0 {
					t.Fatalf("migrated YAML does not parse: %v\n%s", diags, out)
				}
				back, diags := DecodeYAML("out.yaml", root, lim)
				if len(diags) > 0 {
					t.Fatalf("migrated YAML does not decode: %v\n%s", diags, out)
				}
				if DigestOf(o.Kind, back.(map[string]any)) != o.Digest {
					t.Fatalf("value changed:\n%#v\n%#v\n%s", o.Value, back, out)
				}
			}
		}
	})
}

func TestOriginalDuplicateKeys(t *testing.T) {
	files := minimal()
	files["environments/prod/more.yaml"] = `kind: ServiceCollection
services:
  - name: s
    folderId: transportation
    layers:
      - name: a
        datasource: pg
        datasource: other
        table: t
        geometryColumn: g
        idColumn: id
        geometryType: Point
        title: x
        title: y
    layers: []
`
	st := loadTree(t, files)
	for _, want := range []string{
		`more.yaml:15:5: error: key "layers" is already defined at line 5`,
		`more.yaml:8:9: error: key "datasource" is already defined at line 7`,
		`more.yaml:14:9: error: key "title" is already defined at line 13`,
	} {
		if _, ok := findDiagnostic(st, want); !ok {
			t.Errorf("no %q in\n%s", want, strings.Join(allDiagnostics(st), "\n"))
		}
	}
	if n := len(st.Environments["prod"].Errors()); n != 3 {
		t.Errorf("%d errors, want 3:\n%s", n, strings.Join(allDiagnostics(st), "\n"))
	}
}
