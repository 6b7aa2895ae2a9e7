package plan

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/honua-io/honua-gitops/reconciler/config"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// at places an object in a file of an environment of the sample layout.
func at(kind config.Kind, id, file string, line int, v map[string]any) *config.Object {
	return config.NewObject(kind, id, config.Position{File: file, Line: line, Column: 3}, v, nil)
}

// kailua builds base and head states like samples/config and
// samples/config-next, plus a few edits that exercise every renderer path.
func kailua() (base, head *config.State) {
	common := func(env string) []*config.Object {
		return []*config.Object{
			at(config.KindCatalog, "kailua-"+env, "environments/"+env+"/metadata.yaml", 3, map[string]any{"id": "kailua-" + env, "title": "City of Kailua"}),
			at(config.KindFolder, "transportation", "environments/common/metadata.yaml", 5, folderValue("transportation")),
			at(config.KindFolder, "planning", "environments/common/metadata.yaml", 8, folderValue("planning")),
			at(config.KindDataSource, "kailua-postgis", "environments/"+env+"/datasources.yaml", 4, dataSourceValue("kailua-postgis")),
			at(config.KindService, "transportation", "environments/common/metadata.yaml", 16, serviceValue("transportation", "transportation", "kailua-postgis")),
			at(config.KindService, "planning", "environments/common/metadata.yaml", 28, serviceValue("planning", "planning", "kailua-postgis")),
			at(config.KindLayer, "parcels", "environments/common/layers/parcels.yaml", 1, layerValue("parcels", "planning")),
			at(config.KindLayer, "streets", "environments/common/layers/streets.yaml", 1, layerValue("streets", "transportation")),
			at(config.KindStyle, "outline", "environments/common/styles/outline.yaml", 1, styleValue("outline")),
			at(config.KindStyle, "old-style", "environments/common/styles/old-style.yaml", 1, styleValue("old-style")),
		}
	}
	bikeLanes := func() *config.Object {
		v := layerValue("bike-lanes", "transportation")
		v["geometryType"] = "MultiLineString"
		return at(config.KindLayer, "bike-lanes", "environments/common/layers/bike-lanes.yaml", 1, v)
	}

	base = newState(newEnv("development", common("development")...), newEnv("production", common("production")...), newEnv("staging", common("staging")...))

	dev := common("development")
	dev = append(without(dev, config.KeyOf(config.KindStyle, "old-style")), bikeLanes())

	prod := common("production")
	prod = without(prod, config.KeyOf(config.KindStyle, "old-style"))
	prod = append(prod, bikeLanes())
	prod = mutated(prod, config.KeyOf(config.KindLayer, "parcels"), func(v map[string]any) {
		v["geometryType"] = "MultiPolygon"
		v["title"] = "Tax Parcels"
		v["fields"] = append(v["fields"].([]any), map[string]any{"name": "tmk", "type": "string", "nullable": false})
		v["keywords"] = []any{"a", "b", "TMK"}
	})
	prod = mutated(prod, config.KeyOf(config.KindDataSource, "kailua-postgis"), func(v map[string]any) {
		v["connectionString"] = "Host=pg-prod.kailua.internal;Database=gis;Username=honua_reader;Password=${KAILUA_PG_PASSWORD_PROD};SSL Mode=Require"
	})

	staging := newEnv("staging", common("staging")...)
	staging.Diagnostics = []config.Diagnostic{
		{Severity: config.SeverityError, File: "environments/staging/layers/ev-charging-stations.yaml", Line: 2, Column: 12, Rule: "reference", Message: "layer ev-charging-stations: serviceId energy is not a service; add it to metadata.yaml or use one of: planning, transportation"},
		{Severity: config.SeverityWarning, File: "environments/staging/layers/ev-charging-stations.yaml", Line: 14, Column: 3, Rule: "srid", Message: "layer ev-charging-stations has neither storage.srid nor storage.crs"},
	}
	head = newState(newEnv("development", dev...), newEnv("production", prod...), staging)
	return base, head
}

