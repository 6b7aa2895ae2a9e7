package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

// policyEngine compiles each policy once per process and digest.
var policyEngine = policy.NewEngine()

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Test and debug the deployment policy of a config repository",
		Long: `The deployment policy of a config repository is .gitops/deployment-policy.yaml
plus custom Rego in .gitops/policies/*.rego, evaluated with honua-gitops'
built-in rules. See docs/policy.md.`,
	}
	cmd.AddCommand(newPolicyTestCmd(), newPolicyEvalCmd())
	return cmd
}

func newPolicyTestCmd() *cobra.Command {
	var (
		opts     policy.TestOptions
		builtins bool
	)
	cmd := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run the Rego tests of .gitops/policies and of the built-in rules",
		Long: `Test checks that the policy of the config repository in DIR (default ".")
loads and compiles together with the built-in rules, then runs the
_test.rego files of DIR/.gitops/policies (or of DIR itself when it has no
.gitops/policies) exactly as "opa test" runs them, and the tests of the
built-in library. Output is OPA's.

Exit status: 0 when every test passes, 1 when one fails or the policy does
not compile, 2 on usage or I/O errors.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return usageError("%s is not a directory", dir)
			}
			out := cmd.OutOrStdout()
			ok, err := runPolicyTests(cmd.Context(), out, dir, builtins, opts)
			if err != nil {
				return usageError("%w", err)
			}
			if !ok {
				return &exitError{code: exitInvalid}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.Verbose, "verbose", "v", false, "list every test, with print() output")
	f.StringVarP(&opts.Run, "run", "r", "", "run only tests whose names match this regular expression")
	f.DurationVar(&opts.Timeout, "timeout", 5*time.Second, "time limit of each test")
	f.BoolVar(&builtins, "builtins", true, "also run the tests of the built-in rules")
	return cmd
}

func runPolicyTests(ctx context.Context, out io.Writer, dir string, builtins bool, opts policy.TestOptions) (bool, error) {
	ok := true
	if st, err := os.Stat(dir + "/.gitops"); err == nil && st.IsDir() {
		b, err := policy.Load(config.NewDirSource(dir, config.DefaultLimits))
		if err != nil {
			return false, err
		}
		ds, err := policyEngine.Check(ctx, b)
		if err != nil {
			return false, err
		}
		if len(ds) > 0 {
			fmt.Fprintf(out, "%s: the policy does not compile:\n", dir)
			for _, d := range ds {
				fmt.Fprintf(out, "  %s\n", d)
			}
			ok = false
		} else {
			fmt.Fprintf(out, "%s: policy compiles with the built-in rules (%s)\n", dir, b.Digest)
		}
	}
	pdir := policy.PoliciesPath(dir)
	if hasRego(pdir) {
		fmt.Fprintf(out, "\n%s:\n", pdir)
		sum, err := policy.RunDirTests(ctx, pdir, out, opts)
		if err != nil {
			// As opa test: a folder that does not load or compile fails.
			fmt.Fprintln(out, err)
			ok = false
		} else {
			ok = ok && sum.OK()
		}
	}
	if builtins {
		fmt.Fprintf(out, "\nbuilt-in rules:\n")
		sum, err := policy.RunBuiltinTests(ctx, out, opts)
		if err != nil {
			return false, err
		}
		ok = ok && sum.OK()
	}
	return ok, nil
}

func hasRego(dir string) bool {
	found := false
	_ = walkDir(dir, func(p string) {
		if strings.HasSuffix(p, ".rego") {
			found = true
		}
	})
	return found
}

func walkDir(dir string, f func(string)) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := dir + "/" + e.Name()
		if e.IsDir() {
			_ = walkDir(p, f)
		} else {
			f(p)
		}
	}
	return nil
}

func newPolicyEvalCmd() *cobra.Command {
	var (
		inputFile string
		dir       string
		query     string
		timeout   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "eval --input FILE [--dir DIR] [--query QUERY]",
		Short: "Evaluate the policy of a config repository against an input document",
		Long: `Eval loads the policy of the config repository in DIR (default ".") and
evaluates it against the input document in FILE ("-" for stdin; its shape
is documented in docs/policy.md). It prints the verdict as JSON, or with
--query the value of any Rego query, such as
data.honua.custom.kailua.deny. print() output goes to stderr.

Exit status: 0 when allowed (or the query evaluated), 3 when denied, 2 on
usage or I/O errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if inputFile == "" {
				return usageError("--input is required: a JSON input document (see docs/policy.md)")
			}
			var raw []byte
			var err error
			if inputFile == "-" {
				raw, err = io.ReadAll(cmd.InOrStdin())
			} else {
				raw, err = os.ReadFile(inputFile)
			}
			if err != nil {
				return usageError("reading the input: %w", err)
			}
			var in policy.Input
			dec := json.NewDecoder(strings.NewReader(string(raw)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&in); err != nil {
				return usageError("%s is not a policy input document: %w", inputFile, err)
			}
			b, err := policy.Load(config.NewDirSource(dir, config.DefaultLimits))
			if err != nil {
				return usageError("%w", err)
			}
			eng := policy.NewEngine(policy.WithTimeout(timeout))
			out := cmd.OutOrStdout()
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			if query != "" {
				v, prints, err := eng.Query(cmd.Context(), b, query, in)
				for _, p := range prints {
					fmt.Fprintln(cmd.ErrOrStderr(), p)
				}
				if err != nil {
					return &exitError{code: exitInvalid, err: err}
				}
				return enc.Encode(v)
			}
			v, err := eng.Evaluate(cmd.Context(), b, in)
			if err != nil {
				return err
			}
			for _, p := range v.Prints {
				fmt.Fprintln(cmd.ErrOrStderr(), p)
			}
			if err := enc.Encode(v); err != nil {
				return err
			}
			if !v.Allow {
				return &exitError{code: exitDenied}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&inputFile, "input", "", `the input document, JSON ("-" for stdin)`)
	f.StringVar(&dir, "dir", ".", "the config repository whose .gitops/ policy is evaluated")
	f.StringVar(&query, "query", "", "evaluate this Rego query instead of the verdict")
	f.DurationVar(&timeout, "timeout", policy.DefaultTimeout, "time limit of the evaluation")
	return cmd
}

// planPolicyOptions are the policy flags of the plan command.
type planPolicyOptions struct {
	// Enabled is --policy.
	Enabled bool
	// Now is the evaluation time (--now, default the time of the run).
	Now time.Time
	now string
	// PR describes the pull request (--pr, --pr-author, --label, --base-sha,
	// --head-sha); TouchesGitops is filled from Head when it is set.
	PR policy.PR
	// SHA is the commit to deploy (--sha; default PR.HeadSHA).
	SHA string
	// Head is the PR's head source, used only to tell whether the PR
	// changes .gitops/; the policy itself always comes from base.
	Head config.Source
	// Deployments are the last successful deployments (--deployed
	// ENV=SHA@RFC3339), for promotion rules.
	Deployments map[string]policy.Deployment
	deployed    []string
	// Timeout bounds each evaluation.
	Timeout time.Duration
	// Limits bound what is read of the policy (zero fields take
	// config.DefaultLimits); plan passes its --max-file-size and
	// --max-files.
	Limits config.Limits
}

// addFlags registers the policy flags of plan.
func (o *planPolicyOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.Enabled, "policy", false, "evaluate the deployment policy of base (.gitops/) and add a verdict per environment; exit 3 when one is denied")
	fs.StringVar(&o.now, "now", "", "evaluate the policy at this time (RFC 3339; default now)")
	fs.IntVar(&o.PR.Number, "pr", 0, "the pull request number, for the policy")
	fs.StringVar(&o.PR.Author, "pr-author", "", "the pull request's author (self-approval rules)")
	fs.StringArrayVar(&o.PR.Labels, "label", nil, "a label of the pull request, such as the emergency label (repeatable)")
	fs.StringVar(&o.PR.BaseSHA, "base-sha", "", "the base commit of the pull request")
	fs.StringVar(&o.PR.HeadSHA, "head-sha", "", "the head commit of the pull request")
	fs.StringVar(&o.SHA, "sha", "", "the commit to deploy (default --head-sha)")
	fs.StringArrayVar(&o.deployed, "deployed", nil, "a last successful deployment ENV=SHA@RFC3339, for promotion rules (repeatable)")
	fs.DurationVar(&o.Timeout, "policy-timeout", policy.DefaultTimeout, "time limit of one policy evaluation")
}

