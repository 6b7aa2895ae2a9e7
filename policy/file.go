package policy

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// MaxEnvironments bounds the environments a policy file may list: each is
// translated into Rego and compiled.
const MaxEnvironments = 1000

// PolicyFile is where a config repository keeps its deployment policy.
const PolicyFile = ".gitops/deployment-policy.yaml"

// APIVersion and Kind are the header of a policy file in the format of the
// original design ("apiVersion: honua.io/v1", "kind: DeploymentPolicy").
// The header is optional; when present it must say these.
const (
	APIVersion = "honua.io/v1"
	Kind       = "DeploymentPolicy"
)

// MaxDuration is the longest approvalExpiry or promotion soak: a year and a
// day. Anything longer is a mistake, and much longer (106752d) once wrapped
// around to a negative number that meant "never expires".
const MaxDuration = 366 * 24 * time.Hour

// File is .gitops/deployment-policy.yaml after parsing: every environment's
// policy with defaults applied.
type File struct {
	// Metadata is the metadata block of the header, when the file has one.
	Metadata Metadata
	// PolicyOwners must approve any PR that changes .gitops/.
	PolicyOwners []string
	// Defaults is the policy of an environment the file does not list.
	Defaults EnvPolicy
	// Environments are the listed environments by name.
	Environments map[string]EnvPolicy
}

// Metadata names and describes a policy file (the header's metadata).
type Metadata struct {
	Name        string
	Description string
	Labels      map[string]string
	Annotations map[string]string
}

// EnvPolicy is the policy of one environment.
type EnvPolicy struct {
	Name                 string
	Listed               bool
	AutoApprove          bool
	RequiresValidation   bool
	AllowBreakingChanges bool
	// Timezone is an IANA zone name; windows and blackouts are read in it.
	Timezone            string
	Approvers           []string
	MinApprovals        int
	PreventSelfApproval bool
	// ApprovalExpiry is how long an approval counts; 0 means forever.
	ApprovalExpiry time.Duration
	Promotion      *Promotion
	EmergencyLabel string
	// LargeRemoval is the number of removed objects from which a plan is
	// flagged with a warning.
	LargeRemoval  int
	ApprovalRules []ApprovalRule
	Safety        Safety
	Notifications map[string]any
	// Approvals is how people approve deployments to the environment:
	// ApprovalsApp (the App's check-run buttons, /approve, PR reviews) or
	// ApprovalsGitHubEnvironment (GitHub's own "Review deployments"
	// dialog on a gate workflow run).
	Approvals string

	// ownRules is true when ApprovalRules are the environment's own, not
	// inherited from defaults (see conditionsModule).
	ownRules bool
}

// Approval modes (EnvPolicy.Approvals).
const (
	ApprovalsApp               = "app"
	ApprovalsGitHubEnvironment = "github-environment"
)

// Promotion requires a commit to have succeeded in After at least Soak ago.
type Promotion struct {
	After string
	Soak  time.Duration

	at *yaml.Node // where it is written, for messages
}

// ApprovalRule asks for approval when Condition holds.
type ApprovalRule struct {
	Name      string
	Condition string
	Reason    string
	// Approvers, when set, must approve what the rule matches (a separate
	// requirement); otherwise the environment's approvers may.
	Approvers []string
	Pos       config.Position
	expr      *condNode
}

// Safety is the safety block of an environment.
type Safety struct {
	RequireBackup      bool
	HealthCheckTimeout int // seconds
	RollbackOnFailure  bool
	DeploymentWindows  []Window
	BlackoutPeriods    []Blackout
}

// Window is a weekly deployment window [Start, End) in minutes of the local
// day. End <= Start means the window crosses midnight.
type Window struct {
	Days       []time.Weekday
	Start, End int
	StartTime  string
	EndTime    string
}

// Blackout forbids deployments from StartDate to EndDate inclusive (local
// dates, YYYY-MM-DD).
type Blackout struct {
	Name, StartDate, EndDate, Reason string
	// AllowEmergency lets the emergency label through this blackout.
	AllowEmergency bool
	// Strict keeps rollbacks out too: a blackout is otherwise crossed by a
	// rollback to the last good configuration, which undoes a change rather
	// than making one.
	Strict bool
}

