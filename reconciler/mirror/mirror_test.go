package mirror

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/google/go-cmp/cmp"

	"github.com/honua-io/honua-gitops/internal/githubsim"
	"github.com/honua-io/honua-gitops/reconciler/config"
)

const mirrorTestRepo = "kailua/config"

// mirrorFixture is an emulated GitHub with the sample config repository,
// an installation token obtained as the App obtains it, and a Mirror.
type mirrorFixture struct {
	sim   *githubsim.Server
	inst  int64
	token string
	base  string // the initial commit on main
	dir   string // the Mirror's data directory
	m     *Mirror
}

func mirrorSetup(t testing.TB) *mirrorFixture {
	t.Helper()
	ctx := context.Background()
	sim := githubsim.New(t, githubsim.Options{})
	inst := sim.Install("kailua")
	samples, err := filepath.Abs("../../samples/config")
	if err != nil {
		t.Fatal(err)
	}
	base, err := sim.CreateRepo(ctx, mirrorTestRepo, "main", samples)
	if err != nil {
		t.Fatal(err)
	}
	atr := ghinstallation.NewAppsTransportFromPrivateKey(http.DefaultTransport, sim.AppID(), sim.AppKey())
	atr.BaseURL = sim.URL()
	itr := ghinstallation.NewFromAppsTransport(atr, inst)
	itr.BaseURL = sim.URL()
	token, err := itr.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := &mirrorFixture{sim: sim, inst: inst, token: token, base: base, dir: t.TempDir()}
	f.m = f.newMirror(t)
	return f
}

