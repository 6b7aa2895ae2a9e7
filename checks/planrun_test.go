package checks

import (
	"testing"
)

func TestPlanRunGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    scenario
	}{
		{"plan-run", scenario{}},
		{"plan-run-unchanged", scenario{headName: "config"}},
		{"plan-run-invalid", scenario{head: map[string]string{
			"environments/staging/layers/broken.yaml": "id: broken-layer\nserviceId: no-such-service\ntitle: Broken\ngeometryType: Point\nidField: objectid\ngeometryField: geom\nstorage: {table: gis.broken}\ncolour: blue\n",
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := PlanRun(tc.s.report(t), planOptions)
			golden(t, tc.name+".golden", dump(run))
		})
	}
}