// resolve parses the flag values; call it once flags are parsed.
func (o *planPolicyOptions) resolve() error {
	if o.now == "" {
		if o.Now.IsZero() {
			o.Now = time.Now()
		}
	} else {
		t, err := time.Parse(time.RFC3339, o.now)
		if err != nil {
			return fmt.Errorf("--now %q is not an RFC 3339 time such as 2026-03-10T19:00:00Z", o.now)
		}
		o.Now = t
	}
	for _, d := range o.deployed {
		env, rest, ok1 := strings.Cut(d, "=")
		sha, at, ok2 := strings.Cut(rest, "@")
		t, err := time.Parse(time.RFC3339, at)
		if !ok1 || !ok2 || env == "" || sha == "" || err != nil {
			return fmt.Errorf("--deployed %q: use ENV=SHA@RFC3339, such as staging=abc123@2026-03-10T19:00:00Z", d)
		}
		if o.Deployments == nil {
			o.Deployments = map[string]policy.Deployment{}
		}
		o.Deployments[env] = policy.Deployment{SHA: sha, SucceededAt: t}
	}
	return nil
}

// attachVerdicts evaluates the policy of base for every environment of p
// and sets each environment's Verdict (a policy.Verdict). The policy is
// always read from base: a PR cannot loosen the rules it is judged by. A nil
// base (no base given) evaluates the built-in rules with strict defaults.
// denied is true when any environment is denied.
func attachVerdicts(ctx context.Context, p *plan.Plan, base config.Source, opts planPolicyOptions) (denied bool, err error) {
	if err := opts.resolve(); err != nil {
		return false, err
	}
	var b *policy.Bundle
	if base != nil {
		if b, err = policy.LoadWithLimits(base, opts.Limits); err != nil {
			return false, fmt.Errorf("loading the policy of base: %w", err)
		}
	} else {
		b = policy.NewBundle(nil, nil)
		b.Source = "built-in defaults"
	}
	pr := opts.PR
	eng := policyEngine
	if opts.Timeout > 0 && opts.Timeout != policy.DefaultTimeout {
		eng = policy.NewEngine(policy.WithTimeout(opts.Timeout))
	}
	if opts.Head != nil && base != nil {
		if pr.TouchesGitops, err = gitopsDiffers(base, opts.Head); err != nil {
			return false, err
		}
		if pr.TouchesGitops {
			if pr.GitopsErrors, err = headPolicyErrors(ctx, eng, opts.Head, opts.Limits); err != nil {
				return false, err
			}
		}
	}
	for i := range p.Environments {
		env := &p.Environments[i]
		v, err := eng.Evaluate(ctx, b, policy.Input{
			Environment: env.Name,
			Now:         opts.Now,
			SHA:         opts.SHA,
			Plan:        policy.InputFromPlan(*env),
			PR:          pr,
			Deployments: opts.Deployments,
		})
		if err != nil {
			// The run was cancelled: no verdict, rather than a deny that
			// blames the policy.
			return false, err
		}
		env.Verdict = v
		denied = denied || !v.Allow
	}
	return denied, nil
}

