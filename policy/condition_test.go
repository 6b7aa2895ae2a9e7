package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

func TestConditions(t *testing.T) {
	ds := plan.Change{Kind: config.KindDataSource, ID: "db", Action: plan.ActionModify, Breaking: true}
	add := layerChange("a", plan.ActionAdd, false)
	rm := layerChange("b", plan.ActionRemove, true)
	tests := []struct {
		cond    string
		changes []plan.Change
		want    bool
	}{
		{"resourcesRemoved > 0", []plan.Change{rm}, true},
		{"resourcesRemoved > 0", []plan.Change{add}, false},
		{"(resourcesModified + resourcesAdded) > 1", []plan.Change{add, ds}, true},
		{"(resourcesModified + resourcesAdded) > 2", []plan.Change{add, ds}, false},
		{"resourcesChanged >= 3", []plan.Change{add, ds, rm}, true},
		{"breakingChanges == true", []plan.Change{rm}, true},
		{"breakingChanges == true", []plan.Change{add}, false},
		{"breakingChanges != true", []plan.Change{add}, true},
		{"breakingChanges", []plan.Change{rm}, true},
		{"!breakingChanges", []plan.Change{add}, true},
		{"not breakingChanges", []plan.Change{rm}, false},
		{`type == "datasource"`, []plan.Change{add, ds}, true},
		{`type == 'dataSources'`, []plan.Change{ds}, true},
		{`type == "datasource"`, []plan.Change{add}, false},
		{`"layer" == type`, []plan.Change{add}, true},
		{`type != "layer"`, []plan.Change{add}, false},
		{`type != "layer"`, []plan.Change{add, ds}, true},
		{`type == "layer" && resourcesRemoved > 0`, []plan.Change{add}, false},
		{`type == "layer" and resourcesRemoved > 0`, []plan.Change{add, rm}, true},
		{`type == "style" || resourcesAdded == 1`, []plan.Change{add}, true},
		{`type == "style" or resourcesAdded - 1 > 0`, []plan.Change{add}, false},
		{`breakingCount >= 2 || (type == "datasource" && !(resourcesAdded > 0))`, []plan.Change{ds}, true},
		{`true`, nil, true},
		{`false`, nil, false},
		{`resourcesAdded == 0.5 + 0.5`, []plan.Change{add}, true},
		// Found by FuzzParseCondition: Rego rejects leading zeros, so
		// numbers are rewritten in canonical form.
		{" resourcesModified+resourcesAdded>000", []plan.Change{add}, true},
		{"resourcesAdded == 001", []plan.Change{add}, true},
		{"resourcesAdded == 01.500 - 0.50", []plan.Change{add}, true},
		{"resourcesAdded > 0.0", []plan.Change{add}, true},
		{"resourcesAdded < 100000000000000000000000000000000000000000", []plan.Change{add}, true},
		{"resourcesAdded > 0 - 1", []plan.Change{add}, true},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			policy := "environments:\n  production:\n    autoApprove: true\n    approvalRules:\n      - name: r\n        condition: " + yamlQuote(tt.cond) + "\n"
			b := mustLoad(t, map[string]string{PolicyFile: policy})
			if len(b.Errors) > 0 {
				t.Fatal(b.Errors)
			}
			in := prodInput("2026-03-11T20:00:00Z")
			in.Plan = planOf(tt.changes...)
			if tt.changes == nil {
				in.Plan = planOf(add)
			}
			v := evaluate(t, b, in)
			if len(v.Errors) > 0 {
				t.Fatal(v.Errors)
			}
			if v.Approval.Required != tt.want {
				t.Errorf("approval required = %v, want %v (%v)", v.Approval.Required, tt.want, v.Approval.Reasons)
			}
		})
	}
}

