package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/honua-io/honua-gitops/app"
)

func newInitCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Write the gate workflow into a config repository (for approvals: github-environment)",
		Long: `Init writes ` + app.GateWorkflowPath + ` into the config repository at DIR
(default: the current directory). The App dispatches it when a deployment
to an environment with approvals: github-environment needs approval, so
that the environment's required reviewers approve it in GitHub's own
"Review deployments" dialog. It holds no secret and deploys nothing.

An existing, different file is kept unless --force.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return usageError("%s is not a directory: give the config repository's checkout", dir)
			}
			p := filepath.Join(dir, filepath.FromSlash(app.GateWorkflowPath))
			old, err := os.ReadFile(p)
			switch {
			case err == nil && bytes.Equal(old, app.GateWorkflow):
				fmt.Fprintf(cmd.OutOrStdout(), "%s is up to date\n", app.GateWorkflowPath)
				return nil
			case err == nil && !force:
				return usageError("%s exists and differs from this version's: compare them, then run init --force to replace it", p)
			case err != nil && !errors.Is(err, fs.ErrNotExist):
				return err
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			tmp, err := os.CreateTemp(filepath.Dir(p), ".honua-gate-*.yml")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			if _, err := tmp.Write(app.GateWorkflow); err != nil {
				tmp.Close()
				return err
			}
			if err := tmp.Close(); err != nil {
				return err
			}
			if err := os.Chmod(tmp.Name(), 0o644); err != nil {
				return err
			}
			if err := os.Rename(tmp.Name(), p); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\nCommit it to the default branch, then set approvals: github-environment in .gitops/deployment-policy.yaml\n(and required reviewers on the GitHub environments). See docs/github-app.md.\n", app.GateWorkflowPath)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing, different gate workflow")
	return cmd
}
