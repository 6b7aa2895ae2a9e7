package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// Verdict is the policy's answer for one environment.
type Verdict struct {
	Environment string `json:"environment"`
	// Allow is true when no rule denies. Approval is separate: an allowed
	// deployment may still wait for approval.
	Allow bool      `json:"allow"`
	Deny  []Finding `json:"deny"`
	Warn  []Finding `json:"warn"`
	// Approval says who must still approve.
	Approval ApprovalStatus `json:"approval"`
	// NextWindow is when a deployment may start, when the time rules
	// (windows, blackouts) keep it from starting now; nil otherwise.
	NextWindow *time.Time `json:"next_window"`
	// PolicyDigest identifies the policy that gave this verdict.
	PolicyDigest string `json:"policy_digest"`
	// Errors are what kept the policy from being evaluated (each also a
	// deny).
	Errors []config.Diagnostic `json:"errors"`
	// Prints are the lines print() wrote while evaluating, "file:line: text".
	Prints []string `json:"prints"`
	// Timezone is the environment's time zone (IANA), in which its windows
	// and blackouts are read: times are best shown to people in it.
	Timezone string `json:"timezone,omitempty"`
}

// Finding is one deny or warning.
type Finding struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
	// Package is the Rego package of the rule ("honua.custom.layers").
	Package string `json:"package,omitempty"`
	// Gate is set on a deny that is a gate of time, not a judgement of the
	// change: "window" (outside the deployment windows), "blackout" or
	// "promotion" (not yet deployed, or not soaked long enough, where it
	// must be promoted from). Such a deny holds a deployment back until it
	// passes; it does not fail a pull request. Only the built-in rules set
	// it.
	Gate Gate `json:"gate,omitempty"`
	// Until is when a gate of time is expected to open, when that is known
	// (the next window, the end of a soak); nil otherwise.
	Until *time.Time `json:"until,omitempty"`
	// Wait says in a few words what a gate of time waits for: "2h in
	// staging", "the next deployment window", "the end of blackout
	// \"Holiday freeze\"".
	Wait string `json:"wait,omitempty"`
}

// Gate names a gate of time (see Finding.Gate).
type Gate string

// The gates of time.
const (
	GateWindow    Gate = "window"
	GateBlackout  Gate = "blackout"
	GatePromotion Gate = "promotion"
)

// gateOf gives the gate of a deny of the built-in package pkg.
func gateOf(pkg string) Gate {
	switch pkg {
	case "honua.builtin.windows":
		return GateWindow
	case "honua.builtin.blackout":
		return GateBlackout
	case "honua.builtin.promotion":
		return GatePromotion
	}
	return ""
}

// ChangeDenies are the denies about the change itself: every deny but the
// gates of time. They are what fails a pull request's policy check.
func (v *Verdict) ChangeDenies() []Finding {
	var out []Finding
	for _, d := range v.Deny {
		if d.Gate == "" {
			out = append(out, d)
		}
	}
	return out
}

// Gates are the denies that are gates of time (see Finding.Gate).
func (v *Verdict) Gates() []Finding {
	var out []Finding
	for _, d := range v.Deny {
		if d.Gate != "" {
			out = append(out, d)
		}
	}
	return out
}

// Gated reports whether gates of time hold the deployment back (and nothing
// else denies it).
func (v *Verdict) Gated() bool {
	return !v.Allow && len(v.Deny) > 0 && len(v.ChangeDenies()) == 0
}

// OpensAt is when every gate of time is expected to be open: the latest
// Until of the gates. It is nil when there is no gate, or when a gate's
// opening is not known (a commit never deployed where it must be promoted
// from waits for that deployment, not for a time).
func (v *Verdict) OpensAt() *time.Time {
	var at *time.Time
	for _, d := range v.Gates() {
		if d.Until == nil {
			return nil
		}
		if at == nil || d.Until.After(*at) {
			at = d.Until
		}
	}
	return at
}