// newMirror opens another Mirror on the fixture's data directory, as a
// restarted process would.
func (f *mirrorFixture) newMirror(t testing.TB) *Mirror {
	t.Helper()
	m, err := New(Config{
		Dir:    f.dir,
		GitURL: f.sim.CloneURL,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// gitRequests is the number of git smart-HTTP requests served since the
// last ResetCounters.
func (f *mirrorFixture) gitRequests() int {
	return f.sim.RouteCounter("GIT GET").Calls + f.sim.RouteCounter("GIT POST").Calls
}

func (f *mirrorFixture) push(t testing.TB, branch, path, content string) string {
	t.Helper()
	sha, err := f.sim.Push(context.Background(), mirrorTestRepo, branch, "alice", "Change "+path,
		githubsim.FileChange{Path: path, Content: []byte(content)})
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

// mirrorRead reads path through the Mirror's source of repo at sha.
func mirrorRead(t *testing.T, m *Mirror, sha, path string) (string, error) {
	t.Helper()
	ctx := context.Background()
	src, err := m.Source(ctx, mirrorTestRepo, sha)
	if err != nil {
		t.Fatalf("Source(%s): %v", sha, err)
	}
	if _, err := src.List(ctx); err != nil {
		t.Fatalf("List at %s: %v", sha, err)
	}
	b, err := src.Read(ctx, path)
	return string(b), err
}

// mirrorFiles lists the regular files under dir, relative, sorted.
func mirrorFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// versions returns the versions of the mirror of mirrorTestRepo on disk.
func (f *mirrorFixture) versions(t testing.TB) []int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(f.dir, "kailua", "config"))
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		n, ok := mirrorVersion(e.Name())
		if !ok {
			t.Errorf("unexpected %s in the mirror's directory", e.Name())
		}
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// repoDir is the current version of the mirror of mirrorTestRepo.
func (f *mirrorFixture) repoDir(t testing.TB) string {
	t.Helper()
	v := f.versions(t)
	if len(v) == 0 {
		t.Fatal("no mirror on disk")
	}
	return filepath.Join(f.dir, "kailua", "config", fmt.Sprintf("%d.git", v[len(v)-1]))
}

// packObjects returns the object count of each pack of the mirror.
func (f *mirrorFixture) packObjects(t *testing.T) map[string]int64 {
	t.Helper()
	idxs, _ := filepath.Glob(filepath.Join(f.repoDir(t), "objects", "pack", "pack-*.idx"))
	out := map[string]int64{}
	for _, p := range idxs {
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		idx := idxfile.NewMemoryIndex()
		err = idxfile.NewDecoder(fh).Decode(idx)
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		n, err := idx.Count()
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = n
	}
	return out
}

func TestMirrorFetchPullRequest(t *testing.T) {
	f := mirrorSetup(t)
	ctx := context.Background()
	const layer = "environments/production/layers/bike-lanes.yaml"
	head := f.push(t, "bike-lanes", layer, "name: bike-lanes\n")
	n, err := f.sim.OpenPR(ctx, mirrorTestRepo, "bike-lanes", "", "alice", "Add bike lanes", "")
	if err != nil {
		t.Fatal(err)
	}

	f.sim.ResetCounters()
	if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, f.base, head); err != nil {
		t.Fatal(err)
	}
	if got := f.sim.RouteCounter("GIT POST").Calls; got != 1 {
		t.Errorf("a cold fetch of base and head made %d upload-pack requests, want 1", got)
	}
	if _, err := mirrorRead(t, f.m, f.base, layer); err == nil {
		t.Errorf("%s exists at the base; want it only at the head", layer)
	}
	if got, err := mirrorRead(t, f.m, head, layer); err != nil || got != "name: bike-lanes\n" {
		t.Errorf("%s at head = %q, %v", layer, got, err)
	}
	want, err := os.ReadFile("../../samples/config/environments/production/metadata.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := mirrorRead(t, f.m, f.base, "environments/production/metadata.yaml"); err != nil || got != string(want) {
		t.Errorf("metadata.yaml at base = %q, %v; want the sample's", got, err)
	}
	src, err := f.m.Source(ctx, mirrorTestRepo, head)
	if err != nil {
		t.Fatal(err)
	}
	if gs, ok := src.(*config.GitSource); !ok || gs.Commit() != head {
		t.Errorf("Source = %T, want a *config.GitSource at %s", src, head)
	}

	// A warm mirror answers from disk.
	f.sim.ResetCounters()
	if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, head, f.base); err != nil {
		t.Fatal(err)
	}
	if got := f.gitRequests(); got != 0 {
		t.Errorf("fetching known commits made %d git requests, want 0", got)
	}

	// Parents: a plain commit, then the merge of the pull request.
	if got, err := f.m.Parents(ctx, mirrorTestRepo, head); err != nil || !cmp.Equal(got, []string{f.base}) {
		t.Errorf("Parents(head) = %v, %v; want [%s]", got, err, f.base)
	}
	if got, err := f.m.Parents(ctx, mirrorTestRepo, f.base); err != nil || len(got) != 0 {
		t.Errorf("Parents(root) = %v, %v; want none", got, err)
	}
	f.sim.SetCollaborator(mirrorTestRepo, "bob", githubsim.PermWrite)
	merge, err := f.sim.MergePR(ctx, mirrorTestRepo, n, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, merge); err != nil {
		t.Fatal(err)
	}
	if got, err := f.m.Parents(ctx, mirrorTestRepo, merge); err != nil || !cmp.Equal(got, []string{f.base, head}) {
		t.Errorf("Parents(merge) = %v, %v; want [%s %s]", got, err, f.base, head)
	}
	if got, err := f.m.Parent(ctx, mirrorTestRepo, merge); err != nil || got != f.base {
		t.Errorf("Parent(merge) = %q, %v; want the base %s", got, err, f.base)
	}
	// The merge base of the pull request's head and the merge is the head;
	// of the base and the head, the base.
	if got, err := f.m.MergeBase(ctx, mirrorTestRepo, merge, head); err != nil || got != head {
		t.Errorf("MergeBase(merge, head) = %q, %v; want %s", got, err, head)
	}
	if got, err := f.m.MergeBase(ctx, mirrorTestRepo, f.base, head); err != nil || got != f.base {
		t.Errorf("MergeBase(base, head) = %q, %v; want %s", got, err, f.base)
	}
	if _, err := f.m.MergeBase(ctx, mirrorTestRepo, f.base, strings.Repeat("cd", 20)); !errors.Is(err, ErrNotMirrored) {
		t.Errorf("MergeBase with an unknown commit: %v, want ErrNotMirrored", err)
	}

	// A commit never fetched.
	missing := strings.Repeat("ab", 20)
	if _, err := f.m.Source(ctx, mirrorTestRepo, missing); !errors.Is(err, ErrNotMirrored) {
		t.Errorf("Source(unknown) = %v, want ErrNotMirrored", err)
	}
	if _, err := f.m.Parents(ctx, mirrorTestRepo, missing); !errors.Is(err, ErrNotMirrored) {
		t.Errorf("Parents(unknown) = %v, want ErrNotMirrored", err)
	}
	if _, err := f.m.Source(ctx, "kailua/never-fetched", f.base); !errors.Is(err, ErrNotMirrored) {
		t.Errorf("Source(unknown repo) = %v, want ErrNotMirrored", err)
	}
}

func TestMirrorIncrementalFetch(t *testing.T) {
	f := mirrorSetup(t)
	ctx := context.Background()
	if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, f.base); err != nil {
		t.Fatal(err)
	}
	before := f.packObjects(t)
	if len(before) != 1 {
		t.Fatalf("packs after the first fetch: %v, want 1", before)
	}
	const path = "environments/staging/layers/ev-charging-stations.yaml"
	next := f.push(t, "main", path, "name: ev-charging-stations\n")

	f.sim.ResetCounters()
	if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, next); err != nil {
		t.Fatal(err)
	}
	if got := f.sim.RouteCounter("GIT POST").Calls; got != 1 {
		t.Errorf("incremental fetch made %d upload-pack requests, want 1", got)
	}
	after := f.packObjects(t)
	var first int64
	for _, n := range before {
		first = n
	}
	var added []int64
	for p, n := range after {
		if _, ok := before[p]; !ok {
			added = append(added, n)
		}
	}
	// One commit, the trees on the path to the file (root, environments,
	// staging, layers) and one blob: 6 objects, not the whole history.
	if len(added) != 1 || added[0] > 6 {
		t.Errorf("incremental fetch added packs of %v objects, want one of at most 6 (first pack: %d)", added, first)
	}
	if got, err := mirrorRead(t, f.m, next, path); err != nil || got != "name: ev-charging-stations\n" {
		t.Errorf("%s at the new commit = %q, %v", path, got, err)
	}
	if got, err := f.m.Parent(ctx, mirrorTestRepo, next); err != nil || got != f.base {
		t.Errorf("Parent = %q, %v; want %s", got, err, f.base)
	}

	// By branch: always asks, transfers nothing new.
	f.sim.ResetCounters()
	tip, err := f.m.FetchRef(ctx, mirrorTestRepo, f.token, "main")
	if err != nil || tip != next {
		t.Errorf("FetchRef(main) = %q, %v; want %s", tip, err, next)
	}
	if got := f.sim.RouteCounter("GIT GET").Calls; got != 1 {
		t.Errorf("FetchRef made %d ref advertisements, want 1", got)
	}
	if got := len(f.packObjects(t)); got != 2 {
		t.Errorf("FetchRef of a known tip left %d packs, want 2", got)
	}
	third := f.push(t, "main", path, "name: ev-charging-stations\nv: 2\n")
	if tip, err := f.m.FetchRef(ctx, mirrorTestRepo, f.token, "refs/heads/main"); err != nil || tip != third {
		t.Errorf("FetchRef(refs/heads/main) = %q, %v; want %s", tip, err, third)
	}
	if got, err := mirrorRead(t, f.m, third, path); err != nil || !strings.Contains(got, "v: 2") {
		t.Errorf("%s after FetchRef = %q, %v", path, got, err)
	}
	if _, err := f.m.FetchRef(ctx, mirrorTestRepo, f.token, "refs/heads/*"); err == nil {
		t.Error("FetchRef(refs/heads/*) succeeded, want an error")
	}
}

