package order

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkVerify(b *testing.B) {
	for _, n := range []int{2, MaxApprovals} {
		o := exampleOrder()
		o.Approvals = nil
		for i := range n {
			o.Approvals = append(o.Approvals, Approval{Login: fmt.Sprintf("user%d", i), Via: "review", At: exampleIssued.Add(-time.Duration(i) * time.Minute)})
		}
		payload := mustSign(b, o, exampleKey())
		keys := Keys(pub(exampleKey()))
		b.Run(fmt.Sprintf("approvals=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if _, err := Verify(payload, keys, exampleNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
