package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/honua-io/honua-gitops/app"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/order"
)

// envPrefix is the prefix of the environment variables that set serve's
// flags: --app-id is HONUA_GITOPS_APP_ID.
const envPrefix = "HONUA_GITOPS_"

type serveFlags struct {
	listen, githubURL, privateKeyFile, signingKeyFile, dataDir string
	appID                                                      int64
	webhookSecretFiles                                         []string
	workers, queueSize                                         int
	sweepInterval, drain                                       time.Duration
	logFormat                                                  string
	secretsFile                                                string
	secretEnv                                                  []string
	notify                                                     notifyFlags
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the GitHub App: webhooks, plans and verdicts as check runs, deployments on merge",
		Long: `Serve runs the GitHub App of honua-gitops (docs/github-app.md): it
receives GitHub's webhooks at POST /webhooks/github, plans and judges pull
requests, creates deployments on merge, and handles approvals, rejections
and rollbacks. GET /healthz, /readyz and /metrics serve operations.

Every flag can be set with an environment variable: HONUA_GITOPS_ and the
flag's name in upper case with underscores (--app-id: HONUA_GITOPS_APP_ID).
A flag given on the command line wins. SIGTERM and SIGINT drain the queue
(within --drain) before the process exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), os.LookupEnv); err != nil {
				return usageError("%w", err)
			}
			cfg, err := f.config()
			if err != nil {
				return usageError("%w", err)
			}
			cfg.Logger = newLogger(cmd, f.logFormat)
			svc, err := app.NewService(cfg)
			if err != nil {
				return usageError("%w", err)
			}
			ln, err := net.Listen("tcp", f.listen)
			if err != nil {
				return usageError("listening on %s: %w", f.listen, err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			cfg.Logger.Info("serving", "addr", ln.Addr().String(), "github", cfg.GitHubURL, "app_id", cfg.AppID)
			return svc.Run(ctx, ln, f.drain)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.listen, "listen", ":8080", "address of the HTTP server")
	fs.StringVar(&f.githubURL, "github-url", app.DefaultBaseURL, "GitHub's REST API: https://api.github.com/, or https://HOST/api/v3/ for GitHub Enterprise Server")
	fs.Int64Var(&f.appID, "app-id", 0, "the GitHub App's id")
	fs.StringVar(&f.privateKeyFile, "private-key-file", "", "the GitHub App's private key (PEM)")
	fs.StringArrayVar(&f.webhookSecretFiles, "webhook-secret-file", nil, "a file holding a webhook secret (repeat during a rotation; the variable takes a comma-separated list)")
	fs.StringVar(&f.signingKeyFile, "order-signing-key-file", "", "the Ed25519 private key (PKCS#8 PEM) that signs deploy orders")
	fs.StringVar(&f.dataDir, "data-dir", "", "the git mirror cache")
	fs.IntVar(&f.workers, "workers", 4, "events handled at once")
	fs.IntVar(&f.queueSize, "queue-size", 256, "events waiting for a worker; beyond it GitHub gets 503")
	fs.DurationVar(&f.sweepInterval, "sweep-interval", 5*time.Minute, "how often missed events are repaired (0: never)")
	fs.DurationVar(&f.drain, "drain", 30*time.Second, "how long a shutdown waits for queued events")
	fs.StringVar(&f.logFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&f.secretsFile, "secrets-file", "", "a file of NAME=value lines filling ${NAME} in the policy's notification settings")
	fs.StringArrayVar(&f.secretEnv, "secret-env", nil, "an environment variable the notification settings may read as ${NAME} (repeatable)")
	f.notify.register(fs)
	return cmd
}

// config reads the files the flags name and returns the service's
// configuration. Errors name the flag and the fix; they never quote a
// secret.
func (f *serveFlags) config() (app.ServiceConfig, error) {
	var cfg app.ServiceConfig
	switch {
	case f.appID <= 0:
		return cfg, fmt.Errorf("--app-id is required: the GitHub App's id (Settings → Developer settings → GitHub Apps)")
	case f.privateKeyFile == "":
		return cfg, fmt.Errorf("--private-key-file is required: the App's private key, PEM")
	case len(f.webhookSecretFiles) == 0:
		return cfg, fmt.Errorf("--webhook-secret-file is required: serve refuses to start without a webhook secret (an unsigned webhook could order anything)")
	case f.signingKeyFile == "":
		return cfg, fmt.Errorf("--order-signing-key-file is required: create one with `openssl genpkey -algorithm ed25519 -out order-key.pem`")
	case f.dataDir == "":
		return cfg, fmt.Errorf("--data-dir is required: a directory for the git mirror cache")
	}
	pk, err := os.ReadFile(f.privateKeyFile)
	if err != nil {
		return cfg, fmt.Errorf("--private-key-file: %w", err)
	}
	var secrets [][]byte
	for _, p := range f.webhookSecretFiles {
		b, err := os.ReadFile(p)
		if err != nil {
			return cfg, fmt.Errorf("--webhook-secret-file: %w", err)
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			return cfg, fmt.Errorf("--webhook-secret-file %s is empty: GitHub's signature check would be skipped", p)
		}
		secrets = append(secrets, []byte(s))
	}
	kb, err := os.ReadFile(f.signingKeyFile)
	if err != nil {
		return cfg, fmt.Errorf("--order-signing-key-file: %w", err)
	}
	key, err := order.ParsePrivateKeyPEM(kb)
	if err != nil {
		return cfg, fmt.Errorf("--order-signing-key-file %s: %w", f.signingKeyFile, err)
	}
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return cfg, fmt.Errorf("--data-dir: %w", err)
	}
	notifySecrets, err := secretsFrom(f.secretsFile, f.secretEnv)
	if err != nil {
		return cfg, err
	}
	no, err := f.notify.options(notifySecrets)
	if err != nil {
		return cfg, err
	}
	return app.ServiceConfig{
		GitHubURL: f.githubURL, AppID: f.appID, PrivateKey: pk, WebhookSecrets: secrets,
		SigningKey: key, DataDir: f.dataDir, Workers: f.workers, QueueSize: f.queueSize,
		SweepInterval: f.sweepInterval, Limits: config.DefaultLimits, Notify: &no,
	}, nil
}

// applyEnv sets every flag not given on the command line from its
// HONUA_GITOPS_* variable. A list flag takes a comma-separated list.
func applyEnv(fs *pflag.FlagSet, lookup func(string) (string, bool)) error {
	var err error
	fs.VisitAll(func(fl *pflag.Flag) {
		if err != nil || fl.Changed {
			return
		}
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		v, ok := lookup(name)
		if !ok {
			return
		}
		values := []string{v}
		if fl.Value.Type() == "stringArray" {
			values = strings.Split(v, ",")
		}
		for _, x := range values {
			if e := fs.Set(fl.Name, strings.TrimSpace(x)); e != nil {
				err = fmt.Errorf("%s: %w", name, e)
				return
			}
		}
	})
	return err
}

// newLogger is the server's logger: JSON by default, as log collectors
// want it.
func newLogger(cmd *cobra.Command, format string) *slog.Logger {
	if format == "text" {
		return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	}
	return slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
}
