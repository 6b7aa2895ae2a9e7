package checks

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// NoChanges is the title and summary of a plan or policy run when nothing
// Honua reads changed.
const NoChanges = "No Honua configuration changes."

// PlanOptions are what the plan run shows besides the plan.
type PlanOptions struct {
	// BaseSHA and HeadSHA are the commits compared. HeadSHA goes into the
	// digests marker that ends the text (see DigestsMarker).
	BaseSHA, HeadSHA string
	// Dir is the config's folder in the repository, "" for its root:
	// annotations are on Dir joined with the config's file paths.
	Dir string
	// LocalCommand prints the whole plan on a workstation; the text names
	// it when the plan does not fit ("honua-gitops plan --repo . --base
	// ba5e --head c0ffee").
	LocalCommand string
}

// PlanRun renders the honua/plan check run of a pull request's head:
//
//   - conclusion failure when head has validation errors (Honua would
//     reject the config), success otherwise, and neutral, with NoChanges as
//     its title and summary, when no environment has a change or an error;
//   - the title counts each environment's changes, in promotion order;
//   - the summary is a table of the environments (counts, risk, breaking
//     changes, errors) and the breaking changes in short;
//   - the text is each environment's plan, breaking changes first with why
//     they break, cut to fit when it must be (least important first: field
//     details of low-risk changes, then of medium ones, then low-risk and
//     medium changes, ...; breaking changes and errors last), saying what it
//     left out and how to see it all, and ending with the marker of each
//     environment's plan digest and the head commit;
//   - errors and warnings are annotations on their YAML lines, and so are
//     breaking changes (warnings), each once for all the environments it
//     concerns.
func PlanRun(r *policy.Report, o PlanOptions) CheckRun {
	return planRun(r, o, MaxOutput)
}

func planRun(r *policy.Report, o PlanOptions, limit int) CheckRun {
	p, envs := reportPlan(r)
	digests := make(map[string]string, len(envs))
	for _, e := range envs {
		if e.Name == "" {
			// No config folder is nameless, and ParseDigests refuses a
			// marker naming one: it would cost every digest.
			continue
		}
		digests[e.Name] = e.Digest()
	}
	trailer := "\n" + DigestsMarker(o.HeadSHA, digests) + "\n"
	run := CheckRun{Name: PlanRunName, Status: StatusCompleted}
	if !planChanged(p) {
		run.Conclusion = ConclusionNeutral
		run.Title = NoChanges
		run.Summary = NoChanges
		run.Text = cutTrailer(trailer, limit)
		return run
	}
	run.Conclusion = ConclusionSuccess
	if p.HasErrors() {
		run.Conclusion = ConclusionFailure
	}
	run.Title = planTitle(p, envs)
	text, cut := planDoc(p, envs, o.LocalCommand).fit(limit, trailer)
	run.Summary = planSummary(p, envs, o, cut, limit)
	run.Text = text
	run.Annotations = planAnnotations(p, envs, o.Dir)
	return run
}

// cutTrailer is the trailer alone, or nothing when even it does not fit.
func cutTrailer(trailer string, limit int) string {
	if len(trailer) > limit {
		return ""
	}
	return trailer
}

// reportPlan is the report's plan (empty when there is none) and its
// environments in promotion order.
func reportPlan(r *policy.Report) (*plan.Plan, []*plan.Environment) {
	if r == nil || r.Plan == nil {
		return &plan.Plan{}, nil
	}
	return r.Plan, r.Environments()
}

// planChanged reports whether anything Honua reads changed: a change, or
// an error (which a pull request may have caused without a change).
func planChanged(p *plan.Plan) bool {
	return p.HasChanges() || p.HasErrors()
}