// headPolicyErrors loads and compiles the policy the PR would leave behind
// (head's .gitops/) and returns what keeps it from working. It never judges
// anything: base's policy does, and denies the PR when these are not empty
// (rule policy-invalid), so that a broken policy is caught before the merge
// rather than after it, when nothing would deploy.
func headPolicyErrors(ctx context.Context, eng *policy.Engine, head config.Source, lim config.Limits) ([]config.Diagnostic, error) {
	b, err := policy.LoadWithLimits(head, lim)
	if err != nil {
		return nil, fmt.Errorf("loading the policy of head: %w", err)
	}
	return eng.Check(ctx, b)
}

// gitopsDiffers reports whether the .gitops/ files of two sources differ.
// The sources' own problems are reported elsewhere (head's by the plan,
// base's by the policy), so here they only decide the answer: a problem
// under .gitops/ (a symlink, a file over the size limit), or one that may
// hide files there (too many files), in either source counts as a change
// to .gitops/, which then needs a policy owner's approval.
func gitopsDiffers(base, head config.Source) (bool, error) {
	hashes := func(s config.Source) (m map[string]string, unsure bool, err error) {
		files, err := s.List()
		if err != nil {
			var te *config.TreeError
			if !errors.As(err, &te) {
				return nil, false, err
			}
			for _, d := range te.Problems {
				unsure = unsure || policy.ConcernsPolicy(s, d)
			}
		}
		m = map[string]string{}
		for _, f := range files {
			if !policy.UnderGitops(f.Path) {
				continue
			}
			b, err := s.Read(f.Path)
			switch {
			case errors.Is(err, config.ErrFileTooLarge):
				unsure = true
				continue
			case err != nil:
				return nil, false, err
			}
			sum := sha256.Sum256(b)
			m[f.Path] = string(sum[:])
		}
		return m, unsure, nil
	}
	a, unsureA, err := hashes(base)
	if err != nil {
		return false, err
	}
	b, unsureB, err := hashes(head)
	if err != nil {
		return false, err
	}
	if unsureA || unsureB || len(a) != len(b) {
		return true, nil
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return true, nil
		}
	}
	return false, nil
}

