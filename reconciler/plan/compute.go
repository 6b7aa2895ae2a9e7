package plan

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// ErrUnknownEnvironment is returned by ComputeStrict for an environment
// named on the command line that neither state has.
var ErrUnknownEnvironment = errors.New("unknown environment")

// Compute returns the plan that takes base to head, per environment.
//
// It plans every environment of base or head, or, when envs is not empty,
// only the environments it names. A named environment that neither state
// has gives an empty entry (no changes), so that a caller planning a fixed
// list of environments gets one entry for each; use ComputeStrict to have
// it reported as an error instead. A nil base plans everything in head as
// added; a nil head everything in base as removed.
//
// Objects are compared by key and digest only: an object whose digest did
// not change costs one map lookup, so moving an object to another file, from
// common into an environment with the same content, reordering a list whose
// order the server ignores (config.UnorderedList) or reformatting YAML is
// not a change.
//
// The environments' errors and warnings are head's diagnostics for that
// environment plus head's repository-level diagnostics.
func Compute(base, head *config.State, envs []string) *Plan {
	names := envs
	if len(names) == 0 {
		names = append(base.EnvironmentNames(), head.EnvironmentNames()...)
	}
	names = sortedUnique(names)

	p := &Plan{Version: Version, Environments: make([]Environment, 0, len(names)), Errors: []config.Diagnostic{}, Warnings: []config.Diagnostic{}}
	if head != nil {
		p.Errors = config.FilterSeverity(head.Diagnostics, config.SeverityError)
		p.Warnings = config.FilterSeverity(head.Diagnostics, config.SeverityWarning)
	}
	for _, name := range names {
		p.Environments = append(p.Environments, computeEnvironment(name, environment(base, name), environment(head, name), p.Errors, p.Warnings))
	}
	return p
}

