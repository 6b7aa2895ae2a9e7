package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/honua-io/honua-gitops/reconciler/controller"
)

var depT0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func depOf(env string, i int, state controller.State) controller.Deployment {
	at := depT0.Add(time.Duration(i) * time.Hour)
	sha := strings.Repeat(string(rune('a'+i)), 40)
	d := controller.Deployment{ID: controller.NewID(env, at, sha), Env: env, SHA: sha, Created: at, State: state,
		Author: "Carol <carol@example.com>", Message: "change " + env + "\n\nbody"}
	d.Transitions = []controller.Transition{{State: controller.Pending, At: at, Cause: "commit " + sha[:7]}}
	if state != controller.Pending {
		d.Transitions = append(d.Transitions, controller.Transition{State: state, At: at.Add(time.Minute), Cause: "judged"})
	}
	return d
}

// fillStore writes a store: production with a completed current
// deployment (#0) and one awaiting approval (#1); staging with one.
func fillStore(t *testing.T) (string, controller.Deployment) {
	t.Helper()
	dir := t.TempDir()
	s := &controller.Store{Dir: dir}
	cur := depOf("production", 0, controller.Completed)
	wait := depOf("production", 1, controller.AwaitingApproval)
	wait.Requirement = controller.Requirement{Required: true, Min: 1, From: []string{"ann", "acme/ops"}, PreventSelfApproval: true}
	wait.Plan = json.RawMessage(`{"name":"production","summary":{"added":1,"modified":2,"removed":0,"breaking":1},"risk":"high",
		"changes":[{"kind":"layer","id":"parcels","action":"modify","breaking":true}]}`)
	wait.Verdict = json.RawMessage(`{"allow":false,"deny":[{"rule":"approval","message":"needs an approval from ann or acme/ops"}],"policy_digest":"0123456789abcdef"}`)
	if err := s.Update("production", func(r *controller.EnvRecord) error {
		r.Deployments = []controller.Deployment{wait, cur}
		r.Current, r.LastGood, r.Health, r.Sync = cur.ID, cur.ID, "Healthy", "Synced"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update("staging", func(r *controller.EnvRecord) error {
		r.Deployments = []controller.Deployment{depOf("staging", 2, controller.Completed)}
		r.Current = r.Deployments[0].ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return dir, wait
}

func TestDeploymentListAndShow(t *testing.T) {
	dir, wait := fillStore(t)
	out, errOut, code := runCmd(t, "deployment", "list", "--state-dir", dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"ENV", wait.ID, "AwaitingApproval", "approvals 0/1", "current, last good", "staging-"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	out, _, code = runCmd(t, "deployment", "list", "--state-dir", dir, "--env", "staging", "--format", "json")
	var list struct {
		Version      int
		Environments []struct {
			Env         string
			Current     string
			Deployments []struct{ ID, State string }
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || code != exitOK {
		t.Fatalf("exit %d: %v\n%s", code, err, out)
	}
	if len(list.Environments) != 1 || list.Environments[0].Env != "staging" || len(list.Environments[0].Deployments) != 1 {
		t.Fatalf("%+v", list)
	}

	out, errOut, code = runCmd(t, "deployment", "show", wait.ID, "--state-dir", dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"Deployment " + wait.ID, "Plan: 1 added, 2 modified, 0 removed, 1 breaking; risk high", "modify layer parcels (breaking)",
		"Verdict: denied (policy 0123456)", "deny approval: needs an approval", "Approval: 1 of ann, acme/ops (0 given); the commit's author may not approve",
		"History:", "AwaitingApproval", "judged", "message      change production\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	out, _, code = runCmd(t, "deployment", "show", wait.ID, "--state-dir", dir, "--format", "json")
	var shown struct {
		Env        string
		Deployment controller.Deployment
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil || code != exitOK || shown.Deployment.ID != wait.ID || shown.Env != "production" {
		t.Fatalf("exit %d: %v\n%s", code, err, out)
	}
	if _, errOut, code = runCmd(t, "deployment", "show", "production-20990101000000-fffffff", "--state-dir", dir); code != exitUsage || !strings.Contains(errOut, "no such deployment") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, errOut, code = runCmd(t, "deployment", "list"); code != exitUsage || !strings.Contains(errOut, "--state-dir is required") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, _, code = runCmd(t, "deployment", "list", "--state-dir", dir, "--format", "yaml"); code != exitUsage {
		t.Fatalf("exit %d", code)
	}
	// HONUA_GITOPS_STATE_DIR stands for --state-dir.
	t.Setenv("HONUA_GITOPS_STATE_DIR", dir)
	if out, _, code = runCmd(t, "deployment", "list"); code != exitOK || !strings.Contains(out, wait.ID) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestDeploymentApproveReject(t *testing.T) {
	dir, wait := fillStore(t)
	s := &controller.Store{Dir: dir}
	approve := func(args ...string) (string, string, int) {
		return runCmd(t, append([]string{"deployment", "approve", wait.ID, "--state-dir", dir}, args...)...)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--as", "eve"}, "eve may not decide"},
		{[]string{"--as", "dave"}, "add acme/ops with its members under teams: in --approvers-file"},
		{[]string{"--as", "carol", "--approvers-file", writeApprovers(t)}, "prevents self-approval"},
	} {
		_, errOut, code := approve(c.args...)
		if code != exitDenied || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d: %s", c.args, code, errOut)
		}
	}
	if _, errOut, code := approve("--as", "dave", "--approvers-file", filepath.Join(dir, "none.yaml")); code != exitUsage || !strings.Contains(errOut, "--approvers-file") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	out, errOut, code := approve("--as", "Dave", "--approvers-file", writeApprovers(t), "--reason", "looks fine")
	if code != exitOK || !strings.Contains(out, "approved "+wait.ID+" as Dave (1 of 1 approvals)") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if _, errOut, code := approve("--as", "dave", "--approvers-file", writeApprovers(t)); code != exitDenied || !strings.Contains(errOut, "already decided") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rec, _ := s.Load("production")
	d := rec.Get(wait.ID)
	if len(d.Decisions) != 1 || d.Decisions[0].By != "Dave" || d.Decisions[0].Reason != "looks fine" || d.Decisions[0].Teams[0] != "acme/ops" || !strings.Contains(d.Decisions[0].From, "@") {
		t.Fatalf("%+v", d.Decisions)
	}
	if a := rec.Audit[len(rec.Audit)-1]; a.Action != "approve" || a.Who != "Dave" {
		t.Fatalf("%+v", a)
	}
	out, _, _ = runCmd(t, "deployment", "show", wait.ID, "--state-dir", dir)
	if !strings.Contains(out, "Decisions:") || !strings.Contains(out, "Dave (acme/ops)") || !strings.Contains(out, "Audit:") {
		t.Fatalf("show:\n%s", out)
	}

	if _, errOut, code := runCmd(t, "deployment", "reject", wait.ID, "--state-dir", dir, "--as", "ann"); code != exitUsage || !strings.Contains(errOut, "--reason is required") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out, errOut, code := runCmd(t, "deployment", "reject", wait.ID, "--state-dir", dir, "--as", "ann", "--reason", "not during the audit"); code != exitOK || !strings.Contains(out, "rejected") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	rec, _ = s.Load("production")
	if d := rec.Get(wait.ID); d.State != controller.Rejected {
		t.Fatalf("state %s", d.State)
	}
	if _, errOut, code := approve("--as", "ann"); code != exitDenied || !strings.Contains(errOut, "is Rejected") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func writeApprovers(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "approvers.yaml")
	if err := os.WriteFile(p, []byte("teams:\n  acme/ops: [dave, carol]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDeploymentRollback(t *testing.T) {
	dir, _ := fillStore(t)
	s := &controller.Store{Dir: dir}
	// production's current is its only good deployment: nothing to go back to.
	if _, errOut, code := runCmd(t, "deployment", "rollback", "--env", "production", "--state-dir", dir, "--as", "ann"); code != exitDenied || !strings.Contains(errOut, "nothing to roll back to") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	to := strings.Repeat("f", 40)
	out, errOut, code := runCmd(t, "deployment", "rollback", "--env", "production", "--to", to[:10], "--state-dir", dir, "--as", "ann")
	if code != exitOK || !strings.Contains(out, "requested production-") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	rec, _ := s.Load("production")
	var rb *controller.Deployment
	for i := range rec.Deployments {
		if rec.Deployments[i].Rollback {
			rb = &rec.Deployments[i]
		}
	}
	if rb == nil || rb.State != controller.Pending || rb.SHA != to[:10] || rb.RollbackOf != strings.Repeat("a", 40) {
		t.Fatalf("%+v", rb)
	}
	if a := rec.Audit[len(rec.Audit)-1]; a.Action != "rollback" || a.Who != "ann" || a.DeploymentID != rb.ID {
		t.Fatalf("%+v", a)
	}
	if _, errOut, code := runCmd(t, "deployment", "rollback", "--env", "production", "--to", to, "--state-dir", dir, "--as", "ann"); code != exitDenied || !strings.Contains(errOut, "already open") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, errOut, code := runCmd(t, "deployment", "rollback", "--env", "nowhere", "--state-dir", dir, "--as", "ann"); code != exitUsage || !strings.Contains(errOut, "no state") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, _, code := runCmd(t, "deployment", "rollback", "--state-dir", dir); code != exitUsage {
		t.Fatalf("exit %d", code)
	}
}

func TestDeploymentCorruptStore(t *testing.T) {
	dir, wait := fillStore(t)
	p := (&controller.Store{Dir: dir}).Path("production")
	if err := os.WriteFile(p, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"deployment", "list", "--state-dir", dir},
		{"deployment", "approve", wait.ID, "--state-dir", dir, "--as", "ann"},
	} {
		if _, errOut, code := runCmd(t, args...); code != exitUsage || !strings.Contains(errOut, p) {
			t.Errorf("%v: exit %d: %s", args, code, errOut)
		}
	}
	if b, _ := os.ReadFile(p); string(b) != "{not json" {
		t.Fatal("the corrupt file was changed")
	}
}