// rawEnv is one environment as written; nil means not set, so that
// environments can inherit from defaults.
type rawEnv struct {
	autoApprove, requiresValidation, allowBreakingChanges *bool
	timezone                                              *string
	approvers                                             []string
	approversSet                                          bool
	minApprovals                                          *int
	preventSelfApproval                                   *bool
	approvalExpiry                                        *time.Duration
	promotion                                             *Promotion
	promotionSet                                          bool
	emergencyLabel                                        *string
	largeRemoval                                          *int
	approvalRules                                         []ApprovalRule
	rulesSet                                              bool
	requireBackup, rollbackOnFailure                      *bool
	healthCheckTimeout                                    *int
	windows                                               []Window
	windowsSet                                            bool
	blackouts                                             []Blackout
	blackoutsSet                                          bool
	notifications                                         map[string]any
	approvals                                             *string
}

// fileParser collects diagnostics while it walks the YAML nodes.
type fileParser struct {
	path  string
	lim   config.Limits
	diags []config.Diagnostic
	// condTerms counts the terms and operators of the approval conditions
	// parsed so far (MaxFileConditionTerms).
	condTerms int
}

func (p *fileParser) errorf(n *yaml.Node, format string, args ...any) {
	d := config.Diagnostic{Severity: config.SeverityError, File: p.path, Message: fmt.Sprintf(format, args...), Rule: "policy-file"}
	if n != nil {
		d.Line, d.Column = n.Line, n.Column
	}
	p.diags = append(p.diags, d)
}

// ParseFile parses the deployment policy. It is read as the config reader
// reads outside YAML (config.ParseYAML within lim, whose zero fields take
// config.DefaultLimits): size, UTF-8, one document, aliases and nesting
// bounded, syntax errors at their line and column. Every problem is
// returned as a diagnostic naming the file, line and column; the File is
// usable (with the faulty parts left at their defaults) only when there are
// none, and nil when the YAML itself is refused.
func ParseFile(path string, data []byte, lim config.Limits) (*File, []config.Diagnostic) {
	p := &fileParser{path: path, lim: lim}
	f := &File{Environments: map[string]EnvPolicy{}}
	root, diags := config.ParseYAML(path, data, lim)
	if len(diags) > 0 {
		return nil, diags
	}
	defaults := rawEnv{}
	envs := map[string]rawEnv{}
	var repoApprovals *string // the top-level approvals: the repository's mode
	if root != nil {
		p.mapping(root, "the policy file", func(key string, k, v *yaml.Node) {
			switch key {
			case "apiVersion":
				if s := p.str(v); s != APIVersion {
					p.errorf(v, "apiVersion %q is not supported: write apiVersion: %s", s, APIVersion)
				}
			case "kind":
				if s := p.str(v); s != Kind {
					p.errorf(v, "kind %q is not a deployment policy: write kind: %s", s, Kind)
				}
			case "metadata":
				f.Metadata = p.metadata(v)
			case "version":
				if n := p.integer(v); n != 1 {
					p.errorf(v, "version %s is not supported: this honua-gitops reads version 1", v.Value)
				}
			case "policyOwners":
				f.PolicyOwners = p.principals(v)
			case "approvals":
				repoApprovals = p.approvalMode(v)
			case "defaults":
				defaults = p.env(v)
			case "environments":
				tooMany := false
				p.mapping(v, "environments", func(name string, k, v *yaml.Node) {
					if _, dup := envs[name]; dup {
						p.errorf(k, "environment %q is listed twice", name)
					}
					if len(envs) >= MaxEnvironments {
						if !tooMany {
							tooMany = true
							p.errorf(k, "more than %d environments: a config repository deploys to a handful; remove the ones that do not exist", MaxEnvironments)
						}
						return // each would be compiled into Rego: stop reading them
					}
					envs[name] = p.env(v)
				})
			default:
				p.unknown(k, key, "apiVersion, kind, metadata, version, policyOwners, approvals, defaults, environments")
			}
		})
	}
	if defaults.approvals == nil {
		defaults.approvals = repoApprovals
	}
	f.Defaults = resolve("", defaults, rawEnv{})
	for name, raw := range envs {
		e := resolve(name, raw, defaults)
		e.Listed = true
		f.Environments[name] = e
	}
	for name, e := range f.Environments {
		if e.Promotion != nil {
			if e.Promotion.After == name {
				p.errorf(e.Promotion.at, "environment %s: promotion.after names the environment itself (inherited from defaults?): name the environment it is promoted from, or set promotion: null", name)
			}
		}
	}
	config.SortDiagnostics(p.diags)
	return f, p.diags
}