// ApprovalStatus is the approval a deployment needs and has.
type ApprovalStatus struct {
	Required bool `json:"required"`
	// Min is the most approvals any requirement asks for.
	Min int `json:"min"`
	// From are the users and org/team slugs eligible to approve (empty
	// means anyone with write access).
	From []string `json:"from"`
	// Reasons say why approval is needed.
	Reasons   []string `json:"reasons"`
	Satisfied bool     `json:"satisfied"`
	// ApprovedBy are the logins whose approvals count.
	ApprovedBy []string `json:"approved_by"`
	// Requirements are the separate groups of approvers that must each
	// approve (a change to .gitops/ needs a policy owner besides the
	// environment's approvers).
	Requirements []Requirement `json:"requirements"`
}

// Requirement is min approvals from one group of approvers.
type Requirement struct {
	Min        int      `json:"min"`
	From       []string `json:"from"`
	Reasons    []string `json:"reasons"`
	Rules      []string `json:"rules"`
	ApprovedBy []string `json:"approved_by"`
	Satisfied  bool     `json:"satisfied"`
}

// Denied reports whether the verdict denies the deployment.
func (v *Verdict) Denied() bool { return !v.Allow }

func (v Verdict) failClosed(rule, msg string, errs []config.Diagnostic) Verdict {
	v.Allow = false
	v.Deny = append(v.Deny, Finding{Rule: rule, Message: msg + " (fail closed: nothing deploys until the policy is fixed)"})
	if errs != nil {
		v.Errors = append(v.Errors, errs...)
	}
	v.Approval = ApprovalStatus{Required: true, Min: 1, From: []string{}, Reasons: []string{"the policy could not be evaluated"}, ApprovedBy: []string{}, Requirements: []Requirement{}}
	return v
}

