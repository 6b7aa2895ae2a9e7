package order

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzVerify: Verify never panics, its errors stay short, and whatever it
// accepts is a valid order that signs and verifies again to the same
// order.
func FuzzVerify(f *testing.F) {
	key := exampleKey()
	keys := Keys(pub(key))
	good := mustSign(f, exampleOrder(), key)
	f.Add(good)
	rollback := exampleOrder()
	rollback.Task, rollback.RollbackOf, rollback.Approvals, rollback.PR = TaskRollback, strings.Repeat("a", 40), nil, 0
	f.Add(mustSign(f, rollback, key))
	f.Add([]byte(strings.Replace(string(good), `"pr":12`, `"pr":12,"pr":13`, 1)))
	f.Add([]byte(strings.Replace(string(good), `production`, `prod\nuction`, 1)))
	f.Add([]byte(strings.Replace(string(good), `production`, `prod\u2028`, 1)))
	f.Add([]byte(strings.Replace(string(good), `"approvals":[`, `"approvals":[[],`, 1)))
	f.Add([]byte(strings.Replace(string(good), `:`, ` : `, -1)))
	f.Add([]byte(`{"order":{},"signature":"","key_id":""}`))
	f.Add([]byte(`{"order":` + strings.Repeat("[", 20000)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, payload []byte) {
		o, err := Verify(payload, keys, exampleNow)
		if err != nil {
			if n := len(err.Error()); n > 4096 {
				t.Fatalf("error of %d bytes", n)
			}
			return
		}
		if _, err := Canonical(o); err != nil {
			t.Fatalf("accepted an order Canonical refuses: %v", err)
		}
		again, err := Verify(mustSign(t, o, key), keys, exampleNow)
		if err != nil {
			t.Fatalf("accepted order does not verify once signed again: %v", err)
		}
		if diff := cmp.Diff(o, again); diff != "" {
			t.Fatalf("order changed when signed again (-first +again):\n%s", diff)
		}
	})
}
