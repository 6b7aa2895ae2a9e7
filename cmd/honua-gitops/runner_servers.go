package main

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/honua-io/honua-gitops/reconciler/apply"
	"github.com/honua-io/honua-gitops/reconciler/runner"
)

// server is the Honua server of one environment of a runner.
type server struct {
	env, honuaURL, metadataPath, publicURL, adminToken string
}

// serversOf pairs each --env with its Honua flags: a flag given once per
// --env goes with the --env in the same place; one given once holds for
// every environment, with {env} replaced by the environment's name. Two
// environments never share a metadata document or a server.
func serversOf(envs, honuaURLs, metadataPaths, publicURLs, adminTokenFiles []string) ([]server, error) {
	seen := map[string]bool{}
	for _, e := range envs {
		if e == "" || strings.ContainsAny(e, "/\\{}") {
			return nil, fmt.Errorf("--env %q: an environment name is a folder name under environments/ (development, staging, production)", e)
		}
		if seen[e] {
			return nil, fmt.Errorf("--env %s is given twice", e)
		}
		seen[e] = true
	}
	pick := func(flag string, vals []string, required, distinct bool) ([]string, error) {
		out := make([]string, len(envs))
		switch {
		case len(vals) == 0:
			if required {
				return nil, fmt.Errorf("--%s is required", flag)
			}
			return out, nil
		case len(vals) == len(envs):
			for i, v := range vals {
				out[i] = strings.ReplaceAll(v, "{env}", envs[i])
			}
		case len(vals) == 1:
			if distinct && len(envs) > 1 && !strings.Contains(vals[0], "{env}") {
				return nil, fmt.Errorf("--%s %s would serve %d environments: give one --%s per --env, in the same order, or write {env} in it", flag, vals[0], len(envs), flag)
			}
			for i := range envs {
				out[i] = strings.ReplaceAll(vals[0], "{env}", envs[i])
			}
		default:
			return nil, fmt.Errorf("--%s is given %d times for %d environments: give it once per --env, in the same order, or once with {env} in it", flag, len(vals), len(envs))
		}
		if distinct {
			for i := range out {
				for j := range i {
					if out[i] == out[j] {
						return nil, fmt.Errorf("--%s: %s and %s would share %s: each environment has its own", flag, envs[j], envs[i], out[i])
					}
				}
			}
		}
		return out, nil
	}
	urls, err := pick("honua-url", honuaURLs, true, true)
	if err != nil {
		return nil, err
	}
	paths, err := pick("metadata-path", metadataPaths, true, true)
	if err != nil {
		return nil, err
	}
	public, err := pick("public-url", publicURLs, false, false)
	if err != nil {
		return nil, err
	}
	tokenFiles, err := pick("admin-token-file", adminTokenFiles, false, false)
	if err != nil {
		return nil, err
	}
	out := make([]server, len(envs))
	for i, e := range envs {
		out[i] = server{env: e, honuaURL: urls[i], metadataPath: paths[i], publicURL: public[i]}
		if out[i].publicURL == "" {
			out[i].publicURL = urls[i]
		}
		if tokenFiles[i] != "" {
			b, err := os.ReadFile(tokenFiles[i])
			if err != nil {
				return nil, fmt.Errorf("--admin-token-file for %s: %w", e, err)
			}
			out[i].adminToken = strings.TrimSpace(string(b))
		}
	}
	return out, nil
}

// environments are a runner's (or the controller's) environments: each
// server's Honua, with its applier's journal and backups under
// stateDir/apply-<env>.
func environments(servers []server, stateDir string, healthTimeout time.Duration, rollback bool, logger *slog.Logger) []runner.Environment {
	var envs []runner.Environment
	for _, sv := range servers {
		envs = append(envs, runner.Environment{
			Name: sv.env, URL: sv.publicURL, HealthTimeout: healthTimeout, RollbackOnFailure: rollback,
			Applier: &apply.Applier{MetadataPath: sv.metadataPath, StateDir: filepath.Join(stateDir, "apply-"+sv.env),
				Honua: &runner.HonuaClient{BaseURL: sv.honuaURL, AdminToken: sv.adminToken}, Logger: logger},
		})
	}
	return envs
}

// serveHealth serves /healthz and reg's /metrics on listen, until the
// returned stop is called; nothing when listen is "".
func serveHealth(listen string, reg *prometheus.Registry) (stop func(), err error) {
	if listen == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", listen, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	return func() { _ = hs.Close() }, nil
}

// defaultMemoryLimit keeps a runner applying a 10,000-layer environment
// under 150 MB resident (BENCHMARKS.md); the live heap of that apply is
// about 100 MB.
const defaultMemoryLimit = "128MiB"

// setMemoryLimit sets Go's soft memory limit from --memory-limit, unless
// GOMEMLIMIT is set (the runtime read it already; it wins).
func setMemoryLimit(flag string, lookup func(string) (string, bool), logger *slog.Logger) error {
	if v, ok := lookup("GOMEMLIMIT"); ok && v != "" {
		logger.Debug("memory limit from GOMEMLIMIT", "limit", v)
		return nil
	}
	n, err := parseByteSize(flag)
	if err != nil {
		return fmt.Errorf("--memory-limit: %w", err)
	}
	debug.SetMemoryLimit(n)
	return nil
}

// parseByteSize reads a size as GOMEMLIMIT writes it: an integer of bytes
// with an optional B, KiB, MiB, GiB or TiB suffix; "off" is no limit.
func parseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return math.MaxInt64, nil
	}
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = v, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, errors.New(s + " is not a size: write it as GOMEMLIMIT does (128MiB, 1GiB, 500000000) or off")
	}
	if n*mult < 32<<20 {
		return 0, fmt.Errorf("%s is below 32MiB: the runner needs more to start", s)
	}
	return n * mult, nil
}
