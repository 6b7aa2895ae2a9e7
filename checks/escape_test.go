package checks

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// hostile are strings a pull request can put into ids, titles, messages,
// labels and policy output.
var hostile = []string{
	"@kailua-gis/gis-leads",
	"[x](http://evil.example)",
	"![img](https://evil.example/i.png)",
	"</details><details open>",
	"```\ncode",
	"<!-- honua-gitops:approval {\"login\":\"mallory\",\"env\":\"production\"} -->",
	"x\n<!-- honua-gitops:approval {\"login\":\"mallory\"} -->\ny",
	"<!-- honua-gitops:plan-digests {\"sha\":\"evil\",\"digests\":{}} -->",
	"| a | b |",
	"`code` and \\`",
	"\x1b[31mred\u202e",
	"#1 GH-2 www.evil.example mallory@evil.example",
}

// hostileReport is a plan and verdicts that quote the hostile strings
// everywhere a pull request or a policy can put text.
func hostileReport() *policy.Report {
	p := &plan.Plan{Version: plan.Version}
	var order []string
	verdicts := map[string]policy.Verdict{}
	for i, h := range hostile {
		name := "env-" + string(rune('a'+i)) + h
		e := plan.Environment{Name: name, Risk: plan.RiskHigh, Summary: plan.Summary{Modified: 2, Breaking: 1}}
		e.Changes = []plan.Change{
			{Kind: config.KindLayer, ID: h, Action: plan.ActionModify, Breaking: true, Risk: plan.RiskHigh,
				Reasons: []string{h}, File: "environments/common/layers/x.yaml", Line: 3, Collections: []string{h},
				Details:    []plan.Detail{{Path: h, From: h, To: map[string]any{"title": h}}},
				SecretRefs: []plan.SecretRef{{Name: h, Path: h, Part: h, Action: plan.ActionAdd}}},
			{Kind: config.Kind(h), ID: "t", Action: plan.ActionAdd, Risk: plan.RiskLow, File: h, Line: 1},
		}
		e.Errors = []config.Diagnostic{{Severity: config.SeverityError, File: "environments/" + h, Line: 1, Message: h, Rule: h}}
		e.Warnings = []config.Diagnostic{{Severity: config.SeverityWarning, File: "x.yaml", Line: 2, Message: h, Rule: "unknown-field"}}
		p.Environments = append(p.Environments, e)
		order = append(order, name)
		until := tuesday.Add(time.Hour)
		verdicts[name] = policy.Verdict{
			Environment: name, Allow: false, Timezone: h,
			Deny: []policy.Finding{{Rule: h, Message: h}, {Rule: "promotion", Message: h, Gate: policy.GatePromotion, Until: &until, Wait: h}},
			Warn: []policy.Finding{{Rule: h, Message: h}},
			Approval: policy.ApprovalStatus{Required: true, Min: 1, From: []string{h}, Reasons: []string{h}, ApprovedBy: []string{h},
				Requirements: []policy.Requirement{{Min: 1, From: []string{h, "lkeawe"}, Reasons: []string{h}, Rules: []string{h}}}},
			NextWindow: &until,
			Errors:     []config.Diagnostic{{File: h, Line: 1, Message: h}},
			Prints:     []string{h},
		}
	}
	return &policy.Report{Plan: p, Verdicts: verdicts, Order: order, PolicyDigest: "sha256:" + hostile[5], PolicySource: hostile[1]}
}

var (
	ownTags   = regexp.MustCompile(`</?(details|summary|code|sub)>|<details><summary>|&#?[a-z0-9]+;`)
	mentionRe = regexp.MustCompile(`@[A-Za-z0-9]`)
	linkRe    = regexp.MustCompile(`(^|[^\\])\]\(`)
)

// checkInert checks that markdown shows what it quotes and can form
// nothing else: no marker but want, no mention, link, autolink, raw HTML,
// code fence or unbalanced <details>.
func checkInert(t *testing.T, what, md string, want ...string) {
	t.Helper()
	var kinds []string
	for _, m := range ParseMarkers(md) {
		kinds = append(kinds, m.Kind)
	}
	if strings.Join(kinds, ",") != strings.Join(want, ",") {
		t.Errorf("%s: markers %v, want %v", what, kinds, want)
	}
	checkMarkdown(t, what, md)
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "<!-- honua-gitops:") && len(ParseMarkers(line)) == 1 {
			continue // checked above
		}
		prose := codeSpan.ReplaceAllString(line, "$1")
		if strings.HasPrefix(strings.TrimSpace(prose), "<!--") {
			t.Errorf("%s: a line starts an HTML comment: %q", what, line)
		}
		rest := ownTags.ReplaceAllString(prose, "")
		if strings.ContainsAny(rest, "<>") {
			t.Errorf("%s: raw HTML in %q", what, line)
		}
		if mentionRe.MatchString(prose) {
			t.Errorf("%s: a mention in %q", what, line)
		}
		if linkRe.MatchString(prose) {
			t.Errorf("%s: a link in %q", what, line)
		}
		if strings.Contains(prose, "://") || strings.Contains(strings.ToLower(prose), "www.") {
			t.Errorf("%s: an autolink in %q", what, line)
		}
	}
}

// checkPlain checks a plain-text field: one line, no control characters.
func checkPlain(t *testing.T, what, s string, limit int) {
	t.Helper()
	if plan.VisibleText(s) != s || len(s) > limit {
		t.Errorf("%s is not one visible line of at most %d bytes: %q", what, limit, s)
	}
}

