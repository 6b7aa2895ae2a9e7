package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
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
		b, err := policy.Load(ctx, config.NewDirSource(dir, config.DefaultLimits))
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
			b, err := policy.Load(cmd.Context(), config.NewDirSource(dir, config.DefaultLimits))
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
	// --head-sha); TouchesGitops is filled from head when it is set.
	PR policy.PR
	// SHA is the commit to deploy (--sha; default PR.HeadSHA).
	SHA string
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

// planPolicy judges p with the policy of base (its only source); head
// tells whether the PR changes .gitops/.
//
// complete says the plan covers every environment (no --env): the policy
// then knows which environments the change touches.
func planPolicy(cmd *cobra.Command, p *plan.Plan, base, head config.Source, pol *planPolicyOptions, complete bool) (*policy.Report, error) {
	if err := pol.resolve(); err != nil {
		return nil, usageError("policy: %w", err)
	}
	// The policy is read within the limits the plan read the sources with.
	if n, err := cmd.Flags().GetInt64("max-file-size"); err == nil {
		pol.Limits.MaxFileSize = n
	}
	if n, err := cmd.Flags().GetInt("max-files"); err == nil {
		pol.Limits.MaxFiles = n
	}
	opts := policy.JudgeOptions{
		Base: base, Limits: pol.Limits, Now: pol.Now, PR: pol.PR, SHA: pol.SHA,
		Deployments: pol.Deployments, Complete: complete,
	}
	if base != nil {
		opts.Head = head
		// Revisions name their commits: the PR's shas need no flags then.
		if g, ok := base.(*config.GitSource); ok && opts.PR.BaseSHA == "" {
			opts.PR.BaseSHA = g.Commit()
		}
		if g, ok := head.(*config.GitSource); ok && opts.PR.HeadSHA == "" {
			opts.PR.HeadSHA = g.Commit()
		}
	}
	eng := policyEngine
	if pol.Timeout > 0 && pol.Timeout != policy.DefaultTimeout {
		eng = policy.NewEngine(policy.WithTimeout(pol.Timeout))
	}
	r, err := eng.Judge(cmd.Context(), p, opts)
	if err != nil {
		return nil, usageError("policy: %w", err)
	}
	return r, nil
}
