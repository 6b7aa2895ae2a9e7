package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

func newMigrateCmd() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "migrate [DIR]",
		Short: "Rewrite a config repository from the original design's files into this project's layout",
		Long: `Migrate rewrites the config repository at DIR (default: the current
directory) from the original design's environment files (kind:
ServiceCollection, kind: DatasourceConfiguration) into this project's layout:
an original file's services and data sources go to a document file directly
in its environment folder, each layer to layers/<id>.yaml, each style to
styles/<id>.yaml. See docs/original-format.md.

Nothing is lost: before anything is written, every environment is loaded
from the files as they will be and must render exactly the document it
renders now (secrets replaced by fixed stand-ins). An existing file with
other content is never overwritten, and the original files are removed only
after every new file is written. The repository must validate without
errors first. --dry-run prints what would be done and writes nothing.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return usageError("%s is not a directory: give the config repository's checkout", dir)
			}
			res, err := config.Migrate(cmd.Context(), dir, config.MigrateOptions{DryRun: dryRun})
			var me *config.MigrateError
			if errors.As(err, &me) {
				for _, d := range me.Problems {
					fmt.Fprintln(cmd.ErrOrStderr(), d)
				}
				return &exitError{code: exitInvalid, err: fmt.Errorf("%s: nothing migrated (%d problems)", dir, len(me.Problems))}
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(res.Originals) == 0 {
				fmt.Fprintf(out, "%s: no files of the original design (kind: ServiceCollection or DatasourceConfiguration): nothing to migrate\n", dir)
				return nil
			}
			for _, a := range res.Actions {
				fmt.Fprintln(out, a)
			}
			verb := "migrated"
			if dryRun {
				verb = "would migrate (dry run, nothing written)"
			}
			fmt.Fprintf(out, "%s %d original files; environments %v render the same documents before and after\n", verb, len(res.Originals), res.Environments)
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be done and write nothing")
	return cmd
}
