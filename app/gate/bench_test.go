package gate

import (
	"fmt"
	"testing"
)

func BenchmarkApprovals(b *testing.B) {
	for _, n := range []int{10, 1000} {
		people := map[string]Person{}
		var p Pull
		var records []Record
		for i := range n {
			login := fmt.Sprintf("user%d", i)
			people[login] = Person{Login: login, Permission: "write", Teams: []string{"kailua-gis/gis-leads"}}
			p.Reviews = append(p.Reviews, review(int64(i), login, "APPROVED", sha1, i%60))
			records = append(records, Record{Env: "production", Login: login, Kind: KindApprove, Via: ViaButton, SHA: sha1, PlanDigest: digA, At: at(i % 60)})
		}
		digests := digestsOf(map[string]string{sha1: digA})
		b.Run(fmt.Sprintf("reviews=%d/records=%d", n, n), func(b *testing.B) {
			for b.Loop() {
				Approvals(p, "production", digA, digests, records, people)
			}
		})
	}
}
