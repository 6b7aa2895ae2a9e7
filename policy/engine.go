package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown/print"

	"github.com/honua-io/honua-gitops/reconciler/config"

	_ "time/tzdata" // time zones must work on any machine, with or without zoneinfo
)

// DefaultTimeout bounds one evaluation.
const DefaultTimeout = 2 * time.Second

// DefaultCompileTimeout bounds how long evaluations wait for a policy to
// compile. The sample policy compiles in about 10 ms; the limits on approval
// conditions (see parseCondition) keep any policy file far below this, so
// reaching it means something is wrong with the policy, not the machine.
const DefaultCompileTimeout = 5 * time.Second

// defaultCacheSize is how many compiled policies an Engine keeps. A policy
// changes rarely; a handful covers every base branch in flight.
const defaultCacheSize = 32

// Engine evaluates bundles. It compiles and prepares each policy once per
// digest and shares the prepared query between evaluations; it is safe for
// concurrent use.
type Engine struct {
	timeout        time.Duration
	compileTimeout time.Duration
	size           int

	mu    sync.Mutex
	cache map[string]*prepared
	order []string // digests, least recently used first

	// beforeCompile, when set (by tests), runs at the start of every
	// compilation with its context, so that a test can hold one back.
	beforeCompile func(context.Context)
}

// prepared is one policy's compilation, shared by every evaluation of its
// digest. The fields other than done and deadline are written once, before
// done is closed.
type prepared struct {
	done     chan struct{}
	deadline time.Time
	// builtin evaluates data.honua.verdict.builtin, custom (nil without
	// custom contributions) data.honua.verdict.custom.
	builtin, custom *rego.PreparedEvalQuery
	errors          []config.Diagnostic
	// timedOut is true when the compilation ran into its own time limit;
	// such an entry is dropped from the cache so that a later evaluation
	// compiles again rather than inheriting a failure of a busy moment.
	timedOut bool
}

// Option configures an Engine.
type Option func(*Engine)

// WithTimeout sets the time limit of one evaluation (default 2 s).
func WithTimeout(d time.Duration) Option { return func(e *Engine) { e.timeout = d } }

// WithCompileTimeout sets how long evaluations wait for a policy to compile
// (default DefaultCompileTimeout); past it they fail closed.
func WithCompileTimeout(d time.Duration) Option { return func(e *Engine) { e.compileTimeout = d } }

// WithCacheSize sets how many compiled policies the engine keeps.
func WithCacheSize(n int) Option { return func(e *Engine) { e.size = n } }

// NewEngine returns an engine.
func NewEngine(opts ...Option) *Engine {
	e := &Engine{timeout: DefaultTimeout, compileTimeout: DefaultCompileTimeout, size: defaultCacheSize, cache: map[string]*prepared{}}
	for _, o := range opts {
		o(e)
	}
	if e.size < 1 {
		e.size = 1
	}
	if e.compileTimeout <= 0 {
		e.compileTimeout = DefaultCompileTimeout
	}
	return e
}

// forbiddenBuiltins would make a policy depend on the network, the clock or
// chance. The time is input.now; everything else a policy needs is in the
// input.
var forbiddenBuiltins = []string{
	"http.send", "net.lookup_ip_addr", "time.now_ns", "opa.runtime",
	"rand.intn", "uuid.rfc4122", "uuid.parse", "io.jwt.decode_verify",
	"crypto.x509.parse_and_verify_certificates",
	"crypto.x509.parse_and_verify_certificates_with_options",
}

var capabilities = sync.OnceValue(func() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	c.Builtins = slices.DeleteFunc(slices.Clone(c.Builtins), func(b *ast.Builtin) bool {
		return slices.Contains(forbiddenBuiltins, b.Name)
	})
	return c
})