// Env returns the policy of the named environment: its entry, or the
// defaults.
func (f *File) Env(name string) EnvPolicy {
	if e, ok := f.Environments[name]; ok {
		return e
	}
	e := f.Defaults
	e.Name = name
	return e
}

func resolve(name string, r, d rawEnv) EnvPolicy {
	e := EnvPolicy{
		Name:               name,
		RequiresValidation: true,
		Timezone:           "UTC",
		MinApprovals:       1,
		LargeRemoval:       5,
		Safety:             Safety{RequireBackup: true, RollbackOnFailure: true, HealthCheckTimeout: 300},
	}
	setB := func(dst *bool, vs ...*bool) {
		for _, v := range vs {
			if v != nil {
				*dst = *v
				return
			}
		}
	}
	setI := func(dst *int, vs ...*int) {
		for _, v := range vs {
			if v != nil {
				*dst = *v
				return
			}
		}
	}
	setB(&e.AutoApprove, r.autoApprove, d.autoApprove)
	setB(&e.RequiresValidation, r.requiresValidation, d.requiresValidation)
	setB(&e.AllowBreakingChanges, r.allowBreakingChanges, d.allowBreakingChanges)
	setB(&e.PreventSelfApproval, r.preventSelfApproval, d.preventSelfApproval)
	setB(&e.Safety.RequireBackup, r.requireBackup, d.requireBackup)
	setB(&e.Safety.RollbackOnFailure, r.rollbackOnFailure, d.rollbackOnFailure)
	setI(&e.MinApprovals, r.minApprovals, d.minApprovals)
	setI(&e.LargeRemoval, r.largeRemoval, d.largeRemoval)
	setI(&e.Safety.HealthCheckTimeout, r.healthCheckTimeout, d.healthCheckTimeout)
	for _, v := range []*string{r.timezone, d.timezone} {
		if v != nil {
			e.Timezone = *v
			break
		}
	}
	for _, v := range []*string{r.emergencyLabel, d.emergencyLabel} {
		if v != nil {
			e.EmergencyLabel = *v
			break
		}
	}
	for _, v := range []*time.Duration{r.approvalExpiry, d.approvalExpiry} {
		if v != nil {
			e.ApprovalExpiry = *v
			break
		}
	}
	pick := func(rs, ds bool) int {
		switch {
		case rs:
			return 1
		case ds:
			return 2
		}
		return 0
	}
	switch pick(r.approversSet, d.approversSet) {
	case 1:
		e.Approvers = r.approvers
	case 2:
		e.Approvers = d.approvers
	}
	switch pick(r.promotionSet, d.promotionSet) {
	case 1:
		e.Promotion = r.promotion
	case 2:
		e.Promotion = d.promotion
	}
	switch pick(r.rulesSet, d.rulesSet) {
	case 1:
		e.ApprovalRules, e.ownRules = r.approvalRules, true
	case 2:
		e.ApprovalRules = d.approvalRules
	}
	switch pick(r.windowsSet, d.windowsSet) {
	case 1:
		e.Safety.DeploymentWindows = r.windows
	case 2:
		e.Safety.DeploymentWindows = d.windows
	}
	switch pick(r.blackoutsSet, d.blackoutsSet) {
	case 1:
		e.Safety.BlackoutPeriods = r.blackouts
	case 2:
		e.Safety.BlackoutPeriods = d.blackouts
	}
	e.Notifications = r.notifications
	if e.Notifications == nil {
		e.Notifications = d.notifications
	}
	e.Approvals = ApprovalsApp
	for _, v := range []*string{r.approvals, d.approvals} {
		if v != nil {
			e.Approvals = *v
			break
		}
	}
	return e
}

// approvalMode reads an approvals setting.
func (p *fileParser) approvalMode(v *yaml.Node) *string {
	switch s := p.str(v); s {
	case ApprovalsApp, ApprovalsGitHubEnvironment:
		return &s
	default:
		p.errorf(v, "approvals %q is not a mode: write app (the App's buttons, /approve and reviews) or github-environment (GitHub's Review deployments dialog on the gate workflow)", s)
		return nil
	}
}