// TestMirrorCompaction: a mirror that reaches MaxPacks is fetched afresh
// into a new version, and Sources of the old one keep working.
func TestMirrorCompaction(t *testing.T) {
	f := mirrorSetup(t)
	ctx := context.Background()
	f.m.Close()
	m, err := New(Config{Dir: f.dir, GitURL: f.sim.CloneURL, MaxPacks: 3,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Fetch(ctx, mirrorTestRepo, f.token, f.base); err != nil {
		t.Fatal(err)
	}
	// Handed out before the compaction, read after it.
	old, err := m.Source(ctx, mirrorTestRepo, f.base)
	if err != nil {
		t.Fatal(err)
	}
	var shas []string
	for i := 0; i < 3; i++ {
		sha := f.push(t, "main", fmt.Sprintf("environments/production/layers/l%d.yaml", i), "name: x\n")
		shas = append(shas, sha)
		if err := m.Fetch(ctx, mirrorTestRepo, f.token, sha); err != nil {
			t.Fatal(err)
		}
	}
	// 1 pack, 2, 3, then a fresh mirror with 1.
	if got, want := f.versions(t), []int{1, 2}; !cmp.Equal(got, want) {
		t.Errorf("versions = %v, want %v", got, want)
	}
	if got := len(f.packObjects(t)); got != 1 {
		t.Errorf("the new version has %d packs, want 1", got)
	}
	files, err := old.List(ctx)
	if err != nil {
		t.Fatalf("a Source of the replaced mirror: %v", err)
	}
	for _, fl := range files {
		if _, err := old.Read(ctx, fl.Path); err != nil {
			t.Errorf("a Source of the replaced mirror: %v", err)
		}
	}
	// The new mirror holds the history of what was fetched last.
	for _, sha := range append(shas, f.base) {
		if _, err := m.Source(ctx, mirrorTestRepo, sha); err != nil {
			t.Errorf("Source(%s) after the compaction: %v", sha, err)
		}
	}
	for i := 3; i < 6; i++ {
		sha := f.push(t, "main", fmt.Sprintf("environments/production/layers/l%d.yaml", i), "name: x\n")
		if err := m.Fetch(ctx, mirrorTestRepo, f.token, sha); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := f.versions(t), []int{2, 3}; !cmp.Equal(got, want) {
		t.Errorf("versions after a second compaction = %v, want %v", got, want)
	}
	// A restart keeps only the current version.
	m.Close()
	m2 := f.newMirror(t)
	if _, err := mirrorRead(t, m2, f.base, "environments/production/metadata.yaml"); err != nil {
		t.Error(err)
	}
	if got, want := f.versions(t), []int{3}; !cmp.Equal(got, want) {
		t.Errorf("versions after a restart = %v, want %v", got, want)
	}
}

func TestMirrorTokenNeverOnDisk(t *testing.T) {
	f := mirrorSetup(t)
	ctx := context.Background()
	if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, f.base); err != nil {
		t.Fatal(err)
	}
	next := f.push(t, "feature", "environments/production/layers/x.yaml", "name: x\n")
	if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, next); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.FetchRef(ctx, mirrorTestRepo, f.token, "feature"); err != nil {
		t.Fatal(err)
	}
	basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + f.token))
	files := mirrorFiles(t, f.dir)
	if len(files) == 0 {
		t.Fatal("the data directory is empty")
	}
	for _, rel := range files {
		b, err := os.ReadFile(filepath.Join(f.dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(f.token)) || bytes.Contains(b, []byte(basic)) {
			t.Errorf("%s holds the installation token", rel)
		}
	}
}