// prepare returns the compilation of b, starting it on first use. The
// compilation runs on its own goroutine with a context detached from the
// caller's cancellation (a caller that gives up must not leave a failure
// cached for every later evaluation of the digest) and bounded by the
// engine's compile time limit.
func (e *Engine) prepare(ctx context.Context, b *Bundle) *prepared {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p, ok := e.cache[b.Digest]; ok {
		i := slices.Index(e.order, b.Digest)
		e.order = append(slices.Delete(e.order, i, i+1), b.Digest)
		return p
	}
	p := &prepared{done: make(chan struct{}), deadline: time.Now().Add(e.compileTimeout)}
	e.cache[b.Digest] = p
	e.order = append(e.order, b.Digest)
	for len(e.order) > e.size {
		delete(e.cache, e.order[0])
		e.order = e.order[1:]
	}
	cctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), p.deadline)
	go func() {
		defer cancel()
		if e.beforeCompile != nil {
			e.beforeCompile(cctx)
		}
		p.builtin, p.custom, p.errors = compile(cctx, b)
		if cctx.Err() != nil {
			p.timedOut = true
			e.forget(b.Digest, p)
		}
		close(p.done)
	}()
	return p
}

// forget drops p from the cache if it is still the entry of digest.
func (e *Engine) forget(digest string, p *prepared) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cache[digest] != p {
		return
	}
	delete(e.cache, digest)
	if i := slices.Index(e.order, digest); i >= 0 {
		e.order = slices.Delete(e.order, i, i+1)
	}
}

// errCompileTimeout is what waiting for a compilation past its limit gives.
var errCompileTimeout = errors.New("compile time limit")

// compiled waits for b's compilation: at most until the compile time limit
// (counted from when the compilation started) and while ctx lasts. The
// error wraps ctx.Err() when the caller gave up, and is errCompileTimeout
// when the policy took too long to compile.
func (e *Engine) compiled(ctx context.Context, b *Bundle) (*prepared, error) {
	p := e.prepare(ctx, b)
	select {
	case <-p.done: // already compiled: no timer
	default:
		timer := time.NewTimer(time.Until(p.deadline))
		defer timer.Stop()
		select {
		case <-p.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the policy to compile: %w", ctx.Err())
		case <-timer.C:
			return nil, errCompileTimeout
		}
	}
	if p.timedOut {
		return nil, errCompileTimeout
	}
	return p, nil
}

func compile(ctx context.Context, b *Bundle) (builtin, custom *rego.PreparedEvalQuery, _ []config.Diagnostic) {
	compiler := ast.NewCompiler().
		WithEnablePrintStatements(true).
		WithCapabilities(capabilities())
	compiler.Compile(b.modules)
	if compiler.Failed() {
		return nil, nil, regoDiagnostics(compiler.Errors, "policy-compile")
	}
	store := inmem.NewFromObjectWithOpts(b.data, inmem.OptRoundTripOnWrite(true), inmem.OptReturnASTValuesOnRead(true))
	prepare := func(query string) (*rego.PreparedEvalQuery, []config.Diagnostic) {
		q, err := rego.New(
			rego.Query(query),
			rego.Compiler(compiler),
			rego.Store(store),
			rego.StrictBuiltinErrors(true),
			rego.EnablePrintStatements(true),
		).PrepareForEval(ctx)
		if err != nil {
			return nil, regoDiagnostics(err, "policy-compile")
		}
		return &q, nil
	}
	builtin, ds := prepare("data.honua.verdict.builtin")
	if len(ds) > 0 {
		return nil, nil, ds
	}
	if b.customContributions {
		if custom, ds = prepare("data.honua.verdict.custom"); len(ds) > 0 {
			return nil, nil, ds
		}
	}
	return builtin, custom, nil
}

