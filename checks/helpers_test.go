package checks

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/honua-io/honua-gitops/policy"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/reconciler/plan"
	"github.com/honua-io/honua-gitops/samples"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// codeSpan matches an inline code span, where markdown reads nothing.
var codeSpan = regexp.MustCompile("(^|[^\\\\])`[^`]*`")

// golden compares got with testdata/name, or writes it there with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got); run go test -update if the change is right:\n%s", path, diff)
	}
}

// dump shows a check run as a golden file holds it.
func dump(c CheckRun) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nstatus: %s\nconclusion: %s\ntitle: %s\n", c.Name, c.Status, c.Conclusion, c.Title)
	for _, a := range c.Actions {
		fmt.Fprintf(&b, "action: %q %q %q\n", a.Label, a.Description, a.Identifier)
	}
	for _, a := range c.Annotations {
		fmt.Fprintf(&b, "annotation: %s %s:%d-%d %q\n  message: %q\n", a.Level, a.Path, a.StartLine, a.EndLine, a.Title, a.Message)
		if a.RawDetails != "" {
			fmt.Fprintf(&b, "  details: %q\n", a.RawDetails)
		}
	}
	fmt.Fprintf(&b, "\n--- summary (%d bytes) ---\n%s\n--- text (%d bytes) ---\n%s", len(c.Summary), c.Summary, len(c.Text), c.Text)
	return b.String()
}

// The fixed times of the tests.
var (
	tuesday = mustTime("2026-03-10T20:00:00Z") // Tue 10:00 HST, inside production's window
	monday  = mustTime("2026-03-09T20:00:00Z") // Mon 10:00 HST, outside it
)

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

const (
	headSHA = "c0ffee0123456789abcdef0123456789abcdef01"
	baseSHA = "ba5eba5e0123456789abcdef0123456789abcdef"
)

// sampleFS is an embedded sample, with files replaced or added (an empty
// content removes the file).
func sampleFS(t testing.TB, name string, edits map[string]string) fs.FS {
	t.Helper()
	fsys, err := samples.FS(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(edits) == 0 {
		return fsys
	}
	m := fstest.MapFS{}
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		m[p] = &fstest.MapFile{Data: b, Mode: 0o644}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, content := range edits {
		if content == "" {
			delete(m, p)
			continue
		}
		m[p] = &fstest.MapFile{Data: []byte(content), Mode: 0o644}
	}
	return m
}

// scenario is a pull request on the samples, judged by the policy of base.
type scenario struct {
	base, head  map[string]string // edits of config and config-next
	headName    string            // "config-next" unless set
	now         time.Time
	deployments map[string]policy.Deployment
	approvals   map[string][]policy.Approval
	labels      []string
}

func (s scenario) report(t testing.TB) *policy.Report {
	t.Helper()
	headName := s.headName
	if headName == "" {
		headName = "config-next"
	}
	base := &config.FSSource{FS: sampleFS(t, "config", s.base), Label: "base"}
	head := &config.FSSource{FS: sampleFS(t, headName, s.head), Label: "head"}
	loader := config.NewLoader(config.DefaultLimits)
	bs, err := loader.Load(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := loader.Load(t.Context(), head)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.ComputeStrict(bs, hs, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := s.now
	if now.IsZero() {
		now = tuesday
	}
	r, err := policy.NewEngine().Judge(t.Context(), p, policy.JudgeOptions{
		Base: base, Head: head, Now: now,
		PR:          policy.PR{Number: 12, Author: "ana", Labels: s.labels, BaseSHA: baseSHA, HeadSHA: headSHA},
		Deployments: s.deployments,
		Approvals:   s.approvals,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// planOptions are the options of the golden plan runs.
var planOptions = PlanOptions{
	BaseSHA: baseSHA, HeadSHA: headSHA,
	LocalCommand: "honua-gitops plan --repo . --base " + baseSHA[:12] + " --head " + headSHA[:12],
}
