package config

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestMinimalIsValid(t *testing.T) {
	st := loadTree(t, minimal())
	if d := allDiagnostics(st); len(d) > 0 {
		t.Fatalf("minimal repository has findings:\n%s", strings.Join(d, "\n"))
	}
	env := st.Environments["prod"]
	if env == nil || len(env.Objects) != 6 {
		t.Fatalf("prod has %d objects, want 6", len(env.Objects))
	}
}

// TestValidationRules covers every rule with the file:line:col it reports
// and words of its message.
func TestValidationRules(t *testing.T) {
	const layerFile = "environments/common/layers/streets.yaml"
	const metaFile = "environments/common/metadata.yaml"
	const dsFile = "environments/prod/datasources.yaml"
	tests := []struct {
		name    string
		file    string
		content string
		// want is the start of the diagnostic: "file:line:col: severity: ".
		want string
		// words must appear in the message.
		words []string
	}{
		{
			name: "missing required field", file: layerFile,
			content: "id: streets\nserviceId: roads\nidField: objectid\ngeometryField: geom\nstorage: {table: t, srid: 4326}\n",
			want:    layerFile + ":1:1: error: ", words: []string{"missing required field geometryType", "add `geometryType:`", "Polygon"},
		},
		{
			name: "empty id", file: layerFile,
			content: "id: \"\"\nserviceId: roads\ngeometryType: Point\nidField: a\ngeometryField: g\nstorage: {table: t, srid: 4326}\n",
			want:    layerFile + ":1:5: error: ", words: []string{"id must not be empty"},
		},
		{
			name: "wrong type with fix", file: layerFile,
			content: "id: streets\nserviceId: roads\ngeometryType: Point\nidField: a\ngeometryField: g\nstorage:\n  table: t\n  srid: \"4326\"\n",
			want:    layerFile + ":8:9: error: ", words: []string{"storage.srid must be an integer", "remove the quotes (srid: 4326)"},
		},
		{
			name: "maxRecordCount below 1", file: layerFile,
			content: "id: streets\nserviceId: roads\ngeometryType: Point\nidField: a\ngeometryField: g\nstorage: {table: t, srid: 4326}\nquery:\n  maxRecordCount: 0\n",
			want:    layerFile + ":8:19: error: ", words: []string{"query.maxRecordCount is 0 but must be at least 1"},
		},
		{
			name: "duplicate id ignoring case", file: "environments/common/layers/streets2.yaml",
			content: "id: Streets\nserviceId: roads\ngeometryType: Point\nidField: a\ngeometryField: g\nstorage: {table: t, srid: 4326}\n",
			want:    "environments/common/layers/streets2.yaml:1:5: error: ", words: []string{`layer "Streets" is defined twice`, "ids ignore case", layerFile + ":1:1", "rename or remove one"},
		},
		{
			name: "service to unknown folder", file: metaFile,
			content: "folders:\n  - id: transportation\nservices:\n  - id: roads\n    folderId: transportaton\n    serviceType: FeatureServer\n    dataSourceId: pg\n",
			want:    metaFile + ":5:15: error: ", words: []string{`folderId "transportaton" does not exist`, `did you mean "transportation"?`},
		},
		{
			name: "service to unknown data source", file: metaFile,
			content: "folders:\n  - id: transportation\nservices:\n  - id: roads\n    folderId: transportation\n    serviceType: FeatureServer\n    dataSourceId: oracle-main\n",
			want:    metaFile + ":7:19: error: ", words: []string{`dataSourceId "oracle-main" does not exist in environment prod`, `add a datasource with id "oracle-main"`},
		},
		{
			name: "layer to unknown service", file: layerFile,
			content: "id: streets\nserviceId: road\ngeometryType: Point\nidField: a\ngeometryField: g\nstorage: {table: t, srid: 4326}\n",
			want:    layerFile + ":2:12: error: ", words: []string{`serviceId "road" does not exist`, `did you mean "roads"?`},
		},
		{
			name: "layer to unknown default style", file: layerFile,
			content: "id: streets\nserviceId: roads\ngeometryType: Point\nidField: a\ngeometryField: g\nstorage: {table: t, srid: 4326}\nstyles:\n  defaultStyleId: lines\n",
			want:    layerFile + ":8:19: error: ", words: []string{`styles.defaultStyleId "lines" does not exist`, `did you mean "line"?`},
		},
		{
			name: "layer to unknown style in list", file: layerFile,
			content: "id: streets\nserviceId: roads\ngeometryType: Point\nidField: a\ngeometryField: g\nstorage: {table: t, srid: 4326}\nstyles:\n  styleIds:\n    - line\n    - heatmap\n",
			want:    layerFile + ":10:7: error: ", words: []string{`style "heatmap" in styles.styleIds does not exist`, "add styles/heatmap.yaml"},
		},
		{
			name: "raster to unknown layer", file: "environments/prod/metadata.yaml",
			content: "catalog: {id: c}\nrasterDatasets:\n  - id: ortho\n    layerId: orthophoto\n    source: {type: cog, uri: s3://bucket/ortho.tif}\n",
			want:    "environments/prod/metadata.yaml:4:14: error: ", words: []string{`layerId "orthophoto" does not exist`},
		},
		{
			name: "raster without source uri", file: "environments/prod/metadata.yaml",
			content: "catalog: {id: c}\nrasterDatasets:\n  - id: ortho\n    source: {type: cog}\n",
			want:    "environments/prod/metadata.yaml:4:13: error: ", words: []string{"missing required field source.uri"},
		},
		{
			name: "layer maxScale greater than minScale", file: layerFile,
			content: "id: streets\nserviceId: roads\ngeometryType: Point\nidField: a\ngeometryField: g\nstorage: {table: t, srid: 4326}\nminScale: 5000\nmaxScale: 100000\n",
			want:    layerFile + ":8:11: error: ", words: []string{"maxScale 100000 is greater than minScale 5000", "swap them"},
		},
		{
			name: "negative scale", file: layerFile,
			content: "id: streets\nserviceId: roads\ngeometryType: Point\nidField: a\ngeometryField: g\nstorage: {table: t, srid: 4326}\nminScale: -1\n",
			want:    layerFile + ":7:11: error: ", words: []string{"minScale is -1 but must be at least 0"},
		},
		{
			name: "style rule minScale greater than maxScale", file: "environments/common/styles/line.yaml",
			content: "id: line\nformat: f\ngeometryType: LineString\nrules:\n  - id: near\n    minScale: 9000\n    maxScale: 100\n",
			want:    "environments/common/styles/line.yaml:6:15: error: ", words: []string{"rule 1 has minScale 9000 greater than maxScale 100"},
		},
		{
			name: "too many style rules", file: "environments/common/styles/line.yaml",
			content: "id: line\nformat: f\ngeometryType: LineString\nrules:\n" + strings.Repeat("  - {id: r}\n", 26),
			want:    "environments/common/styles/line.yaml:5:3: error: ", words: []string{"rules has 26 entries; Honua allows at most 25"},
		},
		{
			name: "uniqueValue without classes", file: "environments/common/styles/line.yaml",
			content: "id: line\nformat: f\ngeometryType: LineString\nuniqueValue:\n  field: kind\n  classes: []\n",
			want:    "environments/common/styles/line.yaml:6:12: error: ", words: []string{"uniqueValue.classes must have at least 1 entry"},
		},
		{
			name: "opacity over 1", file: "environments/common/styles/line.yaml",
			content: "id: line\nformat: f\ngeometryType: LineString\nsimple:\n  opacity: 1.5\n",
			want:    "environments/common/styles/line.yaml:5:12: error: ", words: []string{"simple.opacity is 1.5 but must be at most 1"},
		},
		{
			name: "no storage table", file: layerFile,
			content: "id: streets\nserviceId: roads\ngeometryType: Point\nidField: a\ngeometryField: g\nstorage:\n  srid: 4326\n",
			want:    layerFile + ":7:3: error: ", words: []string{"no storage.table", "add `storage: {table:"},
		},
		{
			name: "table and sql view", file: layerFile,
			content: "id: streets\nserviceId: roads\ngeometryType: Point\nidField: a\ngeometryField: g\nstorage:\n  table: t\n  srid: 4326\n  sqlView: select 1\n",
			want:    layerFile + ":9:12: error: ", words: []string{"both table and sqlView"},
		},
		{
			name: "double colon in id", file: layerFile,
			content: "id: roads::streets\nserviceId: roads\ngeometryType: Point\nidField: a\ngeometryField: g\nstorage: {table: t, srid: 4326}\n",
			want:    layerFile + ":1:5: error: ", words: []string{"must not contain '::'", `"roads-streets"`},
		},
		{
			name: "inline password", file: dsFile,
			content: "dataSources:\n  - id: pg\n    provider: postgis\n    connectionString: \"Host=db;Username=gis;Password=hunter2\"\n",
			want:    dsFile + ":4:23: error: ", words: []string{"carries the password inline", "${PG_PASSWORD}"},
		},
		{
			name: "inline password in URL", file: dsFile,
			content: "dataSources:\n  - id: pg\n    provider: postgis\n    connectionString: postgres://gis:hunter2@db/gis\n",
			want:    dsFile + ":4:23: error: ", words: []string{"carries the password inline"},
		},
		{
			name: "partly referenced secret", file: dsFile,
			content: "dataSources:\n  - id: pg\n    provider: postgis\n    connectionString: \"Host=db;Pwd=x${PG}\"\n",
			want:    dsFile + ":4:23: error: ", words: []string{"carries the pwd inline"},
		},
		{
			name: "srid and crs missing", file: layerFile,
			content: "id: streets\nserviceId: roads\ngeometryType: Point\nidField: a\ngeometryField: g\nstorage:\n  table: t\n",
			want:    layerFile + ":7:3: warning: ", words: []string{"neither srid nor crs"},
		},
		{
			name: "srid and crs disagree", file: layerFile,
			content: "id: streets\nserviceId: roads\ngeometryType: Point\nidField: a\ngeometryField: g\nstorage:\n  table: t\n  srid: 4326\n  crs: EPSG:3857\n",
			want:    layerFile + ":9:8: warning: ", words: []string{"storage.srid 4326 and storage.crs EPSG:3857 disagree"},
		},
		{
			name: "unknown field with suggestion", file: layerFile,
			content: "id: streets\nserviceId: roads\ngeometryType: Point\ngeometrytype: Point\nidField: a\ngeometryField: g\nstorage: {table: t, srid: 4326}\n",
			want:    layerFile + ":4:15: warning: ", words: []string{"unknown field geometrytype (did you mean geometryType?)", "passed to the server unchanged"},
		},
		{
			name: "unknown nested field", file: layerFile,
			content: "id: streets\nserviceId: roads\ngeometryType: Point\nidField: a\ngeometryField: g\nstorage: {table: t, srid: 4326, primarykey: id}\n",
			want:    layerFile + ":6:45: warning: ", words: []string{"unknown field storage.primarykey (did you mean primaryKey?)"},
		},
		{
			name: "misspelt geometry type", file: layerFile,
			content: "id: streets\nserviceId: roads\ngeometryType: Polgon\nidField: a\ngeometryField: g\nstorage: {table: t, srid: 4326}\n",
			want:    layerFile + ":3:15: warning: ", words: []string{`geometryType "Polgon"`, "did you mean Polygon?"},
		},
		{
			name: "style without format", file: "environments/common/styles/line.yaml",
			content: "id: line\ngeometryType: LineString\n",
			want:    "environments/common/styles/line.yaml:1:5: warning: ", words: []string{"no format"},
		},
		{
			name: "unknown top-level key", file: metaFile,
			content: "folders:\n  - id: transportation\nservices:\n  - id: roads\n    folderId: transportation\n    serviceType: FeatureServer\n    dataSourceId: pg\nstyle: []\n",
			want:    metaFile + ":8:1: warning: ", words: []string{"unknown top-level key style (did you mean styles?)"},
		},
		{
			name: "layer file holding a list", file: layerFile,
			content: "- id: streets\n",
			want:    layerFile + ":1:1: error: ", words: []string{"holds one layer as a mapping", "not a list"},
		},
		{
			name: "duplicate key", file: layerFile,
			content: "id: streets\nserviceId: roads\ngeometryType: Point\nidField: a\ngeometryField: g\nstorage: {table: t, srid: 4326}\ntitle: A\ntitle: B\n",
			want:    layerFile + ":8:1: error: ", words: []string{`key "title" is already defined at line 7`},
		},
		{
			name: "syntax error", file: layerFile,
			content: "id: streets\nserviceId: [roads\n",
			want:    layerFile + ":2:1: error: ", words: []string{"invalid YAML"},
		},
		{
			name: "tab indentation", file: layerFile,
			content: "id: streets\nstorage:\n\ttable: t\n",
			want:    layerFile + ":3:1: error: ", words: []string{"invalid YAML", "indent with spaces, not tabs"},
		},
		{
			name: "invalid utf-8", file: layerFile,
			content: "id: streets\ntitle: caf\xe9\n",
			want:    layerFile + ":2:11: error: ", words: []string{"not valid UTF-8"},
		},
		{
			name: "two documents", file: layerFile,
			content: "id: streets\n---\nid: other\n",
			want:    layerFile + ":2:1: error: ", words: []string{"more than one YAML document"},
		},
		{
			name: "stray file", file: "environments/prod/misc/notes.yaml",
			content: "a: 1\n",
			want:    "environments/prod/misc/notes.yaml:1:1: warning: ", words: []string{"not read"},
		},
		{
			name: "no catalog", file: "environments/prod/metadata.yaml",
			content: "folders: []\n",
			want:    "environments/prod: error: ", words: []string{"environment prod has no catalog", "add `catalog: {id: prod"},
		},
		{
			name: "two catalogs", file: "environments/prod/more.yaml",
			content: "catalog:\n  id: other\n",
			want:    "environments/prod/more.yaml:2:3: error: ", words: []string{"a second catalog", `catalog "city-prod" at environments/prod/metadata.yaml:2:3`},
		},
		{
			name: "json file", file: "environments/common/layers/streets.json",
			content: "{\"id\": \"streets\", \"id\": \"x\"}",
			want:    "environments/common/layers/streets.json:1:19: error: ", words: []string{`key "id" is already defined at line 1`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := minimal()
			files[tt.file] = tt.content
			st := loadTree(t, files)
			all := allDiagnostics(st)
			for _, d := range all {
				if !strings.HasPrefix(d, tt.want) {
					continue
				}
				ok := true
				for _, w := range tt.words {
					if !strings.Contains(d, w) {
						ok = false
					}
				}
				if ok {
					return
				}
			}
			t.Errorf("no diagnostic %q… with %q; got:\n%s", tt.want, tt.words, strings.Join(all, "\n"))
		})
	}
}