func TestMirrorWrongToken(t *testing.T) {
	f := mirrorSetup(t)
	ctx := context.Background()
	const wrong = "ghs_000000000000000000000000000000000000"

	// Cold: nothing is left behind.
	if err := f.m.Fetch(ctx, mirrorTestRepo, wrong, f.base); err == nil {
		t.Fatal("fetch with a wrong token succeeded")
	} else if strings.Contains(err.Error(), wrong) {
		t.Errorf("the error shows the token: %v", err)
	}
	if got := mirrorFiles(t, f.dir); len(got) != 0 {
		t.Errorf("a failed first fetch left %v", got)
	}
	if _, err := f.m.Source(ctx, mirrorTestRepo, f.base); !errors.Is(err, ErrNotMirrored) {
		t.Errorf("Source after a failed fetch = %v, want ErrNotMirrored", err)
	}

	// Warm: the mirror is unchanged and still serves what it had.
	if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, f.base); err != nil {
		t.Fatal(err)
	}
	before := mirrorFiles(t, f.dir)
	next := f.push(t, "main", "environments/production/layers/x.yaml", "name: x\n")
	if err := f.m.Fetch(ctx, mirrorTestRepo, wrong, next); err == nil {
		t.Fatal("fetch with a wrong token succeeded")
	}
	if diff := cmp.Diff(before, mirrorFiles(t, f.dir)); diff != "" {
		t.Errorf("a failed fetch changed the mirror (-before +after):\n%s", diff)
	}
	if _, err := mirrorRead(t, f.m, f.base, "environments/production/metadata.yaml"); err != nil {
		t.Error(err)
	}
	if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, next); err != nil {
		t.Errorf("fetch with the right token after a wrong one: %v", err)
	}
}

func TestMirrorGitFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		route string
		fault githubsim.Fault
	}{
		{"upload-pack 502", "GIT POST", githubsim.Fault{Status: http.StatusBadGateway, Times: 1}},
		{"upload-pack 503 twice", "GIT POST", githubsim.Fault{Status: http.StatusServiceUnavailable, Times: 2}},
		{"ref advertisement 500", "GIT GET", githubsim.Fault{Status: http.StatusInternalServerError, Times: 1}},
		{"upload-pack connection reset", "GIT POST", githubsim.Fault{Reset: true, Times: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mirrorSetup(t)
			ctx := context.Background()
			// Warm first, so a failure meets an existing mirror as well.
			if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, f.base); err != nil {
				t.Fatal(err)
			}
			before := mirrorFiles(t, f.dir)
			next := f.push(t, "main", "environments/production/layers/x.yaml", "name: x\n")
			f.sim.InjectFault(tc.route, tc.fault)
			var err error
			for i := 0; i < tc.fault.Times; i++ {
				if err = f.m.Fetch(ctx, mirrorTestRepo, f.token, next); err == nil {
					break
				}
			}
			if err == nil {
				t.Fatal("fetch succeeded through the fault")
			}
			if diff := cmp.Diff(before, mirrorFiles(t, f.dir)); diff != "" {
				t.Errorf("a failed fetch changed the mirror (-before +after):\n%s", diff)
			}
			if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, next); err != nil {
				t.Fatalf("fetch after the fault: %v", err)
			}
			if _, err := mirrorRead(t, f.m, next, "environments/production/layers/x.yaml"); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestMirrorGitFaultOnFirstFetch(t *testing.T) {
	f := mirrorSetup(t)
	ctx := context.Background()
	f.sim.InjectFault("GIT POST", githubsim.Fault{Status: http.StatusBadGateway, Times: 1})
	if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, f.base); err == nil {
		t.Fatal("fetch succeeded through the fault")
	}
	if got := mirrorFiles(t, f.dir); len(got) != 0 {
		t.Errorf("a failed first fetch left %v", got)
	}
	if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, f.base); err != nil {
		t.Fatal(err)
	}
}

func TestMirrorCancelled(t *testing.T) {
	t.Run("before", func(t *testing.T) {
		f := mirrorSetup(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		f.sim.ResetCounters()
		if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, f.base); !errors.Is(err, context.Canceled) {
			t.Errorf("Fetch = %v, want context.Canceled", err)
		}
		if _, err := f.m.FetchRef(ctx, mirrorTestRepo, f.token, "main"); !errors.Is(err, context.Canceled) {
			t.Errorf("FetchRef = %v, want context.Canceled", err)
		}
		if _, err := f.m.Source(ctx, mirrorTestRepo, f.base); !errors.Is(err, context.Canceled) {
			t.Errorf("Source = %v, want context.Canceled", err)
		}
		if got := f.gitRequests(); got != 0 {
			t.Errorf("a cancelled fetch made %d git requests", got)
		}
	})
	t.Run("during", func(t *testing.T) {
		f := mirrorSetup(t)
		// The upload-pack request waits; the fetch is cancelled once the
		// refs have been advertised.
		f.sim.InjectFault("GIT POST", githubsim.Fault{Latency: 300 * time.Millisecond, Times: 1})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- f.m.Fetch(ctx, mirrorTestRepo, f.token, f.base) }()
		for f.sim.RouteCounter("GIT GET").Calls == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Fetch = %v, want context.Canceled", err)
		}
		if got := mirrorFiles(t, f.dir); len(got) != 0 {
			t.Errorf("a cancelled first fetch left %v", got)
		}
		if err := f.m.Fetch(context.Background(), mirrorTestRepo, f.token, f.base); err != nil {
			t.Fatalf("fetch after a cancelled one: %v", err)
		}
	})
	t.Run("waiting for the lock", func(t *testing.T) {
		f := mirrorSetup(t)
		r, err := f.m.repo(mirrorTestRepo)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.lock(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer r.unlock()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- f.m.Fetch(ctx, mirrorTestRepo, f.token, f.base) }()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Fetch = %v, want context.Canceled", err)
		}
	})
}