// TestSecretConditions checks secretsChanged and secretRefsChanged, which
// read the plan summary's count of ${NAME} secret-reference uses the changes
// add or remove.
func TestSecretConditions(t *testing.T) {
	tests := []struct {
		name, cond string
		refs       int
		want       bool
	}{
		{"changed", "secretsChanged", 2, true},
		{"unchanged", "secretsChanged", 0, false},
		{"compared", "secretsChanged == true", 1, true},
		{"negated", "!secretsChanged", 0, true},
		{"count", "secretRefsChanged >= 2", 2, true},
		{"count below", "secretRefsChanged >= 2", 1, false},
		{"sum", "secretRefsChanged + resourcesRemoved > 1", 1, false},
		{"with a kind", `secretsChanged && type == "datasource"`, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustLoad(t, map[string]string{PolicyFile: "environments:\n  production:\n    autoApprove: true\n    approvalRules:\n      - {name: secrets, condition: " + yamlQuote(tt.cond) + ", reason: A change to where secrets are used needs approval.}\n"})
			if len(b.Errors) > 0 {
				t.Fatal(b.Errors)
			}
			in := prodInput("2026-03-11T20:00:00Z")
			in.Plan = planOf(plan.Change{Kind: config.KindDataSource, ID: "db", Action: plan.ActionModify,
				SecretRefs: []plan.SecretRef{{Name: "DB_PASSWORD", Path: "connection.password", Action: plan.ActionAdd}}})
			in.Plan.Summary.SecretRefs = tt.refs
			v := evaluate(t, b, in)
			if v.Approval.Required != tt.want {
				t.Errorf("approval required = %v, want %v (%v)", v.Approval.Required, tt.want, v.Approval.Reasons)
			}
		})
	}
}

// TestSampleSecretsRule checks the sample policy's secrets rule: in staging
// and production a change to where secrets are used needs a platform owner,
// a requirement apart from the environment's approvers.
func TestSampleSecretsRule(t *testing.T) {
	b := mustLoad(t, sampleFiles(t))
	if len(b.Errors) > 0 {
		t.Fatal(b.Errors)
	}
	ds := plan.Change{Kind: config.KindDataSource, ID: "kailua-postgis", Action: plan.ActionModify, File: "environments/common/datasources.yaml", Line: 3,
		SecretRefs: []plan.SecretRef{{Name: "PG_PASSWORD", Path: "connectionString", Part: "password", Action: plan.ActionAdd}}}
	const reason = `A change to where secrets are used needs a platform owner's approval. (approval rule "secrets": secretsChanged)`
	for env, want := range map[string]bool{"production": true, "staging": true, "development": false} {
		for _, refs := range []int{0, 1} {
			in := prodInput("2026-03-11T20:00:00Z")
			in.Environment = env
			in.Plan = planOf(ds)
			in.Plan.Summary.SecretRefs = refs
			in.Approvals = []Approval{{Login: "lkeawe", Teams: []string{"kailua-gis/gis-leads"}, Commit: "c0ffee", SubmittedAt: in.Now}}
			v := evaluate(t, b, in)
			var platform *Requirement
			for i, r := range v.Approval.Requirements {
				if cmp.Equal(r.From, []string{"kailua-gis/platform"}) {
					platform = &v.Approval.Requirements[i]
				}
			}
			switch {
			case want && refs > 0 && (platform == nil || !slices.Contains(platform.Reasons, reason) || platform.Satisfied || v.Approval.Satisfied):
				t.Errorf("%s, %d refs: requirements %+v, want an unmet one from kailua-gis/platform: %q", env, refs, v.Approval.Requirements, reason)
			case (!want || refs == 0) && platform != nil:
				t.Errorf("%s, %d refs: unexpected requirement %+v", env, refs, platform)
			}
		}
	}
}

// TestConditionsWithoutIndex checks that the generated rules give the same
// answer on an input without plan.index (a Rego test's), where they scan
// the changes.
func TestConditionsWithoutIndex(t *testing.T) {
	ds := plan.Change{Kind: config.KindDataSource, ID: "db", Action: plan.ActionModify, Breaking: true}
	add := layerChange("a", plan.ActionAdd, false)
	for _, cond := range []string{`type == "datasource"`, `type != "layer"`, `type == "layer"`, `type != "datasource"`, `type == "style"`, `breakingChanges || type == "folder"`} {
		for _, changes := range [][]plan.Change{{add}, {ds}, {add, ds}, {}} {
			policy := "environments:\n  production:\n    approvalRules:\n      - name: r\n        condition: " + yamlQuote(cond) + "\n"
			b := mustLoad(t, map[string]string{PolicyFile: policy})
			in := prodInput("2026-03-11T20:00:00Z")
			in.Plan = planOf(changes...)
			indexed, err := in.value()
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(in)
			var doc any
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			plain, err := ast.InterfaceToValue(doc)
			if err != nil {
				t.Fatal(err)
			}
			eval := func(input ast.Value) int {
				compiler := ast.NewCompiler()
				compiler.Compile(b.modules)
				if compiler.Failed() {
					t.Fatal(compiler.Errors)
				}
				rs, err := rego.New(rego.Query("count(data.honua.conditions.matched)"), rego.Compiler(compiler),
					rego.Store(inmem.NewFromObject(b.data)), rego.ParsedInput(input)).Eval(context.Background())
				if err != nil || len(rs) != 1 {
					t.Fatal(rs, err)
				}
				n, _ := rs[0].Expressions[0].Value.(json.Number).Int64()
				return int(n)
			}
			if a, b := eval(indexed), eval(plain); a != b {
				t.Errorf("%s on %d changes: %d matched with plan.index, %d without", cond, len(changes), a, b)
			}
		}
	}
}

func yamlQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func TestConditionErrors(t *testing.T) {
	tests := []struct{ cond, msg string }{
		{"resourcesRemoved >> 1", `expected a number, a name or ( but found ">" at column 19`},
		{"resourcesRemoved = 1", "compare with =="},
		{"resourcesDeleted > 0", `unknown name "resourcesDeleted" at column 1 (known: breakingChanges, breakingCount, resourcesAdded, resourcesChanged, resourcesModified, resourcesRemoved, secretRefsChanged, secretsChanged, type)`},
		{"secretsChanged > 0", "compares true/false with a number"},
		{"secretRefsChanged", "it is a number, not true/false"},
		{"resourcesRemoved", "it is a number, not true/false"},
		{`type == "widget"`, `type "widget" is not a kind`},
		{`type > "layer"`, "compares type with a string"},
		{"breakingChanges > 1", "compares true/false with a number"},
		{"(resourcesAdded > 1", "expected ) to close ( at column 1"},
		{"resourcesAdded > 1 &&", "but found the end"},
		{`type == "layer`, "not closed"},
		{"", "it is empty"},
		{"1 + breakingChanges > 0", "needs numbers on both sides"},
		{"resourcesAdded && true", "both sides must be true/false"},
		{"resourcesAdded > 1e3", `bad number "1e3" at column 18: a number is digits with an optional fraction`},
		{"resourcesAdded > .5", `bad number ".5" at column 18: write 0.5`},
		{"resourcesAdded > 1.", `bad number "1." at column 18: write 1 or 1.0`},
		{"resourcesAdded > 1.2.3", `bad number "1.2.3"`},
		{"resourcesAdded > 10abc", `bad number "10abc"`},
		{"resourcesAdded > -1", `expected a number, a name or ( but found "-" at column 18`},
		// Columns count characters, and a character the language does not
		// know is shown as itself, not as one of its bytes.
		{"résumé > 0", `unexpected 'é' at column 2`},
		{`"ü" == type || ü > 0`, `unexpected 'ü' at column 16`},
		{`type == "ü" || resourcesAdded > 1e3`, `bad number "1e3" at column 33`},
		{"resourcesAdded ≥ 1", `unexpected '≥' at column 16`},
		{"resourcesAdded > 0\x00", `unexpected '\x00' at column 19`},
		{"resourcesAdded > 0\u200b", `unexpected '\u200b' at column 19`},
		{"resourcesAdded > 0 \xff", "invalid UTF-8 at column 20"},
		{"ſmith > 0", `unexpected 'ſ' at column 1`},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			_, err := parseCondition(tt.cond)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("parseCondition(%q) = %v, want an error containing %q", tt.cond, err, tt.msg)
			}
		})
	}
}

