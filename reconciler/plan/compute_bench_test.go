package plan

import (
	"fmt"
	"testing"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// benchStates builds an environment of layers spread over 50 services (two
// data sources, one style) and a head where changed layers have a new title
// and, every other one, a new geometryType. With service set, one of the
// changes is to a service instead, so the reverse indexes are built.
func benchStates(layers, changed int, service bool) (base, head *config.State) {
	var bo, ho []*config.Object
	bo = append(bo,
		object(config.KindFolder, "f", "metadata.yaml", folderValue("f")),
		object(config.KindDataSource, "pg", "datasources.yaml", dataSourceValue("pg")),
		object(config.KindStyle, "outline", "styles/outline.yaml", styleValue("outline")),
	)
	for s := range 50 {
		id := fmt.Sprintf("svc-%02d", s)
		bo = append(bo, object(config.KindService, id, "metadata.yaml", serviceValue(id, "f", "pg")))
	}
	ho = append(ho, bo...)
	stride := layers / max(changed, 1)
	for i := range layers {
		id := fmt.Sprintf("layer-%05d", i)
		svc := fmt.Sprintf("svc-%02d", i%50)
		o := object(config.KindLayer, id, "layers/"+id+".yaml", layerValue(id, svc))
		bo = append(bo, o)
		if changed > 0 && i%stride == 0 && i/stride < changed {
			v := layerValue(id, svc)
			v["title"] = "Changed " + id
			if i%2 == 0 {
				v["geometryType"] = "MultiPolygon"
			}
			o = object(config.KindLayer, id, "layers/"+id+".yaml", v)
		}
		ho = append(ho, o)
	}
	if service {
		ho = mutated(ho, config.KeyOf(config.KindService, "svc-07"), func(v map[string]any) { v["title"] = "Changed" })
	}
	return newState(newEnv("production", bo...)), newState(newEnv("production", ho...))
}

func BenchmarkCompute(b *testing.B) {
	for _, bc := range []struct {
		layers, changed int
		service         bool
	}{
		{1000, 10, false},
		{10000, 10, false},
		{10000, 10, true},
	} {
		name := fmt.Sprintf("layers=%d/changed=%d", bc.layers, bc.changed)
		if bc.service {
			name += "/service"
		}
		b.Run(name, func(b *testing.B) {
			base, head := benchStates(bc.layers, bc.changed, bc.service)
			want := bc.changed
			if bc.service {
				want++
			}
			b.ReportAllocs()
			for b.Loop() {
				p := Compute(base, head, nil)
				if got := len(p.Environments[0].Changes); got != want {
					b.Fatalf("got %d changes, want %d", got, want)
				}
			}
		})
	}
}
