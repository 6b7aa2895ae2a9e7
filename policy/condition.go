package policy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The condition language of approvalRules, as the original policy format
// wrote it ("resourcesRemoved > 0", "(resourcesModified + resourcesAdded) > 10",
// "breakingChanges == true", "type == \"datasource\""):
//
//	condition := or
//	or        := and { ("||" | "or") and }
//	and       := not { ("&&" | "and") not }
//	not       := ("!" | "not") not | compare
//	compare   := sum [ ("==" | "!=" | ">" | ">=" | "<" | "<=") sum ]
//	sum       := atom { ("+" | "-") atom }
//	atom      := number | string | true | false | name | "(" condition ")"
//	number    := digit { digit } [ "." digit { digit } ]
//	name      := resourcesAdded | resourcesModified | resourcesRemoved | resourcesChanged
//	           | breakingCount | breakingChanges | secretRefsChanged | secretsChanged | type
//
// Numbers are written without sign or exponent; leading zeros are read as
// decimal (see canonicalNumber).
//
// Names: resourcesAdded, resourcesModified, resourcesRemoved,
// resourcesChanged (their sum) and breakingCount are numbers;
// breakingChanges is true when any change is breaking; secretRefsChanged is
// the number of uses of ${NAME} secret references the changes add or remove
// (plan.Summary.SecretRefs), and secretsChanged is true when it is not 0;
// type is the kinds of
// the changed objects: type == "layer" holds when any change is to a layer,
// type != "layer" when any change is to something else. Conditions are
// translated to Rego when the policy is loaded, so they cost nothing more
// than a hand-written rule.

type condType int

const (
	tNum condType = iota
	tBool
	tStr
	tKinds
)

func (t condType) String() string {
	return [...]string{"a number", "true/false", "a string", "type"}[t]
}

type condNode struct {
	op   string // "num", "str", "bool", "name", "or", "and", "not", "+", "-", "==", ...
	val  string
	args []*condNode
	typ  condType
}

// size counts the nodes of a condition: its names, numbers, strings and
// operators, each of which costs a generated Rego rule or expression.
func (n *condNode) size() int {
	s := 1
	for _, a := range n.args {
		s += a.size()
	}
	return s
}

var condNames = map[string]condType{
	"resourcesAdded":    tNum,
	"resourcesModified": tNum,
	"resourcesRemoved":  tNum,
	"resourcesChanged":  tNum,
	"breakingCount":     tNum,
	"breakingChanges":   tBool,
	"secretsChanged":    tBool,
	"secretRefsChanged": tNum,
	"type":              tKinds,
}

// knownNames lists the names of the language for messages.
var knownNames = func() string {
	names := make([]string, 0, len(condNames))
	for n := range condNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}()

var condKinds = map[string]string{
	"catalog": "catalog", "folder": "folder", "datasource": "datasource", "service": "service",
	"layer": "layer", "style": "style", "raster": "raster", "rasterdataset": "raster",
}

// Limits of one condition and of all the conditions of a policy file. A
// real condition is under 200 characters, 10 terms and 3 levels deep; the
// limits are several times that. They are checked before the parser
// recurses (the lexer counts the nesting), because each level of nesting is
// a level of recursion here and each term a generated Rego rule, whose
// compilation costs far more than the parse: without them, 300,000 nested
// parentheses overflowed the stack and 10,000 "or" terms took 37 s to
// compile.
const (
	// MaxConditionBytes is the longest condition, in bytes.
	MaxConditionBytes = 1000
	// MaxConditionDepth is the deepest nesting of parentheses and
	// negations ("!", "not") in a condition.
	MaxConditionDepth = 16
	// MaxConditionTerms is the most names, numbers, strings and operators
	// (parentheses not counted) in one condition.
	MaxConditionTerms = 64
	// MaxFileConditionTerms is the most terms and operators in all the
	// approval conditions of a policy file together.
	MaxFileConditionTerms = 2000
)

type condToken struct {
	kind string // "num", "str", "name", "op", "eof"
	text string
	pos  int // in characters from the start, 0-based
}