// TestConditionLimits checks that hostile conditions are refused before
// the parser recurses or the generator writes a rule per term: they once
// overflowed the stack (300,000 parentheses) or took a minute (100,000
// negations; 10,000 "or" terms).
func TestConditionLimits(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("(", n) + "true" + strings.Repeat(")", n) }
	ors := func(n int) string { return "true" + strings.Repeat(" || true", n-1) }
	tests := []struct {
		name, cond string
		msg        string // "" means it parses
	}{
		{"300,000 nested parentheses", deep(300_000), "is 600004 bytes long, over the limit of 1000: split it"},
		{"100,000 negations", strings.Repeat("!", 100_000) + "true", "is 100004 bytes long, over the limit of 1000"},
		{"10,000 or terms", ors(10_000), "is 79996 bytes long, over the limit of 1000"},
		{"parentheses at the limit", deep(MaxConditionDepth), ""},
		{"parentheses past the limit", deep(MaxConditionDepth + 1), "deeper than 16 levels (at column 17): simplify it"},
		{"negations past the limit", strings.Repeat("!", 17) + "true", "deeper than 16 levels (at column 17)"},
		{"not words past the limit", strings.Repeat("not ", 17) + "true", "deeper than 16 levels (at column 65)"},
		{"negations and parentheses", strings.Repeat("!(", 9) + "true" + strings.Repeat(")", 9), "deeper than 16 levels (at column 17)"},
		// A negation ends at the next and/or of its level: many negated
		// terms side by side are not deep.
		{"negations side by side", "!true" + strings.Repeat(" && !true", 20), ""},
		{"negations closed by parentheses", strings.Repeat("(!true) && ", 20) + "true", ""},
		{"terms at the limit", "!(" + ors(32) + ")", ""},
		{"terms past the limit", "!(" + ors(32) + ") && true", "more than 64 names, numbers, strings and operators (at column 257): split it"},
		{"sums past the limit", "resourcesAdded" + strings.Repeat(" + 1", 40) + " > 0", "more than 64 names"},
		{"unbalanced closing parentheses", strings.Repeat(")", 20) + "true", `expected a number, a name or ( but found ")" at column 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseCondition(tt.cond)
			switch {
			case tt.msg == "" && err != nil:
				t.Errorf("parseCondition: %v, want it to parse", err)
			case tt.msg != "" && (err == nil || !strings.Contains(err.Error(), tt.msg)):
				t.Errorf("parseCondition = %v, want an error containing %q", err, tt.msg)
			}
		})
	}
}

// TestConditionLimitsInFile checks that the limits are diagnostics of the
// policy file, naming the line and column of the condition, with the
// condition shortened, and that all the conditions of a file are bounded
// together.
func TestConditionLimitsInFile(t *testing.T) {
	rule := func(name, cond string) string {
		return "      - name: " + name + "\n        condition: " + yamlQuote(cond) + "\n"
	}
	big := "true" + strings.Repeat(" || true", 31) // 63 terms
	var many strings.Builder
	for i := range 40 {
		many.WriteString(rule(fmt.Sprintf("r%d", i), big))
	}
	tests := []struct {
		name, file, want string
	}{
		{"deep", "environments:\n  production:\n    approvalRules:\n" + rule("deep", strings.Repeat("(", 300_000)+"true"+strings.Repeat(")", 300_000)),
			`.gitops/deployment-policy.yaml:5:20: error: approval rule "deep": condition "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((…" does not parse: it is 600004 bytes long, over the limit of 1000: split it into several approval rules`},
		{"all conditions", "environments:\n  production:\n    approvalRules:\n" + many.String(),
			`.gitops/deployment-policy.yaml:67:20: error: approval rule "r31": the approval conditions of this file have more than 2000 names, numbers, strings and operators in all`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := ParseFile(PolicyFile, []byte(tt.file), config.DefaultLimits)
			if len(diags) != 1 || !strings.HasPrefix(diags[0].String(), tt.want) {
				t.Fatalf("diagnostics = %v\nwant one starting %q", diags, tt.want)
			}
			if len(diags[0].String()) > 400 {
				t.Errorf("the diagnostic is %d bytes long: the condition is not shortened", len(diags[0].String()))
			}
		})
	}
}

// TestDefaultRulesInherited checks that the approval rules of defaults apply
// to every environment without rules of its own, listed or not, and that
// they are translated once, not once per environment.
func TestDefaultRulesInherited(t *testing.T) {
	var envs strings.Builder
	for i := range 200 {
		fmt.Fprintf(&envs, "  e%d: {autoApprove: true}\n", i)
	}
	file := `defaults:
  autoApprove: true
  approvalRules:
    - {name: removals, condition: resourcesRemoved > 0}
environments:
  production:
    autoApprove: true
    approvalRules:
      - {name: datasource, condition: type == "datasource"}
  staging:
    autoApprove: true
    approvalRules: []
` + envs.String()
	b := mustLoad(t, map[string]string{PolicyFile: file})
	if len(b.Errors) > 0 {
		t.Fatal(b.Errors)
	}
	if gen := conditionsModule(b.File); strings.Count(gen, "input.plan.summary.removed > 0") != 1 {
		t.Errorf("the rule of defaults is written %d times:\n%.2000s", strings.Count(gen, "input.plan.summary.removed > 0"), gen)
	}
	rm := layerChange("gone", plan.ActionRemove, false)
	for env, want := range map[string]bool{"e7": true, "e199": true, "qa": true, "production": false, "staging": false} {
		in := prodInput("2026-03-11T20:00:00Z")
		in.Environment, in.Plan = env, planOf(rm)
		v := evaluate(t, b, in)
		if v.Approval.Required != want {
			t.Errorf("%s: approval required = %v, want %v (%v)", env, v.Approval.Required, want, v.Approval.Reasons)
		}
	}
}

func TestCanonicalNumber(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "000": "0", "007": "7", "10": "10", "0.5": "0.5", "00.50": "0.5",
		"2.0": "2", "0.000": "0", "1.05": "1.05", "123456789012345678901234567890": "123456789012345678901234567890",
	} {
		got, err := canonicalNumber(in)
		if err != nil || got != want {
			t.Errorf("canonicalNumber(%q) = %q, %v; want %q", in, got, err, want)
		}
		if _, err := parseRego("n.rego", "package n\n\nx := "+got+"\n"); err != nil {
			t.Errorf("canonicalNumber(%q) = %q is not Rego: %v", in, got, err)
		}
	}
	for _, in := range []string{"", ".", ".5", "1.", "1e3", "1E3", "1.2.3", "0x10", "1_000", "-1", "+1"} {
		if got, err := canonicalNumber(in); err == nil {
			t.Errorf("canonicalNumber(%q) = %q, want an error", in, got)
		}
	}
}

func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{"resourcesRemoved > 0", "(resourcesModified + resourcesAdded) > 10", "breakingChanges == true", `type == "datasource"`, "!(a || b)",
		" resourcesModified+resourcesAdded>000", "resourcesAdded == 01.50 - .5",
		// What an attacker tries next: nesting and length at and past the
		// limits, negations that end or do not, characters that are not
		// ASCII or not printable, unbalanced parentheses.
		strings.Repeat("(", MaxConditionDepth) + "true" + strings.Repeat(")", MaxConditionDepth),
		strings.Repeat("(", MaxConditionDepth+1) + "true" + strings.Repeat(")", MaxConditionDepth+1),
		strings.Repeat("!", MaxConditionDepth) + "true", strings.Repeat("not ", MaxConditionDepth+1) + "true",
		strings.Repeat("!(", 8) + "secretsChanged" + strings.Repeat(")", 8),
		"true" + strings.Repeat(" || true", 31), "true" + strings.Repeat(" or false", 40),
		strings.Repeat("(!true) && ", 10) + "true", ")))(((true", "((((true",
		"secretRefsChanged + resourcesAdded > 1 && secretsChanged", "résumé > 0", "resourcesAdded ≥ 1",
		"resourcesAdded > 0\x00", "resourcesAdded > 0\u200b", "\xff\xfe", "type == \"lay\x00er\"", `type == "é"`,
		"ſecretsChanged", "\u212A", strings.Repeat("a", MaxConditionBytes+1),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseCondition(s)
		if err != nil {
			// A column named is a column of the condition, in characters.
			if m := columnRe.FindStringSubmatch(err.Error()); m != nil {
				if c, _ := strconv.Atoi(m[1]); c < 1 || c > utf8.RuneCountInString(s)+1 {
					t.Fatalf("condition %q: error %q names column %d of %d characters", s, err, c, utf8.RuneCountInString(s))
				}
			}
			return
		}
		// Whatever parses is within the limits...
		if len(s) > MaxConditionBytes || n.size() > MaxConditionTerms || n.negations() > MaxConditionDepth {
			t.Fatalf("condition %q parses past the limits: %d bytes, %d terms, %d negations deep", s, len(s), n.size(), n.negations())
		}
		// ...and translates to Rego that parses.
		g := &condGen{}
		g.boolRule(n)
		m, err := parseRego("fuzz.rego", "package x\n\n"+g.b.String())
		if err != nil {
			t.Fatalf("condition %q translates to invalid Rego: %v\n%s", s, err, g.b.String())
		}
		// And it must compile.
		c := ast.NewCompiler()
		if c.Compile(map[string]*ast.Module{"fuzz.rego": m}); c.Failed() {
			t.Fatalf("condition %q translates to Rego that does not compile: %v\n%s", s, c.Errors, g.b.String())
		}
	})
}

var columnRe = regexp.MustCompile(`column (\d+)`)

// negations is the deepest nesting of negations in a condition's tree
// (for the fuzzer: the lexer bounds negations and parentheses together).
func (n *condNode) negations() int {
	d := 0
	for _, a := range n.args {
		d = max(d, a.negations())
	}
	if n.op == "not" {
		d++
	}
	return d
}
