package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/honua-io/honua-gitops/notify"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/controller"
)

type controllerFlags struct {
	gitURL, branch, path, stateDir, memoryLimit, logFormat, listen, secretsFile string
	gitUsername, gitTokenFile, sshKeyFile, knownHostsFile                       string
	envs, secretEnv, honuaURLs, metadataPaths, publicURLs, adminTokenFiles      []string
	interval, healthTimeout, healthInterval                                     time.Duration
	historyLimit                                                                int
	once, noRollback                                                            bool
	notify                                                                      notifyFlags
}

func newControllerCmd() *cobra.Command {
	var f controllerFlags
	cmd := &cobra.Command{
		Use:   "controller --git-url URL --env NAME [--env NAME]... --honua-url URL --metadata-path PATH --state-dir DIR",
		Short: "Deploy a branch of any Git host to Honua servers, without GitHub: the pull controller",
		Long: `Controller watches a branch of a config repository on any Git host
(GitHub, GitLab, Gitea, Bitbucket, a bare repository: https://, ssh://,
file://). Each interval it lists the remote's refs (no fetch); when the
branch moved it fetches it, and for each environment whose document the
new commit changes it makes a deployment (<env>-<UTC yyyyMMddHHmmss>-<sha7>)
judged by the deployment policy of the last deployed commit. Deployments
that need approval wait for ` + "`honua-gitops deployment approve`" + `; the rest are
applied with the runner's engine (backup, atomic write, reload,
post-validation, automatic rollback). State: the file store under
--state-dir, shared with the deployment command.

Credentials: HTTPS with --git-username and --git-token-file; SSH with
--ssh-key-file and --known-hosts-file (host keys are always checked).
Several environments: as for runner, --honua-url and --metadata-path once
per --env or once with {env}. Every flag has a HONUA_GITOPS_* variable.`,
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
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			c, n, err := f.build(reg, logger)
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
				if err := c.Recover(ctx); err != nil {
					return err
				}
				return c.Poll(ctx)
			}
			logger.Info("controller polling", "remote", f.gitURL, "branch", f.branch, "envs", strings.Join(f.envs, ","), "interval", f.interval)
			if err := c.Run(ctx, f.interval); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.gitURL, "git-url", "", "the config repository's remote (https://, ssh://, user@host:path, file://)")
	fs.StringVar(&f.branch, "branch", "main", "the branch deployed")
	fs.StringVar(&f.path, "path", "", "the config repository's folder within the Git repository")
	fs.StringArrayVar(&f.envs, "env", nil, "an environment this controller deploys (repeatable)")
	fs.StringArrayVar(&f.honuaURLs, "honua-url", nil, "the Honua server; once per --env, or once with {env} in it")
	fs.StringArrayVar(&f.metadataPaths, "metadata-path", nil, "the live metadata document Honua reads; once per --env, or once with {env} in it")
	fs.StringArrayVar(&f.publicURLs, "public-url", nil, "the server's address people use (default --honua-url); once, or once per --env")
	fs.StringArrayVar(&f.adminTokenFiles, "admin-token-file", nil, "a file holding Honua's admin token; once, or once per --env")
	fs.StringVar(&f.stateDir, "state-dir", "", "the controller's state: deployments, journal, backups, git clone")
	fs.StringVar(&f.gitUsername, "git-username", "", "HTTPS user name (with --git-token-file; GitLab: oauth2 or the token's user, Gitea: the user)")
	fs.StringVar(&f.gitTokenFile, "git-token-file", "", "a file holding the HTTPS token or password")
	fs.StringVar(&f.sshKeyFile, "ssh-key-file", "", "an SSH private key for ssh:// remotes")
	fs.StringVar(&f.knownHostsFile, "known-hosts-file", "", "the known_hosts file that vouches for the SSH host (default ~/.ssh/known_hosts)")
	fs.StringVar(&f.secretsFile, "secrets-file", "", "a file of NAME=value lines filling ${NAME} references (see docs/secrets.md)")
	fs.StringArrayVar(&f.secretEnv, "secret-env", nil, "an environment variable the documents may read as ${NAME} (repeatable)")
	fs.DurationVar(&f.interval, "interval", 30*time.Second, "how often to list the remote's refs")
	fs.DurationVar(&f.healthTimeout, "health-timeout", 0, "how long post-validation may take (default: the policy's safety.healthCheckTimeout)")
	fs.DurationVar(&f.healthInterval, "health-interval", 30*time.Second, "how often to check health and drift; 0 does not")
	fs.IntVar(&f.historyLimit, "history", 50, "deployments kept per environment (open ones always are)")
	fs.BoolVar(&f.noRollback, "no-rollback", false, "keep a new document that fails post-validation")
	fs.BoolVar(&f.once, "once", false, "recover, poll once and exit (for cron)")
	fs.StringVar(&f.listen, "listen", "", "serve /healthz and /metrics on this address")
	fs.StringVar(&f.logFormat, "log-format", "json", "log format: json or text")
	f.notify.register(fs)
	fs.StringVar(&f.memoryLimit, "memory-limit", defaultMemoryLimit, "a soft limit on the controller's memory (GOMEMLIMIT wins when set); off for none")
	return cmd
}

