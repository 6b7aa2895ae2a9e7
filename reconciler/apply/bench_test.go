package apply

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkApply is one successful apply of a document of the given size
// against a fake Honua: the backup, the atomic write with its fsyncs, the
// journal writes (five, each fsynced) and two collection probes. It is
// dominated by the disk's fsync latency and by hashing the documents.
func BenchmarkApply(b *testing.B) {
	for _, size := range []int{64 << 10, 5 << 20} {
		b.Run(fmt.Sprintf("bytes=%d", size), func(b *testing.B) {
			s := newSite(b, doc("old", size))
			a := s.applier()
			docs := [][]byte{doc("aaa", size), doc("bbb", size)}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r := request(true)
				r.DeploymentID = int64(i)
				r.Document = docs[i%2]
				i++
				out, err := a.Apply(context.Background(), r, nil)
				if err != nil || out.State != StateSuccess {
					b.Fatalf("Apply = %s %q, %v", out.State, out.Cause, err)
				}
			}
		})
	}
}
