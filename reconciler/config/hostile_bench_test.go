package config

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// BenchmarkHostile loads repositories built to exhaust the loader, as a
// pull request's author could write them:
//
//   - long-ids: ten services with 10,000-character ids and ten layers whose
//     serviceId differs from one in the last character ("did you mean"
//     compared every pair in full);
//   - alias-files: thirty small files whose aliases expand to over 200,000
//     values each, each under the per-file cap (their sum is what the
//     repository-wide budget bounds).
//
// Run with -benchmem: B/op is what one load allocates.
func BenchmarkHostile(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	long := func() string {
		var sb strings.Builder
		for range 10_000 {
			sb.WriteByte(byte('a' + r.IntN(8)))
		}
		return sb.String()
	}
	longIDs := minimal()
	var svc strings.Builder
	svc.WriteString("services:\n")
	ids := make([]string, 10)
	for i := range ids {
		ids[i] = long()
		fmt.Fprintf(&svc, "  - id: %s\n    folderId: transportation\n    serviceType: FeatureServer\n    dataSourceId: pg\n", ids[i])
	}
	longIDs["environments/common/services-long.yaml"] = svc.String()
	for i, id := range ids {
		longIDs[fmt.Sprintf("environments/common/layers/long%02d.yaml", i)] = fmt.Sprintf(
			"id: long%02d\nserviceId: %sz\ngeometryType: Point\nidField: id\ngeometryField: g\nstorage: {table: t, srid: 4326}\n", i, id[:len(id)-1])
	}
	aliases := minimal()
	for i := range 30 {
		s := fmt.Sprintf("id: bomb%02d\nx0: &x0 [a, a, a, a, a, a, a, a]\n", i)
		for l := 1; l < 6; l++ {
			p := fmt.Sprintf("*x%d", l-1)
			s += fmt.Sprintf("x%d: &x%d [%s]\n", l, l, strings.Repeat(p+", ", 7)+p)
		}
		aliases[fmt.Sprintf("environments/common/layers/bomb%02d.yaml", i)] = s
	}
	for _, bc := range []struct {
		name  string
		files map[string]string
	}{{"long-ids", longIDs}, {"alias-files", aliases}} {
		b.Run(bc.name, func(b *testing.B) {
			dir := writeTree(b, bc.files)
			b.ReportAllocs()
			for b.Loop() {
				st, err := NewLoader(Limits{}).Load(context.Background(), NewDirSource(dir, Limits{}))
				if err != nil || !st.HasErrors() {
					b.Fatalf("load: %v; a hostile repository must have errors", err)
				}
			}
		})
	}
}