func TestMirrorConcurrentFetch(t *testing.T) {
	f := mirrorSetup(t)
	ctx := context.Background()
	common, err := filepath.Abs("../../samples/config/environments/common")
	if err != nil {
		t.Fatal(err)
	}
	otherBase, err := f.sim.CreateRepo(ctx, "kailua/other", "main", common)
	if err != nil {
		t.Fatal(err)
	}
	head := f.push(t, "feature", "environments/production/layers/x.yaml", "name: x\n")

	f.sim.ResetCounters()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, f.base, head); err != nil {
				errs <- err
				return
			}
			src, err := f.m.Source(ctx, mirrorTestRepo, head)
			if err != nil {
				errs <- err
				return
			}
			files, err := src.List(ctx)
			if err != nil {
				errs <- err
				return
			}
			for _, fl := range files {
				if _, err := src.Read(ctx, fl.Path); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			if err := f.m.Fetch(ctx, "kailua/other", f.token, otherBase); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// One fetch per repository; the others found the commits there.
	if got := f.sim.RouteCounter("GIT POST").Calls; got != 2 {
		t.Errorf("8 concurrent fetches of 2 repositories made %d upload-pack requests, want 2", got)
	}
}

// TestMirrorReadWhileFetching reads sources while fetches add to the same
// mirror; run with -race.
func TestMirrorReadWhileFetching(t *testing.T) {
	f := mirrorSetup(t)
	ctx := context.Background()
	if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, f.base); err != nil {
		t.Fatal(err)
	}
	var shas []string
	for i := 0; i < 4; i++ {
		shas = append(shas, f.push(t, "main", fmt.Sprintf("environments/production/layers/l%d.yaml", i), fmt.Sprintf("name: l%d\n", i)))
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 3; i++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				src, err := f.m.Source(ctx, mirrorTestRepo, f.base)
				if err == nil {
					var files []config.File
					if files, err = src.List(ctx); err == nil {
						for _, fl := range files {
							if _, err = src.Read(ctx, fl.Path); err != nil {
								break
							}
						}
					}
				}
				if err == nil {
					_, err = f.m.Parents(ctx, mirrorTestRepo, f.base)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for _, sha := range shas {
		if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, sha); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, err := mirrorRead(t, f.m, shas[3], "environments/production/layers/l3.yaml"); err != nil || got != "name: l3\n" {
		t.Errorf("l3.yaml = %q, %v", got, err)
	}
}

func TestMirrorDamaged(t *testing.T) {
	one := func(t *testing.T, dir, glob string) string {
		t.Helper()
		m, _ := filepath.Glob(filepath.Join(dir, glob))
		if len(m) != 1 {
			t.Fatalf("%s: %v", glob, m)
		}
		return m[0]
	}
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, dir, sha string)
		refetch bool
	}{
		{"truncated pack index", func(t *testing.T, dir, _ string) {
			if err := os.Truncate(one(t, dir, "objects/pack/pack-*.idx"), 100); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"pack without its index", func(t *testing.T, dir, _ string) {
			if err := os.Remove(one(t, dir, "objects/pack/pack-*.idx")); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"packs gone, refs left", func(t *testing.T, dir, _ string) {
			if err := os.RemoveAll(filepath.Join(dir, "objects", "pack")); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"half-written ref", func(t *testing.T, dir, sha string) {
			if err := os.WriteFile(filepath.Join(dir, "refs", "honua", sha), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"no HEAD", func(t *testing.T, dir, _ string) {
			if err := os.Remove(filepath.Join(dir, "HEAD")); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"garbage config", func(t *testing.T, dir, _ string) {
			if err := os.WriteFile(filepath.Join(dir, "config"), []byte("[core\x00"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"temporary pack of an interrupted fetch", func(t *testing.T, dir, _ string) {
			if err := os.WriteFile(filepath.Join(dir, "objects", "pack", "tmp_pack_123"), []byte("PACK"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mirrorSetup(t)
			ctx := context.Background()
			if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, f.base); err != nil {
				t.Fatal(err)
			}
			f.m.Close()
			tc.damage(t, f.repoDir(t), f.base)

			// The process restarts.
			m := f.newMirror(t)
			f.sim.ResetCounters()
			if err := m.Fetch(ctx, mirrorTestRepo, f.token, f.base); err != nil {
				t.Fatalf("Fetch on a damaged mirror: %v", err)
			}
			if got := f.sim.RouteCounter("GIT POST").Calls > 0; got != tc.refetch {
				t.Errorf("fetched again = %v, want %v", got, tc.refetch)
			}
			if _, err := mirrorRead(t, m, f.base, "environments/production/metadata.yaml"); err != nil {
				t.Error(err)
			}
			if tmp, _ := filepath.Glob(filepath.Join(f.repoDir(t), "objects", "pack", "tmp_pack_*")); len(tmp) != 0 {
				t.Errorf("temporary packs left: %v", tmp)
			}
			if got := mirrorFiles(t, filepath.Join(f.dir, mirrorTmpDir)); len(got) != 0 {
				t.Errorf("%s holds %v", mirrorTmpDir, got)
			}
		})
	}
}

func TestMirrorRestartReadsFromDisk(t *testing.T) {
	f := mirrorSetup(t)
	ctx := context.Background()
	if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, f.base); err != nil {
		t.Fatal(err)
	}
	f.m.Close()
	if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, f.base); !errors.Is(err, ErrClosed) {
		t.Errorf("Fetch after Close = %v, want ErrClosed", err)
	}
	m := f.newMirror(t)
	f.sim.ResetCounters()
	if _, err := mirrorRead(t, m, f.base, "environments/production/metadata.yaml"); err != nil {
		t.Error(err)
	}
	if err := m.Fetch(ctx, mirrorTestRepo, f.token, f.base); err != nil {
		t.Fatal(err)
	}
	if got := f.gitRequests(); got != 0 {
		t.Errorf("a restarted mirror made %d git requests for a commit on disk, want 0", got)
	}
}

func TestMirrorPath(t *testing.T) {
	for _, tc := range []struct {
		repo, rel string // rel "" means refused
	}{
		{"kailua/config", "kailua/config"},
		{"Kailua/Config", "kailua/config"},
		{"kailua/.github", "kailua/.github"},
		{"kailua/config.git", "kailua/config.git"},
		{"honua-io/honua_gitops.v2", "honua-io/honua_gitops.v2"},
		{"alice_acme/x", "alice_acme/x"},
		{"kailua/..", ""},
		{"kailua/.", ""},
		{"../config", ""},
		{"kailua/../../etc", ""},
		{"kailua/config/extra", ""},
		{"kailua", ""},
		{"/config", ""},
		{"kailua/", ""},
		{"-kailua/config", ""},
		{".tmp/config", ""},
		{"kailua/con fig", ""},
		{`kailua\config`, ""},
		{"kailua/" + strings.Repeat("x", 101), ""},
		{strings.Repeat("k", 40) + "/config", ""},
	} {
		_, rel, err := mirrorPath(tc.repo)
		switch {
		case tc.rel == "" && err == nil:
			t.Errorf("mirrorPath(%q) = %q, want an error", tc.repo, rel)
		case tc.rel != "" && (err != nil || filepath.ToSlash(rel) != tc.rel):
			t.Errorf("mirrorPath(%q) = %q, %v; want %q", tc.repo, rel, err, tc.rel)
		}
	}
}

func TestMirrorRefusesBadInput(t *testing.T) {
	f := mirrorSetup(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, repo string
		shas       []string
	}{
		{"traversal", "../../etc", []string{f.base}},
		{"short sha", mirrorTestRepo, []string{f.base[:12]}},
		{"not hex", mirrorTestRepo, []string{strings.Repeat("z", 40)}},
		{"branch name", mirrorTestRepo, []string{"main"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := f.m.Fetch(ctx, tc.repo, f.token, tc.shas...); err == nil {
				t.Error("Fetch succeeded")
			}
			if _, err := f.m.Source(ctx, tc.repo, tc.shas[0]); err == nil {
				t.Error("Source succeeded")
			}
		})
	}
	if got := mirrorFiles(t, f.dir); len(got) != 0 {
		t.Errorf("refused input left %v", got)
	}
	withPassword, err := New(Config{Dir: t.TempDir(), GitURL: func(repo string) string {
		return strings.Replace(f.sim.CloneURL(repo), "://", "://x-access-token:hunter2@", 1)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer withPassword.Close()
	if err := withPassword.Fetch(ctx, mirrorTestRepo, f.token, f.base); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Fetch from a URL with a password = %v, want an error that does not show it", err)
	}
	if _, err := New(Config{GitURL: f.sim.CloneURL}); err == nil {
		t.Error("New without Dir succeeded")
	}
	if _, err := New(Config{Dir: t.TempDir()}); err == nil {
		t.Error("New without GitURL succeeded")
	}
}

// FuzzMirrorPath: a repository name from a webhook never leads outside the
// data directory.
func FuzzMirrorPath(f *testing.F) {
	for _, s := range []string{"kailua/config", "../x", "a/..", "A/.github", "a/b/c", "a\\b/c", "a/b\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, repo string) {
		key, rel, err := mirrorPath(repo)
		if err != nil {
			return
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if !filepath.IsLocal(rel) || len(parts) != 2 || strings.HasPrefix(parts[0], ".") ||
			parts[1] == "." || parts[1] == ".." || key != strings.ToLower(key) {
			t.Errorf("mirrorPath(%q) = %q, %q", repo, key, rel)
		}
	})
}

// BenchmarkMirrorWarmSource measures what planning pays per revision on a
// warm mirror: the no-op Fetch, then Source and List.
func BenchmarkMirrorWarmSource(b *testing.B) {
	f := mirrorSetup(b)
	ctx := context.Background()
	if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, f.base); err != nil {
		b.Fatal(err)
	}
	src, err := f.m.Source(ctx, mirrorTestRepo, f.base)
	if err != nil {
		b.Fatal(err)
	}
	files, err := src.List(ctx)
	if err != nil {
		b.Fatal(err)
	}
	name := fmt.Sprintf("files=%d", len(files))
	b.Run("fetch/"+name, func(b *testing.B) {
		for b.Loop() {
			if err := f.m.Fetch(ctx, mirrorTestRepo, f.token, f.base); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("source+list/"+name, func(b *testing.B) {
		for b.Loop() {
			src, err := f.m.Source(ctx, mirrorTestRepo, f.base)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := src.List(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("source+list+read/"+name, func(b *testing.B) {
		for b.Loop() {
			src, err := f.m.Source(ctx, mirrorTestRepo, f.base)
			if err != nil {
				b.Fatal(err)
			}
			files, err := src.List(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for _, fl := range files {
				if _, err := src.Read(ctx, fl.Path); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// TestMirrorCompactOffThePath: Compact folds a mirror of many packs into
// one before a fetch on the request path must (at MaxPacks), keeps what it
// is told to keep, does nothing to a mirror of few packs, and leaves Sources
// handed out before it readable.
func TestMirrorCompactOffThePath(t *testing.T) {
	f := mirrorSetup(t)
	ctx := context.Background()
	f.m.Close()
	m, err := New(Config{Dir: f.dir, GitURL: f.sim.CloneURL, MaxPacks: 8,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Fetch(ctx, mirrorTestRepo, f.token, f.base); err != nil {
		t.Fatal(err)
	}
	if done, err := m.Compact(ctx, mirrorTestRepo, f.token, f.base); err != nil || done {
		t.Errorf("Compact of a 1-pack mirror = %v, %v; want nothing done", done, err)
	}
	old, err := m.Source(ctx, mirrorTestRepo, f.base)
	if err != nil {
		t.Fatal(err)
	}
	var last string
	for i := 0; i < 4; i++ {
		last = f.push(t, "main", fmt.Sprintf("environments/production/layers/c%d.yaml", i), "name: x\n")
		if err := m.Fetch(ctx, mirrorTestRepo, f.token, last); err != nil {
			t.Fatal(err)
		}
	}
	if n := m.Packs(mirrorTestRepo); n != 5 {
		t.Fatalf("%d packs after 5 fetches, want 5", n)
	}
	done, err := m.Compact(ctx, mirrorTestRepo, f.token, last)
	if err != nil || !done {
		t.Fatalf("Compact of a 5-pack mirror (MaxPacks 8) = %v, %v; want done", done, err)
	}
	if n := m.Packs(mirrorTestRepo); n != 1 {
		t.Errorf("%d packs after Compact, want 1", n)
	}
	for _, sha := range []string{last, f.base} { // base is in last's history
		if _, err := m.Source(ctx, mirrorTestRepo, sha); err != nil {
			t.Errorf("Source(%s) after Compact: %v", sha, err)
		}
	}
	if _, err := old.List(ctx); err != nil {
		t.Errorf("a Source handed out before Compact: %v", err)
	}
}
