package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-github/v66/github"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/honua-io/honua-gitops/app"
	"github.com/honua-io/honua-gitops/notify"
	"github.com/honua-io/honua-gitops/reconciler/apply"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/mirror"
	"github.com/honua-io/honua-gitops/reconciler/order"
	"github.com/honua-io/honua-gitops/reconciler/runner"
)

type runnerFlags struct {
	repo, githubURL, privateKeyFile, stateDir, memoryLimit string
	appBot, listen, logFormat, secretsFile                 string
	appID                                                  int64
	envs, orderKeys, secretEnv                             []string
	honuaURLs, metadataPaths, publicURLs, adminTokenFiles  []string
	interval, healthTimeout, healthInterval                time.Duration
	once, noRollback, selfHeal                             bool
	notify                                                 notifyFlags
}

func newRunnerCmd() *cobra.Command {
	var f runnerFlags
	cmd := &cobra.Command{
		Use:   "runner --repo OWNER/NAME --env NAME [--env NAME]... --honua-url URL --metadata-path PATH --state-dir DIR",
		Short: "Apply the deployments the App approved to a Honua server, polling GitHub outbound only",
		Long: `Runner lives beside a Honua server inside the network. It polls GitHub
(outbound only, conditional requests: idle polls cost no rate limit) for the
deployments the App queued in its environments, verifies their signed
deploy orders, claims one, renders the environment's metadata document at
the deployment's commit, backs up the live document, writes the new one
atomically, reloads Honua, checks its health and every changed collection,
rolls back by itself when that fails, and reports the outcome on GitHub.

GitHub credentials: as the App (--app-id and --private-key-file; the
installation is found from --repo) or a token in GITHUB_TOKEN (deployments:
write, contents: read; then --app-bot names the App's bot, whose queued
statuses alone start a deployment). Every flag has a HONUA_GITOPS_*
variable, as for serve. --once polls once (for cron).

Several environments: repeat --env; each has its own Honua server. Give
--honua-url and --metadata-path (and --public-url, --admin-token-file)
once per --env, in the same order, or once with {env} in it
(--metadata-path /srv/honua/{env}/metadata.json).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), os.LookupEnv); err != nil {
				return usageError("%w", err)
			}
			logger := newLogger(cmd, f.logFormat)
			if err := setMemoryLimit(f.memoryLimit, os.LookupEnv, logger); err != nil {
				return usageError("%w", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			reg := prometheus.NewRegistry()
			r, n, err := f.build(ctx, reg, logger)
			if err != nil {
				return usageError("%w", err)
			}
			defer flushNotifications(n, f.once)
			stopHealth, err := serveHealth(f.listen, reg)
			if err != nil {
				return usageError("%w", err)
			}
			defer stopHealth()
			if f.once {
				if err := r.Recover(ctx); err != nil {
					return err
				}
				if err := r.Poll(ctx); err != nil {
					return err
				}
				if f.healthInterval > 0 {
					return r.WatchAll(ctx)
				}
				return nil
			}
			logger.Info("runner polling", "repo", f.repo, "envs", strings.Join(f.envs, ","), "interval", f.interval)
			if err := r.Run(ctx, f.interval); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.repo, "repo", "", "the config repository, OWNER/NAME")
	fs.StringArrayVar(&f.envs, "env", nil, "an environment this runner applies (repeatable; each gets its own state under --state-dir)")
	fs.StringVar(&f.githubURL, "github-url", app.DefaultBaseURL, "GitHub's REST API (https://HOST/api/v3/ for GitHub Enterprise Server)")
	fs.Int64Var(&f.appID, "app-id", 0, "authenticate as this GitHub App (with --private-key-file); else GITHUB_TOKEN")
	fs.StringVar(&f.privateKeyFile, "private-key-file", "", "the GitHub App's private key (PEM)")
	fs.StringVar(&f.appBot, "app-bot", "", "the App's bot login whose queued statuses start a deployment (default: read from GitHub when running as the App)")
	fs.StringArrayVar(&f.orderKeys, "order-public-key-file", nil, "a trusted order-signing public key, PEM (repeat during a key rotation)")
	fs.StringArrayVar(&f.honuaURLs, "honua-url", nil, "the Honua server (http://127.0.0.1:8080); once per --env, or once with {env} in it")
	fs.StringArrayVar(&f.publicURLs, "public-url", nil, "the server's address people use, reported as the deployment's environment_url (default --honua-url); once, or once per --env")
	fs.StringArrayVar(&f.adminTokenFiles, "admin-token-file", nil, "a file holding Honua's admin token; once, or once per --env")
	fs.StringArrayVar(&f.metadataPaths, "metadata-path", nil, "the live metadata document Honua reads (HONUA__METADATA__PATH); once per --env, or once with {env} in it")
	fs.StringVar(&f.stateDir, "state-dir", "", "the runner's state: journal, backups, git cache")
	fs.StringVar(&f.secretsFile, "secrets-file", "", "a file of NAME=value lines filling ${NAME} references (see docs/secrets.md)")
	fs.StringArrayVar(&f.secretEnv, "secret-env", nil, "an environment variable the documents may read as ${NAME} (repeatable)")
	fs.DurationVar(&f.interval, "interval", 5*time.Second, "how often to poll")
	fs.DurationVar(&f.healthTimeout, "health-timeout", apply.DefaultHealthTimeout, "how long post-validation may take before rolling back")
	fs.BoolVar(&f.noRollback, "no-rollback", false, "keep a new document that fails post-validation (the policy's rollbackOnFailure: false)")
	fs.DurationVar(&f.healthInterval, "health-interval", 30*time.Second, "how often to check health and drift between deployments, reporting only transitions as the check run (or commit status) honua/health (ENV) on the deployed commit; 0 does not")
	fs.BoolVar(&f.selfHeal, "self-heal", false, "when the live document drifts from the deployed commit (Synced → OutOfSync), re-apply the deployed commit; else only report")
	fs.BoolVar(&f.once, "once", false, "recover, poll once (and check health once unless --health-interval=0) and exit")
	fs.StringVar(&f.listen, "listen", "", "serve /healthz and /metrics on this address")
	fs.StringVar(&f.logFormat, "log-format", "json", "log format: json or text")
	f.notify.register(fs)
	fs.StringVar(&f.memoryLimit, "memory-limit", defaultMemoryLimit, "a soft limit on the runner's memory (Go's GOMEMLIMIT, which wins when set): the garbage collector works harder near it; off for none")
	cmd.AddCommand(newRunnerStatusCmd())
	return cmd
}

// build wires the runner from the flags; errors name the flag and the fix.
func (f *runnerFlags) build(ctx context.Context, reg *prometheus.Registry, logger *slog.Logger) (*runner.Runner, *notify.Notifier, error) {
	switch {
	case f.repo == "":
		return nil, nil, errors.New("--repo is required: the config repository, OWNER/NAME")
	case len(f.envs) == 0:
		return nil, nil, errors.New("--env is required: the environment(s) this runner applies")
	case f.stateDir == "":
		return nil, nil, errors.New("--state-dir is required: the runner's journal, backups and git cache")
	case len(f.orderKeys) == 0:
		return nil, nil, errors.New("--order-public-key-file is required: only orders signed by the App are applied (openssl pkey -in order-key.pem -pubout)")
	}
	var pubs []ed25519.PublicKey
	for _, p := range f.orderKeys {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("--order-public-key-file: %w", err)
		}
		k, err := order.ParsePublicKeyPEM(b)
		if err != nil {
			return nil, nil, fmt.Errorf("--order-public-key-file %s: %w", p, err)
		}
		pubs = append(pubs, k)
	}
	secrets, err := secretsFrom(f.secretsFile, f.secretEnv)
	if err != nil {
		return nil, nil, err
	}
	servers, err := serversOf(f.envs, f.honuaURLs, f.metadataPaths, f.publicURLs, f.adminTokenFiles)
	if err != nil {
		return nil, nil, err
	}
	owner, name, _ := strings.Cut(f.repo, "/")
	tr := app.NewTransport(nil, app.TransportOptions{Registry: reg, Logger: logger})
	var gh *github.Client
	var token func(context.Context) (string, error)
	bot := f.appBot
	if f.appID != 0 {
		key, err := os.ReadFile(f.privateKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--private-key-file: %w", err)
		}
		clients, err := app.NewClients(app.ClientsConfig{BaseURL: f.githubURL, AppID: f.appID, PrivateKey: key, Transport: tr})
		if err != nil {
			return nil, nil, err
		}
		inst, _, err := clients.App(ctx).Apps.FindRepositoryInstallation(ctx, owner, name)
		if err != nil {
			return nil, nil, fmt.Errorf("finding the App's installation on %s: %w", f.repo, err)
		}
		if gh, err = clients.Installation(ctx, inst.GetID()); err != nil {
			return nil, nil, err
		}
		token = func(ctx context.Context) (string, error) { return clients.Token(ctx, inst.GetID()) }
		if bot == "" {
			if bot, err = clients.BotLogin(ctx); err != nil {
				return nil, nil, err
			}
		}
	} else {
		tok := os.Getenv("GITHUB_TOKEN")
		if tok == "" {
			return nil, nil, errors.New("no GitHub credentials: give --app-id and --private-key-file, or GITHUB_TOKEN")
		}
		if bot == "" {
			return nil, nil, errors.New("--app-bot is required with GITHUB_TOKEN: the App's bot login (honua-gitops[bot])")
		}
		c := github.NewClient(&http.Client{Transport: tr}).WithAuthToken(tok)
		if f.githubURL != app.DefaultBaseURL {
			if c, err = c.WithEnterpriseURLs(f.githubURL, f.githubURL); err != nil {
				return nil, nil, err
			}
		}
		gh = c
		token = func(context.Context) (string, error) { return tok, nil }
	}
	m, err := mirror.New(mirror.Config{Dir: filepath.Join(f.stateDir, "git"), GitURL: app.GitURLFor(f.githubURL), Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	envs := environments(servers, f.stateDir, f.healthTimeout, !f.noRollback, logger)
	store := &runner.Store{Dir: f.stateDir}
	n, err := f.notify.notifier(secrets, reg, logger, store.RecordNotifyFailure)
	if err != nil {
		return nil, nil, err
	}
	r, err := runner.New(runner.Config{
		Notifier: n,
		Repo:     f.repo, GitHub: gh, Token: token, Mirror: m, AppBot: bot, Keys: order.Keys(pubs...),
		Secrets: secrets, Limits: config.DefaultLimits, Logger: logger, ID: hostID(), Store: store,
		HealthInterval: f.healthInterval, SelfHeal: f.selfHeal, Environments: envs,
	})
	if err != nil {
		n.Close()
		return nil, nil, err
	}
	return r, n, nil
}

// hostID names this runner in its claims.
func hostID() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "runner"
	}
	return h
}