// ComputeStrict is Compute, except that an environment in envs that neither
// base nor head has is an error wrapping ErrUnknownEnvironment that names
// it and the environments there are.
func ComputeStrict(base, head *config.State, envs []string) (*Plan, error) {
	var unknown []string
	for _, name := range sortedUnique(envs) {
		if environment(base, name) == nil && environment(head, name) == nil {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		known := sortedUnique(append(base.EnvironmentNames(), head.EnvironmentNames()...))
		return nil, fmt.Errorf("planning %s: %w (the config has: %s)", strings.Join(unknown, ", "), ErrUnknownEnvironment, strings.Join(known, ", "))
	}
	return Compute(base, head, envs), nil
}

func environment(s *config.State, name string) *config.Environment {
	if s == nil {
		return nil
	}
	return s.Environments[name]
}

func sortedUnique(names []string) []string {
	out := make([]string, 0, len(names))
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// computeEnvironment plans one environment; base or head may be nil.
func computeEnvironment(name string, base, head *config.Environment, repoErrors, repoWarnings []config.Diagnostic) Environment {
	env := Environment{Name: name, Changes: []Change{}, Risk: RiskLow}
	env.Errors = append(append([]config.Diagnostic{}, repoErrors...), headDiagnostics(head, config.SeverityError)...)
	env.Warnings = append(append([]config.Diagnostic{}, repoWarnings...), headDiagnostics(head, config.SeverityWarning)...)
	config.SortDiagnostics(env.Errors)
	config.SortDiagnostics(env.Warnings)

	d := &envDiff{base: newSide(base), head: newSide(head)}
	var added, removed []*config.Object
	// States loaded by one loader share unchanged environments and objects:
	// the same pointer is the same content, without looking further.
	if base != head || base == nil {
		for key, h := range d.head.objects {
			b := d.base.objects[key]
			if b == nil {
				added = append(added, h)
				continue
			}
			if b == h || digestOf(b) == digestOf(h) {
				continue
			}
			d.pairs = append(d.pairs, pair{b, h})
		}
		// Every base object still in head was met above; look for removals
		// only when the counts say there are some.
		if len(d.head.objects)-len(added) != len(d.base.objects) {
			for key, b := range d.base.objects {
				if _, ok := d.head.objects[key]; !ok {
					removed = append(removed, b)
				}
			}
		}
	}
	added, removed = d.pairCatalogs(added, removed)
	d.added, d.removed = added, removed

	for _, pr := range d.pairs {
		env.Changes = append(env.Changes, d.modify(pr.base, pr.head))
	}
	for _, o := range added {
		env.Changes = append(env.Changes, d.add(o))
	}
	renames := d.renames()
	for _, o := range removed {
		env.Changes = append(env.Changes, d.remove(o, renames[o]))
	}

	env.Changes = append(env.Changes, settingChanges(base, head)...)

	sort.Slice(env.Changes, func(i, j int) bool { return changeLess(&env.Changes[i], &env.Changes[j]) })
	for i := range env.Changes {
		c := &env.Changes[i]
		switch c.Action {
		case ActionAdd:
			env.Summary.Added++
		case ActionModify:
			env.Summary.Modified++
		case ActionRemove:
			env.Summary.Removed++
		}
		if c.Breaking {
			env.Summary.Breaking++
		}
		env.Summary.SecretRefs += len(c.SecretRefs)
		env.Risk = env.Risk.Max(c.Risk)
	}
	return env
}

// KindSetting is the kind of the changes to the top-level keys of the
// metadata document that hold no objects (config.Environment.Extra, such as
// server). Its id is the key; it sorts after every object kind.
const KindSetting config.Kind = "setting"

// settingChanges plans the top-level document keys that are not object
// lists: they reach the rendered document, so a change to them is a change
// to deploy. Honua's breaking rules do not speak of them; the risk is
// medium because they are server-wide.
func settingChanges(base, head *config.Environment) []Change {
	var b, h map[string]any
	if base != nil {
		b = base.Extra
	}
	if head != nil {
		h = head.Extra
	}
	var out []Change
	add := func(key string, a Action, from, to map[string]any) {
		c := Change{Kind: KindSetting, ID: key, Action: a, Reasons: []string{}, Collections: []string{}, SecretRefs: []SecretRef{}, Risk: RiskMedium}
		c.Details = redactDetails(KindSetting, Details(from, to))
		out = append(out, c)
	}
	for k, bv := range b {
		hv, ok := h[k]
		switch {
		case !ok:
			add(k, ActionRemove, map[string]any{k: bv}, nil)
		case !equalValue(bv, hv):
			add(k, ActionModify, map[string]any{k: bv}, map[string]any{k: hv})
		}
	}
	for k, hv := range h {
		if _, ok := b[k]; !ok {
			add(k, ActionAdd, nil, map[string]any{k: hv})
		}
	}
	return out
}

func headDiagnostics(e *config.Environment, s config.Severity) []config.Diagnostic {
	if e == nil {
		return nil
	}
	return config.FilterSeverity(e.Diagnostics, s)
}

func changeLess(a, b *Change) bool {
	if a.Kind != b.Kind {
		return a.Kind.Order() < b.Kind.Order()
	}
	if la, lb := config.FoldID(a.ID), config.FoldID(b.ID); la != lb {
		return la < lb
	}
	if a.ID != b.ID {
		return a.ID < b.ID
	}
	return actionOrder(a.Action) < actionOrder(b.Action)
}

func actionOrder(a Action) int {
	switch a {
	case ActionRemove:
		return 0
	case ActionModify:
		return 1
	}
	return 2
}

// digestOf is the object's digest, computed when the object was built by
// hand without one (not stored: states may be shared between goroutines).
func digestOf(o *config.Object) string {
	if o.Digest == "" {
		return config.DigestOf(o.Kind, o.Value)
	}
	return o.Digest
}

type pair struct{ base, head *config.Object }

// envDiff holds what planning one environment needs: both sides and the
// objects found to differ.
type envDiff struct {
	base, head     *side
	pairs          []pair
	added, removed []*config.Object
}

// pairCatalogs turns a removed and an added catalog into one modification:
// an environment has exactly one catalog, and its id names no URL a client
// uses, so a new catalog id is an edit of the catalog, not a replacement.
// (config keys every catalog alike, which does the same; this keeps states
// built with per-id catalog keys planning the same way.)
func (d *envDiff) pairCatalogs(added, removed []*config.Object) ([]*config.Object, []*config.Object) {
	ai, ri := -1, -1
	for i, o := range added {
		if o.Kind == config.KindCatalog {
			if ai >= 0 {
				return added, removed
			}
			ai = i
		}
	}
	for i, o := range removed {
		if o.Kind == config.KindCatalog {
			if ri >= 0 {
				return added, removed
			}
			ri = i
		}
	}
	if ai < 0 || ri < 0 {
		return added, removed
	}
	d.pairs = append(d.pairs, pair{removed[ri], added[ai]})
	return append(added[:ai:ai], added[ai+1:]...), append(removed[:ri:ri], removed[ri+1:]...)
}

// renames finds removed objects whose content, id aside, is that of an
// added object of the same kind: the likely other half of a rename, named
// in the removal's reason. Only removed and added objects are looked at.
func (d *envDiff) renames() map[*config.Object]*config.Object {
	if len(d.added) == 0 || len(d.removed) == 0 {
		return nil
	}
	byContent := make(map[string]*config.Object, len(d.added))
	for _, o := range d.added {
		k := string(o.Kind) + "\x00" + digestWithoutID(o.Kind, o.Value)
		if _, dup := byContent[k]; dup {
			byContent[k] = nil // ambiguous: do not guess
			continue
		}
		byContent[k] = o
	}
	out := make(map[*config.Object]*config.Object)
	for _, o := range d.removed {
		if n := byContent[string(o.Kind)+"\x00"+digestWithoutID(o.Kind, o.Value)]; n != nil {
			out[o] = n
		}
	}
	return out
}

func digestWithoutID(k config.Kind, v map[string]any) string {
	c := make(map[string]any, len(v))
	for k, e := range v {
		if k != "id" {
			c[k] = e
		}
	}
	return config.DigestOf(k, c)
}

func (d *envDiff) add(o *config.Object) Change {
	c := newChange(o, ActionAdd)
	c.Digest = digestOf(o)
	c.Collections = d.head.collections(o)
	c.Risk = addRisk(o)
	c.SecretRefs = secretRefChanges(nil, config.SecretUses(o))
	return c
}

func (d *envDiff) remove(o *config.Object, renamedTo *config.Object) Change {
	c := newChange(o, ActionRemove)
	c.Collections = d.base.collections(o)
	c.Breaking = true
	c.Reasons = []string{removalReason(o, c.Collections, renamedTo)}
	c.Risk = RiskHigh
	if o.Kind == config.KindDataSource {
		c.Risk = RiskCritical
	}
	c.SecretRefs = secretRefChanges(config.SecretUses(o), nil)
	return c
}

func (d *envDiff) modify(b, h *config.Object) Change {
	c := newChange(h, ActionModify)
	c.Digest = digestOf(h)
	// Secrets are hidden before anything reads the details: the breaking
	// reasons quote their values.
	c.Details = redactDetails(h.Kind, collapseSecretFields(h.Kind, b.Value, h.Value, DetailsOf(h.Kind, b.Value, h.Value)))
	if h.Kind == config.KindLayer {
		c.Collections = unionSorted(d.base.collections(b), d.head.collections(h))
	} else {
		// A service, style or data source reaches the layers that use it in
		// head; layers it no longer reaches have changes of their own.
		c.Collections = d.head.collections(h)
	}
	c.Reasons, c.Risk = classifyModify(b, h, c.Details, c.Collections)
	c.Breaking = len(c.Reasons) > 0
	c.SecretRefs = secretRefChanges(config.SecretUses(b), config.SecretUses(h))
	return c
}

func newChange(o *config.Object, a Action) Change {
	return Change{
		Kind:        o.Kind,
		ID:          o.ID,
		Action:      a,
		Reasons:     []string{},
		File:        o.Pos.File,
		Line:        o.Pos.Line,
		Collections: []string{},
		Details:     []Detail{},
		SecretRefs:  []SecretRef{},
		Risk:        RiskLow,
	}
}

func unionSorted(a, b []string) []string {
	out := append(append(make([]string, 0, len(a)+len(b)), a...), b...)
	sort.Strings(out)
	return compactStrings(out)
}

func compactStrings(s []string) []string {
	if len(s) < 2 {
		return s
	}
	j := 1
	for i := 1; i < len(s); i++ {
		if s[i] != s[j-1] {
			s[j] = s[i]
			j++
		}
	}
	return s[:j]
}

// side is one state of an environment with its reverse-reference indexes.
// Each index is built on first use in a single pass over the objects, so a
// plan costs at most two scans per environment however many services,
// styles or data sources changed, and none when only layers did.
type side struct {
	env     *config.Environment
	objects map[config.Key]*config.Object
}

func newSide(e *config.Environment) *side {
	s := &side{env: e}
	if e != nil {
		s.objects = e.Objects
	}
	return s
}

// referrers returns the objects of kind of that reference the object of
// kind k with id id, from the environment's own index (config.Referrers),
// which is built once and shared by every plan of that environment.
func (s *side) referrers(k config.Kind, id string, of config.Kind) []*config.Object {
	if s.env == nil {
		return nil
	}
	var out []*config.Object
	for _, o := range s.env.Referrers(config.KeyOf(k, id)) {
		if o.Kind == of {
			out = append(out, o)
		}
	}
	return out
}

// str is the string at key of m, or "".
func str(m map[string]any, key string) string {
	v, _ := m[key].(string)
	return v
}

// collections returns the OGC API collection ids that o reaches in this
// side, sorted and unique.
func (s *side) collections(o *config.Object) []string {
	out := []string{}
	switch o.Kind {
	case config.KindLayer:
		if svc := str(o.Value, "serviceId"); svc != "" {
			out = append(out, config.CollectionID(svc, o.ID))
		}
	case config.KindService:
		out = s.appendServiceLayers(out, o)
	case config.KindStyle:
		for _, l := range s.referrers(config.KindStyle, o.ID, config.KindLayer) {
			out = append(out, s.collections(l)...)
		}
	case config.KindDataSource:
		for _, svc := range s.referrers(config.KindDataSource, o.ID, config.KindService) {
			out = s.appendServiceLayers(out, svc)
		}
	case config.KindFolder:
		for _, svc := range s.referrers(config.KindFolder, o.ID, config.KindService) {
			out = s.appendServiceLayers(out, svc)
		}
	case config.KindRaster:
		if svc, l := o.Str("serviceId"), o.Str("layerId"); svc != "" && l != "" {
			out = append(out, config.CollectionID(svc, l))
		}
	}
	sort.Strings(out)
	return compactStrings(out)
}

func (s *side) appendServiceLayers(out []string, svc *config.Object) []string {
	for _, l := range s.referrers(config.KindService, svc.ID, config.KindLayer) {
		out = append(out, config.CollectionID(str(l.Value, "serviceId"), l.ID))
	}
	return out
}

// secretRefChanges compares the uses of secret references of an object in
// base and head (each sorted) as multisets: a use is a reference name in a
// field and a part of it, so a reference that moves from the password to
// the host of a connection string is one use removed and one added.
func secretRefChanges(base, head []config.SecretUse) []SecretRef {
	out := []SecretRef{}
	if len(base) == 0 && len(head) == 0 {
		return out
	}
	count := map[config.SecretUse]int{}
	for _, u := range base {
		count[u]--
	}
	for _, u := range head {
		count[u]++
	}
	emit := func(us []config.SecretUse, sign int, a Action) {
		for _, u := range us {
			if n := count[u]; n*sign > 0 {
				count[u] -= sign
				out = append(out, SecretRef{Name: u.Name, Path: u.Path, Part: u.Part, Action: a})
			}
		}
	}
	emit(base, -1, ActionRemove)
	emit(head, 1, ActionAdd)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return actionOrder(out[i].Action) < actionOrder(out[j].Action)
	})
	return out
}