func (p *fileParser) env(n *yaml.Node) rawEnv {
	var r rawEnv
	p.mapping(n, "an environment", func(key string, k, v *yaml.Node) {
		switch key {
		case "autoApprove":
			r.autoApprove = p.boolean(v)
		case "requiresValidation":
			r.requiresValidation = p.boolean(v)
		case "allowBreakingChanges":
			r.allowBreakingChanges = p.boolean(v)
		case "timezone":
			if s := p.str(v); s != "" {
				if _, err := time.LoadLocation(s); err != nil || s == "Local" {
					p.errorf(v, "timezone %q is not an IANA time zone name (such as Pacific/Honolulu or UTC)", s)
				} else {
					r.timezone = &s
				}
			}
		case "approvers":
			r.approvers, r.approversSet = p.principals(v), true
		case "minApprovals":
			if i := p.integer(v); i < 0 || i > 100 {
				p.errorf(v, "minApprovals must be between 0 and 100")
			} else {
				r.minApprovals = &i
			}
		case "preventSelfApproval":
			r.preventSelfApproval = p.boolean(v)
		case "approvalExpiry":
			if d, ok := p.duration(v, "approvalExpiry"); ok {
				r.approvalExpiry = &d
			}
		case "promotion":
			r.promotion, r.promotionSet = p.promotion(v), true
		case "emergencyLabel":
			s := p.str(v)
			r.emergencyLabel = &s
		case "largeRemoval":
			i := p.integer(v)
			if i < 1 {
				p.errorf(v, "largeRemoval must be at least 1")
			}
			r.largeRemoval = &i
		case "approvalRules":
			r.approvalRules, r.rulesSet = p.rules(v), true
		case "rollbackOnFailure":
			// Accepted here too: some policy files of the original design
			// put it beside safety rather than inside it.
			r.rollbackOnFailure = p.boolean(v)
		case "safety":
			p.safety(v, &r)
		case "approvals":
			r.approvals = p.approvalMode(v)
		case "notifications":
			// Decoded as config files are (YAML 1.2 numbers, merge keys,
			// duplicate keys refused): rules read it as data.
			val, ds := config.DecodeYAML(p.path, v, p.lim)
			p.diags = append(p.diags, ds...)
			m, ok := val.(map[string]any)
			if len(ds) == 0 && !ok && v.Tag != "!!null" {
				p.errorf(v, "notifications must be a mapping of event to notification targets")
			}
			r.notifications = m
		default:
			p.unknown(k, key, "autoApprove, requiresValidation, allowBreakingChanges, timezone, approvers, minApprovals, preventSelfApproval, approvalExpiry, promotion, emergencyLabel, largeRemoval, approvalRules, safety, rollbackOnFailure, notifications, approvals")
		}
	})
	return r
}

func (p *fileParser) safety(n *yaml.Node, r *rawEnv) {
	p.mapping(n, "safety", func(key string, k, v *yaml.Node) {
		switch key {
		case "requireBackup":
			r.requireBackup = p.boolean(v)
		case "healthCheckTimeout":
			i := p.integer(v)
			if i < 1 || i > 86400 {
				p.errorf(v, "healthCheckTimeout is in seconds and must be between 1 and 86400 (a day)")
			}
			r.healthCheckTimeout = &i
		case "rollbackOnFailure":
			r.rollbackOnFailure = p.boolean(v)
		case "deploymentWindows":
			r.windowsSet = true
			p.sequence(v, "deploymentWindows", func(item *yaml.Node) {
				if w, ok := p.window(item); ok {
					r.windows = append(r.windows, w)
				}
			})
		case "blackoutPeriods":
			r.blackoutsSet = true
			p.sequence(v, "blackoutPeriods", func(item *yaml.Node) {
				if b, ok := p.blackout(item); ok {
					r.blackouts = append(r.blackouts, b)
				}
			})
		default:
			p.unknown(k, key, "requireBackup, healthCheckTimeout, rollbackOnFailure, deploymentWindows, blackoutPeriods")
		}
	})
}

