package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/honua-io/honua-gitops/reconciler/runner"
)

// newRunnerStatusCmd is `runner status`: the runner's state store, read
// only; rendering is runner.WriteStatus.
func newRunnerStatusCmd() *cobra.Command {
	var stateDir, format string
	var envs []string
	cmd := &cobra.Command{
		Use:   "status --state-dir DIR [--env NAME] [--format text|json]",
		Short: "Show what the runner's state says of its environments: current and last good deployment, health, sync, history",
		Long: `Status reads the runner's state store under --state-dir (the runner's
--state-dir) and prints, per environment, the current and last good
deployment, health and sync with when they last changed, and the last
applies with their steps. It changes nothing and needs no credentials.
Every flag has a HONUA_GITOPS_* variable, as for runner.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), os.LookupEnv); err != nil {
				return usageError("%w", err)
			}
			if stateDir == "" {
				return usageError("--state-dir is required: the runner's state directory")
			}
			if format != "text" && format != "json" {
				return usageError("--format %q: use text or json", format)
			}
			store := &runner.Store{Dir: stateDir}
			if len(envs) == 0 {
				var err error
				if envs, err = store.Envs(); err != nil {
					return usageError("--state-dir: %w", err)
				}
			}
			var states []runner.EnvState
			for _, env := range envs {
				st, err := store.Load(env)
				if err != nil {
					if errors.Is(err, runner.ErrCorruptState) {
						return err
					}
					return usageError("--env %s: %w", env, err)
				}
				states = append(states, st)
			}
			return runner.WriteStatus(cmd.OutOrStdout(), states, format)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&stateDir, "state-dir", "", "the runner's state directory")
	fs.StringArrayVar(&envs, "env", nil, "an environment to show (repeatable; default: every one with state)")
	fs.StringVar(&format, "format", "text", "output: text or json")
	return cmd
}
