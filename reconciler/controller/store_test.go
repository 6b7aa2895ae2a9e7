package controller

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

// appendAudit is an Update that adds one audit entry.
func appendAudit(s *Store, env, who string) error {
	return s.Update(env, func(r *EnvRecord) error {
		r.Audit = append(r.Audit, Audit{At: t0, Who: who, Action: "test", DeploymentID: "x"})
		return nil
	})
}

func TestUpdateConcurrentGoroutines(t *testing.T) {
	s := &Store{Dir: t.TempDir(), HistoryLimit: 1000}
	const workers, each = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := appendAudit(s, "prod", fmt.Sprintf("g%d-%d", w, i)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rec, err := s.Load("prod")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(rec.Audit); got != workers*each {
		t.Fatalf("%d audit entries, want %d: updates were lost", got, workers*each)
	}
}

const childEnv = "HONUA_CONTROLLER_STORE_CHILD"

// TestStoreChildProcess is the second process of
// TestUpdateConcurrentProcesses: the test binary re-executed.
func TestStoreChildProcess(t *testing.T) {
	v := os.Getenv(childEnv)
	if v == "" {
		t.Skip("only as a child process")
	}
	dir, n, _ := strings.Cut(v, "|")
	count, _ := strconv.Atoi(n)
	s := &Store{Dir: dir, HistoryLimit: 1000}
	for i := range count {
		if err := appendAudit(s, "prod", fmt.Sprintf("p%d-%d", os.Getpid(), i)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUpdateConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	s := &Store{Dir: dir, HistoryLimit: 1000}
	const procs, each, local = 3, 30, 30
	var cmds []*exec.Cmd
	for range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStoreChildProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+dir+"|"+strconv.Itoa(each))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range local {
				if err := appendAudit(s, "prod", fmt.Sprintf("l%d-%d", g, i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
	rec, err := s.Load("prod")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(rec.Audit), procs*each+2*local; got != want {
		t.Fatalf("%d audit entries, want %d: updates were lost", got, want)
	}
}

func TestUpdateErrorWritesNothing(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	if err := appendAudit(s, "prod", "a"); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(s.Path("prod"))
	boom := errors.New("boom")
	err := s.Update("prod", func(r *EnvRecord) error {
		r.Audit = nil
		r.Current = "changed"
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	after, _ := os.ReadFile(s.Path("prod"))
	if string(before) != string(after) {
		t.Fatal("a failed Update changed the file")
	}
	if err := s.Update("staging", func(*EnvRecord) error { return boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Path("staging")); !os.IsNotExist(err) {
		t.Fatal("a failed first Update made a file")
	}
}

func TestCrashLeavesOldFileReadable(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	if err := appendAudit(s, "prod", "a"); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(s.Path("prod"))
	// A crash before the rename leaves a temporary file: complete, or
	// truncated mid-write, or empty.
	tmpBase := filepath.Join(s.Dir, ".env-prod.json.apply-tmp-")
	for i, content := range [][]byte{good, good[:len(good)/2], nil} {
		if err := os.WriteFile(tmpBase+strconv.Itoa(i), content, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := s.Load("prod")
	if err != nil || len(rec.Audit) != 1 {
		t.Fatalf("after a crash: %v, %d audit entries", err, len(rec.Audit))
	}
	envs, _ := s.Envs()
	if len(envs) != 1 || envs[0] != "prod" {
		t.Fatalf("Envs = %v", envs)
	}
	if err := appendAudit(s, "prod", "b"); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(tmpBase + "*"); len(left) != 0 {
		t.Fatalf("temporary files left after an Update: %v", left)
	}
	// A crash before the first file was renamed: a fresh record.
	if err := os.WriteFile(filepath.Join(s.Dir, ".env-new.json.apply-tmp-1"), good[:10], 0o640); err != nil {
		t.Fatal(err)
	}
	if rec, err := s.Load("new"); err != nil || len(rec.Deployments) != 0 {
		t.Fatalf("%v %+v", err, rec)
	}
}

func TestCorruptFileIsAnErrorNamingIt(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	p := s.Path("prod")
	for name, content := range map[string]string{
		"json":      `{"version":1,"env":"prod","deployments":[`,
		"empty":     ``,
		"newer":     `{"version":99,"env":"prod"}`,
		"noversion": `{"env":"prod"}`,
		"otherenv":  `{"version":1,"env":"staging"}`,
		"state":     `{"version":1,"env":"prod","deployments":[{"id":"a","env":"prod","state":"Dancing"}]}`,
		"trailing":  `{"version":1,"env":"prod"} {}`,
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load("prod")
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), p) {
				t.Fatalf("Load: %v", err)
			}
			if name == "newer" && !strings.Contains(err.Error(), "newer") {
				t.Fatalf("Load: %v", err)
			}
			if err := appendAudit(s, "prod", "x"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Update: %v", err)
			}
			if b, _ := os.ReadFile(p); string(b) != content {
				t.Fatal("a corrupt file was reset")
			}
			if _, _, err := s.Find("prod-20260301093000-abcdef1"); !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Find: %v", err)
			}
		})
	}
}

func TestEnvNames(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	for _, bad := range []string{"", ".", "..", "...", "a/b", `a\b`, "../x", ".hidden", "a\x00b", "a\nb", "a\u202eb", "\xff"} {
		if err := appendAudit(s, bad, "x"); err == nil {
			t.Errorf("Update(%q) accepted", bad)
		}
		if _, err := s.Load(bad); err == nil {
			t.Errorf("Load(%q) accepted", bad)
		}
	}
	for _, good := range []string{"production", "eu-west.1", "qa_2", "prod..x"} {
		if err := CheckEnvName(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	s := &Store{Dir: filepath.Join(t.TempDir(), "none")}
	rec, err := s.Load("prod")
	if err != nil || rec.Env != "prod" || rec.Version != StoreVersion {
		t.Fatalf("%v %+v", err, rec)
	}
	if envs, err := s.Envs(); err != nil || len(envs) != 0 {
		t.Fatalf("%v %v", envs, err)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Fatal("Load made the directory")
	}
}

func dep(env string, i int, state State) Deployment {
	at := t0.Add(time.Duration(i) * time.Minute)
	sha := fmt.Sprintf("%07x%033d", i, 0)
	return Deployment{ID: NewID(env, at, sha), Env: env, SHA: sha, Created: at, State: state,
		Transitions: []Transition{{State: state, At: at}}}
}

func TestHistoryBoundKeepsOpen(t *testing.T) {
	s := &Store{Dir: t.TempDir(), HistoryLimit: 3}
	var current, lastGood string
	err := s.Update("prod", func(r *EnvRecord) error {
		for i := range 12 {
			st := Completed
			switch i {
			case 0, 1:
				st = AwaitingApproval // old but open
			case 5:
				st = Applying
			case 11:
				st = Pending
			}
			d := dep("prod", i, st)
			r.Deployments = append(r.Deployments, d) // oldest first: Update sorts
			r.Audit = append(r.Audit, Audit{At: d.Created, Action: "test", DeploymentID: d.ID})
			if i == 2 {
				lastGood = d.ID
			}
			if i == 3 {
				current = d.ID
			}
		}
		r.Current, r.LastGood = current, lastGood
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Load("prod")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range rec.Deployments {
		ids = append(ids, d.ID)
	}
	want := []string{dep("prod", 11, Pending).ID, dep("prod", 5, Applying).ID, current, lastGood, dep("prod", 1, Pending).ID, dep("prod", 0, Pending).ID}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Fatalf("kept\n%v\nwant\n%v", ids, want)
	}
	if len(rec.Audit) != len(want) {
		t.Fatalf("%d audit entries kept, want those of the %d kept deployments", len(rec.Audit), len(want))
	}
	// The bound lets final deployments in again up to the limit.
	s.HistoryLimit = 8
	if err := s.Update("prod", func(r *EnvRecord) error {
		d := dep("prod", 20, Completed)
		r.Deployments = append(r.Deployments, d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rec, _ = s.Load("prod")
	if len(rec.Deployments) != 7 || rec.Deployments[0].ID != dep("prod", 20, Completed).ID {
		t.Fatalf("%d deployments, first %s", len(rec.Deployments), rec.Deployments[0].ID)
	}
}

func TestNegativeLimitDoesNotBound(t *testing.T) {
	s := &Store{Dir: t.TempDir(), HistoryLimit: -1}
	if err := s.Update("prod", func(r *EnvRecord) error {
		for i := range DefaultHistoryLimit + 10 {
			r.Deployments = append(r.Deployments, dep("prod", i, Completed))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if rec, _ := s.Load("prod"); len(rec.Deployments) != DefaultHistoryLimit+10 {
		t.Fatalf("%d deployments kept", len(rec.Deployments))
	}
}

func TestAuditBound(t *testing.T) {
	s := &Store{Dir: t.TempDir(), HistoryLimit: 2}
	for i := range 20 {
		if err := appendAudit(s, "prod", strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	rec, _ := s.Load("prod")
	if len(rec.Audit) != 8 || rec.Audit[7].Who != "19" || rec.Audit[0].Who != "12" {
		t.Fatalf("audit: %d entries, %+v", len(rec.Audit), rec.Audit)
	}
}

func TestFind(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	a, b := dep("prod", 1, Completed), dep("staging", 2, AwaitingApproval)
	// An id whose prefix is not its environment is found too.
	odd := dep("prod", 3, Pending)
	odd.ID = "staging-20260301093300-0000003"
	for env, ds := range map[string][]Deployment{"prod": {a, odd}, "staging": {b}} {
		if err := s.Update(env, func(r *EnvRecord) error { r.Deployments = ds; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []Deployment{a, b, odd} {
		rec, got, err := s.Find(d.ID)
		if err != nil || got.ID != d.ID || rec.Env != d.Env {
			t.Fatalf("Find(%s): %v %s %s", d.ID, err, got.ID, rec.Env)
		}
	}
	if _, _, err := s.Find("prod-20990101000000-fffffff"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestNewID(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 4, 5, 0, time.FixedZone("CET", 3600))
	if got := NewID("production", at, "0123456789abcdef"); got != "production-20260301090405-0123456" {
		t.Fatal(got)
	}
	if got := NewID("qa", at, "abc"); got != "qa-20260301090405-abc" {
		t.Fatal(got)
	}
}

func TestTransitions(t *testing.T) {
	allowed := map[[2]State]bool{}
	for _, e := range [][2]State{
		{"", Pending},
		{Pending, Validating}, {Validating, Planning}, {Planning, AwaitingApproval},
		{AwaitingApproval, BackingUp}, {BackingUp, Applying}, {Applying, PostValidating}, {PostValidating, Completed},
		{AwaitingApproval, Planning}, {AwaitingApproval, AwaitingApproval},
		{Pending, Failed}, {Pending, Superseded}, {Pending, Rejected},
		{Validating, Failed}, {Validating, Superseded}, {Validating, Rejected},
		{Planning, Failed}, {Planning, Superseded}, {Planning, Rejected},
		{AwaitingApproval, Failed}, {AwaitingApproval, Superseded}, {AwaitingApproval, Rejected},
		{Applying, RollingBack}, {PostValidating, RollingBack},
		{RollingBack, RolledBack}, {RollingBack, Failed},
		{BackingUp, Failed}, {Applying, Failed},
	} {
		allowed[e] = true
	}
	all := []State{"", Pending, Validating, Planning, AwaitingApproval, BackingUp, Applying, PostValidating,
		Completed, RollingBack, RolledBack, Failed, Superseded, Rejected}
	for _, from := range all {
		for _, to := range all {
			if to == "" {
				continue
			}
			d := Deployment{ID: "x", State: from}
			err := d.To(to, t0, "because")
			if want := allowed[[2]State{from, to}]; (err == nil) != want {
				t.Errorf("%q → %s: err %v, want allowed %v", from, to, err, want)
				continue
			}
			if err == nil && (d.State != to || len(d.Transitions) != 1 || d.Transitions[0].Cause != "because") {
				t.Errorf("%q → %s: %+v", from, to, d)
			}
			if err != nil && (d.State != from || len(d.Transitions) != 0) {
				t.Errorf("%q → %s refused but changed the deployment", from, to)
			}
			if err != nil && from.Final() && !strings.Contains(err.Error(), "final") {
				t.Errorf("%q → %s: %v", from, to, err)
			}
		}
	}
}

func FuzzReadRecord(f *testing.F) {
	good, _ := json.Marshal(EnvRecord{Version: 1, Env: "prod", Deployments: []Deployment{dep("prod", 1, Completed)},
		Audit: []Audit{{At: t0, Who: "ann", Action: "approve", DeploymentID: "x"}}})
	for _, seed := range []string{string(good), `{"version":1,"env":"prod"}`, `{"version":2,"env":"prod"}`, ``, `[]`, `null`,
		`{"version":1,"env":"prod","deployments":[{"id":"a","env":"prod","state":"Pending","until":"x"}]}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := ReadRecord("/state/env-prod.json", "prod", b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "/state/env-prod.json") {
				t.Fatalf("error without ErrCorrupt or the path: %v", err)
			}
			return
		}
		if rec.Env != "prod" || rec.Version < 1 || rec.Version > StoreVersion || rec.Deployments == nil || rec.Audit == nil {
			t.Fatalf("accepted %+v", rec)
		}
		out, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ReadRecord("/state/env-prod.json", "prod", out); err != nil {
			t.Fatalf("a record read does not read again: %v\n%s", err, out)
		}
	})
}