// lexCondition splits a condition into tokens, counting in characters
// (a column is the position of a character, not of a byte) and enforcing
// MaxConditionDepth and MaxConditionTerms as it goes, so that the parser
// never sees input that would make it recurse deeply.
func lexCondition(s string) ([]condToken, error) {
	var toks []condToken
	// negs[i] counts the negations open at parenthesis level i: a negation
	// reaches to the next and/or of its level or the end of the level.
	negs := []int{0}
	depth, terms := 0, 0
	count := func(t condToken) error {
		if terms++; terms > MaxConditionTerms {
			return fmt.Errorf("it has more than %d names, numbers, strings and operators (at column %d): split it into several approval rules", MaxConditionTerms, t.pos+1)
		}
		return nil
	}
	deeper := func(t condToken) error {
		if depth++; depth > MaxConditionDepth {
			return fmt.Errorf("it nests parentheses and negations deeper than %d levels (at column %d): simplify it or split it into several approval rules", MaxConditionDepth, t.pos+1)
		}
		return nil
	}
	// A word (name or number) runs over ASCII letters, digits, '_' and,
	// for a number, '.': 1e3 or 10abc is one bad number, not a number and
	// a name. Every name of the language is ASCII, so any other character
	// is reported as itself where it is.
	word := func(from int, dots bool) int {
		j := from
		for j < len(s) && (isWordByte(s[j]) || dots && s[j] == '.') {
			j++
		}
		return j
	}
	col := 0
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size <= 1 {
			return nil, fmt.Errorf("invalid UTF-8 at column %d", col+1)
		}
		var t condToken
		next := i + size
		switch {
		case unicode.IsSpace(c):
			i, col = next, col+1
			continue
		case c >= '0' && c <= '9' || c == '.' && next < len(s) && s[next] >= '0' && s[next] <= '9':
			j := word(i, true)
			lit, err := canonicalNumber(s[i:j])
			if err != nil {
				return nil, fmt.Errorf("bad number %q at column %d: %v", s[i:j], col+1, err)
			}
			t, next = condToken{"num", lit, col}, j
		case c == '"' || c == '\'':
			j := next
			for j < len(s) {
				r, rs := utf8.DecodeRuneInString(s[j:])
				if r == c {
					break
				}
				j += rs
			}
			if j >= len(s) {
				return nil, fmt.Errorf("string starting at column %d is not closed", col+1)
			}
			t, next = condToken{"str", s[next:j], col}, j+1
		case c < utf8.RuneSelf && (isWordByte(byte(c)) && !(c >= '0' && c <= '9')):
			j := word(i, false)
			t, next = condToken{"name", s[i:j], col}, j
		default:
			two := ""
			if next < len(s) {
				two = s[i : next+1]
			}
			switch two {
			case "==", "!=", ">=", "<=", "&&", "||":
				t, next = condToken{"op", two, col}, next+1
			default:
				switch c {
				case '>', '<', '+', '-', '(', ')', '!':
					t = condToken{"op", string(c), col}
				case '=':
					return nil, fmt.Errorf("'=' at column %d: compare with ==", col+1)
				default:
					return nil, fmt.Errorf("unexpected %q at column %d", c, col+1)
				}
			}
		}
		col += utf8.RuneCountInString(s[i:next])
		i = next
		switch {
		case t.kind == "op" && t.text == "(":
			negs = append(negs, 0)
			if err := deeper(t); err != nil {
				return nil, err
			}
		case t.kind == "op" && t.text == ")":
			// An unbalanced ) is the parser's to report.
			if len(negs) > 1 {
				depth -= 1 + negs[len(negs)-1]
				negs = negs[:len(negs)-1]
			}
		case t.kind == "op" && t.text == "!" || t.kind == "name" && t.text == "not":
			negs[len(negs)-1]++
			if err := deeper(t); err != nil {
				return nil, err
			}
			if err := count(t); err != nil {
				return nil, err
			}
		case t.kind == "op" && (t.text == "&&" || t.text == "||") || t.kind == "name" && (t.text == "and" || t.text == "or"):
			depth -= negs[len(negs)-1]
			negs[len(negs)-1] = 0
			if err := count(t); err != nil {
				return nil, err
			}
		default:
			if err := count(t); err != nil {
				return nil, err
			}
		}
		toks = append(toks, t)
	}
	return append(toks, condToken{"eof", "", col}), nil
}

