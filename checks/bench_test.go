package checks

import (
	"fmt"
	"testing"
)

// BenchmarkPlanRun renders the plan run of a plan of N changed layers in
// each of three environments (the report is built once, outside the
// timing): the cost of fitting a large plan into a check run.
func BenchmarkPlanRun(b *testing.B) {
	for _, layers := range []int{100, 10000} {
		r := bigReport(layers)
		b.Run(fmt.Sprintf("layers=%d", layers), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				run := PlanRun(r, planOptions)
				if len(run.Text) > MaxOutput {
					b.Fatal("text over the limit")
				}
			}
		})
	}
}

// BenchmarkPolicyRun renders the policy run of the same report.
func BenchmarkPolicyRun(b *testing.B) {
	r := bigReport(10000)
	b.Run("layers=10000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			PolicyRun(r, PolicyOptions{})
		}
	})
}
