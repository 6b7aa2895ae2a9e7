package config

import (
	"strings"
	"testing"
)

// TestFoldIDIsOrdinalIgnoreCase: ids compare the way .NET's
// StringComparer.OrdinalIgnoreCase compares them on the server.
func TestFoldIDIsOrdinalIgnoreCase(t *testing.T) {
	same := [][2]string{
		{"Streets", "streets"},
		{"STREETS", "streets"},
		{"σ-layer", "ς-layer"}, // both upper-case to Σ
		{"Ärger", "ärger"},
		{"\U00010428", "\U00010400"}, // Deseret: a pair outside the BMP
	}
	different := [][2]string{
		{"ſtreets", "streets"},    // U+017F upper-cases to S, but not across ASCII
		{"\u212Aelvin", "kelvin"}, // KELVIN SIGN
		{"ıd", "id"},              // dotless i
		{"\u0130d", "id"},         // capital I with dot
		{"straße", "STRASSE"},     // no full case mapping
	}
	for _, p := range same {
		if FoldID(p[0]) != FoldID(p[1]) {
			t.Errorf("%q and %q must be one id", p[0], p[1])
		}
	}
	for _, p := range different {
		if FoldID(p[0]) == FoldID(p[1]) {
			t.Errorf("%q and %q must be two ids", p[0], p[1])
		}
	}
	if s := "already-lower-1"; FoldID(s) != s {
		t.Error("lower-case ASCII changed")
	}
}

// TestIDsFoldLikeTheServer: duplicates and references follow FoldID.
func TestIDsFoldLikeTheServer(t *testing.T) {
	layer := func(id, svc string) string {
		return "id: " + id + "\nserviceId: " + svc + "\ngeometryType: Point\nidField: id\ngeometryField: g\nstorage: {table: t, srid: 4326}\n"
	}
	files := minimal()
	files["environments/common/layers/a.yaml"] = layer("ſtreets", "roads")
	files["environments/common/layers/b.yaml"] = layer("σ-layer", "roads")
	files["environments/common/layers/c.yaml"] = layer("ς-layer", "roads")
	files["environments/common/layers/d.yaml"] = layer("kelvin", "\u212Aoads") // not roads to the server
	st := loadTree(t, files)
	all := strings.Join(allDiagnostics(st), "\n")
	if _, ok := findDiagnostic(st, `layer "ς-layer" is defined twice`); !ok {
		t.Errorf("σ/ς not one id:\n%s", all)
	}
	if _, ok := findDiagnostic(st, "serviceId \"\u212Aoads\" does not exist"); !ok {
		t.Errorf("a Kelvin-sign reference resolved:\n%s", all)
	}
	if strings.Contains(all, "ſtreets") {
		t.Errorf("ſtreets and streets are two ids to the server:\n%s", all)
	}
}

// TestControlCharactersInIDs: ids print in plans and URLs.
func TestControlCharactersInIDs(t *testing.T) {
	for _, id := range []string{"\"a\\nb\"", "\"a\\u202Eb\"", "\"a\\u200Bb\"", "\"a\\x1b[8mb\""} {
		files := minimal()
		files["environments/common/layers/streets.yaml"] = strings.Replace(files["environments/common/layers/streets.yaml"], "id: streets", "id: "+id, 1)
		st := loadTree(t, files)
		if d, ok := findDiagnostic(st, "id holds the control or invisible character"); !ok || strings.ContainsAny(d, "\n\x1b\u202e\u200b") {
			t.Errorf("id %s: %q", id, d)
		}
	}
}