func isWordByte(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_'
}

// canonicalNumber checks a number literal of the condition grammar, digits
// with an optional fraction ("10", "0.5"), and returns it as Rego writes
// numbers: Rego (like JSON) rejects leading zeros ("007") and a fraction
// without digits on both sides, so the literal is rewritten rather than
// copied. Leading zeros are read as decimal ("007" is 7, "000" is 0);
// trailing zeros of the fraction are dropped ("1.50" is 1.5, "2.0" is 2).
// The value is kept exactly, however many digits it has. There is no sign
// (write 0 - 1; no count is negative) and no exponent.
func canonicalNumber(s string) (string, error) {
	intPart, frac, hasFrac := strings.Cut(s, ".")
	digits := func(d string) bool {
		for i := 0; i < len(d); i++ {
			if d[i] < '0' || d[i] > '9' {
				return false
			}
		}
		return d != ""
	}
	switch {
	case intPart == "" && digits(frac):
		return "", fmt.Errorf("write 0%s", s)
	case hasFrac && intPart != "" && frac == "":
		return "", fmt.Errorf("write %s or %s.0", intPart, intPart)
	case !digits(intPart) || hasFrac && !digits(frac):
		return "", fmt.Errorf("a number is digits with an optional fraction, such as 10 or 0.5 (no exponent, no sign)")
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	frac = strings.TrimRight(frac, "0")
	if frac == "" {
		return intPart, nil
	}
	return intPart + "." + frac, nil
}

type condParser struct {
	toks []condToken
	i    int
}

func (p *condParser) peek() condToken { return p.toks[p.i] }
func (p *condParser) next() condToken { t := p.toks[p.i]; p.i++; return t }

func (p *condParser) is(words ...string) bool {
	t := p.peek()
	for _, w := range words {
		if (t.kind == "op" || t.kind == "name") && t.text == w {
			return true
		}
	}
	return false
}

func describeTok(t condToken) string {
	if t.kind == "eof" {
		return "the end"
	}
	return fmt.Sprintf("%q at column %d", t.text, t.pos+1)
}

// parseCondition parses and type-checks a condition. The limits
// (MaxConditionBytes, MaxConditionDepth, MaxConditionTerms) are checked
// before anything recursive runs.
func parseCondition(s string) (*condNode, error) {
	if len(s) > MaxConditionBytes {
		return nil, fmt.Errorf("it is %d bytes long, over the limit of %d: split it into several approval rules", len(s), MaxConditionBytes)
	}
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("it is empty")
	}
	toks, err := lexCondition(s)
	if err != nil {
		return nil, err
	}
	p := &condParser{toks: toks}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != "eof" {
		return nil, fmt.Errorf("unexpected %s", describeTok(t))
	}
	if n.typ != tBool {
		return nil, fmt.Errorf("it is %s, not true/false (compare it, such as resourcesRemoved > 0)", n.typ)
	}
	return n, nil
}

func (p *condParser) or() (*condNode, error) {
	return p.binaryBool(p.and, "or", "||", "or")
}

func (p *condParser) and() (*condNode, error) {
	return p.binaryBool(p.not, "and", "&&", "and")
}

func (p *condParser) binaryBool(sub func() (*condNode, error), op string, words ...string) (*condNode, error) {
	l, err := sub()
	if err != nil {
		return nil, err
	}
	for p.is(words...) {
		t := p.next()
		r, err := sub()
		if err != nil {
			return nil, err
		}
		if l.typ != tBool || r.typ != tBool {
			return nil, fmt.Errorf("%q at column %d joins %s and %s; both sides must be true/false", t.text, t.pos+1, l.typ, r.typ)
		}
		l = &condNode{op: op, args: []*condNode{l, r}, typ: tBool}
	}
	return l, nil
}

func (p *condParser) not() (*condNode, error) {
	if p.is("!", "not") {
		t := p.next()
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		if x.typ != tBool {
			return nil, fmt.Errorf("%q at column %d negates %s", t.text, t.pos+1, x.typ)
		}
		return &condNode{op: "not", args: []*condNode{x}, typ: tBool}, nil
	}
	return p.compare()
}