// fill turns the raw result of data.honua.verdict into the verdict.
func (v *Verdict) fill(out map[string]any, env EnvPolicy, in *Input) error {
	contributions, _ := out["contributions"].([]any)
	type approvalEntry struct {
		rule, reason string
		from         []string
		min          int
		hasFrom      bool
		pkg          string
	}
	var approvals []approvalEntry
	for _, c := range contributions {
		triple, ok := c.([]any)
		if !ok || len(triple) != 3 {
			return fmt.Errorf("the policy produced a malformed contribution %v", c)
		}
		kind, _ := triple[0].(string)
		pkg, _ := triple[1].(string)
		for _, item := range items(triple[2]) {
			switch kind {
			case "deny", "warn":
				f := finding(pkg, item)
				if kind == "deny" {
					v.Deny = append(v.Deny, f)
				} else {
					v.Warn = append(v.Warn, f)
				}
			case "approval":
				a := approvalEntry{rule: defaultRule(pkg), pkg: pkg}
				switch x := item.(type) {
				case string:
					a.reason = x
				case map[string]any:
					if s, ok := x["rule"].(string); ok && s != "" {
						a.rule = s
					}
					a.reason = firstString(x, "reason", "message", "msg")
					if a.reason == "" {
						a.reason = "required by " + pkg
					}
					if from, ok := x["from"].([]any); ok {
						a.hasFrom = true
						for _, f := range from {
							if s, ok := f.(string); ok && s != "" {
								a.from = append(a.from, strings.TrimPrefix(s, "@"))
							}
						}
					}
					switch n := x["min"].(type) {
					case json.Number:
						i, _ := n.Int64()
						a.min = int(i)
					case float64:
						a.min = int(n)
					case int:
						a.min = n
					}
				case bool:
					if !x {
						continue
					}
					a.reason = "required by " + pkg
				default:
					a.reason = fmt.Sprint(x)
				}
				approvals = append(approvals, a)
			}
		}
	}
	sortFindings(v.Deny)
	sortFindings(v.Warn)
	v.Allow = len(v.Deny) == 0

	if nw, ok := out["next_window"].(map[string]any); ok {
		if s, ok := nw["at"].(string); ok {
			if t, err := time.Parse(time.RFC3339, s); err == nil {
				v.NextWindow = &t
			}
		}
	}
	v.Timezone = env.Timezone
	for i := range v.Deny {
		d := &v.Deny[i]
		switch d.Gate {
		case GateWindow:
			d.Until = v.NextWindow
			d.Wait = "the next deployment window"
		case GateBlackout:
			d.Until = v.NextWindow
			d.Wait = "the end of the blackout"
		case GatePromotion:
			d.Until = promotionReady(env, in)
			if p := env.Promotion; p != nil {
				d.Wait = HumanDuration(p.Soak) + " in " + p.After
			}
		}
	}

	// Group requirements by who may approve.
	eligible := eligibleApprovers(env, in)
	valid := validApprovals(env, in)
	st := ApprovalStatus{From: []string{}, Reasons: []string{}, ApprovedBy: []string{}, Requirements: []Requirement{}, Satisfied: true}
	slices.SortStableFunc(approvals, func(a, b approvalEntry) int {
		if c := strings.Compare(builtinFirst(a.pkg), builtinFirst(b.pkg)); c != 0 {
			return c
		}
		if c := ruleRank(a.rule) - ruleRank(b.rule); c != 0 {
			return c
		}
		return strings.Compare(a.reason, b.reason)
	})
	index := map[string]int{}
	for _, a := range approvals {
		from := eligible
		if a.hasFrom && len(a.from) > 0 {
			from = uniqueFold(a.from)
		}
		min := a.min
		if min < 1 {
			min = max(env.MinApprovals, 1)
		}
		if in.Rollback {
			// A rollback by an eligible reviewer needs no second approval.
			min = 1
		}
		key := lowerASCII(strings.Join(from, ","))
		i, ok := index[key]
		if !ok {
			i = len(st.Requirements)
			index[key] = i
			st.Requirements = append(st.Requirements, Requirement{From: from, Reasons: []string{}, Rules: []string{}})
		}
		r := &st.Requirements[i]
		r.Min = max(r.Min, min)
		if !slices.Contains(r.Reasons, a.reason) {
			r.Reasons = append(r.Reasons, a.reason)
		}
		if !slices.Contains(r.Rules, a.rule) {
			r.Rules = append(r.Rules, a.rule)
		}
	}
	for i := range st.Requirements {
		r := &st.Requirements[i]
		r.ApprovedBy = matching(valid, r.From)
		r.Satisfied = len(r.ApprovedBy) >= r.Min
		st.Required = true
		st.Min = max(st.Min, r.Min)
		st.Satisfied = st.Satisfied && r.Satisfied
		for _, f := range r.From {
			if !containsFold(st.From, f) {
				st.From = append(st.From, f)
			}
		}
		for _, s := range r.Reasons {
			if !slices.Contains(st.Reasons, s) {
				st.Reasons = append(st.Reasons, s)
			}
		}
		for _, l := range r.ApprovedBy {
			if !containsFold(st.ApprovedBy, l) {
				st.ApprovedBy = append(st.ApprovedBy, l)
			}
		}
	}
	v.Approval = st
	return nil
}

// items flattens a rule's value: a set or array gives its elements, true
// gives one element, anything else itself.
func items(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case nil:
		return nil
	case bool:
		if !x {
			return nil
		}
	}
	return []any{v}
}

func defaultRule(pkg string) string {
	return strings.TrimPrefix(strings.TrimPrefix(pkg, "honua.builtin."), "honua.")
}

func finding(pkg string, item any) Finding {
	f := Finding{Rule: defaultRule(pkg), Package: pkg, Gate: gateOf(pkg)}
	switch x := item.(type) {
	case string:
		f.Message = x
	case bool:
		f.Message = "denied by " + pkg
	case map[string]any:
		if s, ok := x["rule"].(string); ok && s != "" {
			f.Rule = s
		}
		f.Message = firstString(x, "message", "msg", "reason")
		if f.Message == "" {
			b, _ := json.Marshal(x)
			f.Message = string(b)
		}
	default:
		b, _ := json.Marshal(x)
		f.Message = string(b)
	}
	return f
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// ruleRank orders approval reasons from the most general to the most
// specific.
func ruleRank(rule string) int {
	switch rule {
	case "auto-approve":
		return 0
	case "policy-change":
		return 1
	case "breaking-change":
		return 2
	case "approval-rule":
		return 3
	}
	return 4
}

func builtinFirst(pkg string) string {
	if strings.HasPrefix(pkg, "honua.builtin.") {
		return "0"
	}
	return "1"
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if pa, pb := builtinFirst(a.Package), builtinFirst(b.Package); pa != pb {
			return pa < pb
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Message < b.Message
	})
}

