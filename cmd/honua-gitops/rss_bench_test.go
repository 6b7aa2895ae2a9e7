package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/internal/configgen"
	"github.com/honua-io/honua-gitops/internal/githubsim"
	"github.com/honua-io/honua-gitops/internal/honuasim"
	"github.com/honua-io/honua-gitops/reconciler/order"
)

// BenchmarkRunnerRSS runs the real runner binary (its poll loop, every
// 500 ms) against a repository of N layers and reports its resident memory:
// while idle, and the high-water mark after it applied the environment.
func BenchmarkRunnerRSS(b *testing.B) {
	for _, layers := range []int{100, 10000} {
		b.Run(fmt.Sprintf("layers=%d", layers), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				idle, peak := runnerRSS(b, layers)
				b.ReportMetric(float64(idle)/1024, "idle-rss-MB")
				b.ReportMetric(float64(peak)/1024, "peak-rss-MB")
			}
		})
	}
}

func runnerRSS(b *testing.B, layers int) (idleKB, peakKB int) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "honua-gitops")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("%v\n%s", err, out)
	}
	ctx := context.Background()
	sim, err := githubsim.NewServer(githubsim.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	inst := sim.Install("kailua-gis")
	tree := filepath.Join(dir, "tree")
	if err := configgen.WriteTree(tree, layers); err != nil {
		b.Fatal(err)
	}
	sha, err := sim.CreateRepo(ctx, "kailua-gis/config", "main", tree)
	if err != nil {
		b.Fatal(err)
	}
	tok, _, _ := sim.IssueToken(inst)
	gh, _ := github.NewClient(http.DefaultClient).WithAuthToken(tok).WithEnterpriseURLs(sim.APIURL(), sim.APIURL())
	pub, key, _ := ed25519.GenerateKey(nil)
	keyFile := filepath.Join(dir, "order.pub.pem")
	pemBytes, _ := order.PublicKeyPEM(pub)
	if err := os.WriteFile(keyFile, pemBytes, 0o644); err != nil {
		b.Fatal(err)
	}
	live := filepath.Join(dir, "honua", "metadata.json")
	_ = os.MkdirAll(filepath.Dir(live), 0o755)
	honua, err := honuasim.NewServer(honuasim.Options{MetadataPath: live})
	if err != nil {
		b.Fatal(err)
	}
	defer honua.Close()
	c := exec.Command(bin, "runner", "--repo", "kailua-gis/config", "--env", "production", "--interval", "500ms",
		"--github-url", sim.APIURL(), "--app-bot", sim.BotLogin(), "--honua-url", honua.URL(), "--health-interval", "0",
		"--metadata-path", live, "--state-dir", filepath.Join(dir, "state"), "--order-public-key-file", keyFile, "--log-format", "text")
	c.Env = append(os.Environ(), "GITHUB_TOKEN="+tok)
	if err := c.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Process.Kill(); _ = c.Wait() }()
	time.Sleep(3 * time.Second) // idle polls
	idleKB = procStatus(b, c.Process.Pid, "VmRSS")
	id := queueDeployment(b, gh, key, sha, "production")
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, dd := range sim.Deployments("kailua-gis/config") {
			if dd.ID == id && len(dd.States) > 0 && (dd.States[len(dd.States)-1] == "success" || dd.States[len(dd.States)-1] == "failure") {
				return idleKB, procStatus(b, c.Process.Pid, "VmHWM")
			}
		}
	}
	b.Fatal("the deployment was not applied within 2 minutes")
	return 0, 0
}

// procStatus reads a kB field of /proc/PID/status.
func procStatus(b *testing.B, pid int, field string) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