func (p *condParser) compare() (*condNode, error) {
	l, err := p.sum()
	if err != nil {
		return nil, err
	}
	if !p.is("==", "!=", ">", ">=", "<", "<=") {
		return l, nil
	}
	t := p.next()
	r, err := p.sum()
	if err != nil {
		return nil, err
	}
	bad := func() error {
		return fmt.Errorf("%q at column %d compares %s with %s", t.text, t.pos+1, l.typ, r.typ)
	}
	order := t.text != "==" && t.text != "!="
	switch {
	case l.typ == tNum && r.typ == tNum:
	case l.typ == tBool && r.typ == tBool && !order:
	case (l.typ == tKinds && r.typ == tStr || l.typ == tStr && r.typ == tKinds) && !order:
		if l.typ == tStr {
			l, r = r, l
		}
		k := strings.ToLower(r.val)
		kind, ok := condKinds[k]
		if !ok {
			kind, ok = condKinds[strings.TrimSuffix(k, "s")]
		}
		if !ok {
			names := make([]string, 0, len(condKinds))
			for _, v := range condKinds {
				names = append(names, v)
			}
			sort.Strings(names)
			return nil, fmt.Errorf("type %q is not a kind (one of %s)", r.val, strings.Join(uniqueStrings(names), ", "))
		}
		r = &condNode{op: "str", val: kind, typ: tStr}
	default:
		return nil, bad()
	}
	return &condNode{op: t.text, args: []*condNode{l, r}, typ: tBool}, nil
}

func (p *condParser) sum() (*condNode, error) {
	l, err := p.atom()
	if err != nil {
		return nil, err
	}
	for p.is("+", "-") {
		t := p.next()
		r, err := p.atom()
		if err != nil {
			return nil, err
		}
		if l.typ != tNum || r.typ != tNum {
			return nil, fmt.Errorf("%q at column %d needs numbers on both sides", t.text, t.pos+1)
		}
		l = &condNode{op: t.text, args: []*condNode{l, r}, typ: tNum}
	}
	return l, nil
}

func (p *condParser) atom() (*condNode, error) {
	t := p.next()
	switch t.kind {
	case "num":
		return &condNode{op: "num", val: t.text, typ: tNum}, nil
	case "str":
		return &condNode{op: "str", val: t.text, typ: tStr}, nil
	case "name":
		switch t.text {
		case "true", "false":
			return &condNode{op: "bool", val: t.text, typ: tBool}, nil
		}
		typ, ok := condNames[t.text]
		if !ok {
			return nil, fmt.Errorf("unknown name %q at column %d (known: %s)", t.text, t.pos+1, knownNames)
		}
		return &condNode{op: "name", val: t.text, typ: typ}, nil
	case "op":
		if t.text == "(" {
			n, err := p.or()
			if err != nil {
				return nil, err
			}
			if c := p.next(); c.text != ")" || c.kind != "op" {
				return nil, fmt.Errorf("expected ) to close ( at column %d, found %s", t.pos+1, describeTok(c))
			}
			return n, nil
		}
	}
	return nil, fmt.Errorf("expected a number, a name or ( but found %s", describeTok(t))
}

func uniqueStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// condGen writes the Rego of approval conditions. Every boolean node becomes
// a rule that is defined exactly when the node is true, which gives "or"
// (two definitions), "and" (one body) and "not" (negation) without
// recursion, which Rego does not allow.
type condGen struct {
	b strings.Builder
	n int
}

const condSummary = "input.plan.summary."

func (g *condGen) num(n *condNode) string {
	switch n.op {
	case "num":
		return n.val
	case "name":
		switch n.val {
		case "resourcesAdded":
			return condSummary + "added"
		case "resourcesModified":
			return condSummary + "modified"
		case "resourcesRemoved":
			return condSummary + "removed"
		case "breakingCount":
			return condSummary + "breaking"
		case "secretRefsChanged":
			return condSummary + "secretRefs"
		case "resourcesChanged":
			return "(" + condSummary + "added + " + condSummary + "modified + " + condSummary + "removed)"
		}
	case "+", "-":
		return "(" + g.num(n.args[0]) + " " + n.op + " " + g.num(n.args[1]) + ")"
	}
	panic("policy: not a number node: " + n.op)
}

