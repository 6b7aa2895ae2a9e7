package checks

import (
	"fmt"
	"strings"
	"time"

	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// PolicyOptions are what the policy run shows besides the report.
type PolicyOptions struct {
	// Stale are approvals given for an earlier plan of an environment that
	// no longer count because a push changed it.
	Stale []StaleApproval
	// LocalCommand shows the verdicts on a workstation ("honua-gitops plan
	// --policy ..."); the text names it when it does not fit.
	LocalCommand string
}

// StaleApproval is an approval of an environment's earlier plan.
type StaleApproval struct {
	Env, Login string
}

// Bounds of the policy run's summary.
const (
	maxDeniesListed  = 3
	maxReqsListed    = 5
	maxNamesListed   = 10
	maxSummaryReason = 300
)

// PolicyRun renders the honua/policy check run of a pull request's head,
// meant to be a required check:
//
//   - conclusion failure only when a verdict denies the change itself
//     (Report.ChangeDenied: breaking changes where they are not allowed,
//     policy errors, custom denies), or when an environment with changes
//     has no verdict at all (fail closed);
//   - gates of time (deployment windows, blackouts, promotion and soak) do
//     not fail it: they hold the deployment back after the merge, and the
//     summary says per environment when it would deploy ("after 2h in
//     staging: from Tue 10 Mar 11:00 HST; next window Tue 10 Mar 09:00
//     HST", in the environment's time zone, UTC when it is unknown) and who
//     must approve ("1 of @kailua-gis/gis-leads, @lkeawe", mentioning
//     nobody); the conclusion is then success;
//   - neutral, with NoChanges, when nothing changed and no verdict denies
//     or asks for approval;
//   - the summary also names the approvals that no longer count (o.Stale)
//     and the policy's short digest; the text is each environment's whole
//     verdict, as `plan --policy` shows it, cut to fit when it must be.
func PolicyRun(r *policy.Report, o PolicyOptions) CheckRun {
	return policyRun(r, o, MaxOutput)
}

func policyRun(r *policy.Report, o PolicyOptions, limit int) CheckRun {
	p, envs := reportPlan(r)
	run := CheckRun{Name: PolicyRunName, Status: StatusCompleted, Conclusion: ConclusionSuccess}
	verdict := func(env string) *policy.Verdict {
		if r == nil {
			return nil
		}
		if v, ok := r.Verdicts[env]; ok {
			return &v
		}
		return nil
	}
	decide := false
	for _, e := range envs {
		v := verdict(e.Name)
		if v == nil {
			if envChanged(e) {
				run.Conclusion = ConclusionFailure // fail closed
			}
			continue
		}
		if len(v.ChangeDenies()) > 0 {
			run.Conclusion = ConclusionFailure
		}
		decide = decide || len(v.Deny) > 0 || v.Approval.Required
	}
	if r != nil && r.ChangeDenied() {
		run.Conclusion = ConclusionFailure
	}
	if run.Conclusion != ConclusionFailure && !decide && !planChanged(p) && len(o.Stale) == 0 {
		run.Conclusion = ConclusionNeutral
		run.Title, run.Summary = NoChanges, NoChanges
		return run
	}

	var titles, lines []string
	gated := false
	for _, e := range envs {
		v := verdict(e.Name)
		title, line := envPolicyLine(e, v)
		var stale []string
		for _, s := range o.Stale {
			if s.Env == e.Name {
				stale = append(stale, "  - approval by "+mention(s.Login)+" no longer applies: the plan changed.\n")
			}
		}
		if title != "" || len(stale) > 0 {
			if title == "" {
				title = "approval dropped"
			}
			titles = append(titles, plan.VisibleText(cutRunes(e.Name, 40))+": "+title)
		}
		lines = append(lines, "- "+plan.MarkdownCode(cutRunes(e.Name, maxIDShown))+": "+line+"\n"+strings.Join(stale, ""))
		gated = gated || (v != nil && len(v.Gates()) > 0 && len(v.ChangeDenies()) == 0)
	}
	run.Title = joinTitle(titles)
	if run.Title == "" {
		run.Title = "No environment to judge."
	}

	var head, tail strings.Builder
	head.WriteString("Each environment's verdict, in promotion order.\n\n")
	tail.WriteString("\n")
	if gated && run.Conclusion != ConclusionFailure {
		tail.WriteString("Deployment windows, blackouts and promotion are gates of time: they hold a deployment back after the merge and do not fail this check.\n\n")
	}
	if r != nil {
		fmt.Fprintf(&tail, "<sub>Policy %s", plan.MarkdownCode(ShortDigest(r.PolicyDigest)))
		if r.PolicySource != "" {
			fmt.Fprintf(&tail, " from %s", plan.MarkdownCode(cutRunes(r.PolicySource, maxIDShown)))
		}
		tail.WriteString(", read from the base branch.</sub>\n")
	}
	run.Summary = fitLines(head.String(), lines, tail.String(), limit, func(n int) string {
		return "- … " + countOf(n, "more environment", "more environments") + " not shown.\n"
	})
	run.Text, _ = policyDoc(envs, verdict, o.LocalCommand).fit(limit, "")
	return run
}

// envChanged reports whether an environment has a change or an error.
func envChanged(e *plan.Environment) bool {
	s := e.Summary
	return s.Added+s.Modified+s.Removed > 0 || len(e.Changes) > 0 || len(e.Errors) > 0
}

// envPolicyLine says what the verdict means for an environment: a few
// words for the title ("" when there is nothing to say there) and a line
// of markdown for the summary.
func envPolicyLine(e *plan.Environment, v *policy.Verdict) (title, line string) {
	if v == nil {
		if envChanged(e) {
			return "no verdict", "**no verdict**: the policy did not judge this environment, so it cannot deploy."
		}
		return "", "no changes."
	}
	if denies := v.ChangeDenies(); len(denies) > 0 {
		var ds []string
		for i, d := range denies {
			if i == maxDeniesListed {
				ds = append(ds, countOf(len(denies)-i, "more", "more"))
				break
			}
			ds = append(ds, plan.MarkdownCode(cutRunes(d.Rule, maxIDShown))+": "+plan.MarkdownText(cutRunes(d.Message, maxSummaryReason)))
		}
		return "denied", "**denied**: " + strings.Join(ds, "; ") + "."
	}
	var titles, parts []string
	a := v.Approval
	switch {
	case a.Required && !a.Satisfied:
		titles = append(titles, "needs approval")
		parts = append(parts, "**needs approval** from "+requirements(a))
	case a.Required:
		titles = append(titles, "approved")
		parts = append(parts, "approved by "+names(a.ApprovedBy))
	}
	if gates := v.Gates(); len(gates) > 0 {
		var when, kinds []string
		for _, g := range gates {
			when = append(when, gateText(g, v.Timezone, plan.MarkdownText))
			if k := string(g.Gate); !contains(kinds, k) {
				kinds = append(kinds, k)
			}
		}
		titles = append(titles, "waits ("+strings.Join(kinds, ", ")+")")
		parts = append(parts, "**waits**: "+strings.Join(when, "; "))
	}
	switch {
	case len(v.Gates()) > 0 || a.Required && !a.Satisfied:
	case !envChanged(e) && !a.Required:
		return "", "no changes."
	default:
		if len(titles) == 0 {
			titles = append(titles, "ready")
		}
		parts = append(parts, "**deploys on merge**")
	}
	if n := len(v.Warn); n > 0 {
		parts = append(parts, countOf(n, "warning", "warnings")+" below")
	}
	return strings.Join(titles, ", "), strings.Join(parts, "; ") + "."
}

// requirements says who must still approve: "1 of @kailua-gis/gis-leads,
// @lkeawe", the requirements not yet met joined with "and".
func requirements(a policy.ApprovalStatus) string {
	var rs []string
	open := 0
	for _, r := range a.Requirements {
		if r.Satisfied {
			continue
		}
		open++
		if len(rs) == maxReqsListed {
			continue
		}
		who := "anyone with write access"
		if len(r.From) > 0 {
			who = names(r.From)
		}
		rs = append(rs, fmt.Sprintf("%d of %s", max(r.Min, 1), who))
	}
	if len(rs) == 0 {
		// An unmet approval without requirements: say what it needs.
		rs = append(rs, fmt.Sprintf("%d of %s", max(a.Min, 1), names(a.From)))
	}
	if open > len(rs) {
		rs = append(rs, countOf(open-len(rs), "more group", "more groups"))
	}
	s := joinAnd(rs)
	if len(a.ApprovedBy) > 0 {
		s += " (so far " + names(a.ApprovedBy) + ")"
	}
	return s
}

// names writes logins and org/team slugs as people read them on GitHub,
// "@lkeawe", without mentioning (notifying) anyone.
func names(ss []string) string {
	if len(ss) == 0 {
		return "anyone with write access"
	}
	out := make([]string, 0, min(len(ss), maxNamesListed)+1)
	for i, s := range ss {
		if i == maxNamesListed {
			out = append(out, countOf(len(ss)-i, "more", "more"))
			break
		}
		out = append(out, mention(s))
	}
	return strings.Join(out, ", ")
}

// mention shows a login or an org/team slug with its "@", escaped so that
// it notifies nobody.
func mention(login string) string {
	return plan.MarkdownText("@" + strings.TrimPrefix(cutRunes(login, 100), "@"))
}

// gateText says when a gate of time opens, in the environment's zone:
// "after 2h in staging: from Tue 10 Mar 11:00 HST", "next window Tue 10 Mar
// 09:00 HST". esc escapes what the policy wrote, for markdown or for plain
// text.
func gateText(g policy.Finding, tz string, esc func(string) string) string {
	at := func(prefix string) string {
		if g.Until == nil {
			return ""
		}
		return prefix + localTime(*g.Until, tz)
	}
	wait := esc(cutRunes(g.Wait, maxSummaryReason))
	switch g.Gate {
	case policy.GateWindow:
		if g.Until == nil {
			return "in the next deployment window"
		}
		return at("next window ")
	case policy.GateBlackout:
		return "after the blackout" + at(": next window ")
	case policy.GatePromotion:
		if wait == "" {
			wait = "promotion"
		}
		if g.Until == nil {
			return "after " + wait + ", once it is deployed there"
		}
		return "after " + wait + at(": from ")
	}
	if wait == "" {
		wait = esc(cutRunes(string(g.Gate), maxIDShown))
	}
	return "after " + wait + at(": ")
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Ranks of the policy text's lines: the highest is left out first.
var verdictRanks = map[string]int{
	lineDeny:     1,
	lineError:    1,
	lineGate:     2,
	lineApproval: 2,
	lineWindow:   2,
	lineWarn:     3,
	linePrint:    4,
}

var policyOmissions = []omissionKind{
	nouns(lineDeny, "deny", "denies"),
	nouns(lineError, "policy error", "policy errors"),
	nouns(lineGate, "gate", "gates"),
	nouns(lineApproval, "approval line", "approval lines"),
	nouns(lineWindow, "window", "windows"),
	nouns(lineWarn, "warning", "warnings"),
	nouns(linePrint, "print() line", "print() lines"),
}

// policyDoc is the policy run's text: each environment's whole verdict, as
// `plan --policy` writes it, times in the environment's zone.
func policyDoc(envs []*plan.Environment, verdict func(string) *policy.Verdict, command string) *doc {
	d := &doc{
		line: func(c omitted) string {
			return "- _Not shown here: " + describe(c, policyOmissions) + "._\n"
		},
		note: func(c omitted, sections int) string {
			what := describe(c, policyOmissions)
			if sections > 0 {
				envs := countOf(sections, "more environment", "more environments")
				if what == "" {
					what = envs
				} else {
					what += ", and " + envs
				}
			}
			see := "Run `honua-gitops plan --policy` on the two commits to see it all."
			if command != "" {
				see = "See it all with " + plan.MarkdownCode(command) + "."
			}
			return fmt.Sprintf("\n**The verdicts are cut to fit in a check run** (GitHub shows at most %s characters): %s not shown. %s\n",
				thousands(MaxOutput), what, see)
		},
	}
	text := func(s string) string { return plan.MarkdownText(cutRunes(s, maxMessageShown)) }
	code := func(s string) string { return plan.MarkdownCode(cutRunes(s, maxIDShown)) }
	for _, e := range envs {
		v := verdict(e.Name)
		if v == nil {
			d.sections = append(d.sections, &section{head: "#### " + code(e.Name) + ": no verdict\n\n"})
			continue
		}
		s := &section{head: "#### " + code(e.Name) + ": " + VerdictState(*v) + "\n\n", tail: "\n"}
		tz := v.Timezone
		when := func(t time.Time) string { return localTime(t, tz) + " (" + t.UTC().Format(time.RFC3339) + ")" }
		for _, l := range verdictLines(*v, text, code, when) {
			s.items = append(s.items, &item{text: "- " + l.mark + " " + l.text + "\n", rank: verdictRanks[l.kind], kind: l.kind})
		}
		d.sections = append(d.sections, s)
	}
	return d
}