func TestInlineSecretNeverEchoed(t *testing.T) {
	files := minimal()
	files["environments/prod/datasources.yaml"] = "dataSources:\n  - id: pg\n    provider: postgis\n    connectionString: \"Host=db;Password=s3cr3t-value\"\n"
	st := loadTree(t, files)
	for _, d := range allDiagnostics(st) {
		if strings.Contains(d, "s3cr3t-value") {
			t.Fatalf("diagnostic repeats the secret: %s", d)
		}
	}
	if _, ok := findDiagnostic(st, "inline"); !ok {
		t.Fatal("inline secret not reported")
	}
}

func TestEnvironmentOverridesCommon(t *testing.T) {
	files := minimal()
	files["environments/prod/layers/streets.yaml"] = strings.Replace(files["environments/common/layers/streets.yaml"], "title: Streets", "title: Streets (production)", 1)
	files["environments/dev/metadata.yaml"] = "catalog: {id: city-dev}\n"
	files["environments/dev/datasources.yaml"] = files["environments/prod/datasources.yaml"]
	st := loadTree(t, files)
	if d := allDiagnostics(st); len(d) > 0 {
		t.Fatalf("findings:\n%s", strings.Join(d, "\n"))
	}
	prod := st.Environments["prod"].Objects[KeyOf(KindLayer, "STREETS")]
	dev := st.Environments["dev"].Objects[KeyOf(KindLayer, "streets")]
	if got := prod.Str("title"); got != "Streets (production)" {
		t.Errorf("prod streets title = %q, want the environment's own", got)
	}
	if prod.Origin != "prod" || dev.Origin != CommonEnv {
		t.Errorf("origins = %q, %q; want prod, common", prod.Origin, dev.Origin)
	}
	if got := dev.Str("title"); got != "Streets" {
		t.Errorf("dev streets title = %q, want common's", got)
	}
}