// build wires the controller from the flags.
func (f *controllerFlags) build(reg prometheus.Registerer, logger *slog.Logger) (*controller.Controller, *notify.Notifier, error) {
	switch {
	case f.gitURL == "":
		return nil, nil, errors.New("--git-url is required: the config repository's remote")
	case len(f.envs) == 0:
		return nil, nil, errors.New("--env is required: the environment(s) this controller deploys")
	case f.stateDir == "":
		return nil, nil, errors.New("--state-dir is required: the deployments, journal, backups and git clone")
	}
	auth, err := f.auth()
	if err != nil {
		return nil, nil, err
	}
	secrets, err := secretsFrom(f.secretsFile, f.secretEnv)
	if err != nil {
		return nil, nil, err
	}
	servers, err := serversOf(f.envs, f.honuaURLs, f.metadataPaths, f.publicURLs, f.adminTokenFiles)
	if err != nil {
		return nil, nil, err
	}
	envs := environments(servers, f.stateDir, f.healthTimeout, !f.noRollback, logger)
	store := &controller.Store{Dir: f.stateDir, HistoryLimit: f.historyLimit}
	n, err := f.notify.notifier(secrets, reg, logger, store.RecordNotifyFailure)
	if err != nil {
		return nil, nil, err
	}
	c, err := controller.New(controller.Config{
		URL: f.gitURL, Auth: auth, Branch: f.branch, Path: f.path, GitDir: controller.GitDirIn(f.stateDir),
		Environments: envs, Store: store,
		Secrets: secrets, Limits: config.DefaultLimits, HealthInterval: f.healthInterval, Logger: logger, Notifier: n,
	})
	if err != nil {
		n.Close()
		return nil, nil, err
	}
	return c, n, nil
}

// auth is the remote's credentials from the flags.
func (f *controllerFlags) auth() (transport.AuthMethod, error) {
	switch {
	case f.sshKeyFile != "":
		user := "git"
		if ep, err := transport.NewEndpoint(f.gitURL); err == nil && ep.User != "" {
			user = ep.User
		}
		keys, err := gitssh.NewPublicKeysFromFile(user, f.sshKeyFile, "")
		if err != nil {
			return nil, fmt.Errorf("--ssh-key-file %s: %w", f.sshKeyFile, err)
		}
		var files []string
		if f.knownHostsFile != "" {
			files = append(files, f.knownHostsFile)
		}
		cb, err := gitssh.NewKnownHostsCallback(files...)
		if err != nil {
			return nil, fmt.Errorf("known hosts (--known-hosts-file): %w: add the host with ssh-keyscan HOST >> known_hosts", err)
		}
		keys.HostKeyCallback = cb
		return keys, nil
	case f.gitTokenFile != "":
		b, err := os.ReadFile(f.gitTokenFile)
		if err != nil {
			return nil, fmt.Errorf("--git-token-file: %w", err)
		}
		user := f.gitUsername
		if user == "" {
			user = "git"
		}
		return &githttp.BasicAuth{Username: user, Password: strings.TrimSpace(string(b))}, nil
	}
	return nil, nil
}
