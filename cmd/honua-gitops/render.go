package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

func newRenderCmd() *cobra.Command {
	var (
		src         sourceFlags
		env         string
		secretsFile string
		secretEnv   []string
	)
	cmd := &cobra.Command{
		Use:   "render --env NAME [SRC]",
		Short: "Print an environment's Honua metadata document (JSON), common merged in and secrets filled",
		Long: `Render prints the single Honua metadata document of one environment: the
environment's objects merged over common's, every ${NAME} reference of a data
source's connectionString filled (references anywhere else are validation
errors). Values come only from what the operator provides for secrets:
--secrets-file first, then the environment variable HONUA_SECRET_<NAME>, then
the variables named with --secret-env. No other variable of the environment
is read, so a config cannot copy the runner's own credentials into the
document. A reference with no value is an error that names it; it is never
rendered as an empty string.

SRC is a directory (default "."), a revision of the repository given with
--repo, or an embedded sample ("sample:config").`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if env == "" {
				return usageError("--env is required: name the environment to render")
			}
			arg := "."
			if len(args) == 1 {
				arg = args[0]
			}
			secrets, err := secretsFrom(secretsFile, secretEnv)
			if err != nil {
				return usageError("%w", err)
			}
			defer src.close()
			st, err := src.load(cmd.Context(), config.NewLoader(src.limits()), arg)
			if err != nil {
				return usageError("%w", err)
			}
			e := st.Environments[env]
			if e == nil {
				return usageError("environment %q not found in %s (it has: %s)", env, arg, strings.Join(st.EnvironmentNames(), ", "))
			}
			errs := append(config.FilterSeverity(st.Diagnostics, config.SeverityError), e.Errors()...)
			if len(errs) > 0 {
				for _, d := range errs {
					fmt.Fprintln(cmd.ErrOrStderr(), d)
				}
				return &exitError{code: exitInvalid, err: fmt.Errorf("environment %s has %d errors: nothing rendered", env, len(errs))}
			}
			out, err := config.RenderJSON(e, secrets)
			if err != nil {
				return &exitError{code: exitInvalid, err: err}
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	src.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&env, "env", "", "the environment to render (required)")
	cmd.Flags().StringVar(&secretsFile, "secrets-file", "", "a NAME=value file of secret values, read first")
	cmd.Flags().StringArrayVar(&secretEnv, "secret-env", nil, "also fill ${NAME} from the environment variable NAME itself (repeatable; HONUA_SECRET_NAME is always read)")
	return cmd
}
