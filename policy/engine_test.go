package policy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// TestSplitVerdictMatchesSingleQuery checks that evaluating the built-in
// and custom contributions side by side gives the verdict that the single
// query data.honua.verdict gives.
func TestSplitVerdictMatchesSingleQuery(t *testing.T) {
	b := mustLoad(t, sampleFiles(t))
	if len(b.Errors) > 0 {
		t.Fatal(b.Errors)
	}
	eng := NewEngine()
	hazard := plan.Change{Kind: config.KindLayer, ID: "flood-zones", Action: plan.ActionRemove, Breaking: true, Reasons: []string{"gone"}}
	ds := plan.Change{Kind: config.KindDataSource, ID: "db", Action: plan.ActionModify, Details: []plan.Detail{{Path: "provider", From: "postgis", To: "sqlserver"}}}
	inputs := map[string]Input{}
	for _, now := range []string{"2026-03-11T20:00:00Z", "2026-03-09T20:00:00Z", "2025-12-24T20:00:00Z"} {
		for _, env := range []string{"production", "staging", "qa"} {
			in := benchInput(40)
			in.Now, in.Environment = mustTimeNoT(now), env
			in.Plan = planOf(append(in.Plan.Changes, hazard, ds)...)
			inputs[env+" "+now] = in
		}
	}
	for name, in := range inputs {
		got, err := eng.Evaluate(context.Background(), b, in)
		if err != nil {
			t.Fatal(err)
		}
		out, prints, err := eng.Query(context.Background(), b, "data.honua.verdict", in)
		if err != nil {
			t.Fatal(err)
		}
		want := Verdict{Environment: in.Environment, PolicyDigest: b.Digest, Deny: []Finding{}, Warn: []Finding{}, Prints: prints, Errors: []config.Diagnostic{}}
		if err := want.fill(out.(map[string]any), b.File.Env(in.Environment), &in); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: split evaluation differs from data.honua.verdict (-single +split):\n%s", name, diff)
		}
		if len(got.Deny)+len(got.Warn) == 0 {
			t.Errorf("%s: nothing denied or warned; the test checks little", name)
		}
	}
}

// slowPolicy is a custom module whose evaluation never ends in practice.
var slowPolicy = map[string]string{".gitops/policies/slow.rego": "package honua.custom.slow\n\ndeny contains \"slow\" if {\n\tsome i in numbers.range(1, 100000)\n\tsome j in numbers.range(1, 100000)\n\ti * j < 0\n}\n"}

// TestEvaluateCallerContext checks that a request the caller gave up on is
// an error, never a verdict: a cancelled run says nothing about the policy.
func TestEvaluateCallerContext(t *testing.T) {
	tests := []struct {
		name string
		// run evaluates with a context that ends and returns the result.
		run  func(t *testing.T) (Verdict, error)
		want error
	}{
		{"cancelled before", func(t *testing.T) (Verdict, error) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return NewEngine().Evaluate(ctx, testBundle(t), prodInput("2026-03-11T20:00:00Z"))
		}, context.Canceled},
		{"load error and cancelled", func(t *testing.T) (Verdict, error) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			b := mustLoad(t, map[string]string{PolicyFile: "environments: ["})
			return NewEngine().Evaluate(ctx, b, prodInput("2026-03-11T20:00:00Z"))
		}, context.Canceled},
		{"caller deadline during evaluation", func(t *testing.T) (Verdict, error) {
			b := mustLoad(t, slowPolicy)
			eng := NewEngine(WithTimeout(time.Hour))
			if ds, err := eng.Check(context.Background(), b); err != nil || len(ds) > 0 {
				t.Fatal(err, ds)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			return eng.Evaluate(ctx, b, prodInput("2026-03-11T20:00:00Z"))
		}, context.DeadlineExceeded},
		{"cancelled while waiting for the compiler", func(t *testing.T) (Verdict, error) {
			release := make(chan struct{})
			var compileErr error
			eng := NewEngine()
			eng.beforeCompile = func(ctx context.Context) {
				<-release
				compileErr = ctx.Err()
			}
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(10*time.Millisecond, cancel)
			v, err := eng.Evaluate(ctx, testBundle(t), prodInput("2026-03-11T20:00:00Z"))
			close(release)
			// The compilation was not the caller's: it goes on with a
			// context of its own, and the next evaluation of the digest
			// has a verdict of the policy, not a cached cancellation.
			next, nerr := eng.Evaluate(context.Background(), testBundle(t), prodInput("2026-03-10T20:00:00Z"))
			if nerr != nil || !next.Allow || len(next.Errors) > 0 {
				t.Errorf("after a cancelled caller: %+v, %v; want the policy's verdict (allowed)", next, nerr)
			}
			if compileErr != nil {
				t.Errorf("the compilation inherited the caller's cancellation: %v", compileErr)
			}
			return v, err
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := tt.run(t)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want one wrapping %v", err, tt.want)
			}
			if !cmp.Equal(v, Verdict{}) {
				t.Errorf("a cancelled request gave a verdict: %+v", v)
			}
		})
	}
}

// TestEngineLimitsAreVerdicts checks the other side: the engine's own time
// limits are the policy's problem, a fail-closed deny and no error.
func TestEngineLimitsAreVerdicts(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		opts  []Option
		// hold keeps the compiler from finishing until the test ends.
		hold bool
		msg  string
	}{
		{"evaluation over its time limit", slowPolicy, []Option{WithTimeout(50 * time.Millisecond)}, false,
			"the policy did not finish within its time limit of 50ms"},
		{"compilation over its time limit", map[string]string{PolicyFile: testPolicy}, []Option{WithCompileTimeout(50 * time.Millisecond)}, true,
			"the policy did not compile within its time limit of 50ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng := NewEngine(tt.opts...)
			if tt.hold {
				release := make(chan struct{})
				eng.beforeCompile = func(context.Context) { <-release }
				defer close(release)
			}
			v, err := eng.Evaluate(context.Background(), mustLoad(t, tt.files), prodInput("2026-03-11T20:00:00Z"))
			if err != nil {
				t.Fatalf("the engine's own limit is a verdict, not an error: %v", err)
			}
			if v.Allow || len(v.Deny) != 1 || v.Deny[0].Rule != "policy-timeout" || !strings.Contains(v.Deny[0].Message, tt.msg) {
				t.Errorf("verdict deny = %+v, want one policy-timeout saying %q", v.Deny, tt.msg)
			}
			if len(v.Errors) == 0 || v.Approval.Satisfied {
				t.Errorf("errors = %v, approval = %+v", v.Errors, v.Approval)
			}
		})
	}
}

// TestCompileTimeoutNotCached checks that a compilation that ran out of
// time is dropped, so that a later evaluation compiles again instead of
// inheriting the failure of a busy moment.
func TestCompileTimeoutNotCached(t *testing.T) {
	eng := NewEngine(WithCompileTimeout(20 * time.Millisecond))
	release := make(chan struct{})
	eng.beforeCompile = func(context.Context) { <-release }
	b := testBundle(t)
	p := eng.prepare(context.Background(), b)
	time.Sleep(30 * time.Millisecond) // past the compile deadline
	close(release)
	<-p.done
	if !p.timedOut {
		t.Skip("the compiler finished before noticing its deadline; nothing to check")
	}
	eng.mu.Lock()
	_, cached := eng.cache[b.Digest]
	eng.mu.Unlock()
	if cached {
		t.Errorf("a timed-out compilation stays cached for digest %s", b.Digest)
	}
}
