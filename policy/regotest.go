package policy

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestOptions configure RunTests.
type TestOptions struct {
	// Verbose lists every test, as opa test -v does.
	Verbose bool
	// Run runs only the tests whose names match this regular expression.
	Run string
	// Timeout bounds each test (default 5 s, as opa test).
	Timeout time.Duration
}

// TestSummary counts the outcome of a test run.
type TestSummary struct {
	Pass, Fail, Error, Skip int
}

// OK reports whether nothing failed.
func (s TestSummary) OK() bool { return s.Fail == 0 && s.Error == 0 }

func (s *TestSummary) add(r *tester.Result) {
	switch {
	case r.Skip:
		s.Skip++
	case r.Error != nil:
		s.Error++
	case r.Fail:
		s.Fail++
	default:
		s.Pass++
	}
}

// RunDirTests runs the Rego tests of dir exactly as `opa test dir` does: the
// same loader (Rego v1, every .rego, .json and .yaml file below dir), the
// same compiler settings and the same report, so that both give the same
// result. Results are written OPA-style to w.
func RunDirTests(ctx context.Context, dir string, w io.Writer, opts TestOptions) (TestSummary, error) {
	popts := ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true}
	modules, store, err := tester.LoadWithParserOptions([]string{dir}, ignoreHidden, popts)
	if err != nil {
		return TestSummary{}, err
	}
	return runTests(ctx, modules, store, w, opts)
}

// ignoreHidden skips what opa test skips by default: nothing but the
// arguments given. Hidden files are loaded too.
func ignoreHidden(string, os.FileInfo, int) bool { return false }

// RunBuiltinTests runs the tests of the embedded built-in library.
func RunBuiltinTests(ctx context.Context, w io.Writer, opts TestOptions) (TestSummary, error) {
	bs := builtins()
	if bs.err != nil {
		return TestSummary{}, bs.err
	}
	modules := maps.Clone(bs.rules)
	maps.Copy(modules, bs.tests)
	return runTests(ctx, modules, inmem.New(), w, opts)
}

func runTests(ctx context.Context, modules map[string]*ast.Module, store storage.Store, w io.Writer, opts TestOptions) (TestSummary, error) {
	txn, err := store.NewTransaction(ctx, storage.WriteParams)
	if err != nil {
		return TestSummary{}, err
	}
	defer store.Abort(ctx, txn)
	compiler := ast.NewCompiler().
		WithPathConflictsCheck(storage.NonEmpty(ctx, store, txn)).
		WithEnablePrintStatements(true).
		WithCapabilities(ast.CapabilitiesForThisVersion()).
		WithUseTypeCheckAnnotations(true)
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	runner := tester.NewRunner().
		SetCompiler(compiler).
		SetStore(store).
		CapturePrintOutput(true).
		EnableTracing(opts.Verbose).
		StackTraces(true).
		SetModules(modules).
		SetTimeout(timeout).
		Filter(opts.Run)
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		return TestSummary{}, err
	}
	var sum TestSummary
	results := make(chan *tester.Result)
	go func() {
		defer close(results)
		for r := range ch {
			sum.add(r)
			results <- r
		}
	}()
	rep := tester.PrettyReporter{Verbose: opts.Verbose, Output: w}
	if err := rep.Report(results); err != nil {
		return sum, err
	}
	return sum, nil
}

// PoliciesPath finds the custom policies of dir: dir/.gitops/policies when
// dir is a config repository, else dir itself.
func PoliciesPath(dir string) string {
	p := filepath.Join(dir, filepath.FromSlash(PoliciesDir))
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		return p
	}
	return dir
}

// describeSummary is "PASS: 3/3" or "FAIL: 1/3" style, for callers that
// print their own totals.
func (s TestSummary) String() string {
	total := s.Pass + s.Fail + s.Error + s.Skip
	parts := []string{fmt.Sprintf("PASS: %d/%d", s.Pass, total)}
	if s.Fail > 0 {
		parts = append(parts, fmt.Sprintf("FAIL: %d/%d", s.Fail, total))
	}
	if s.Error > 0 {
		parts = append(parts, fmt.Sprintf("ERROR: %d/%d", s.Error, total))
	}
	if s.Skip > 0 {
		parts = append(parts, fmt.Sprintf("SKIPPED: %d/%d", s.Skip, total))
	}
	return strings.Join(parts, ", ")
}

var _ loader.Filter = ignoreHidden