// planTitle counts each environment's changes and errors, in promotion
// order: "staging: 2 to add · production: 2 to add, 1 to change (1
// breaking)".
func planTitle(p *plan.Plan, envs []*plan.Environment) string {
	var parts []string
	for _, e := range envs {
		s := e.Summary
		var counts []string
		if s.Added > 0 {
			counts = append(counts, fmt.Sprintf("%d to add", s.Added))
		}
		if s.Modified > 0 {
			counts = append(counts, fmt.Sprintf("%d to change", s.Modified))
		}
		if s.Removed > 0 {
			counts = append(counts, fmt.Sprintf("%d to remove", s.Removed))
		}
		line := strings.Join(counts, ", ")
		if s.Breaking > 0 {
			line += fmt.Sprintf(" (%d breaking)", s.Breaking)
		}
		if n := len(e.Errors); n > 0 {
			if line != "" {
				line += ", "
			}
			line += countOf(n, "error", "errors")
		}
		if line == "" {
			continue
		}
		parts = append(parts, plan.VisibleText(cutRunes(e.Name, 40))+": "+line)
	}
	if len(envs) == 0 && len(p.Errors) > 0 {
		parts = append(parts, "invalid configuration: "+countOf(len(p.Errors), "error", "errors"))
	}
	if len(parts) == 0 {
		// Only a plan built by hand gets here (errors of the repository
		// not copied into its environments); GitHub needs a title.
		return "Honua configuration changes"
	}
	return joinTitle(parts)
}

// joinTitle joins parts with " · " in at most MaxTitle bytes, ending with
// " · …" when parts are left out.
func joinTitle(parts []string) string {
	const sep, more = " · ", " · …"
	var b strings.Builder
	for i, p := range parts {
		room := MaxTitle - b.Len()
		if i < len(parts)-1 {
			room -= len(more)
		}
		if i > 0 {
			room -= len(sep)
		}
		if len(p) > room {
			if i == 0 {
				return cutText(p, MaxTitle)
			}
			b.WriteString(more)
			break
		}
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(p)
	}
	return b.String()
}

// Bounds of the plan run's summary.
const (
	maxBreakingListed = 10
	maxEnvsNamed      = 5
)

// planSummary is the table of the environments, the errors in one line and
// the breaking changes in short.
func planSummary(p *plan.Plan, envs []*plan.Environment, o PlanOptions, cut bool, limit int) string {
	var head, tail strings.Builder
	if o.HeadSHA != "" {
		fmt.Fprintf(&head, "Plan of %s", plan.MarkdownCode(shortSHA(o.HeadSHA)))
		if o.BaseSHA != "" {
			fmt.Fprintf(&head, " against %s", plan.MarkdownCode(shortSHA(o.BaseSHA)))
		}
		head.WriteString(", per environment in promotion order.\n\n")
	}
	var rows []string
	if len(envs) > 0 {
		head.WriteString("| Environment | Add | Change | Remove | Breaking | Risk | Errors | Warnings |\n")
		head.WriteString("|---|---:|---:|---:|---:|---|---:|---:|\n")
		for _, e := range envs {
			s := e.Summary
			breaking := fmt.Sprint(s.Breaking)
			if s.Breaking > 0 {
				breaking = "**" + breaking + "**"
			}
			rows = append(rows, fmt.Sprintf("| %s | %d | %d | %d | %s | %s | %d | %d |\n",
				plan.MarkdownCode(cutRunes(e.Name, maxIDShown)), s.Added, s.Modified, s.Removed, breaking,
				plan.MarkdownText(string(riskOf(e.Risk))), len(e.Errors), len(e.Warnings)))
		}
	}
	tail.WriteString("\n")
	if n, in := errorCount(p, envs); n > 0 {
		fmt.Fprintf(&tail, ":x: **%s**%s: Honua would reject this configuration. ", countOf(n, "validation error", "validation errors"), in)
		tail.WriteString("Each is annotated on its YAML line and listed below.\n\n")
	}
	tail.WriteString(breakingList(envs))
	if cut {
		tail.WriteString("The plan below is cut to fit in a check run: its end says what is not shown.\n")
	}
	// Rows from the end go when thousands of environments do not fit.
	return fitLines(head.String(), rows, tail.String(), limit, func(n int) string {
		return "| … " + countOf(n, "more environment", "more environments") + " | | | | | | | |\n"
	})
}

