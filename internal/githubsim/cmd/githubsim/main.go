// Command githubsim runs the GitHub emulator as a process for the local demo:
// it creates the repositories it is given, installs the App on their owners,
// writes the App's private key as PEM and prints what the App and the runner
// need to reach it.
//
//	go run ./internal/githubsim/cmd/githubsim -addr 127.0.0.1:8081 \
//	    -repo kailua/config=samples/config -webhook-url http://127.0.0.1:8080/webhook \
//	    -key-out /tmp/honua-app.pem
//
// The webhook secret comes from HONUA_GITOPS_SIM_WEBHOOK_SECRET.
package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/honua-io/honua-gitops/internal/githubsim"
)

type repoFlags []string

func (r *repoFlags) String() string     { return strings.Join(*r, ",") }
func (r *repoFlags) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "githubsim:", err)
		os.Exit(1)
	}
}

func run() error {
	var repos repoFlags
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	hookURL := flag.String("webhook-url", "", "where to deliver the App's webhooks")
	keyOut := flag.String("key-out", "", "write the App's private key (PEM) here")
	writers := flag.String("writers", "", "comma-separated logins given write access to every repo")
	flag.Var(&repos, "repo", "owner/name=dir to create from a folder (repeatable)")
	flag.Parse()

	sim, err := githubsim.NewServer(githubsim.Options{
		Addr: *addr, WebhookURL: *hookURL, WebhookSecret: os.Getenv("HONUA_GITOPS_SIM_WEBHOOK_SECRET"),
	})
	if err != nil {
		return err
	}
	defer sim.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	info := map[string]any{"url": sim.URL(), "app_id": sim.AppID(), "installations": map[string]int64{}, "clone_urls": map[string]string{}}
	for _, spec := range repos {
		full, dir, _ := strings.Cut(spec, "=")
		owner, _, _ := strings.Cut(full, "/")
		info["installations"].(map[string]int64)[owner] = sim.Install(owner)
		if _, err := sim.CreateRepo(ctx, full, "main", dir); err != nil {
			return fmt.Errorf("creating %s: %w", full, err)
		}
		for _, w := range strings.Split(*writers, ",") {
			if w != "" {
				sim.SetCollaborator(full, w, githubsim.PermWrite)
			}
		}
		info["clone_urls"].(map[string]string)[full] = sim.CloneURL(full)
	}
	if *keyOut != "" {
		der := x509.MarshalPKCS1PrivateKey(sim.AppKey())
		if err := os.WriteFile(*keyOut, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return fmt.Errorf("writing key: %w", err)
		}
		info["key_file"] = *keyOut
	}
	json.NewEncoder(os.Stdout).Encode(info)
	slog.Info("githubsim listening", "url", sim.URL())
	<-ctx.Done()
	return nil
}
