package checks

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// bigReport is a plan of layers changed layers in each of three
// environments, as internal/configgen's repositories give: titles changed
// (low risk), every seventh layer's fields (medium), every fifth layer's
// geometry type (breaking); staging has two errors and a warning.
func bigReport(layers int) *policy.Report {
	p := &plan.Plan{Version: plan.Version}
	order := []string{"development", "staging", "production"}
	for _, name := range []string{"development", "production", "staging"} {
		e := plan.Environment{Name: name, Risk: plan.RiskLow}
		for i := range layers {
			id := fmt.Sprintf("layer-%05d", i)
			c := plan.Change{
				Kind: config.KindLayer, ID: id, Action: plan.ActionModify, Risk: plan.RiskLow,
				File: fmt.Sprintf("environments/common/layers/%s.yaml", id), Line: 1,
				Collections: []string{fmt.Sprintf("svc-%02d::%s", i%20, id)},
				Details:     []plan.Detail{{Path: "title", From: fmt.Sprintf("Layer %d", i), To: fmt.Sprintf("Layer %d (revised)", i)}},
			}
			switch {
			case i%5 == 0:
				c.Breaking, c.Risk = true, plan.RiskHigh
				c.Reasons = []string{"geometryType Polygon → MultiPolygon changes the feature schema clients read"}
				c.Details = append(c.Details, plan.Detail{Path: "geometryType", From: "Polygon", To: "MultiPolygon"})
				e.Summary.Breaking++
			case i%7 == 0:
				c.Risk = plan.RiskMedium
				c.Details = append(c.Details, plan.Detail{Path: "fields[name=height]", From: nil, To: map[string]any{"name": "height", "type": "double"}})
			}
			e.Risk = e.Risk.Max(c.Risk)
			e.Summary.Modified++
			e.Changes = append(e.Changes, c)
		}
		if name == "staging" {
			e.Errors = []config.Diagnostic{
				{Severity: config.SeverityError, File: "environments/staging/layers/broken.yaml", Line: 2, Column: 12, Message: `serviceId "nope" does not exist`, Rule: "reference"},
				{Severity: config.SeverityError, File: "environments/staging/layers/broken.yaml", Line: 5, Column: 1, Message: "missing required field idField", Rule: "required"},
			}
			e.Warnings = []config.Diagnostic{{Severity: config.SeverityWarning, File: "environments/staging/layers/broken.yaml", Line: 8, Column: 1, Message: "unknown field colour", Rule: "unknown-field"}}
		}
		p.Environments = append(p.Environments, e)
	}
	verdicts := map[string]policy.Verdict{}
	for _, n := range order {
		verdicts[n] = policy.Verdict{Environment: n, Allow: true, Timezone: "Pacific/Honolulu"}
	}
	return &policy.Report{Plan: p, Verdicts: verdicts, Order: order, PolicyDigest: "sha256:" + strings.Repeat("5b", 32)}
}

// checkMarkdown checks that rendered markdown is whole: valid UTF-8, no
// code fence, every <details> closed, every table row ended. Markers and
// code spans, where markdown reads nothing, are left out of the count.
func checkMarkdown(t *testing.T, what, md string) {
	t.Helper()
	if !utf8.ValidString(md) {
		t.Errorf("%s is not valid UTF-8", what)
	}
	var lines []string
	for _, l := range strings.Split(md, "\n") {
		if len(ParseMarkers(l)) > 0 {
			continue
		}
		if strings.Contains(l, "```") {
			t.Errorf("%s holds a code fence: %q", what, l)
		}
		lines = append(lines, codeSpan.ReplaceAllString(l, "$1"))
	}
	md = strings.Join(lines, "\n")
	if o, c := strings.Count(md, "<details>"), strings.Count(md, "</details>"); o != c {
		t.Errorf("%s opens %d <details> and closes %d", what, o, c)
	}
	for _, l := range strings.Split(md, "\n") {
		if row := strings.TrimSpace(l); strings.HasPrefix(row, "|") && !strings.HasSuffix(row, "|") {
			t.Errorf("%s has an unfinished table row %q", what, l)
		}
	}
}

