package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/honua-io/honua-gitops/internal/demo"
)

func newDemoCmd() *cobra.Command {
	var o demo.Options
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Play the whole pull-request flow on this machine: GitHub emulator, App, runners, Honua stand-ins",
		Long: `Demo starts, on loopback, a GitHub emulator, the GitHub App, and a Honua
stand-in with a runner for each environment of the sample repository
(development, staging, production), then plays a story and prints what a
user would see in GitHub: a pull request's plan and policy checks, the
deployments its merge creates, approvals, a bad change rolled back by the
runner, and /rollback. Nothing needs to be set up; everything is removed on
exit. --keep-running leaves it all up (URLs and example requests printed)
until Ctrl-C. --approvals github-environment approves production in GitHub's
own Review deployments dialog of the App's gate workflow run instead of
with the Approve button. HONUA_GITOPS_SIM_LOG=FILE records the emulator's
exchanges.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			o.Out = cmd.OutOrStdout()
			return demo.Run(ctx, o)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.KeepRunning, "keep-running", false, "leave everything running after the story, until Ctrl-C")
	fs.StringVar(&o.Approvals, "approvals", "app", "production's approval mode in the story: app (the Approve button) or github-environment (GitHub's Review deployments dialog on the gate workflow)")
	fs.StringVar(&o.LogPath, "log-file", "", "write the components' logs here (default: a file in the demo's temporary directory, removed on exit)")
	return cmd
}