func TestGolden(t *testing.T) {
	base, head := kailua()
	p := Compute(base, head, nil)

	var js bytes.Buffer
	if err := p.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	golden(t, "kailua.json.golden", js.Bytes())

	var text bytes.Buffer
	if err := p.WriteText(&text, false); err != nil {
		t.Fatal(err)
	}
	golden(t, "kailua.txt.golden", text.Bytes())

	var color bytes.Buffer
	if err := p.WriteText(&color, true); err != nil {
		t.Fatal(err)
	}
	golden(t, "kailua.color.golden", color.Bytes())

	var md bytes.Buffer
	if err := p.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	golden(t, "kailua.md.golden", md.Bytes())

	var empty bytes.Buffer
	if err := Compute(base, base, nil).WriteText(&empty, false); err != nil {
		t.Fatal(err)
	}
	golden(t, "nochange.txt.golden", empty.Bytes())
}

func TestTextWithoutColorHasNoEscapes(t *testing.T) {
	base, head := kailua()
	var sb strings.Builder
	if err := Compute(base, head, nil).WriteText(&sb, false); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sb.String(), "\x1b") {
		t.Errorf("text without colour has ANSI escapes:\n%s", sb.String())
	}
}

func TestJSONRoundTrip(t *testing.T) {
	base, head := kailua()
	p := Compute(base, head, nil)
	var buf bytes.Buffer
	if err := p.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("null,")) && bytes.Contains(buf.Bytes(), []byte(`"changes": null`)) {
		t.Errorf("JSON has null lists")
	}
	var back Plan
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Digest() != p.Digest() {
		t.Errorf("digest after a JSON round trip = %s, want %s", back.Digest(), p.Digest())
	}
}

func TestJSONNeverNull(t *testing.T) {
	var buf bytes.Buffer
	p := &Plan{Environments: []Environment{{Name: "x", Changes: []Change{{Kind: config.KindLayer, ID: "a"}}}}}
	if err := p.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(buf.Bytes(), &generic); err != nil {
		t.Fatal(err)
	}
	env := generic["environments"].([]any)[0].(map[string]any)
	change := env["changes"].([]any)[0].(map[string]any)
	for _, v := range []any{generic["errors"], generic["warnings"], env["errors"], env["warnings"], change["reasons"], change["collections"], change["details"]} {
		if _, ok := v.([]any); !ok {
			t.Errorf("got %v, want a list in:\n%s", v, buf.String())
		}
	}
}

func TestDigest(t *testing.T) {
	base, head := kailua()
	p := Compute(base, head, nil)
	d := p.Digest()
	if len(d) != 64 {
		t.Fatalf("digest %q is not a hex sha256", d)
	}
	again := Compute(base, head, nil)
	if again.Digest() != d {
		t.Errorf("the same plan computed twice has digests %s and %s", d, again.Digest())
	}
	other := Compute(base, base, nil)
	if other.Digest() == d {
		t.Errorf("different plans have the same digest")
	}
}

// TestEnvironmentDigest checks that an environment's digest depends on
// what changes in it and nothing else: not on the other environments, and
// not on the commits the plan was computed between.
func TestEnvironmentDigest(t *testing.T) {
	base, head := kailua()
	p := Compute(base, head, nil)
	again := Compute(base, head, nil)
	if len(p.Environments) < 2 {
		t.Fatalf("want a plan of several environments, got %d", len(p.Environments))
	}
	seen := map[string]string{}
	for i := range p.Environments {
		e := &p.Environments[i]
		d := e.Digest()
		if len(d) != 64 {
			t.Fatalf("digest %q is not a hex sha256", d)
		}
		if got := again.Environments[i].Digest(); got != d {
			t.Errorf("%s: the same plan computed twice has digests %s and %s", e.Name, d, got)
		}
		if other, ok := seen[d]; ok {
			t.Errorf("%s and %s have the same digest", other, e.Name)
		}
		seen[d] = e.Name
	}
	// One more change in one environment changes its digest only.
	e := again.Environments[0]
	e.Changes = append(append([]Change(nil), e.Changes...), Change{Kind: config.KindLayer, ID: "extra", Action: ActionAdd})
	if e.Digest() == p.Environments[0].Digest() {
		t.Errorf("a further change left %s's digest unchanged", e.Name)
	}
	// The same id added with other content is another plan: an add has no
	// details, its digest says what is added.
	a1 := Environment{Name: "x", Changes: []Change{{Kind: config.KindLayer, ID: "l", Action: ActionAdd, Digest: "d1"}}}
	a2 := Environment{Name: "x", Changes: []Change{{Kind: config.KindLayer, ID: "l", Action: ActionAdd, Digest: "d2"}}}
	if a1.Digest() == a2.Digest() {
		t.Errorf("two different layers added under one id make the same plan digest")
	}
	// A nil list and an empty one are the same plan.
	e = p.Environments[0]
	e.Warnings, e.Errors = nil, []config.Diagnostic{}
	if len(p.Environments[0].Warnings) == 0 && len(p.Environments[0].Errors) == 0 && e.Digest() != p.Environments[0].Digest() {
		t.Errorf("a nil list and an empty one give different digests")
	}
}