// eligibleApprovers are the policy's approvers plus the GitHub environment's
// required reviewers.
func eligibleApprovers(env EnvPolicy, in *Input) []string {
	out := slices.Clone(env.Approvers)
	if p := in.Protection; p != nil {
		for _, r := range p.Reviewers {
			switch {
			case equalLogin(r.Type, "Team") && r.Slug != "":
				out = append(out, r.Slug)
			case r.Login != "":
				out = append(out, r.Login)
			}
		}
	}
	return uniqueFold(out)
}

// validApprovals are the approvals that count: on the commit being
// deployed (or the PR head), not by the author where self-approval is
// prevented, not expired; one per login.
func validApprovals(env EnvPolicy, in *Input) []Approval {
	selfBlocked := env.PreventSelfApproval || (in.Protection != nil && in.Protection.PreventSelfReview)
	var out []Approval
	for _, a := range in.Approvals {
		switch {
		case a.Login == "":
			continue
		case a.PlanDigest != "" && a.PlanDigest != in.Plan.Digest:
			// Bound to what was approved, the environment's plan: a push
			// that changed it dropped the approval.
			continue
		case a.PlanDigest == "" && in.sha() != "" && a.Commit != in.sha() && a.Commit != in.PR.HeadSHA:
			continue
		case selfBlocked && equalLogin(a.Login, in.PR.Author) && !in.Rollback:
			// A rollback restores what was approved before: its requester
			// is not approving their own change.
			continue
		case env.ApprovalExpiry > 0 && in.Now.Sub(a.SubmittedAt) > env.ApprovalExpiry:
			continue
		case !a.SubmittedAt.IsZero() && a.SubmittedAt.After(in.Now):
			continue
		}
		if slices.ContainsFunc(out, func(b Approval) bool { return equalLogin(a.Login, b.Login) }) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// matching gives the logins of approvals by someone in from: a login, or
// a member of an org/team slug. An empty from accepts anyone.
func matching(approvals []Approval, from []string) []string {
	out := []string{}
	for _, a := range approvals {
		ok := len(from) == 0
		for _, f := range from {
			if strings.Contains(f, "/") {
				ok = ok || containsFold(a.Teams, f)
			} else {
				ok = ok || equalLogin(a.Login, f)
			}
		}
		if ok {
			out = append(out, a.Login)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return equalLogin(x, s) })
}

func uniqueFold(list []string) []string {
	out := []string{}
	for _, s := range list {
		if !containsFold(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// equalLogin compares GitHub logins or org/team slugs as GitHub does:
// they are ASCII, and GitHub ignores ASCII case only. strings.EqualFold
// folds Unicode too, so "ſmith" (U+017F, long s) would equal "smith" and
// "\u212Aelvin" (Kelvin sign) "kelvin": a name that is not the approver's
// would count as theirs. Every comparison of logins and slugs goes through
// here (and lowerASCII, for keys).
func equalLogin(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerByte(a[i]) != lowerByte(b[i]) {
			return false
		}
	}
	return true
}

// EqualLogin is equalLogin, for the packages that decide on logins beside
// the policy (the App's gate).
func EqualLogin(a, b string) bool { return equalLogin(a, b) }

// FoldLogin is lowerASCII: a key under which logins that EqualLogin holds
// equal are one.
func FoldLogin(s string) string { return lowerASCII(s) }

// lowerASCII lowers the ASCII letters of s and leaves every other byte as
// it is; equal results mean equalLogin.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerByte(c)
	}
	return string(b)
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// promotionReady is when the commit to deploy will have soaked long enough
// where it must be promoted from, when it already runs there; nil when it
// does not (it waits for a deployment, not for a time).
func promotionReady(env EnvPolicy, in *Input) *time.Time {
	p := env.Promotion
	if p == nil {
		return nil
	}
	d, ok := in.Deployments[p.After]
	if !ok || d.SHA == "" || d.SHA != in.sha() {
		return nil
	}
	t := d.SucceededAt.Add(p.Soak)
	return &t
}
