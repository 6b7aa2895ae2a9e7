package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

func newValidateCmd() *cobra.Command {
	var src sourceFlags
	cmd := &cobra.Command{
		Use:   "validate [SRC]",
		Short: "Check a config repository the way the Honua server will; exit 1 on errors",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			arg := "."
			if len(args) == 1 {
				arg = args[0]
			}
			defer src.close()
			st, err := src.load(cmd.Context(), config.NewLoader(src.limits()), arg)
			if err != nil {
				return usageError("%w", err)
			}
			nerr := writeDiagnostics(cmd.OutOrStdout(), st)
			if nerr > 0 {
				return &exitError{code: exitInvalid}
			}
			return nil
		},
	}
	src.addFlags(cmd.Flags())
	return cmd
}

// writeDiagnostics prints every finding of st once (a finding in common
// shows in every environment: it is printed once, with the environments it
// concerns) and a summary line; it returns the number of errors.
func writeDiagnostics(w io.Writer, st *config.State) int {
	type finding struct {
		d    config.Diagnostic
		envs []string
	}
	seen := map[config.Diagnostic]*finding{}
	var all []*finding
	add := func(d config.Diagnostic, env string) {
		f := seen[d]
		if f == nil {
			f = &finding{d: d}
			seen[d] = f
			all = append(all, f)
		}
		if env != "" {
			f.envs = append(f.envs, env)
		}
	}
	for _, d := range st.Diagnostics {
		add(d, "")
	}
	names := st.EnvironmentNames()
	for _, n := range names {
		for _, d := range st.Environments[n].Diagnostics {
			add(d, n)
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i].d, all[j].d
		if a.Severity != b.Severity {
			return a.Severity < b.Severity
		}
		return a.String() < b.String()
	})
	nerr, nwarn := 0, 0
	for _, f := range all {
		line := f.d.String()
		if len(f.envs) > 0 && len(f.envs) < len(names) {
			line += " [" + strings.Join(f.envs, ", ") + "]"
		}
		fmt.Fprintln(w, line)
		if f.d.Severity == config.SeverityError {
			nerr++
		} else {
			nwarn++
		}
	}
	fmt.Fprintf(w, "%s: %d environments (%s), %d errors, %d warnings\n", st.Source, len(names), strings.Join(names, ", "), nerr, nwarn)
	return nerr
}