// bigPlan is one environment with n modified layers, every tenth breaking.
func bigPlan(n int) *Plan {
	var bo, ho []*config.Object
	for i := range n {
		id := fmt.Sprintf("layer-%05d", i)
		b := layerValue(id, "svc")
		h := layerValue(id, "svc")
		h["title"] = "Renamed " + id
		if i%10 == 0 {
			h["geometryType"] = "MultiPolygon"
		}
		bo = append(bo, object(config.KindLayer, id, "layers/"+id+".yaml", b))
		ho = append(ho, object(config.KindLayer, id, "layers/"+id+".yaml", h))
	}
	return Compute(newState(newEnv("production", bo...), newEnv("staging", bo...)), newState(newEnv("production", ho...), newEnv("staging", ho...)), nil)
}

func TestMarkdownLimit(t *testing.T) {
	p := bigPlan(2500) // 5,000 changes over two environments
	full := p.Markdown(0)
	if len(full) <= CheckRunLimit {
		t.Fatalf("the test plan is too small: %d bytes", len(full))
	}
	for _, limit := range []int{CheckRunLimit, 20000, 4000, 500, 100, 10, 3, 1} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			got := p.Markdown(limit)
			if len(got) > limit {
				t.Errorf("Markdown(%d) is %d bytes", limit, len(got))
			}
			if !utf8.ValidString(got) {
				t.Errorf("Markdown(%d) is not valid UTF-8", limit)
			}
			if limit < 4000 {
				return
			}
			if !strings.Contains(got, "| `production` | 0 | 2500 | 0 | **250** | high |") {
				t.Errorf("Markdown(%d) lost the summary table:\n%s", limit, got[:min(len(got), 800)])
			}
			if !strings.HasSuffix(got, "more changes not shown.\n") {
				t.Errorf("Markdown(%d) does not end with the omission line: %q", limit, got[max(0, len(got)-200):])
			}
		})
	}
	t.Run("breaking changes come first", func(t *testing.T) {
		// 500 breaking changes do not all fit in 65,535 bytes: every change
		// shown must be breaking, and the footer counts the others.
		got := p.Markdown(CheckRunLimit)
		shown := strings.Count(got, "**BREAKING**")
		if shown < 100 {
			t.Errorf("Markdown(%d) shows %d breaking changes, want most of 500", CheckRunLimit, shown)
		}
		if strings.Contains(got, "\n- `~`") || strings.Contains(got, "Renamed layer") {
			t.Errorf("Markdown(%d) shows a non-breaking change before all breaking ones", CheckRunLimit)
		}
		if want := fmt.Sprintf("… %d more changes not shown.\n", 5000-shown); !strings.HasSuffix(got, want) {
			t.Errorf("Markdown(%d) ends with %q, want %q", CheckRunLimit, got[len(got)-40:], want)
		}
	})
	t.Run("fits whole", func(t *testing.T) {
		small := bigPlan(3)
		if got, want := small.Markdown(CheckRunLimit), small.Markdown(0); got != want {
			t.Errorf("a plan that fits is not shown whole")
		}
	})
}

func TestMarkdownEscapes(t *testing.T) {
	p := &Plan{Version: Version, Environments: []Environment{{
		Name: "prod",
		Changes: []Change{{
			Kind: config.KindLayer, ID: "a|b`c", Action: ActionModify, Breaking: true,
			Reasons: []string{"<script>alert(1)</script> [x](http://evil) *bold*"},
			Details: []Detail{{Path: "title", From: "a|b", To: "<b>"}},
		}},
	}}}
	got := p.Markdown(0)
	for _, bad := range []string{"<script>", "[x](http", "a|b`c", "*bold*"} {
		if strings.Contains(got, bad) {
			t.Errorf("markdown contains %q unescaped:\n%s", bad, got)
		}
	}
	if !strings.Contains(got, "`\"<b>\"`") {
		t.Errorf("markdown does not show <b> as code:\n%s", got)
	}
}