func (p *fileParser) promotion(n *yaml.Node) *Promotion {
	if n.Tag == "!!null" {
		return nil
	}
	pr := &Promotion{at: n}
	p.mapping(n, "promotion", func(key string, k, v *yaml.Node) {
		switch key {
		case "after":
			pr.After = p.str(v)
		case "soak":
			pr.Soak, _ = p.duration(v, "promotion.soak")
		default:
			p.unknown(k, key, "after, soak")
		}
	})
	if pr.After == "" {
		p.errorf(n, "promotion needs after: the environment a commit must have succeeded in first")
	}
	return pr
}

func (p *fileParser) rules(n *yaml.Node) []ApprovalRule {
	var out []ApprovalRule
	p.sequence(n, "approvalRules", func(item *yaml.Node) {
		r := ApprovalRule{Pos: config.Position{File: p.path, Line: item.Line, Column: item.Column}}
		var condNode *yaml.Node
		p.mapping(item, "an approval rule", func(key string, k, v *yaml.Node) {
			switch key {
			case "name":
				r.Name = p.str(v)
			case "condition":
				r.Condition, condNode = p.str(v), v
			case "reason":
				r.Reason = p.str(v)
			case "approvers":
				r.Approvers = p.principals(v)
			default:
				p.unknown(k, key, "name, condition, reason, approvers")
			}
		})
		if r.Name == "" {
			r.Name = fmt.Sprintf("rule %d", len(out)+1)
		}
		if condNode == nil {
			p.errorf(item, "approval rule %q has no condition", r.Name)
			return
		}
		r.Pos = config.Position{File: p.path, Line: condNode.Line, Column: condNode.Column}
		if p.condTerms > MaxFileConditionTerms {
			return // reported once, at the condition that crossed the limit
		}
		e, err := parseCondition(r.Condition)
		if err != nil {
			p.errorf(condNode, "approval rule %q: condition %q does not parse: %v", r.Name, clip(r.Condition, 80), err)
			return
		}
		// Every condition becomes Rego rules that are compiled with the
		// policy: their total is bounded as well as each one's.
		if p.condTerms += e.size(); p.condTerms > MaxFileConditionTerms {
			p.errorf(condNode, "approval rule %q: the approval conditions of this file have more than %d names, numbers, strings and operators in all: remove or simplify approval rules (put shared rules in defaults once, not in every environment)", r.Name, MaxFileConditionTerms)
			return
		}
		r.expr = e
		out = append(out, r)
	})
	return out
}

// clip shortens s for a message: a condition may be up to
// MaxConditionBytes long, and one over the limit much longer.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

var clockRe = regexp.MustCompile(`^([01]?\d|2[0-4]):([0-5]\d)$`)

func (p *fileParser) clock(n *yaml.Node, field string) (int, string, bool) {
	s := p.str(n)
	m := clockRe.FindStringSubmatch(s)
	if m == nil {
		p.errorf(n, "%s %q is not a time of day HH:MM (24-hour)", field, s)
		return 0, "", false
	}
	h, _ := strconv.Atoi(m[1])
	min, _ := strconv.Atoi(m[2])
	if h == 24 && min != 0 {
		p.errorf(n, "%s %q is past the end of the day", field, s)
		return 0, "", false
	}
	return h*60 + min, fmt.Sprintf("%02d:%02d", h, min), true
}

func (p *fileParser) window(n *yaml.Node) (Window, bool) {
	var w Window
	ok := true
	var seen = map[string]bool{}
	p.mapping(n, "a deployment window", func(key string, k, v *yaml.Node) {
		seen[key] = true
		switch key {
		case "dayOfWeek", "days":
			var items []*yaml.Node
			if v.Kind == yaml.SequenceNode {
				items = v.Content
			} else {
				items = []*yaml.Node{v}
			}
			for _, it := range items {
				ds, err := parseDays(p.str(it))
				if err != nil {
					p.errorf(it, "%v", err)
					ok = false
				}
				w.Days = append(w.Days, ds...)
			}
		case "startTime":
			var good bool
			w.Start, w.StartTime, good = p.clock(v, "startTime")
			ok = ok && good
			if good && w.Start == 24*60 {
				p.errorf(v, "startTime 24:00 is not a time a window can start at; use 00:00")
				ok = false
			}
		case "endTime":
			var good bool
			w.End, w.EndTime, good = p.clock(v, "endTime")
			ok = ok && good
		default:
			p.unknown(k, key, "dayOfWeek, startTime, endTime")
		}
	})
	for _, f := range []string{"dayOfWeek", "startTime", "endTime"} {
		if !seen[f] && !(f == "dayOfWeek" && seen["days"]) {
			p.errorf(n, "a deployment window needs %s", f)
			ok = false
		}
	}
	if ok && w.Start == w.End {
		p.errorf(n, "deployment window %s–%s is empty; for a whole day use 00:00–24:00", w.StartTime, w.EndTime)
		ok = false
	}
	if w.End == 24*60 {
		// 24:00 is the end of the day: the same as a window that crosses
		// midnight and ends at 00:00 the next day.
		w.End = 0
	}
	w.Days = uniqueDays(w.Days)
	return w, ok
}

