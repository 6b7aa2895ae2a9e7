// Package policy evaluates the deployment policy of a Honua config
// repository with OPA/Rego. It turns an environment's plan plus its context
// (the time, the PR, approvals, GitHub environment protection, earlier
// deployments) into a Verdict: allow or deny with reasons, warnings, the
// approval still needed, and when the next deployment window opens.
//
// The policy is a Bundle: the built-in library (embedded Rego), the data of
// .gitops/deployment-policy.yaml, and the custom modules of
// .gitops/policies/*.rego, always read from the base revision so that a PR
// cannot loosen the rules it is judged by. An Engine compiles each bundle
// once per policy digest and evaluates it per input. The package is pure: no
// network and no clock; the time is part of the Input.
//
// Evaluation fails closed: a policy that does not load or compile, a runtime
// error, or an evaluation over its time limit is a deny naming what broke.
package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// PoliciesDir holds the custom policies of a config repository.
const PoliciesDir = ".gitops/policies"

// CustomPackage is the package every custom policy must live under.
const CustomPackage = "honua.custom"

// Bundle is a loaded policy: built-ins, data and custom modules. A Bundle
// with Errors evaluates to a deny for every environment.
type Bundle struct {
	// Source names where the policy was read from.
	Source string
	// File is the parsed deployment policy (defaults when the repository
	// has none).
	File *File
	// Custom are the custom modules (tests excluded), by path.
	Custom []Module
	// Errors are the problems that make the policy unusable, each naming
	// its file and line.
	Errors []config.Diagnostic
	// Digest identifies the policy: a hash of the built-ins, the data and
	// the custom modules. Equal digests evaluate the same way.
	Digest string

	modules map[string]*ast.Module
	data    map[string]any
	// details is true when the input must carry each change's details:
	// when there are custom modules. The built-ins never read them, and
	// they are most of the input of a large plan.
	details bool
	// customContributions is true when a custom module contributes deny,
	// warn or approval rules: they are evaluated beside the built-ins.
	customContributions bool
}

// Module is one Rego file.
type Module struct {
	Path   string `json:"path"`
	Source string `json:"source"`
}

// Load reads the policy of a config repository: .gitops/deployment-policy.yaml
// and .gitops/policies/*.rego (files ending _test.rego are tests, not
// policy), within config.DefaultLimits. See LoadWithLimits.
func Load(ctx context.Context, src config.Source) (*Bundle, error) {
	return LoadWithLimits(ctx, src, config.DefaultLimits)
}

// LoadWithLimits is Load within lim (zero fields take config.DefaultLimits):
// the policy file is read as config files are (size, UTF-8, aliases,
// nesting), and a policy file or module over lim.MaxFileSize is refused.
//
// The returned error is for a source that cannot be read at all. Problems of
// content are Bundle.Errors, and so are the problems the source found in its
// tree (config.TreeError) that concern the policy: a symlink or irregular
// file under .gitops/, a file over the size limit there, or a problem that
// belongs to no path outside .gitops/ (too many files: the listing stopped
// somewhere, and the policy may be incomplete). The policy then denies
// every environment, naming the problem (fail closed). Problems elsewhere in
// the tree are the plan's to report.
//
// A cancelled ctx is an error, never a bundle.
func LoadWithLimits(ctx context.Context, src config.Source, lim config.Limits) (*Bundle, error) {
	lim = lim.OrDefault()
	files, err := src.List(ctx)
	var problems []config.Diagnostic
	if err != nil {
		var te *config.TreeError
		if !errors.As(err, &te) {
			return nil, fmt.Errorf("listing the policy of %s: %w", src.Name(), err)
		}
		for _, d := range te.Problems {
			if p, ok := policyProblem(src, d); ok {
				problems = append(problems, p)
			}
		}
	}
	var policyData []byte
	var custom []Module
	for _, f := range files {
		isPolicy := f.Path == PolicyFile
		if !isPolicy && !isPolicyModule(f.Path) {
			continue
		}
		if f.Size > lim.MaxFileSize {
			problems = append(problems, tooLarge(f.Path, lim))
			continue
		}
		data, err := src.Read(ctx, f.Path)
		switch {
		case errors.Is(err, config.ErrFileTooLarge):
			problems = append(problems, tooLarge(f.Path, lim))
			continue
		case err != nil:
			return nil, fmt.Errorf("reading %s: %w", f.Path, err)
		case int64(len(data)) > lim.MaxFileSize:
			// A source that does not check sizes (an fs.FS) still gets
			// the limit.
			problems = append(problems, tooLarge(f.Path, lim))
			continue
		}
		if isPolicy {
			policyData = data
		} else {
			custom = append(custom, Module{Path: f.Path, Source: string(data)})
		}
	}
	b := newBundle(policyData, custom, lim, problems)
	b.Source = src.Name()
	return b, nil
}

// isPolicyModule reports whether path is a custom policy module (not a
// test) of the repository.
func isPolicyModule(p string) bool {
	return strings.HasPrefix(p, PoliciesDir+"/") && path.Ext(p) == ".rego" && !strings.HasSuffix(p, "_test.rego")
}

