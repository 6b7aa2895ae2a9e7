package plan

import (
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/honua-io/honua-gitops/reconciler/config"
)

func TestNoChange(t *testing.T) {
	tests := []struct {
		name string
		head func() []*config.Object
	}{
		{
			name: "identical",
			head: baseObjects,
		},
		{
			name: "moved to another file",
			head: func() []*config.Object {
				objs := baseObjects()
				for i, o := range objs {
					if o.Key() == parcels {
						objs[i] = config.NewObject(o.Kind, o.ID, config.Position{File: "layers/planning/parcels.yml", Line: 7, Column: 3}, o.Value, nil)
					}
				}
				return objs
			},
		},
		{
			name: "from common into the environment with the same content",
			head: func() []*config.Object {
				objs := baseObjects()
				for _, o := range objs {
					o.Origin = "production"
				}
				return objs
			},
		},
		{
			name: "numbers spelled differently",
			head: func() []*config.Object {
				return mutated(baseObjects(), parcels, func(v map[string]any) {
					sub(v, "storage")["srid"] = 4326.0
					sub(v, "query")["maxRecordCount"] = 2000.0
				})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Compute(newState(newEnv("production", baseObjects()...)), newState(newEnv("production", tt.head()...)), nil)
			e := p.Environments[0]
			if diff := cmp.Diff([]Change{}, e.Changes); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(Summary{}, e.Summary); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			if e.Risk != RiskLow {
				t.Errorf("risk = %q, want low", e.Risk)
			}
		})
	}
}