var dayNames = map[string]time.Weekday{}

func init() {
	for d := time.Sunday; d <= time.Saturday; d++ {
		n := strings.ToLower(d.String())
		dayNames[n] = d
		dayNames[n[:3]] = d
	}
	dayNames["tues"] = time.Tuesday
	dayNames["thur"] = time.Thursday
	dayNames["thurs"] = time.Thursday
}

// parseDays reads a day name ("Tuesday", "tue"), a range ("Tuesday-Thursday",
// "Fri–Mon" wraps), "weekdays", "weekends" or "daily".
func parseDays(s string) ([]time.Weekday, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch t {
	case "daily", "everyday", "every day", "all":
		return []time.Weekday{0, 1, 2, 3, 4, 5, 6}, nil
	case "weekdays":
		return []time.Weekday{1, 2, 3, 4, 5}, nil
	case "weekends", "weekend":
		return []time.Weekday{0, 6}, nil
	}
	if d, ok := dayNames[t]; ok {
		return []time.Weekday{d}, nil
	}
	t = strings.ReplaceAll(t, "–", "-")
	if a, b, found := strings.Cut(t, "-"); found {
		da, oka := dayNames[strings.TrimSpace(a)]
		db, okb := dayNames[strings.TrimSpace(b)]
		if oka && okb {
			var out []time.Weekday
			for d := da; ; d = (d + 1) % 7 {
				out = append(out, d)
				if d == db {
					break
				}
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("dayOfWeek %q is not a day (Monday … Sunday, Mon … Sun), a range (Tuesday-Thursday), weekdays, weekends or daily", s)
}

func uniqueDays(ds []time.Weekday) []time.Weekday {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	out := ds[:0]
	for i, d := range ds {
		if i == 0 || d != ds[i-1] {
			out = append(out, d)
		}
	}
	return out
}

func (p *fileParser) blackout(n *yaml.Node) (Blackout, bool) {
	var b Blackout
	ok := true
	p.mapping(n, "a blackout period", func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			b.Name = p.str(v)
		case "startDate", "endDate":
			s := p.str(v)
			if _, err := time.Parse(time.DateOnly, s); err != nil {
				p.errorf(v, "%s %q is not a date YYYY-MM-DD", key, s)
				ok = false
			}
			if key == "startDate" {
				b.StartDate = s
			} else {
				b.EndDate = s
			}
		case "reason":
			b.Reason = p.str(v)
		case "allowEmergency":
			if v := p.boolean(v); v != nil {
				b.AllowEmergency = *v
			}
		case "strict":
			if v := p.boolean(v); v != nil {
				b.Strict = *v
			}
		default:
			p.unknown(k, key, "name, startDate, endDate, reason, allowEmergency, strict")
		}
	})
	if b.StartDate == "" || b.EndDate == "" {
		p.errorf(n, "a blackout period needs startDate and endDate")
		return b, false
	}
	if ok && b.EndDate < b.StartDate {
		p.errorf(n, "blackout period %q ends (%s) before it starts (%s)", b.Name, b.EndDate, b.StartDate)
		ok = false
	}
	if b.Name == "" {
		b.Name = b.StartDate + " to " + b.EndDate
	}
	return b, ok
}

// principals reads a list of GitHub logins and org/team slugs.
func (p *fileParser) principals(n *yaml.Node) []string {
	var out []string
	p.sequence(n, "a list of GitHub users and org/team slugs", func(it *yaml.Node) {
		s := strings.TrimPrefix(p.str(it), "@")
		if s == "" || strings.Count(s, "/") > 1 || strings.ContainsAny(s, " \t") {
			p.errorf(it, "%q is not a GitHub login or an org/team slug", it.Value)
			return
		}
		out = append(out, s)
	})
	return out
}

func (p *fileParser) mapping(n *yaml.Node, what string, f func(key string, k, v *yaml.Node)) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		if n.Tag == "!!null" {
			return
		}
		p.errorf(n, "%s must be a mapping", what)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		if seen[k.Value] {
			p.errorf(k, "%q is set twice", k.Value)
			continue
		}
		seen[k.Value] = true
		f(k.Value, k, v)
	}
}

