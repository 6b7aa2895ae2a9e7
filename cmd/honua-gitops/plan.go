package main

import (
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/honua-io/honua-gitops/checks"
	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
)

func newPlanCmd() *cobra.Command {
	var (
		src    sourceFlags
		base   string
		head   string
		envs   []string
		format string
		pol    planPolicyOptions
	)
	cmd := &cobra.Command{
		Use:   "plan --base SRC --head SRC [--env NAME]... [--format text|markdown|json]",
		Short: "Show what a change does to each environment, and which changes are breaking",
		Long: `Plan compares two states of a config repository and prints, per
environment, the objects added, changed and removed, field by field, with the
breaking ones marked and explained, and the OGC collections they touch.

SRC is a directory, a revision of the repository given with --repo (no
checkout needed), or an embedded sample ("sample:config"). Without --base,
everything in head is new.

Exit status: 0 when head is valid, 1 when head has validation errors (the
plan is still printed, errors included), 2 on usage or I/O errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if head == "" {
				return usageError("--head is required: the config after the change (a directory, or a revision with --repo)")
			}
			switch format {
			case "text", "markdown", "json":
			default:
				return usageError("--format %q: use text, markdown or json", format)
			}
			defer src.close()
			loader := config.NewLoader(src.limits())
			// Each source is opened once: the policy step reads the same ones.
			var baseSrc config.Source
			var baseState *config.State
			if base != "" {
				var err error
				if baseSrc, err = src.open(base); err != nil {
					return usageError("base: %w", err)
				}
				if baseState, err = loader.Load(cmd.Context(), baseSrc); err != nil {
					return usageError("base: %w", err)
				}
			}
			headSrc, err := src.open(head)
			if err != nil {
				return usageError("head: %w", err)
			}
			headState, err := loader.Load(cmd.Context(), headSrc)
			if err != nil {
				return usageError("head: %w", err)
			}
			p, err := plan.ComputeStrict(baseState, headState, envs)
			if err != nil {
				return usageError("%w", err)
			}
			var report *policy.Report
			if pol.Enabled {
				if report, err = planPolicy(cmd, p, baseSrc, headSrc, &pol, len(envs) == 0); err != nil {
					return err
				}
			}
			if err := writePlan(cmd.OutOrStdout(), p, report, format); err != nil {
				return err
			}
			if p.HasErrors() {
				return &exitError{code: exitInvalid}
			}
			if report != nil && report.Denied() {
				return &exitError{code: exitDenied}
			}
			return nil
		},
	}
	src.addFlags(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&base, "base", "", "the config before the change")
	f.StringVar(&head, "head", "", "the config after the change (required)")
	f.StringArrayVar(&envs, "env", nil, "plan only this environment (repeatable)")
	f.StringVar(&format, "format", "text", "output format: text, markdown or json")
	pol.addFlags(f)
	return cmd
}

// writePlan writes the plan, and the verdicts when the policy judged it
// (report not nil).
func writePlan(w io.Writer, p *plan.Plan, report *policy.Report, format string) error {
	switch format {
	case "json":
		if report != nil {
			return report.WriteJSON(w)
		}
		return p.WriteJSON(w)
	case "markdown":
		if err := p.WriteMarkdown(w); err != nil {
			return err
		}
		return checks.WriteVerdicts(w, report, checks.Markdown)
	}
	if err := p.WriteText(w, useColor(w)); err != nil {
		return err
	}
	return checks.WriteVerdicts(w, report, checks.Text)
}

// useColor reports whether w is a terminal that wants colour (NO_COLOR unset).
func useColor(w io.Writer) bool {
	if _, off := os.LookupEnv("NO_COLOR"); off {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
