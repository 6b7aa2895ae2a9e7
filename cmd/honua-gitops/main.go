// Command honua-gitops deploys Honua server configuration from a Git
// repository: it validates, renders and plans config changes, evaluates the
// deployment policy, and (later) runs the GitHub App and the on-prem runner.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// Exit codes shared by the commands.
const (
	exitOK      = 0
	exitInvalid = 1 // head has validation errors
	exitUsage   = 2 // usage or I/O error
	exitDenied  = 3 // the policy denied an environment
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "honua-gitops",
		Short:         "GitOps for Honua server configuration: validate, render, plan, and deploy",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(commands()...)
	return root
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

// runContext is run under ctx: a long-running command (serve) stops when
// ctx ends.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "honua-gitops:", ee.err)
		}
		return ee.code
	}
	// cobra's own errors (unknown flag, wrong arguments) are usage errors.
	fmt.Fprintln(stderr, "honua-gitops:", err)
	return exitUsage
}