func (p *fileParser) sequence(n *yaml.Node, what string, f func(*yaml.Node)) {
	if n.Kind != yaml.SequenceNode {
		if n.Tag == "!!null" {
			return
		}
		p.errorf(n, "%s must be a list", what)
		return
	}
	for _, it := range n.Content {
		if it.Kind == yaml.AliasNode {
			it = it.Alias
		}
		f(it)
	}
}

func (p *fileParser) unknown(k *yaml.Node, key, known string) {
	p.errorf(k, "unknown field %q (known: %s)", key, known)
}

func (p *fileParser) str(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "expected a string")
		return ""
	}
	return n.Value
}

func (p *fileParser) boolean(n *yaml.Node) *bool {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		p.errorf(n, "expected true or false, not %q", n.Value)
		return nil
	}
	return &b
}

// integer reads a whole number as config files read numbers: by YAML 1.2,
// refusing forms that YAML 1.1 reads differently (010, 1_000).
func (p *fileParser) integer(n *yaml.Node) int {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		v, ds := config.DecodeYAML(p.path, n, p.lim)
		if len(ds) > 0 {
			p.diags = append(p.diags, ds...)
			return 0
		}
		if i, ok := v.(int64); ok {
			return int(i)
		}
	}
	p.errorf(n, "expected a whole number, not %q", n.Value)
	return 0
}

// metadata reads the header's metadata: name, description, labels and
// annotations, as Kubernetes-style headers write them.
func (p *fileParser) metadata(n *yaml.Node) Metadata {
	var m Metadata
	strMap := func(v *yaml.Node, what string) map[string]string {
		out := map[string]string{}
		p.mapping(v, what, func(key string, _, v *yaml.Node) { out[key] = p.str(v) })
		return out
	}
	p.mapping(n, "metadata", func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			m.Name = p.str(v)
		case "description":
			m.Description = p.str(v)
		case "labels":
			m.Labels = strMap(v, "metadata.labels")
		case "annotations":
			m.Annotations = strMap(v, "metadata.annotations")
		default:
			p.unknown(k, key, "name, description, labels, annotations")
		}
	})
	return m
}

// durationRe is the syntax time.ParseDuration accepts (without a sign):
// a string that has it but does not parse is too long for an int64.
var durationRe = regexp.MustCompile(`^([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))*$`)

// duration reads "2h", "90m", "1h30m" or "1d" (24 hours); a bare number
// is seconds. It refuses durations over MaxDuration, checking before it
// multiplies, so that no value wraps around.
func (p *fileParser) duration(n *yaml.Node, field string) (time.Duration, bool) {
	s := strings.TrimSpace(p.str(n))
	tooLong := func() (time.Duration, bool) {
		p.errorf(n, "%s %q is longer than the limit of %d days: use a shorter duration such as 24h or 7d", field, s, MaxDuration/(24*time.Hour))
		return 0, false
	}
	for _, unit := range []struct {
		suffix string
		d      time.Duration
	}{{"", time.Second}, {"d", 24 * time.Hour}} {
		num, ok := strings.CutSuffix(s, unit.suffix)
		if !ok || num == "" || strings.TrimLeft(num, "0123456789") != "" {
			continue
		}
		i, err := strconv.ParseInt(num, 10, 64)
		if err != nil || i > int64(MaxDuration/unit.d) {
			return tooLong()
		}
		return time.Duration(i) * unit.d, true
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil && durationRe.MatchString(s):
		return tooLong()
	case err != nil || d < 0:
		p.errorf(n, "%s %q is not a duration such as 2h, 90m or 1d", field, s)
		return 0, false
	case d > MaxDuration:
		return tooLong()
	}
	return d, true
}