// GitopsDir is the folder of the policy in a config repository.
const GitopsDir = ".gitops"

// UnderGitops reports whether a slash-separated path of a config tree is
// .gitops/ or inside it.
func UnderGitops(p string) bool {
	return p == GitopsDir || strings.HasPrefix(p, GitopsDir+"/")
}

// ConcernsPolicy reports whether a problem a source found in its tree (a
// config.TreeError) may concern the policy: it is under .gitops/, or it
// belongs to no path of the tree outside .gitops/ (the root itself, or too
// many files, where the listing stopped somewhere and may lack policy
// files).
func ConcernsPolicy(src config.Source, d config.Diagnostic) bool {
	switch {
	case d.Rule == config.RuleTooManyFiles:
		return true
	case d.File == "" || d.File == src.Name() || path.IsAbs(d.File) || d.File == "." || strings.HasPrefix(d.File, "../"):
		return true
	}
	return UnderGitops(d.File)
}

// policyProblem turns a problem of the source's tree into an error of the
// policy, when it concerns the policy.
func policyProblem(src config.Source, d config.Diagnostic) (config.Diagnostic, bool) {
	if !ConcernsPolicy(src, d) {
		return d, false
	}
	d.Severity = config.SeverityError
	if !UnderGitops(d.File) {
		d.Message = "the policy may be incomplete: " + d.Message
	}
	return d, true
}

func tooLarge(p string, lim config.Limits) config.Diagnostic {
	return config.Diagnostic{Severity: config.SeverityError, File: p, Line: 1, Column: 1, Rule: "file-too-large",
		Message: fmt.Sprintf("the file is over the limit of %d bytes: shorten it (split custom policies into several modules)", lim.MaxFileSize)}
}

// NewBundle builds a bundle from the content of deployment-policy.yaml (nil
// when the repository has none) and custom modules, within
// config.DefaultLimits.
func NewBundle(policyFile []byte, custom []Module) *Bundle {
	return newBundle(policyFile, custom, config.DefaultLimits, nil)
}

// newBundle builds a bundle; problems are errors found while reading the
// source (Load), which make the bundle deny everything.
func newBundle(policyFile []byte, custom []Module, lim config.Limits, problems []config.Diagnostic) *Bundle {
	b := &Bundle{Custom: custom, modules: map[string]*ast.Module{}, Errors: problems}
	bs := builtins()
	if bs.err != nil {
		b.Errors = append(b.Errors, config.Diagnostic{File: builtinPrefix, Message: "the built-in policy library does not parse: " + bs.err.Error(), Rule: "policy-builtin"})
	}
	for name, m := range bs.rules {
		b.modules[name] = m
	}
	if policyFile != nil {
		f, diags := ParseFile(PolicyFile, policyFile, lim)
		b.Errors = append(b.Errors, diags...)
		b.File = f
	}
	if b.File == nil {
		b.File, _ = ParseFile(PolicyFile, nil, lim)
	}
	gen := conditionsModule(b.File)
	genName := PolicyFile + "#approvalRules"
	if m, err := ast.ParseModuleWithOpts(genName, gen, parserOptions); err != nil {
		b.Errors = append(b.Errors, config.Diagnostic{File: PolicyFile, Message: "approval rules do not translate to Rego: " + err.Error(), Rule: "policy-conditions"})
	} else {
		b.modules[genName] = m
	}
	var pkgs []contributor
	for _, name := range sortedKeys(bs.rules) {
		pkgs = append(pkgs, contributionsOf(bs.rules[name])...)
	}
	for _, c := range custom {
		m, err := ast.ParseModuleWithOpts(c.Path, c.Source, parserOptions)
		if err != nil {
			b.Errors = append(b.Errors, regoDiagnostics(err, "policy-syntax")...)
			continue
		}
		pkg := packageName(m)
		if pkg != CustomPackage && !strings.HasPrefix(pkg, CustomPackage+".") {
			b.Errors = append(b.Errors, config.Diagnostic{File: c.Path, Line: m.Package.Location.Row, Column: m.Package.Location.Col, Rule: "policy-package",
				Message: fmt.Sprintf("package %s is not under %s: custom policies must declare package %s.<name>", pkg, CustomPackage, CustomPackage)})
			continue
		}
		b.modules[c.Path] = m
		b.details = true
		pkgs = append(pkgs, contributionsOf(m)...)
	}
	for name, src := range verdictModules(pkgs) {
		if m, err := ast.ParseModuleWithOpts(name, src, parserOptions); err != nil {
			b.Errors = append(b.Errors, config.Diagnostic{File: name, Message: err.Error(), Rule: "policy-internal"})
		} else {
			b.modules[name] = m
		}
	}
	b.customContributions = slices.ContainsFunc(pkgs, func(c contributor) bool { return !isBuiltinPackage(c.pkg) })
	b.data = map[string]any{"honua": map[string]any{"config": b.File.data()}}
	config.SortDiagnostics(b.Errors)
	b.Digest = b.digest(bs)
	return b
}