// errorCount counts head's distinct errors (repository errors are copied
// into every environment) and names the environments that have them.
func errorCount(p *plan.Plan, envs []*plan.Environment) (int, string) {
	seen := map[config.Diagnostic]bool{}
	var names []string
	for _, d := range p.Errors {
		seen[d] = true
	}
	for _, e := range envs {
		if len(e.Errors) > 0 {
			names = append(names, plan.MarkdownCode(cutRunes(e.Name, maxIDShown)))
		}
		for _, d := range e.Errors {
			seen[d] = true
		}
	}
	if len(names) == 0 {
		return len(seen), ""
	}
	if len(names) > maxEnvsNamed {
		names = append(names[:maxEnvsNamed], countOf(len(names)-maxEnvsNamed, "more", "more"))
	}
	return len(seen), " in " + joinAnd(names)
}

// breakingList lists the breaking changes in short, each once for all the
// environments it is in: "`~` layer `parcels` in `production`: why". Only
// the few listed are rendered.
func breakingList(envs []*plan.Environment) string {
	type key struct {
		action     plan.Action
		kind, id   string
		why        string
		numReasons int
	}
	type entry struct {
		c    *plan.Change
		envs []string
	}
	var entries []*entry
	index := map[key]*entry{}
	for _, e := range envs {
		for i := range e.Changes {
			c := &e.Changes[i]
			if !c.Breaking {
				continue
			}
			k := key{action: c.Action, kind: string(c.Kind), id: c.ID, numReasons: len(c.Reasons)}
			if len(c.Reasons) > 0 {
				k.why = c.Reasons[0]
			}
			en, ok := index[k]
			if !ok {
				en = &entry{c: c}
				index[k] = en
				entries = append(entries, en)
			}
			if len(entries) <= maxBreakingListed && len(en.envs) < maxEnvsNamed {
				en.envs = append(en.envs, plan.MarkdownCode(cutRunes(e.Name, maxIDShown)))
			}
		}
	}
	if len(entries) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("**Breaking changes**\n\n")
	for _, en := range entries[:min(len(entries), maxBreakingListed)] {
		c := en.c
		fmt.Fprintf(&b, "- `%s` %s %s in %s", actionSign(c.Action), plan.MarkdownText(cutRunes(string(c.Kind), maxIDShown)), plan.MarkdownCode(cutRunes(c.ID, maxIDShown)), joinAnd(en.envs))
		if len(c.Reasons) > 0 {
			b.WriteString(": " + plan.MarkdownText(cutRunes(c.Reasons[0], 300)))
			if len(c.Reasons) > 1 {
				fmt.Fprintf(&b, " (and %s)", countOf(len(c.Reasons)-1, "more reason", "more reasons"))
			}
		}
		b.WriteString("\n")
	}
	if n := len(entries) - maxBreakingListed; n > 0 {
		fmt.Fprintf(&b, "- … %s\n", countOf(n, "more breaking change", "more breaking changes"))
	}
	b.WriteString("\n")
	return b.String()
}