func TestCollections(t *testing.T) {
	tests := []struct {
		name string
		edit func([]*config.Object) []*config.Object
		want map[string][]string // "kind id" → collections
	}{
		{
			name: "layer change reaches its own collection",
			edit: modify(parcels, func(v map[string]any) { v["title"] = "Parcels" }),
			want: map[string][]string{"layer parcels": {"planning::parcels"}},
		},
		{
			name: "layer moved to another service reaches old and new",
			edit: modify(parcels, func(v map[string]any) { v["serviceId"] = "transport" }),
			want: map[string][]string{"layer parcels": {"planning::parcels", "transport::parcels"}},
		},
		{
			name: "service change reaches every layer of the service",
			edit: modify(planning, func(v map[string]any) { v["title"] = "Planning" }),
			want: map[string][]string{"service planning": {"planning::parcels", "planning::zoning"}},
		},
		{
			name: "service removal reaches its layers in base",
			edit: func(o []*config.Object) []*config.Object { return without(without(o, transport), streets) },
			want: map[string][]string{"service transport": {"transport::streets"}, "layer streets": {"transport::streets"}},
		},
		{
			name: "style change reaches the layers using it",
			edit: func(o []*config.Object) []*config.Object {
				o = mutated(o, outline, func(v map[string]any) { sub(v, "simple")["strokeWidth"] = 2.0 })
				// streets uses the style only through styleIds.
				return mutated(o, streets, func(v map[string]any) {
					v["styles"] = map[string]any{"defaultStyleId": "other", "styleIds": []any{"other", "Outline"}}
				})
			},
			want: map[string][]string{
				"style outline": {"planning::parcels", "planning::zoning", "transport::streets"},
				"layer streets": {"transport::streets"},
			},
		},
		{
			name: "data source change reaches the layers of services using it",
			edit: modify(pg, func(v map[string]any) { v["provider"] = "postgresql" }),
			want: map[string][]string{"datasource pg": {"planning::parcels", "planning::zoning"}},
		},
		{
			name: "folder change reaches the layers of its services",
			edit: modify(folder, func(v map[string]any) { v["order"] = int64(5) }),
			want: map[string][]string{"folder transport": {"transport::streets"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Compute(newState(newEnv("production", baseObjects()...)), newState(newEnv("production", tt.edit(baseObjects())...)), nil)
			got := map[string][]string{}
			for _, c := range p.Environments[0].Changes {
				got[string(c.Kind)+" "+c.ID] = c.Collections
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("collections (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSummaryAndOrder(t *testing.T) {
	head := baseObjects()
	head = without(head, outline)
	head = mutated(head, parcels, func(v map[string]any) { v["geometryType"] = "MultiPolygon" })
	head = mutated(head, streets, func(v map[string]any) { v["title"] = "Streets" })
	head = append(head,
		object(config.KindLayer, "Bike-Lanes", "layers/bike-lanes.yaml", layerValue("Bike-Lanes", "transport")),
		object(config.KindLayer, "alleys", "layers/alleys.yaml", layerValue("alleys", "transport")),
		object(config.KindFolder, "hazards", "metadata.yaml", folderValue("hazards")),
	)
	p := Compute(newState(newEnv("production", baseObjects()...)), newState(newEnv("production", head...)), nil)
	e := p.Environments[0]

	type row struct {
		Kind   config.Kind
		ID     string
		Action Action
	}
	var got []row
	for _, c := range e.Changes {
		got = append(got, row{c.Kind, c.ID, c.Action})
	}
	want := []row{
		{config.KindFolder, "hazards", ActionAdd},
		{config.KindLayer, "alleys", ActionAdd},
		{config.KindLayer, "Bike-Lanes", ActionAdd},
		{config.KindLayer, "parcels", ActionModify},
		{config.KindLayer, "streets", ActionModify},
		{config.KindStyle, "outline", ActionRemove},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Summary{Added: 3, Modified: 2, Removed: 1, Breaking: 2}, e.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if e.Risk != RiskHigh {
		t.Errorf("risk = %q, want high", e.Risk)
	}
}

func TestEnvironments(t *testing.T) {
	repoErr := config.Diagnostic{Severity: config.SeverityError, File: "stray.yaml", Line: 1, Column: 1, Message: "a file outside environments/"}
	repoWarn := config.Diagnostic{Severity: config.SeverityWarning, File: "README.yaml", Message: "ignored"}
	envErr := config.Diagnostic{Severity: config.SeverityError, File: "environments/staging/layers/x.yaml", Line: 3, Column: 5, Message: "layer x: serviceId nope is not a service"}
	envWarn := config.Diagnostic{Severity: config.SeverityWarning, File: "environments/staging/layers/y.yaml", Line: 9, Column: 3, Message: "layer y has neither storage.srid nor storage.crs"}

	base := newState(newEnv("production", baseObjects()...), newEnv("retired", baseObjects()...))
	staging := newEnv("staging", baseObjects()...)
	staging.Diagnostics = []config.Diagnostic{envWarn, envErr}
	head := newState(newEnv("production", baseObjects()...), staging, newEnv("development"))
	head.Diagnostics = []config.Diagnostic{repoWarn, repoErr}

	t.Run("all environments sorted", func(t *testing.T) {
		p := Compute(base, head, nil)
		var names []string
		for _, e := range p.Environments {
			names = append(names, e.Name)
		}
		if diff := cmp.Diff([]string{"development", "production", "retired", "staging"}, names); diff != "" {
			t.Errorf("environments (-want +got):\n%s", diff)
		}
		byName := map[string]Environment{}
		for _, e := range p.Environments {
			byName[e.Name] = e
		}
		if diff := cmp.Diff([]config.Diagnostic{envErr, repoErr}, byName["staging"].Errors); diff != "" {
			t.Errorf("staging errors (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]config.Diagnostic{repoWarn, envWarn}, byName["staging"].Warnings); diff != "" {
			t.Errorf("staging warnings (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]config.Diagnostic{repoErr}, byName["production"].Errors); diff != "" {
			t.Errorf("production errors (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]config.Diagnostic{repoErr}, p.Errors); diff != "" {
			t.Errorf("plan errors (-want +got):\n%s", diff)
		}
		if got := byName["retired"].Summary; got.Removed != len(baseObjects()) || got.Breaking != len(baseObjects()) {
			t.Errorf("retired summary = %+v, want everything removed and breaking", got)
		}
		if got := byName["staging"].Summary; got.Added != len(baseObjects()) || got.Breaking != 0 {
			t.Errorf("staging summary = %+v, want everything added, nothing breaking", got)
		}
	})

	t.Run("named environments only", func(t *testing.T) {
		p := Compute(base, head, []string{"staging", "production", "staging", "nowhere"})
		var names []string
		for _, e := range p.Environments {
			names = append(names, e.Name)
		}
		if diff := cmp.Diff([]string{"nowhere", "production", "staging"}, names); diff != "" {
			t.Errorf("environments (-want +got):\n%s", diff)
		}
		if got := p.Environments[0]; len(got.Changes) != 0 || got.Changes == nil {
			t.Errorf("unknown environment has changes %v, want an empty list", got.Changes)
		}
	})

	t.Run("strict rejects an unknown environment", func(t *testing.T) {
		_, err := ComputeStrict(base, head, []string{"production", "prod"})
		if !errors.Is(err, ErrUnknownEnvironment) {
			t.Fatalf("err = %v, want ErrUnknownEnvironment", err)
		}
		want := "planning prod: unknown environment (the config has: development, production, retired, staging)"
		if err.Error() != want {
			t.Errorf("err = %q, want %q", err, want)
		}
		if _, err := ComputeStrict(base, head, []string{"production"}); err != nil {
			t.Errorf("known environment: %v", err)
		}
	})

	t.Run("nil base adds everything", func(t *testing.T) {
		p := Compute(nil, head, []string{"production"})
		if got := p.Environments[0].Summary; got != (Summary{Added: len(baseObjects()), SecretRefs: secretUses(baseObjects())}) {
			t.Errorf("summary = %+v", got)
		}
	})

	t.Run("nil head removes everything", func(t *testing.T) {
		p := Compute(base, nil, []string{"production"})
		if got := p.Environments[0].Summary; got != (Summary{Removed: len(baseObjects()), Breaking: len(baseObjects()), SecretRefs: secretUses(baseObjects())}) {
			t.Errorf("summary = %+v", got)
		}
		if p.Environments[0].Risk != RiskCritical {
			t.Errorf("risk = %q, want critical (a data source is removed)", p.Environments[0].Risk)
		}
	})
}

func TestSettings(t *testing.T) {
	b := newEnv("production", baseObjects()...)
	b.Extra = map[string]any{"server": map[string]any{"cors": map[string]any{"origins": []any{"https://a.example"}}}, "old": "x"}
	h := newEnv("production", baseObjects()...)
	h.Extra = map[string]any{"server": map[string]any{"cors": map[string]any{"origins": []any{"https://a.example", "https://b.example"}}}, "new": int64(1)}
	p := Compute(newState(b), newState(h), nil)
	type row struct {
		ID      string
		Action  Action
		Details []Detail
	}
	var got []row
	for _, c := range p.Environments[0].Changes {
		if c.Kind != KindSetting {
			t.Errorf("unexpected change %s %s", c.Kind, c.ID)
		}
		got = append(got, row{c.ID, c.Action, c.Details})
	}
	want := []row{
		{"new", ActionAdd, []Detail{{Path: "new", To: int64(1)}}},
		{"old", ActionRemove, []Detail{{Path: "old", From: "x"}}},
		{"server", ActionModify, []Detail{{Path: "server.cors.origins[=https://b.example]", To: "https://b.example"}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("setting changes (-want +got):\n%s", diff)
	}
}

func TestTotals(t *testing.T) {
	base, head := kailua()
	p := Compute(base, head, nil)
	// The secret references: production's data source renames its password's.
	if diff := cmp.Diff(Summary{Added: 2, Modified: 2, Removed: 2, Breaking: 4, SecretRefs: 2}, p.Total()); diff != "" {
		t.Errorf("Total (-want +got):\n%s", diff)
	}
	if !p.HasChanges() || !p.HasErrors() {
		t.Errorf("HasChanges = %v, HasErrors = %v, want both true", p.HasChanges(), p.HasErrors())
	}
	same := Compute(base, base, nil)
	if same.HasChanges() || same.HasErrors() {
		t.Errorf("a plan of base against itself: HasChanges = %v, HasErrors = %v", same.HasChanges(), same.HasErrors())
	}
}

// TestComputeConcurrently runs plans of shared states at once: Compute must
// not write to the states (run with -race).
func TestComputeConcurrently(t *testing.T) {
	base, head := kailua()
	want := Compute(base, head, nil).Digest()
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Go(func() { got[i] = Compute(base, head, nil).Digest() })
	}
	wg.Wait()
	for i, d := range got {
		if d != want {
			t.Errorf("plan %d has digest %s, want %s", i, d, want)
		}
	}
}

// secretUses counts the uses of secret references of objs.
func secretUses(objs []*config.Object) int {
	n := 0
	for _, o := range objs {
		n += len(config.SecretUses(o))
	}
	return n
}
