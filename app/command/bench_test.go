package command

import (
	"strings"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	for _, tc := range []struct{ name, body string }{
		{"command", "/approve production"},
		{"prose=64KiB", strings.Repeat("Looks good to me, thanks!\n", MaxBody/26)},
		{"reject=64KiB", "/reject production " + strings.Repeat("too risky ", MaxBody/10)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				Parse(tc.body)
			}
		})
	}
}
