package plan

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/honua-io/honua-gitops/reconciler/config"
)

// TestSamples plans samples/config → samples/config-next with the real
// loader: bike-lanes (layer and style) added everywhere, and production's
// parcels override turning Polygon into MultiPolygon.
func TestSamples(t *testing.T) {
	load := func(dir string) *config.State {
		t.Helper()
		st, err := config.NewLoader(config.Limits{}).Load(context.Background(), config.NewDirSource(dir, config.Limits{}))
		if err != nil {
			t.Fatalf("loading %s: %v", dir, err)
		}
		return st
	}
	p := Compute(load("../../samples/config"), load("../../samples/config-next"), nil)

	type row struct {
		Env      string
		Kind     config.Kind
		ID       string
		Action   Action
		Breaking bool
		Reasons  []string
		Details  []Detail
	}
	var got []row
	for _, e := range p.Environments {
		if len(e.Errors) > 0 {
			t.Errorf("%s: errors %v", e.Name, e.Errors)
		}
		for _, c := range e.Changes {
			got = append(got, row{e.Name, c.Kind, c.ID, c.Action, c.Breaking, c.Reasons, c.Details})
		}
	}
	added := func(env string) []row {
		return []row{
			{env, config.KindLayer, "bike-lanes", ActionAdd, false, []string{}, []Detail{}},
			{env, config.KindStyle, "bike-lanes", ActionAdd, false, []string{}, []Detail{}},
		}
	}
	var want []row
	want = append(want, added("development")...)
	want = append(want, added("production")[0],
		row{"production", config.KindLayer, "parcels", ActionModify, true,
			[]string{"geometryType Polygon → MultiPolygon changes the feature schema clients read"},
			[]Detail{{Path: "geometryType", From: "Polygon", To: "MultiPolygon"}}},
		added("production")[1])
	want = append(want, added("staging")...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan of the samples (-want +got):\n%s", diff)
	}
}
