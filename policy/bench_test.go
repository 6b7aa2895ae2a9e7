package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// benchInput is a production plan of n changes: a mix of additions,
// modifications with details and a few breaking removals, evaluated inside
// the window, so that every built-in rule and the sample's custom policy
// run over all changes.
//
// Goals: at most 1 ms per verdict at 100 changes and 50 ms at 10,000 on a
// 2-core machine (BENCHMARKS.md has the figures).
func benchInput(n int) Input {
	changes := make([]plan.Change, n)
	for i := range changes {
		c := plan.Change{Kind: config.KindLayer, ID: fmt.Sprintf("layer-%05d", i), Action: plan.ActionModify,
			File: fmt.Sprintf("environments/common/layers/layer-%05d.yaml", i), Line: 1,
			Collections: []string{fmt.Sprintf("svc::layer-%05d", i)},
			Details:     []plan.Detail{{Path: "title", From: "old", To: "new"}, {Path: "query.maxRecordCount", From: float64(1000), To: float64(2000)}}}
		switch i % 10 {
		case 0:
			c.Action, c.Details = plan.ActionAdd, nil
		case 9:
			c.Action, c.Breaking, c.Reasons, c.Details = plan.ActionRemove, true, []string{"layer removed"}, nil
		}
		changes[i] = c
	}
	now := mustTimeNoT("2026-03-11T20:00:00Z")
	return Input{
		Environment: "production",
		Now:         now,
		Plan:        planOf(changes...),
		PR:          PR{Number: 7, Author: "ana", HeadSHA: "c0ffee", BaseSHA: "ba5e", Labels: []string{}},
		Approvals:   []Approval{{Login: "lkeawe", Commit: "c0ffee", SubmittedAt: now}},
		Deployments: map[string]Deployment{"staging": {SHA: "c0ffee", SucceededAt: now.Add(-3 * 60 * 60 * 1e9)}},
	}
}

func BenchmarkEvaluate(b *testing.B) {
	bundle := mustLoad(b, sampleFiles(b))
	if len(bundle.Errors) > 0 {
		b.Fatal(bundle.Errors)
	}
	eng := NewEngine()
	for _, n := range []int{10, 100, 10000} {
		in := benchInput(n)
		if v, err := eng.Evaluate(context.Background(), bundle, in); err != nil || len(v.Errors) > 0 {
			b.Fatal(err, v.Errors)
		}
		b.Run(fmt.Sprintf("changes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := eng.Evaluate(context.Background(), bundle, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The built-ins alone: the sample's policy file without its custom
	// module, whose four rules each scan every change.
	files := map[string]string{}
	for k, v := range sampleFiles(b) {
		if !strings.HasSuffix(k, ".rego") {
			files[k] = v
		}
	}
	builtinOnly := mustLoad(b, files)
	for _, n := range []int{100, 10000} {
		in := benchInput(n)
		if v, err := eng.Evaluate(context.Background(), builtinOnly, in); err != nil || len(v.Errors) > 0 {
			b.Fatal(err, v.Errors)
		}
		b.Run(fmt.Sprintf("builtin-only/changes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := eng.Evaluate(context.Background(), builtinOnly, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("outside-window/changes=100", func(b *testing.B) {
		in := benchInput(100)
		in.Now = mustTimeNoT("2026-03-09T20:00:00Z")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := eng.Evaluate(context.Background(), bundle, in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("compile", func(b *testing.B) {
		files := sampleFiles(b)
		b.ReportAllocs()
		for b.Loop() {
			bb := mustLoad(b, files)
			if ds, err := NewEngine().Check(context.Background(), bb); err != nil || len(ds) > 0 {
				b.Fatal(err, ds)
			}
		}
	})
}

// BenchmarkHostileConditions times loading and judging policy files whose
// approval conditions were once able to crash or hang the process (300,000
// nested parentheses overflowed the stack; 100,000 negations took over a
// minute, 10,000 "or" terms 37 s): each is now refused while the file is
// parsed. "largest-accepted" is the most a file may hold (MaxFileConditionTerms
// in conditions at MaxConditionTerms each) and shows what compiling it costs.
func BenchmarkHostileConditions(b *testing.B) {
	file := func(conds ...string) map[string]string {
		var s strings.Builder
		s.WriteString("environments:\n  production:\n    approvalRules:\n")
		for i, c := range conds {
			fmt.Fprintf(&s, "      - name: r%d\n        condition: '%s'\n", i, c)
		}
		return map[string]string{PolicyFile: s.String()}
	}
	ors := func(n int) string { return "resourcesAdded > 0" + strings.Repeat(" || resourcesAdded > 0", n-1) }
	var largest []string
	for range MaxFileConditionTerms / MaxConditionTerms {
		largest = append(largest, "resourcesRemoved > 0"+strings.Repeat(" || resourcesAdded > 0", 15)) // 63 terms
	}
	cases := []struct {
		name  string
		files map[string]string
		// refused is true when the file must not load.
		refused bool
	}{
		{"parentheses=300000", file(strings.Repeat("(", 300_000) + "true" + strings.Repeat(")", 300_000)), true},
		{"negations=100000", file(strings.Repeat("!", 100_000) + "true"), true},
		{"or-terms=10000", file(ors(10_000)), true},
		{"largest-accepted", file(largest...), false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			in := prodInput("2026-03-11T20:00:00Z")
			for b.Loop() {
				bundle := mustLoad(b, c.files)
				v, err := NewEngine().Evaluate(context.Background(), bundle, in)
				if err != nil {
					b.Fatal(err)
				}
				if refused := len(bundle.Errors) > 0; refused != c.refused || refused && v.Allow {
					b.Fatalf("bundle errors %v, verdict %+v", bundle.Errors, v.Deny)
				}
			}
		})
	}
}