// Evaluate returns the verdict of b for one environment. Whatever is wrong
// with the policy is a deny in the verdict (fail closed): a policy that does
// not load or compile, or does not compile within the compile time limit, a
// runtime error, an evaluation over the engine's time limit. The error is
// only for the caller's own context: when ctx is cancelled or past its
// deadline, Evaluate returns an error wrapping ctx.Err() and no verdict, since
// a request that was given up on says nothing about the policy.
func (e *Engine) Evaluate(ctx context.Context, b *Bundle, in Input) (Verdict, error) {
	if err := ctx.Err(); err != nil {
		return Verdict{}, fmt.Errorf("evaluating the policy for %s: %w", in.Environment, err)
	}
	v := Verdict{Environment: in.Environment, PolicyDigest: b.Digest, Deny: []Finding{}, Warn: []Finding{}, Prints: []string{}, Errors: []config.Diagnostic{}}
	if len(b.Errors) > 0 {
		return v.failClosed("policy-error", "the policy does not load: "+firstError(b.Errors), b.Errors), nil
	}
	p, err := e.compiled(ctx, b)
	switch {
	case errors.Is(err, errCompileTimeout):
		msg := fmt.Sprintf("the policy did not compile within its time limit of %s", e.compileTimeout)
		return v.failClosed("policy-timeout", msg, []config.Diagnostic{{File: PolicyFile, Message: msg + ": shorten the approval conditions or custom modules", Rule: "policy-timeout"}}), nil
	case err != nil:
		return Verdict{}, fmt.Errorf("evaluating the policy for %s: %w", in.Environment, err)
	case len(p.errors) > 0:
		return v.failClosed("policy-error", "the policy does not compile: "+firstError(p.errors), p.errors), nil
	}
	val, err := in.valueWith(b.details)
	if err != nil {
		return v.failClosed("policy-error", "the input cannot be converted: "+err.Error(), nil), nil
	}
	ectx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	// The custom contributions are evaluated beside the built-in ones: on
	// a plan of thousands of changes, each custom rule that scans the
	// changes costs as much as all the built-ins. Only custom modules can
	// call print(), so the lines keep their order.
	var custom evalResult
	var wg sync.WaitGroup
	if p.custom != nil {
		wg.Go(func() { custom = eval(ectx, p.custom, val) })
	}
	builtin := eval(ectx, p.builtin, val)
	wg.Wait()
	v.Prints = append(builtin.prints, custom.prints...)
	err = builtin.err
	if err == nil {
		err = custom.err
	}
	switch {
	case err != nil && ctx.Err() != nil:
		// The caller's context ended first (its deadline may be sooner
		// than the engine's): not the policy's fault.
		return Verdict{}, fmt.Errorf("evaluating the policy for %s: %w", in.Environment, ctx.Err())
	case err != nil && errors.Is(ectx.Err(), context.DeadlineExceeded):
		return v.failClosed("policy-timeout", fmt.Sprintf("the policy did not finish within its time limit of %s", e.timeout), []config.Diagnostic{{Message: err.Error(), Rule: "policy-timeout"}}), nil
	case err != nil:
		ds := regoDiagnostics(err, "policy-runtime")
		return v.failClosed("policy-error", "the policy failed at run time: "+firstError(ds), ds), nil
	case builtin.out == nil || p.custom != nil && custom.out == nil:
		return v.failClosed("policy-error", "the policy produced no result", nil), nil
	}
	out := builtin.out
	if p.custom != nil {
		out = joinContributions(builtin.out, custom.out)
	}
	if err := v.fill(out, b.File.Env(in.Environment), &in); err != nil {
		return v.failClosed("policy-error", err.Error(), nil), nil
	}
	return v, nil
}

type evalResult struct {
	out    map[string]any
	prints []string
	err    error
}

// eval evaluates one of the verdict queries; out is nil when it gives no
// object.
func eval(ctx context.Context, q *rego.PreparedEvalQuery, val ast.Value) evalResult {
	hook := &printHook{}
	rs, err := q.Eval(ctx, rego.EvalParsedInput(val), rego.EvalPrintHook(hook))
	r := evalResult{prints: hook.lines(), err: err}
	if err == nil && len(rs) > 0 && len(rs[0].Expressions) > 0 {
		r.out, _ = rs[0].Expressions[0].Value.(map[string]any)
	}
	return r
}

