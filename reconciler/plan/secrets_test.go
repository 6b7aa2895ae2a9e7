package plan

import (
	"strings"
	"testing"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// renderAll writes p in every format, for tests that look for leaks.
func renderAll(t *testing.T, p *Plan) string {
	t.Helper()
	var sb strings.Builder
	if err := p.WriteJSON(&sb); err != nil {
		t.Fatal(err)
	}
	sb.WriteString(p.Markdown(0))
	if err := p.WriteText(&sb, false); err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

// TestNoSecretLeaksInPlan: the masking leaks found in review, through text,
// markdown and JSON. Each change puts a secret in base and another in head.
func TestNoSecretLeaksInPlan(t *testing.T) {
	tests := []struct {
		name     string
		from, to any
		secrets  []string
		shown    []string // what the reviewer must still see
	}{
		{"ampersand", "Host=db;Password=Tr0ub&dorOLD", "Host=db;Password=Tr0ub&dorNEW", []string{"Tr0ub", "dorOLD", "dorNEW"}, []string{"Host=db;Password=***"}},
		{"single quotes", "Host=db;password='OLD secretA';Port=1", "Host=db;password='NEW secretB';Port=1", []string{"secretA", "secretB", "OLD", "NEW"}, []string{"password=***;Port=1"}},
		{"double quotes", `Host=db;Password="OLD pw;1"`, `Host=db;Password="NEW pw;2"`, []string{"pw;1", "pw;2", "OLD", "NEW"}, nil},
		{"URL", "postgres://reader:OLDs3cret@pg.internal/gis?sslmode=require", "postgres://reader:NEWs3cret@pg.internal/gis?sslmode=require", []string{"s3cret"}, []string{"postgres://reader:***@pg.internal/gis?sslmode=require"}},
		{"URL with @ in the password", "postgresql://u:OLDp@ss@host/db", "postgresql://u:NEWp@ss@host/db", []string{"OLDp", "NEWp", "ss@host"}, []string{"postgresql://u:***@host/db"}},
		{"Snowflake key password", "account=a;user=u;private_key_pwd=OLDk3y", "account=a;user=u;private_key_pwd=NEWk3y", []string{"OLDk3y", "NEWk3y"}, nil},
		{"a mapping", map[string]any{"host": "db", "password": "hunter2"}, map[string]any{"host": "db", "password": "hunter3", "user": "gis"}, []string{"hunter2", "hunter3"}, nil},
		{"a mapping without credential keys", map[string]any{"h": "OLDdb"}, map[string]any{"h": "NEWdb"}, []string{"OLDdb", "NEWdb"}, nil},
		{"a list", []any{"OLDx1"}, []any{"NEWx2"}, []string{"OLDx1", "NEWx2"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := mutated(baseObjects(), pg, func(v map[string]any) { v["connectionString"] = tt.from })
			head := mutated(baseObjects(), pg, func(v map[string]any) { v["connectionString"] = tt.to })
			p := Compute(newState(newEnv("production", base...)), newState(newEnv("production", head...)), nil)
			out := renderAll(t, p)
			if p.Total().Modified != 1 {
				t.Fatalf("the change is not planned:\n%s", out)
			}
			for _, s := range tt.secrets {
				if strings.Contains(out, s) {
					t.Errorf("the plan shows %q:\n%s", s, out)
				}
			}
			for _, s := range tt.shown {
				if !strings.Contains(out, s) {
					t.Errorf("the plan does not show %q:\n%s", s, out)
				}
			}
		})
	}
}

// TestCredentialKeysMaskedInSettings: a credential in a top-level setting
// (validation refuses it; the plan must not show it either).
func TestCredentialKeysMaskedInSettings(t *testing.T) {
	b := newEnv("production", baseObjects()...)
	h := newEnv("production", baseObjects()...)
	b.Extra = map[string]any{"server": map[string]any{"auth": map[string]any{"apiKey": "OLDk"}}}
	h.Extra = map[string]any{"server": map[string]any{"auth": map[string]any{"apiKey": "NEWk", "mode": "jwt"}}}
	out := renderAll(t, Compute(newState(b), newState(h), nil))
	if strings.Contains(out, "OLDk") || strings.Contains(out, "NEWk") || !strings.Contains(out, "jwt") {
		t.Errorf("setting masked wrongly:\n%s", out)
	}
}

// TestSecretReferenceChanges: adding, removing and moving a reference are
// in the plan, by name and place, and counted for the policy.
func TestSecretReferenceChanges(t *testing.T) {
	cs := func(s string) func(v map[string]any) { return func(v map[string]any) { v["connectionString"] = s } }
	base := mutated(baseObjects(), pg, cs("Host=db;Username=gis;Password=${PG_PASSWORD}"))
	tests := []struct {
		name string
		head []*config.Object
		want []SecretRef
	}{
		{"unchanged", mutated(baseObjects(), pg, cs("Host=db2;Username=gis;Password=${PG_PASSWORD}")), []SecretRef{}},
		{"renamed", mutated(baseObjects(), pg, cs("Host=db;Username=gis;Password=${PG_PASSWORD_2}")), []SecretRef{
			{Name: "PG_PASSWORD", Path: "connectionString", Part: "password", Action: ActionRemove},
			{Name: "PG_PASSWORD_2", Path: "connectionString", Part: "password", Action: ActionAdd},
		}},
		{"moved to the host", mutated(baseObjects(), pg, cs("Host=${PG_PASSWORD}.evil.example;Username=gis;Password=${OTHER}")), []SecretRef{
			{Name: "OTHER", Path: "connectionString", Part: "password", Action: ActionAdd},
			{Name: "PG_PASSWORD", Path: "connectionString", Part: "password", Action: ActionRemove},
			{Name: "PG_PASSWORD", Path: "connectionString", Part: "host", Action: ActionAdd},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Compute(newState(newEnv("production", base...)), newState(newEnv("production", tt.head...)), nil)
			e := p.Environments[0]
			if len(e.Changes) != 1 {
				t.Fatalf("changes: %+v", e.Changes)
			}
			got := e.Changes[0].SecretRefs
			if len(got) != len(tt.want) || e.Summary.SecretRefs != len(tt.want) {
				t.Fatalf("secret refs %+v (summary %d), want %+v", got, e.Summary.SecretRefs, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("%d: %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
	// A new data source adds its references; a removed one removes them.
	added := append(baseObjects(), object(config.KindDataSource, "pg2", "ds.yaml", map[string]any{"id": "pg2", "provider": "postgis", "connectionString": "Host=x;Password=${PG2}"}))
	p := Compute(newState(newEnv("production", baseObjects()...)), newState(newEnv("production", added...)), nil)
	if s := p.Environments[0].Summary; s.SecretRefs != 1 || s.Added != 1 {
		t.Errorf("added data source: summary %+v", s)
	}
	p = Compute(newState(newEnv("production", added...)), newState(newEnv("production", baseObjects()...)), nil)
	if s := p.Environments[0].Summary; s.SecretRefs != 1 || s.Removed != 1 {
		t.Errorf("removed data source: summary %+v", s)
	}
}

// TestSelectorsMasked: a detail path names a list element by its value,
// which may hold a credential.
func TestSelectorsMasked(t *testing.T) {
	link := func(href string) func(v map[string]any) {
		return func(v map[string]any) { v["links"] = []any{map[string]any{"href": href, "title": "t"}} }
	}
	base := mutated(baseObjects(), parcels, link("https://gis:OLDpw@maps.example/p"))
	head := mutated(baseObjects(), parcels, func(v map[string]any) {
		link("https://gis:OLDpw@maps.example/p")(v)
		v["links"].([]any)[0].(map[string]any)["title"] = "new"
	})
	out := renderAll(t, Compute(newState(newEnv("production", base...)), newState(newEnv("production", head...)), nil))
	if strings.Contains(out, "OLDpw") || !strings.Contains(out, "links[href=https://gis:***@maps.example/p].title") {
		t.Errorf("selector not masked:\n%s", out)
	}
}
