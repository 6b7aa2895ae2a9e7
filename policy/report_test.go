package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
	"github.com/honua-io/honua-gitops/samples"
)

func sampleSource(t testing.TB, name string) config.Source {
	t.Helper()
	fsys, err := samples.FS(name)
	if err != nil {
		t.Fatal(err)
	}
	return &config.FSSource{FS: fsys, Label: "sample:" + name}
}

func samplePlan(t testing.TB) (*plan.Plan, config.Source, config.Source) {
	t.Helper()
	base, head := sampleSource(t, "config"), sampleSource(t, "config-next")
	loader := config.NewLoader(config.DefaultLimits)
	bs, err := loader.Load(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := loader.Load(t.Context(), head)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.ComputeStrict(bs, hs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p, base, head
}

// TestJudgeCancelled checks that a cancelled run is an error, not a verdict
// that blames the policy.
func TestJudgeCancelled(t *testing.T) {
	p, base, head := samplePlan(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r, err := NewEngine().Judge(ctx, p, JudgeOptions{Base: base, Head: head, Now: time.Now()})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Judge with a cancelled context: %v, %+v; want context.Canceled", err, r)
	}
}

// TestJudgeReport checks the report of the samples: a verdict per
// environment in promotion order, the JSON of the plan with the verdicts in
// it, and approvals that count only for the environment's plan.
func TestJudgeReport(t *testing.T) {
	p, base, head := samplePlan(t)
	now := mustTimeNoT("2026-03-10T20:00:00Z") // Tuesday 10:00 HST
	prod := p.Environments[0]
	for _, e := range p.Environments {
		if e.Name == "production" {
			prod = e
		}
	}
	r, err := NewEngine().Judge(t.Context(), p, JudgeOptions{
		Base: base, Head: head, Now: now,
		PR:          PR{Number: 12, Author: "ana", HeadSHA: "c0ffee"},
		Deployments: map[string]Deployment{"staging": {SHA: "c0ffee", SucceededAt: now.Add(-3 * time.Hour)}},
		Approvals: map[string][]Approval{"production": {
			{Login: "lkeawe", Commit: "0ld", PlanDigest: prod.Digest(), SubmittedAt: now.Add(-time.Hour)},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"development", "staging", "production"}, r.Order); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	v, ok := r.Verdict("production")
	if !ok {
		t.Fatal("no verdict for production")
	}
	if !containsFold(v.Approval.ApprovedBy, "lkeawe") {
		t.Errorf("an approval of production's plan digest does not count: %+v", v.Approval)
	}
	if s, ok := r.Verdict("staging"); !ok || len(s.Approval.ApprovedBy) != 0 {
		t.Errorf("production's approval counts in staging: %+v", s.Approval)
	}

	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Version      int `json:"version"`
		Environments []struct {
			Name    string          `json:"name"`
			Changes json.RawMessage `json:"changes"`
			Verdict *Verdict        `json:"verdict"`
		} `json:"environments"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v:\n%s", err, buf.String())
	}
	var plain bytes.Buffer
	if err := p.WriteJSON(&plain); err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	_ = json.Unmarshal(plain.Bytes(), &want)
	var gotAll map[string]any
	_ = json.Unmarshal(buf.Bytes(), &gotAll)
	for _, e := range gotAll["environments"].([]any) {
		delete(e.(map[string]any), "verdict")
	}
	if diff := cmp.Diff(want, gotAll); diff != "" {
		t.Errorf("the report's JSON without verdicts is not the plan's (-want +got):\n%s", diff)
	}
	if got.Version != plan.Version || len(got.Environments) != len(p.Environments) {
		t.Fatalf("report JSON: %+v", got)
	}
	for _, e := range got.Environments {
		if e.Verdict == nil || e.Verdict.Environment != e.Name || e.Verdict.Deny == nil {
			t.Errorf("%s: verdict %+v, want its own with lists, not null", e.Name, e.Verdict)
		}
	}
}

func TestPromotionOrder(t *testing.T) {
	b := mustLoad(t, map[string]string{PolicyFile: `version: 1
environments:
  qa: {promotion: {after: dev, soak: 1h}}
  live: {promotion: {after: qa, soak: 1h}}
  loop-a: {promotion: {after: loop-b, soak: 1h}}
  loop-b: {promotion: {after: loop-a, soak: 1h}}
`})
	got := b.PromotionOrder([]string{"live", "sandbox", "qa", "dev", "production", "development", "loop-a", "loop-b"})
	want := []string{"dev", "development", "production", "sandbox", "qa", "live", "loop-a", "loop-b"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}
