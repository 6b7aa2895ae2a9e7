package main

import "github.com/spf13/cobra"

// commands lists the subcommands of honua-gitops.
func commands() []*cobra.Command {
	return []*cobra.Command{
		newValidateCmd(),
		newRenderCmd(),
		newPlanCmd(),
		newPolicyCmd(),
		newServeCmd(),
		newRunnerCmd(),
		newDemoCmd(),
		newInitCmd(),
		newDeploymentCmd(),
		newControllerCmd(),
		newMigrateCmd(),
		newNotifyCmd(),
	}
}