// TestReferencesAcrossFolders: a reference from common resolves against the
// environment it is merged into; an object the environment replaces is
// checked as the environment wrote it.
func TestReferencesAcrossFolders(t *testing.T) {
	files := minimal()
	files["environments/dev/metadata.yaml"] = "catalog: {id: city-dev}\n"
	files["environments/dev/datasources.yaml"] = files["environments/prod/datasources.yaml"]
	// common's layer uses a style only production defines.
	files["environments/common/layers/streets.yaml"] = strings.Replace(files["environments/common/layers/streets.yaml"], "styleIds: [line]", "styleIds: [line, heat]", 1)
	files["environments/prod/styles/heat.yaml"] = "id: heat\nformat: f\ngeometryType: LineString\n"
	// dev replaces common's service with one pointing at a folder dev lacks.
	files["environments/dev/services.yaml"] = "services:\n  - id: roads\n    folderId: nowhere\n    serviceType: FeatureServer\n    dataSourceId: pg\n"
	st := loadTree(t, files)

	if errs := st.Environments["prod"].Errors(); len(errs) != 0 {
		t.Errorf("prod: %v", errs)
	}
	var got []string
	for _, d := range st.Environments["dev"].Errors() {
		got = append(got, d.String())
	}
	want := []string{
		`environments/common/layers/streets.yaml:18:20: error: layer "streets": style "heat" in styles.styleIds does not exist in environment dev: add styles/heat.yaml or remove it from the list`,
		`environments/dev/services.yaml:3:15: error: service "roads": folderId "nowhere" does not exist in environment dev: add a folder with id "nowhere" or point folderId at an existing one`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("dev errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestBoundedLevenshtein: the banded distance agrees with the full one
// wherever the full one is within the limit.
func TestBoundedLevenshtein(t *testing.T) {
	full := func(a, b []rune) int {
		prev := make([]int, len(b)+1)
		for j := range prev {
			prev[j] = j
		}
		for i := 1; i <= len(a); i++ {
			cur := make([]int, len(b)+1)
			cur[0] = i
			for j := 1; j <= len(b); j++ {
				cost := 1
				if a[i-1] == b[j-1] {
					cost = 0
				}
				cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			}
			prev = cur
		}
		return prev[len(b)]
	}
	r := rand.New(rand.NewPCG(1, 2))
	word := func() []rune {
		w := make([]rune, r.IntN(9))
		for i := range w {
			w[i] = rune('a' + r.IntN(3))
		}
		return w
	}
	for range 20000 {
		a, b := word(), word()
		for limit := 0; limit <= 3; limit++ {
			want := min(full(a, b), limit+1)
			if got := boundedLevenshtein(a, b, limit); got != want {
				t.Fatalf("%q %q limit %d: got %d, want %d", string(a), string(b), limit, got, want)
			}
		}
	}
}

// TestSuggestBounded: long names get no suggestion (comparing two
// 10,000-character ids took seconds each), short ones still do.
func TestSuggestBounded(t *testing.T) {
	long := strings.Repeat("abcdefgh", 1250)
	if s := suggest(long+"x", []string{long, long + "y"}); s != "" {
		t.Errorf("suggested %d characters", len(s))
	}
	if s := suggest("tranportation", []string{"planning", "transportation"}); s != "transportation" {
		t.Errorf("suggest = %q", s)
	}
	files := minimal()
	var svc strings.Builder
	svc.WriteString("services:\n")
	for i := range 10 {
		fmt.Fprintf(&svc, "  - id: %s%d\n    folderId: transportation\n    serviceType: FeatureServer\n    dataSourceId: pg\n", long, i)
	}
	files["environments/common/services-long.yaml"] = svc.String()
	for i := range 10 {
		files[fmt.Sprintf("environments/common/layers/l%d.yaml", i)] = fmt.Sprintf("id: l%d\nserviceId: %s%dz\ngeometryType: Point\nidField: id\ngeometryField: g\nstorage: {table: t, srid: 4326}\n", i, long, i)
	}
	st := loadTree(t, files)
	d, ok := findDiagnostic(st, "does not exist in environment prod: add a service with id")
	if !ok || strings.Contains(d, "did you mean") {
		t.Errorf("unresolved long reference: %q", d)
	}
}

// TestDuplicateTopLevelKeyAcrossFiles: two files of one folder make one
// document, so a second server: is a duplicate, not a silent replacement;
// an environment's own server: still replaces common's.
func TestDuplicateTopLevelKeyAcrossFiles(t *testing.T) {
	files := minimal()
	files["environments/prod/metadata.yaml"] += "server:\n  cors: {origins: [a]}\n"
	files["environments/prod/server.yaml"] = "\nserver:\n  cors: {origins: [b]}\n"
	st := loadTree(t, files)
	d, ok := findDiagnostic(st, "top-level key server is also defined at environments/prod/metadata.yaml:4:1")
	if !ok || !strings.HasPrefix(d, "environments/prod/server.yaml:2:1: error:") {
		t.Fatalf("duplicate server: %q\n%s", d, strings.Join(allDiagnostics(st), "\n"))
	}
	files = minimal()
	files["environments/common/server.yaml"] = "server: {a: 1}\n"
	files["environments/prod/server.yaml"] = "server: {a: 2}\n"
	st = loadTree(t, files)
	if d := allDiagnostics(st); len(d) > 0 {
		t.Fatalf("an environment's server replacing common's: %v", d)
	}
	if v := st.Environments["prod"].Extra["server"].(map[string]any)["a"]; v != int64(2) {
		t.Errorf("server.a = %v, want the environment's 2", v)
	}
}