// joinContributions gives what data.honua.verdict is: the contributions of
// both, in the order of the Rego set they make ([rule, package, value],
// each rule and package once), and the built-ins' next_window.
func joinContributions(builtin, custom map[string]any) map[string]any {
	b, _ := builtin["contributions"].([]any)
	c, _ := custom["contributions"].([]any)
	all := append(slices.Clip(b), c...)
	key := func(x any) (string, string) {
		t, _ := x.([]any)
		if len(t) < 2 {
			return "", ""
		}
		r, _ := t[0].(string)
		p, _ := t[1].(string)
		return r, p
	}
	slices.SortStableFunc(all, func(x, y any) int {
		xr, xp := key(x)
		yr, yp := key(y)
		if c := strings.Compare(xr, yr); c != 0 {
			return c
		}
		return strings.Compare(xp, yp)
	})
	out := map[string]any{"contributions": all}
	if nw, ok := builtin["next_window"]; ok {
		out["next_window"] = nw
	}
	return out
}

func firstError(ds []config.Diagnostic) string {
	if len(ds) == 0 {
		return "unknown error"
	}
	d := ds[0]
	s := d.Message
	if d.File != "" {
		s = d.Pos().String() + ": " + s
	}
	if len(ds) > 1 {
		s += fmt.Sprintf(" (and %d more)", len(ds)-1)
	}
	return s
}

// printHook captures print() output of one evaluation.
type printHook struct {
	mu  sync.Mutex
	out []string
}

func (h *printHook) Print(pctx print.Context, msg string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if pctx.Location != nil {
		msg = fmt.Sprintf("%s:%d: %s", pctx.Location.File, pctx.Location.Row, msg)
	}
	h.out = append(h.out, msg)
	return nil
}

func (h *printHook) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string{}, h.out...)
}

// Check compiles b (or finds it compiled) and returns what keeps it from
// being evaluated: load errors and compile errors, each with file and line,
// or that it did not compile within the compile time limit. The error is
// for the caller's context ending first (it wraps ctx.Err()).
func (e *Engine) Check(ctx context.Context, b *Bundle) ([]config.Diagnostic, error) {
	if len(b.Errors) > 0 {
		return b.Errors, nil
	}
	p, err := e.compiled(ctx, b)
	switch {
	case errors.Is(err, errCompileTimeout):
		return []config.Diagnostic{{File: PolicyFile, Rule: "policy-timeout",
			Message: fmt.Sprintf("the policy did not compile within its time limit of %s: shorten the approval conditions or custom modules", e.compileTimeout)}}, nil
	case err != nil:
		return nil, err
	}
	return p.errors, nil
}

// Query evaluates any Rego query against b's modules and data with in as
// input, for debugging a rule ("data.honua.custom.kailua.deny"). It returns
// the value of the first result (nil when undefined) and what print() wrote.
func (e *Engine) Query(ctx context.Context, b *Bundle, query string, in Input) (any, []string, error) {
	ds, err := e.Check(ctx, b)
	if err != nil {
		return nil, nil, err
	}
	if len(ds) > 0 {
		return nil, nil, fmt.Errorf("the policy does not compile: %s", firstError(ds))
	}
	val, err := in.value()
	if err != nil {
		return nil, nil, err
	}
	compiler := ast.NewCompiler().WithEnablePrintStatements(true).WithCapabilities(capabilities())
	compiler.Compile(b.modules)
	if compiler.Failed() {
		return nil, nil, compiler.Errors
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	hook := &printHook{}
	rs, err := rego.New(
		rego.Query(query),
		rego.Compiler(compiler),
		rego.Store(inmem.NewFromObject(b.data)),
		rego.ParsedInput(val),
		rego.StrictBuiltinErrors(true),
		rego.EnablePrintStatements(true),
		rego.PrintHook(hook),
	).Eval(ctx)
	if err != nil {
		return nil, hook.lines(), err
	}
	if len(rs) == 0 {
		return nil, hook.lines(), nil
	}
	if len(rs[0].Expressions) == 1 && len(rs[0].Bindings) == 0 {
		return rs[0].Expressions[0].Value, hook.lines(), nil
	}
	return rs[0].Bindings, hook.lines(), nil
}
