package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/honua-io/honua-gitops/notify"
	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/config"
)

// notifyFlags are the mail server settings of the commands that notify.
type notifyFlags struct {
	smtpURL, smtpCredentialsFile, smtpFrom string
}

func (f *notifyFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.smtpURL, "smtp-url", "", "the mail server for email notifications: smtp://host:587 (STARTTLS) or smtps://host:465 (TLS)")
	fs.StringVar(&f.smtpCredentialsFile, "smtp-credentials-file", "", "a file with SMTP_USERNAME=... and SMTP_PASSWORD=... lines")
	fs.StringVar(&f.smtpFrom, "smtp-from", "", "the sender address of email notifications")
}

// options are the Notifier's options of the flags; secrets fill ${NAME}
// in the policy's notification settings.
func (f *notifyFlags) options(secrets config.Secrets) (notify.Options, error) {
	o := notify.Options{SMTPURL: f.smtpURL, From: f.smtpFrom, Secrets: secrets}
	if f.smtpCredentialsFile != "" {
		user, password, err := notify.ReadSMTPCredentials(f.smtpCredentialsFile)
		if err != nil {
			return o, fmt.Errorf("--smtp-credentials-file: %w", err)
		}
		o.SMTPUser, o.SMTPPassword = user, password
	}
	return o, nil
}

// notifier builds the Notifier of the flags; failures, when onFailure is
// set, are kept where the status commands show them.
func (f *notifyFlags) notifier(secrets config.Secrets, reg prometheus.Registerer, logger *slog.Logger, onFailure func(notify.Failure) error) (*notify.Notifier, error) {
	o, err := f.options(secrets)
	if err != nil {
		return nil, err
	}
	o.Registerer, o.Logger = reg, logger
	if onFailure != nil {
		o.OnFailure = func(fl notify.Failure) {
			if err := onFailure(fl); err != nil {
				logger.Warn("recording a notification failure", "err", err)
			}
		}
	}
	return notify.New(o)
}

func newNotifyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Notifications of the deployment policy (email, Slack, PagerDuty, webhooks)",
	}
	cmd.AddCommand(newNotifyTestCmd())
	return cmd
}

func newNotifyTestCmd() *cobra.Command {
	var (
		nf              notifyFlags
		env, event, dir string
		secretsFile     string
		secretEnv       []string
	)
	cmd := &cobra.Command{
		Use:   "test --env NAME [--event E] [DIR]",
		Short: "Send a sample of every notification the policy configures for an environment",
		Long: `Test reads .gitops/deployment-policy.yaml of the config repository at DIR
(default: the current directory), and sends a sample event to every target
of the environment's notifications (or of one event: approval-required,
completed, failed, rolled-back, drift-detected, or the policy's key such as
onDeploymentFailed), at once and without retries, and says how each went.
Secrets (${NAME}) come from the environment (HONUA_SECRET_<NAME>, or
--secret-env) or --secrets-file, as for the runner; they are never printed.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd.Flags(), os.LookupEnv); err != nil {
				return usageError("%w", err)
			}
			dir = "."
			if len(args) == 1 {
				dir = args[0]
			}
			if env == "" {
				return usageError("--env is required: the environment whose notifications to test")
			}
			var kind notify.Kind
			if event != "" {
				k, ok := notify.ParseKind(event)
				if !ok {
					return usageError("--event %q: use approval-required, completed, failed, rolled-back or drift-detected", event)
				}
				kind = k
			}
			secrets, err := secretsFrom(secretsFile, secretEnv)
			if err != nil {
				return usageError("%w", err)
			}
			ctx := cmd.Context()
			bundle, err := policy.Load(ctx, config.NewDirSource(dir, config.DefaultLimits))
			if err != nil {
				return usageError("%w", err)
			}
			if len(bundle.Errors) > 0 {
				return usageError("%s", bundle.Errors[0])
			}
			if bundle.File == nil {
				return usageError("%s has no %s: nothing to notify", dir, policy.PolicyFile)
			}
			cfg, err := notify.ParseConfig(policy.PolicyFile, bundle.File.Env(env).Notifications)
			if err != nil {
				return usageError("%w", err)
			}
			if cfg.Empty() {
				fmt.Fprintf(cmd.OutOrStdout(), "%s has no notifications for %s\n", policy.PolicyFile, env)
				return nil
			}
			n, err := nf.notifier(secrets, nil, newLogger(cmd, "text"), nil)
			if err != nil {
				return usageError("%w", err)
			}
			defer n.Close()
			return printNotifyResults(ctx, cmd, n.Test(ctx, cfg, kind, env))
		},
	}
	fs := cmd.Flags()
	nf.register(fs)
	fs.StringVar(&env, "env", "", "the environment")
	fs.StringVar(&event, "event", "", "one event to test (default: every event the policy configures)")
	fs.StringVar(&secretsFile, "secrets-file", "", "a file of NAME=value lines filling ${NAME} references")
	fs.StringArrayVar(&secretEnv, "secret-env", nil, "an environment variable the settings may read as ${NAME} (repeatable)")
	return cmd
}

// printNotifyResults prints each target's result; any failure is the
// command's failure.
func printNotifyResults(_ context.Context, cmd *cobra.Command, results []notify.Result) error {
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
			fmt.Fprintf(cmd.OutOrStdout(), "FAIL  %-18s %s: %v\n", r.Kind, r.Target, r.Err)
			continue
		}
		fmt.Fprintf(cmd.OutOrStdout(), "ok    %-18s %s\n", r.Kind, r.Target)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d notifications failed", failed, len(results))
	}
	return nil
}

// onceFlushTimeout is how long a --once run waits at exit for its
// notifications (a cron job should end; a target down for longer misses
// this one, and the failure is logged).
const onceFlushTimeout = 30 * time.Second

// flushNotifications ends n at exit: a --once run first waits a while for
// the deliveries it started; a long-running one has given them their time.
func flushNotifications(n *notify.Notifier, once bool) {
	if n == nil {
		return
	}
	if once {
		done := make(chan struct{})
		go func() { n.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(onceFlushTimeout):
		}
	}
	n.Close()
}