func TestPlanRunLarge(t *testing.T) {
	r := bigReport(10000)
	run := PlanRun(r, planOptions)
	if len(run.Text) > MaxOutput || len(run.Summary) > MaxOutput {
		t.Fatalf("text %d bytes, summary %d bytes; GitHub takes %d", len(run.Text), len(run.Summary), MaxOutput)
	}
	if run.Conclusion != ConclusionFailure {
		t.Errorf("conclusion %q, want failure (staging has errors)", run.Conclusion)
	}
	checkMarkdown(t, "text", run.Text)
	checkMarkdown(t, "summary", run.Summary)
	if !strings.Contains(run.Text, "See it all with `"+planOptions.LocalCommand+"`.") {
		t.Errorf("the text does not say how to see it all:\n%s", run.Text[max(0, len(run.Text)-2000):])
	}
	if !strings.Contains(run.Text, "changes not shown") && !strings.Contains(run.Text, "changes and ") {
		t.Errorf("the text does not say what it left out")
	}
	sha, digests, ok := ParseDigests(run.Text)
	if !ok || sha != headSHA || len(digests) != 3 {
		t.Fatalf("digests marker: %q %v %v", sha, digests, ok)
	}
	for _, e := range r.Plan.Environments {
		if digests[e.Name] != e.Digest() {
			t.Errorf("%s: digest %s, want %s", e.Name, digests[e.Name], e.Digest())
		}
	}
	if !strings.HasSuffix(run.Text, DigestsMarker(headSHA, digests)+"\n") {
		t.Errorf("the text does not end with the digests marker")
	}
	// Errors and breaking changes go last: both errors are shown, low-risk
	// changes are not.
	for _, want := range []string{`serviceId "nope" does not exist`, "missing required field idField", ":warning: **BREAKING**"} {
		if !strings.Contains(run.Text, want) {
			t.Errorf("the text lost %q", want)
		}
	}
	if strings.Contains(run.Text, "`~` layer `layer-00001`") {
		t.Errorf("a low-risk change is shown while breaking changes are left out")
	}
	// Environments in promotion order.
	d, s, p := strings.Index(run.Text, "### `development`"), strings.Index(run.Text, "### `staging`"), strings.Index(run.Text, "### `production`")
	if !(d >= 0 && d < s && s < p) {
		t.Errorf("environments not in promotion order: %d %d %d", d, s, p)
	}

	// 2,000 breaking changes, shared by the three environments, and the
	// diagnostics: annotated once each, in batches of 50.
	if n := len(run.Annotations); n != 2000+3 {
		t.Errorf("%d annotations, want 2003", n)
	}
	batches := run.Batches()
	var all []Annotation
	for i, b := range batches {
		if len(b) == 0 || len(b) > AnnotationsPerRequest {
			t.Errorf("batch %d has %d annotations", i, len(b))
		}
		all = append(all, b...)
	}
	if len(batches) != 41 || !slices.Equal(all, run.Annotations) {
		t.Errorf("%d batches that give back %d annotations; want 41 giving all %d in order", len(batches), len(all), len(run.Annotations))
	}
	if a := run.Annotations[0]; a.Level != LevelFailure {
		t.Errorf("first annotation %+v, want an error first", a)
	}
	i := slices.IndexFunc(run.Annotations, func(a Annotation) bool { return a.Path == "environments/common/layers/layer-00005.yaml" })
	if i < 0 || run.Annotations[i].Title != "breaking change to layer layer-00005 in development, staging and production" || run.Annotations[i].Level != LevelWarning {
		t.Errorf("a common file's breaking change is not annotated once for all environments: %+v", run.Annotations[max(i, 0)])
	}
	if len(run.Title) > MaxTitle {
		t.Errorf("title of %d bytes", len(run.Title))
	}
}

// TestFitOrder checks what the plan's text leaves out first, at every
// size: an item goes only after every item more expendable than it, and
// the text stays within its limit with the marker at its end.
func TestFitOrder(t *testing.T) {
	r := bigReport(60)
	_, envs := reportPlan(r)
	trailer := "\n" + DigestsMarker(headSHA, map[string]string{"production": strings.Repeat("ab", 32)}) + "\n"
	full, cut := planDoc(r.Plan, envs, "cmd").fit(1<<30, trailer)
	if cut {
		t.Fatal("cut without a limit")
	}
	for limit := len(full) + 10; limit > 0; limit -= 97 {
		d := planDoc(r.Plan, envs, "cmd")
		got, _ := d.fit(limit, trailer)
		if len(got) > limit {
			t.Fatalf("limit %d: %d bytes", limit, len(got))
		}
		if len(trailer) <= limit && !strings.HasSuffix(got, trailer) {
			t.Fatalf("limit %d: the marker is lost", limit)
		}
		checkMarkdown(t, fmt.Sprintf("limit %d", limit), got)
		keptRank := 0 // the highest rank kept
		droppedRank := 1 << 30
		for _, s := range d.sections {
			for _, it := range s.items {
				for _, x := range []*item{it, it.details} {
					if x == nil {
						continue
					}
					gone := x.dropped || it.dropped || s.dropped
					if gone {
						droppedRank = min(droppedRank, x.rank)
					} else {
						keptRank = max(keptRank, x.rank)
					}
				}
			}
		}
		if keptRank > droppedRank {
			t.Fatalf("limit %d: kept an item of rank %d but left out one of rank %d", limit, keptRank, droppedRank)
		}
	}
}
