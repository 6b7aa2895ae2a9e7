package config

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitRepo makes a git repository in a new directory with the given commits,
// each a set of files written (content) or removed (""), under sub.
func gitRepo(t testing.TB, sub string, commits ...map[string]string) (dir string, shas []string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed to build test repositories:", err)
	}
	dir = t.TempDir()
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	for _, files := range commits {
		for p, content := range files {
			full := filepath.Join(dir, sub, filepath.FromSlash(p))
			if content == "" {
				os.Remove(full)
				continue
			}
			os.MkdirAll(filepath.Dir(full), 0o755)
			if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		git("add", "-A")
		git("commit", "-q", "--allow-empty", "-m", "change")
		shas = append(shas, git("rev-parse", "HEAD"))
	}
	return dir, shas
}

func TestGitSourceReadsRevisionsWithoutCheckout(t *testing.T) {
	next := map[string]string{"environments/common/layers/streets.yaml": strings.Replace(minimal()["environments/common/layers/streets.yaml"], "title: Streets", "title: Main streets", 1)}
	dir, shas := gitRepo(t, "config", minimal(), next)
	// The work tree is emptied: reading revisions must not need it.
	if err := os.RemoveAll(filepath.Join(dir, "config")); err != nil {
		t.Fatal(err)
	}
	repo, err := OpenRepository(dir)
	if err != nil {
		t.Fatal(err)
	}
	loader := NewLoader(Limits{})
	for i, rev := range []string{shas[0], "main"} {
		src, err := NewGitSource(repo, rev, "config", Limits{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := loader.Load(context.Background(), src)
		if err != nil {
			t.Fatal(err)
		}
		if d := allDiagnostics(st); len(d) > 0 {
			t.Fatalf("%s: findings:\n%s", rev, strings.Join(d, "\n"))
		}
		got := st.Environments["prod"].Objects[KeyOf(KindLayer, "streets")].Str("title")
		want := []string{"Streets", "Main streets"}[i]
		if got != want {
			t.Errorf("%s: streets title = %q, want %q", rev, got, want)
		}
		if o := st.Environments["prod"].Objects[KeyOf(KindLayer, "streets")]; o.Pos.File != "environments/common/layers/streets.yaml" {
			t.Errorf("positions name %q, want paths relative to the config root", o.Pos.File)
		}
	}
	if _, err := NewGitSource(repo, "no-such-branch", "", Limits{}); err == nil {
		t.Error("an unknown revision must be an error")
	}
	if _, err := NewGitSource(repo, "main", "../outside", Limits{}); err == nil || !strings.Contains(err.Error(), "escapes") {
		t.Errorf("a --path leaving the repository: err = %v", err)
	}
}

func TestGitSourceRefusesSymlinks(t *testing.T) {
	dir, _ := gitRepo(t, "", minimal())
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "environments/common/layers/evil.yaml")); err != nil {
		t.Skip(err)
	}
	cmd := exec.Command("git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "x")
	cmd.Dir = dir
	exec.Command("git", "-C", dir, "add", "-A").Run()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	repo, _ := OpenRepository(dir)
	src, err := NewGitSource(repo, "HEAD", "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := NewLoader(Limits{}).Load(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := findDiagnostic(st, "environments/common/layers/evil.yaml: error: environments/common/layers/evil.yaml is a symlink"); !ok {
		t.Fatalf("symlink in git tree not reported:\n%s", strings.Join(allDiagnostics(st), "\n"))
	}
}

func TestParseCacheReusesUnchangedFiles(t *testing.T) {
	dir, shas := gitRepo(t, "", minimal(), map[string]string{"environments/common/styles/line.yaml": "id: line\nformat: f\ngeometryType: LineString\n"})
	repo, _ := OpenRepository(dir)
	loader := NewLoader(Limits{})
	var states []*State
	for _, sha := range shas {
		src, _ := NewGitSource(repo, sha, "", Limits{})
		st, err := loader.Load(context.Background(), src)
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, st)
	}
	a := states[0].Environments["prod"].Objects[KeyOf(KindLayer, "streets")]
	b := states[1].Environments["prod"].Objects[KeyOf(KindLayer, "streets")]
	if a != b {
		t.Error("an unchanged file was parsed again: the cache by blob hash missed")
	}
	if states[0].Environments["prod"].Objects[KeyOf(KindStyle, "line")] == states[1].Environments["prod"].Objects[KeyOf(KindStyle, "line")] {
		t.Error("a changed file came from the cache")
	}
}