// boolRule writes the rules of a boolean node and returns the rule's name.
func (g *condGen) boolRule(n *condNode) string {
	g.n++
	name := fmt.Sprintf("c%d", g.n)
	def := func(body ...string) {
		fmt.Fprintf(&g.b, "%s if {\n", name)
		for _, l := range body {
			fmt.Fprintf(&g.b, "\t%s\n", l)
		}
		g.b.WriteString("}\n\n")
	}
	switch n.op {
	case "bool":
		def(n.val)
	case "name":
		switch n.val {
		case "breakingChanges":
			def(condSummary + "breaking > 0")
		case "secretsChanged":
			def(condSummary + "secretRefs > 0")
		default:
			panic("policy: not a boolean name: " + n.val)
		}
	case "or":
		a, b := g.boolRule(n.args[0]), g.boolRule(n.args[1])
		def(a)
		def(b)
	case "and":
		a, b := g.boolRule(n.args[0]), g.boolRule(n.args[1])
		def(a, b)
	case "not":
		a := g.boolRule(n.args[0])
		def("not " + a)
	case "==", "!=", ">", ">=", "<", "<=":
		l, r := n.args[0], n.args[1]
		switch {
		case l.typ == tNum:
			def(g.num(l) + " " + n.op + " " + g.num(r))
		case l.typ == tKinds:
			lit := quoteRego(r.val)
			// input.plan.index.kinds counts the changes of each kind, so
			// that the rule does not scan the changes; an input without the
			// index (a test's) is scanned, stopping at the first match.
			if n.op == "==" {
				def("input.plan.index.kinds[" + lit + "] > 0")
				def("not input.plan.index", "some c in input.plan.changes", "c.kind == "+lit)
			} else {
				def("some k, n in input.plan.index.kinds", "k != "+lit, "n > 0")
				def("not input.plan.index", "some c in input.plan.changes", "c.kind != "+lit)
			}
		default: // two booleans
			a, b := g.boolRule(l), g.boolRule(r)
			if n.op == "==" {
				def(a, b)
				def("not "+a, "not "+b)
			} else {
				def(a, "not "+b)
				def("not "+a, b)
			}
		}
	default:
		panic("policy: not a boolean node: " + n.op)
	}
	return name
}

func quoteRego(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// conditionsModule is the Rego of every environment's approval rules:
// data.honua.conditions.matched holds {env, name, condition, reason} for each
// rule whose condition holds for the input.
//
// Each condition written in the file is translated once: the rules of
// defaults, which every environment without approvalRules of its own
// inherits, are guarded by "not own_rules[input.environment]" rather than
// copied per environment, so that the Rego is as large as the conditions of
// the file (MaxFileConditionTerms), however many environments inherit them.
func conditionsModule(f *File) string {
	g := &condGen{}
	g.b.WriteString("# Generated from the approvalRules of " + PolicyFile + ".\npackage honua.conditions\n\n")
	names := make([]string, 0, len(f.Environments))
	for n, e := range f.Environments {
		if e.ownRules {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = quoteRego(n)
	}
	// The environments whose approvalRules are their own, not defaults'.
	fmt.Fprintf(&g.b, "own_rules := {%s}\n\n", strings.Join(quoted, ", "))
	write := func(guard string, rules []ApprovalRule) {
		for _, r := range rules {
			if r.expr == nil {
				continue
			}
			root := g.boolRule(r.expr)
			from := make([]string, len(r.Approvers))
			for i, a := range r.Approvers {
				from[i] = quoteRego(a)
			}
			fmt.Fprintf(&g.b, "matched contains {\"env\": input.environment, \"name\": %s, \"condition\": %s, \"reason\": %s, \"line\": %d, \"from\": [%s]} if {\n\t%s\n\t%s\n}\n\n",
				quoteRego(r.Name), quoteRego(r.Condition), quoteRego(r.Reason), r.Pos.Line, strings.Join(from, ", "), guard, root)
		}
	}
	for _, env := range names {
		write("input.environment == "+quoteRego(env), f.Environments[env].ApprovalRules)
	}
	// Every other environment, listed or not, gets the rules of defaults.
	write("not own_rules[input.environment]", f.Defaults.ApprovalRules)
	return g.b.String()
}