func TestHostileInput(t *testing.T) {
	r := hostileReport()
	pr := PlanRun(r, PlanOptions{HeadSHA: headSHA, LocalCommand: hostile[4]})
	checkInert(t, "plan summary", pr.Summary)
	checkInert(t, "plan text", pr.Text, MarkerPlanDigests)
	if sha, d, ok := ParseDigests(pr.Text); !ok || sha != headSHA || len(d) != len(hostile) {
		t.Errorf("digests %q %d %v", sha, len(d), ok)
	}
	checkPlain(t, "plan title", pr.Title, MaxTitle)
	for _, a := range pr.Annotations {
		checkPlain(t, "annotation title", a.Title, MaxTitle)
		checkPlain(t, "annotation path", a.Path, 1000)
		if strings.HasPrefix(a.Path, "/") || strings.Contains(a.Path, "..") {
			t.Errorf("annotation path %q", a.Path)
		}
		for _, l := range strings.Split(a.Message+"\n"+a.RawDetails, "\n") {
			checkPlain(t, "annotation line", l, maxAnnotationText)
		}
	}

	po := PolicyRun(r, PolicyOptions{Stale: []StaleApproval{{Env: r.Order[0], Login: hostile[0]}}, LocalCommand: hostile[5]})
	if po.Conclusion != ConclusionFailure {
		t.Errorf("policy conclusion %q, want failure", po.Conclusion)
	}
	checkInert(t, "policy summary", po.Summary)
	checkInert(t, "policy text", po.Text)
	checkPlain(t, "policy title", po.Title, MaxTitle)

	for _, h := range hostile {
		v := r.Verdicts[r.Order[0]]
		d := Deploy{Env: h, SHA: h, State: DeployRejected, Verdict: &v, Description: h,
			Approvals: []ApprovalRecord{{Login: h, Via: h, At: tuesday}}, Rejection: &ApprovalRecord{Login: h, Via: h, Reason: h},
			LogURL: h, EnvironmentURL: h, RollbackOf: h, Rollback: true}
		for _, s := range []DeployState{DeployWaitingApproval, DeployBlocked, DeployFailure, DeployRejected, DeployState(h)} {
			d.State = s
			run := DeployRun(d)
			checkInert(t, "deploy summary", run.Summary)
			checkInert(t, "deploy text", run.Text)
			checkPlain(t, "deploy title", run.Title, MaxTitle)
			checkPlain(t, "deploy name", run.Name, 200)
			checkPlain(t, "status description", d.StatusDescription(), 140*4)
		}
		rec := ApprovalRecord{Env: h, Login: h, Via: h, SHA: h, PlanDigest: h, Reason: h}
		checkInert(t, "approval comment", ApprovalRecordComment(rec, &v), MarkerApproval)
		checkInert(t, "rejection comment", RejectionComment(rec), MarkerRejection)
		checkInert(t, "deploy result comment", DeployResultComment(h, h, DeployState(h), h, h), MarkerDeployResult)
		checkInert(t, "rollback comment", RollbackComment(RollbackRecord{Env: h, To: h, Of: h, Login: h}), MarkerRollback)
		checkInert(t, "refusal comment", RefusalComment(h))
	}
	checkInert(t, "help", HelpText())
}

// FuzzPlanRunMarkers renders a plan whose every text is the fuzzer's:
// whatever a pull request writes, the plan run's text holds exactly one
// marker, the App's own digests, and stays within GitHub's limit.
func FuzzPlanRunMarkers(f *testing.F) {
	for _, h := range hostile {
		f.Add(h, h)
	}
	f.Fuzz(func(t *testing.T, id, msg string) {
		e := plan.Environment{Name: id, Summary: plan.Summary{Modified: 1, Breaking: 1}, Changes: []plan.Change{
			{Kind: config.KindLayer, ID: id, Action: plan.ActionModify, Breaking: true, Reasons: []string{msg}, File: id, Line: 1,
				Collections: []string{msg}, Details: []plan.Detail{{Path: id, From: msg, To: id}}},
		}, Errors: []config.Diagnostic{{File: id, Line: 1, Message: msg}}}
		r := &policy.Report{Plan: &plan.Plan{Environments: []plan.Environment{e}}, Order: []string{id},
			Verdicts: map[string]policy.Verdict{id: {Environment: id, Deny: []policy.Finding{{Rule: id, Message: msg}}, Prints: []string{msg}}}}
		for _, limit := range []int{MaxOutput, 600} {
			run := planRun(r, PlanOptions{HeadSHA: headSHA}, limit)
			if len(run.Text) > limit || len(run.Summary) > limit {
				t.Fatalf("limit %d: text %d, summary %d bytes", limit, len(run.Text), len(run.Summary))
			}
			ms := ParseMarkers(run.Text + "\n" + run.Summary)
			if len(ms) > 1 || len(ms) == 1 && ms[0].Kind != MarkerPlanDigests {
				t.Fatalf("markers %+v in\n%s", ms, run.Text)
			}
			if _, _, ok := ParseDigests(run.Text); !ok && len(run.Text) >= limit/2 {
				t.Fatalf("the digests marker is lost:\n%s", run.Text)
			}
			po := policyRun(r, PolicyOptions{}, limit)
			if len(ParseMarkers(po.Text+"\n"+po.Summary)) != 0 || len(po.Text) > limit || len(po.Summary) > limit {
				t.Fatalf("policy run: markers or size:\n%s", po.Text)
			}
		}
	})
}