// writeVerdictText writes one environment's verdict for people, as text or
// (markdown true) as GitHub markdown.
func writeVerdictText(w io.Writer, v policy.Verdict, markdown bool) error {
	var b strings.Builder
	state := "allowed"
	switch {
	case !v.Allow:
		state = "DENIED"
	case v.Approval.Required && !v.Approval.Satisfied:
		state = "allowed, needs approval"
	}
	// Everything but the marks comes from the policy, the config or the
	// pull request: escaped for the terminal or for GitHub's markdown.
	text, code := plan.VisibleText, plan.VisibleText
	item := "    "
	if markdown {
		text, code = plan.MarkdownText, plan.MarkdownCode
		fmt.Fprintf(&b, "#### %s: %s\n\n", code(v.Environment), state)
		item = "- "
	} else {
		fmt.Fprintf(&b, "  %s: %s\n", text(v.Environment), state)
	}
	line := func(mark, format string, args ...any) {
		if markdown {
			fmt.Fprintf(&b, "- %s %s\n", mark, fmt.Sprintf(format, args...))
		} else {
			fmt.Fprintf(&b, "%s%s %s\n", item, mark, fmt.Sprintf(format, args...))
		}
	}
	list := func(ss []string) string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = code(s)
		}
		return strings.Join(out, ", ")
	}
	for _, d := range v.Deny {
		line("✗", "%s: %s", code(d.Rule), text(d.Message))
	}
	for _, d := range v.Warn {
		line("!", "%s: %s", code(d.Rule), text(d.Message))
	}
	if a := v.Approval; a.Required {
		status := "missing"
		if a.Satisfied {
			status = "given by " + list(a.ApprovedBy)
		} else if len(a.ApprovedBy) > 0 {
			status = "so far " + list(a.ApprovedBy)
		}
		for _, r := range a.Requirements {
			rf := "anyone with write access"
			if len(r.From) > 0 {
				rf = list(r.From)
			}
			mark := "○"
			if r.Satisfied {
				mark = "✓"
			}
			line(mark, "approval: %d of %s (%s)", r.Min, rf, text(strings.Join(r.Reasons, "; ")))
		}
		line("·", "approvals: %s", status)
	}
	if v.NextWindow != nil {
		line("⏱", "next deployment window: %s", v.NextWindow.UTC().Format(time.RFC3339))
	}
	for _, e := range v.Errors {
		line("✗", "policy error: %s", text(e.String()))
	}
	for _, p := range v.Prints {
		line("·", "print: %s", text(p))
	}
	if markdown {
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writePolicySection writes the verdicts of every environment of p after
// the plan, for the text and markdown formats (JSON carries them in the
// plan itself).
func writePolicySection(w io.Writer, p *plan.Plan, markdown bool) error {
	var verdicts []policy.Verdict
	for _, e := range p.Environments {
		if v, ok := e.Verdict.(policy.Verdict); ok {
			verdicts = append(verdicts, v)
		}
	}
	if len(verdicts) == 0 {
		return nil
	}
	sort.SliceStable(verdicts, func(i, j int) bool { return verdicts[i].Environment < verdicts[j].Environment })
	if markdown {
		fmt.Fprintf(w, "\n### Policy\n\n<sub>policy %s</sub>\n\n", short(verdicts[0].PolicyDigest))
	} else {
		fmt.Fprintf(w, "\nPolicy (%s)\n", short(verdicts[0].PolicyDigest))
	}
	for _, v := range verdicts {
		if err := writeVerdictText(w, v, markdown); err != nil {
			return err
		}
	}
	return nil
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}

// planPolicy attaches the verdicts to p: the policy comes from base (its
// only source), and head tells whether the PR changes .gitops/.
func planPolicy(cmd *cobra.Command, p *plan.Plan, base, head config.Source, pol *planPolicyOptions) (bool, error) {
	// The policy is read within the limits the plan read the sources with.
	if n, err := cmd.Flags().GetInt64("max-file-size"); err == nil {
		pol.Limits.MaxFileSize = n
	}
	if n, err := cmd.Flags().GetInt("max-files"); err == nil {
		pol.Limits.MaxFiles = n
	}
	if base != nil {
		pol.Head = head
		// Revisions name their commits: the PR's shas need no flags then.
		if g, ok := base.(*config.GitSource); ok && pol.PR.BaseSHA == "" {
			pol.PR.BaseSHA = g.Commit()
		}
		if g, ok := head.(*config.GitSource); ok && pol.PR.HeadSHA == "" {
			pol.PR.HeadSHA = g.Commit()
		}
	}
	denied, err := attachVerdicts(cmd.Context(), p, base, *pol)
	if err != nil {
		return false, usageError("policy: %w", err)
	}
	return denied, nil
}
