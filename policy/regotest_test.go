package policy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestBuiltinRego runs the _test.rego files of the built-in library.
func TestBuiltinRego(t *testing.T) {
	var out bytes.Buffer
	sum, err := RunBuiltinTests(context.Background(), &out, TestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.OK() || sum.Pass < 40 {
		t.Fatalf("built-in tests: %s\n%s", sum, out.String())
	}
}

// TestSamplePolicies runs the sample's custom policy tests and checks that
// they give what OPA's own tester gives on the same folder (what `opa test`
// runs), test by test.
func TestSamplePolicies(t *testing.T) {
	dir := PoliciesPath(filepath.Join("..", "samples", "config"))
	var out bytes.Buffer
	sum, err := RunDirTests(context.Background(), dir, &out, TestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.OK() || sum.Pass == 0 {
		t.Fatalf("sample policy tests: %s\n%s", sum, out.String())
	}
	ch, err := tester.Run(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var opa []string
	for _, r := range ch {
		opa = append(opa, strings.TrimPrefix(r.Package, "data.")+"."+r.Name+" "+outcome(r))
	}
	sort.Strings(opa)
	ours := outcomes(t, dir)
	if diff := cmp.Diff(opa, ours); diff != "" {
		t.Errorf("policy test and opa's tester disagree (-opa +ours):\n%s", diff)
	}
}

func outcome(r *tester.Result) string {
	switch {
	case r.Error != nil:
		return "ERROR"
	case r.Fail:
		return "FAIL"
	case r.Skip:
		return "SKIP"
	}
	return "PASS"
}

func outcomes(t *testing.T, dir string) []string {
	t.Helper()
	var out bytes.Buffer
	if _, err := RunDirTests(context.Background(), dir, &out, TestOptions{Verbose: true}); err != nil {
		t.Fatal(err)
	}
	var res []string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "data.") {
			name, rest, _ := strings.Cut(line, ": ")
			res = append(res, strings.TrimPrefix(name, "data.")+" "+strings.Fields(rest)[0])
		}
	}
	sort.Strings(res)
	return res
}

func TestRunDirTestsFailure(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.rego"), []byte("package honua.custom.p\n\ndeny contains \"x\" if input.bad\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "p_test.rego"), []byte("package honua.custom.p_test\n\nimport data.honua.custom.p\n\ntest_good if count(p.deny) == 0\n\ntest_bad if count(p.deny) == 0 with input as {\"bad\": true}\n"), 0o644)
	var out bytes.Buffer
	sum, err := RunDirTests(context.Background(), dir, &out, TestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.OK() || sum.Pass != 1 || sum.Fail != 1 {
		t.Errorf("summary = %+v\n%s", sum, out.String())
	}
	if !strings.Contains(out.String(), "FAIL: 1/2") {
		t.Errorf("output is not OPA-style:\n%s", out.String())
	}
}