// planAnnotations are head's errors and warnings on their lines (failure,
// warning), and the breaking changes on the lines of their objects
// (warning). An annotation that several environments share (a file of
// common/, an error of the repository) is made once, naming them.
func planAnnotations(p *plan.Plan, envs []*plan.Environment, dir string) []Annotation {
	type entry struct {
		a    Annotation
		what string
		envs []string
	}
	type key struct {
		a    Annotation
		what string
	}
	var entries []*entry
	index := map[key]*entry{}
	addEnv := func(en *entry, env string) {
		if env != "" && !slices.Contains(en.envs, env) {
			en.envs = append(en.envs, env)
		}
	}
	add := func(a Annotation, what, env string) *entry {
		if a.Path == "" {
			return nil
		}
		key := key{a, what}
		en, ok := index[key]
		if !ok {
			en = &entry{a: a, what: what}
			index[key] = en
			entries = append(entries, en)
		}
		addEnv(en, env)
		return en
	}
	// A breaking change to a file of common/ is the same change in every
	// environment: known by its values before it is rendered again.
	type changeKey struct {
		file     string
		line     int
		kind, id string
		action   plan.Action
		reasons  string
	}
	type seenChange struct {
		c  *plan.Change
		en *entry
	}
	seen := map[changeKey][]seenChange{}
	diag := func(d config.Diagnostic, level, env string) {
		what := "error"
		if level == LevelWarning {
			what = "warning"
		}
		if d.Rule != "" {
			what = d.Rule + " " + what
		}
		add(Annotation{
			Path:      repoPath(dir, d.File),
			StartLine: max(d.Line, 1),
			EndLine:   max(d.Line, 1),
			Level:     level,
			Message:   cutText(plan.VisibleText(d.Message), maxAnnotationText),
		}, what, env)
	}
	if len(envs) == 0 {
		for _, d := range p.Errors {
			diag(d, LevelFailure, "")
		}
		for _, d := range p.Warnings {
			diag(d, LevelWarning, "")
		}
	}
	for _, e := range envs {
		for _, d := range e.Errors {
			diag(d, LevelFailure, e.Name)
		}
		for _, d := range e.Warnings {
			diag(d, LevelWarning, e.Name)
		}
	changes:
		for i := range e.Changes {
			c := &e.Changes[i]
			if !c.Breaking {
				continue
			}
			ck := changeKey{file: c.File, line: c.Line, kind: string(c.Kind), id: c.ID, action: c.Action, reasons: strings.Join(c.Reasons, "\x00")}
			for _, sc := range seen[ck] {
				if reflect.DeepEqual(sc.c.Details, c.Details) {
					addEnv(sc.en, e.Name)
					continue changes
				}
			}
			reasons := make([]string, 0, len(c.Reasons))
			for _, r := range c.Reasons {
				reasons = append(reasons, plan.VisibleText(cutRunes(r, maxMessageShown)))
			}
			if len(reasons) == 0 {
				reasons = append(reasons, "Clients of this object can break.")
			}
			var details []string
			for j, d := range c.Details {
				if j == maxDetailRows {
					details = append(details, "… "+countOf(len(c.Details)-j, "more field", "more fields"))
					break
				}
				details = append(details, plan.VisibleText(cutRunes(d.Path, maxIDShown))+": "+plan.VisibleText(detailValue(d.From))+" → "+plan.VisibleText(detailValue(d.To)))
			}
			en := add(Annotation{
				Path:       repoPath(dir, c.File),
				StartLine:  max(c.Line, 1),
				EndLine:    max(c.Line, 1),
				Level:      LevelWarning,
				Message:    cutText(strings.Join(reasons, "\n"), maxAnnotationText),
				RawDetails: cutText(strings.Join(details, "\n"), maxAnnotationText),
			}, "breaking change to "+string(c.Kind)+" "+c.ID, e.Name)
			if en != nil {
				seen[ck] = append(seen[ck], seenChange{c, en})
			}
		}
	}
	out := make([]Annotation, 0, len(entries))
	for _, en := range entries {
		a := en.a
		title := en.what
		if len(en.envs) > 0 {
			names := en.envs
			if len(names) > maxEnvsNamed {
				names = append(slices.Clone(names[:maxEnvsNamed]), countOf(len(names)-maxEnvsNamed, "more", "more"))
			}
			title += " in " + joinAnd(names)
		}
		a.Title = oneLine(title, MaxTitle)
		out = append(out, a)
	}
	slices.SortStableFunc(out, func(a, b Annotation) int {
		if c := cmp.Compare(levelRank(a.Level), levelRank(b.Level)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return cmp.Compare(a.StartLine, b.StartLine)
	})
	return out
}

func levelRank(level string) int {
	switch level {
	case LevelFailure:
		return 0
	case LevelWarning:
		return 1
	}
	return 2
}

// shortSHA is the first 12 characters of a commit sha, as people read it.
func shortSHA(sha string) string {
	const n = 12
	if len(sha) <= n {
		return sha
	}
	i := n
	for i > 0 && !utf8.RuneStart(sha[i]) {
		i--
	}
	return sha[:i]
}