func (b *Bundle) digest(bs *builtinSet) string {
	h := sha256.New()
	write := func(kind, name, content string) {
		fmt.Fprintf(h, "%s %d %s %d\n%s\n", kind, len(name), name, len(content), content)
	}
	for _, name := range sortedKeys(bs.sources) {
		write("builtin", name, bs.sources[name])
	}
	data, _ := json.Marshal(b.data)
	write("data", "data", string(data))
	custom := slices.Clone(b.Custom)
	slices.SortFunc(custom, func(a, c Module) int { return strings.Compare(a.Path, c.Path) })
	for _, c := range custom {
		write("custom", c.Path, c.Source)
	}
	for _, e := range b.Errors {
		write("error", e.File, e.String())
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Data is the document the built-ins read as data.honua.config: the
// deployment policy, normalised.
func (b *Bundle) Data() map[string]any { return b.data }

// Modules returns the modules evaluated (built-ins, generated and custom),
// by name.
func (b *Bundle) Modules() map[string]*ast.Module { return b.modules }

func packageName(m *ast.Module) string {
	return strings.TrimPrefix(m.Package.Path.String(), "data.")
}

// contributor is a package that defines a deny, warn or approval rule.
type contributor struct {
	pkg  string
	rule string
}

var contributionRules = []string{"deny", "warn", "approval"}

func contributionsOf(m *ast.Module) []contributor {
	var out []contributor
	seen := map[string]bool{}
	for _, r := range m.Rules {
		ref := r.Head.Ref()
		if len(ref) == 0 {
			continue
		}
		name := ref[0].Value.String()
		if v, ok := ref[0].Value.(ast.Var); ok {
			name = string(v)
		}
		if slices.Contains(contributionRules, name) && !seen[name] {
			seen[name] = true
			out = append(out, contributor{pkg: packageName(m), rule: name})
		}
	}
	return out
}

const (
	verdictModuleName        = "honua-gitops:verdict.rego"
	builtinVerdictModuleName = "honua-gitops:verdict/builtin.rego"
	customVerdictModuleName  = "honua-gitops:verdict/custom.rego"
)

func isBuiltinPackage(pkg string) bool {
	return pkg != CustomPackage && !strings.HasPrefix(pkg, CustomPackage+".")
}

// verdictModules collect every package's contributions, naming each rule
// they read, so that a package without a deny rule costs nothing. The
// built-in contributions (with next_window) and the custom ones are
// separate packages, honua.verdict.builtin and honua.verdict.custom, which
// the engine evaluates side by side; honua.verdict joins them, for queries.
func verdictModules(cs []contributor) map[string]string {
	var bi, cu, top strings.Builder
	bi.WriteString("package honua.verdict.builtin\n\n")
	cu.WriteString("package honua.verdict.custom\n\n")
	top.WriteString("package honua.verdict\n\n")
	top.WriteString("contributions contains c if some c in data.honua.verdict.builtin.contributions\n\n")
	hasCustom := false
	for _, c := range cs {
		w := &bi
		if !isBuiltinPackage(c.pkg) {
			w, hasCustom = &cu, true
		}
		fmt.Fprintf(w, "contributions contains [%q, %q, v] if v := data.%s.%s\n\n", c.rule, c.pkg, c.pkg, c.rule)
	}
	bi.WriteString("next_window := data.honua.schedule.next_window\n")
	if hasCustom {
		top.WriteString("contributions contains c if some c in data.honua.verdict.custom.contributions\n\n")
	}
	top.WriteString("next_window := data.honua.verdict.builtin.next_window\n")
	out := map[string]string{verdictModuleName: top.String(), builtinVerdictModuleName: bi.String()}
	if hasCustom {
		out[customVerdictModuleName] = cu.String()
	}
	return out
}

// regoDiagnostics turns OPA parse or compile errors into diagnostics.
func regoDiagnostics(err error, rule string) []config.Diagnostic {
	var errs ast.Errors
	if e, ok := err.(ast.Errors); ok {
		errs = e
	} else if e, ok := err.(*ast.Error); ok {
		errs = ast.Errors{e}
	}
	var terr *topdown.Error
	if errors.As(err, &terr) {
		d := config.Diagnostic{Message: terr.Code + ": " + terr.Message, Rule: rule}
		if terr.Location != nil {
			d.File, d.Line, d.Column = terr.Location.File, terr.Location.Row, terr.Location.Col
		}
		return []config.Diagnostic{d}
	}
	if len(errs) == 0 {
		return []config.Diagnostic{{Message: err.Error(), Rule: rule}}
	}
	out := make([]config.Diagnostic, 0, len(errs))
	for _, e := range errs {
		d := config.Diagnostic{Message: e.Code + ": " + e.Message, Rule: rule}
		if e.Location != nil {
			d.File, d.Line, d.Column = e.Location.File, e.Location.Row, e.Location.Col
		}
		out = append(out, d)
	}
	return out
}

func parseRego(name, src string) (*ast.Module, error) {
	return ast.ParseModuleWithOpts(name, src, parserOptions)
}
