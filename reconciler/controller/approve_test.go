package controller

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func awaiting(env string, i int, req Requirement) Deployment {
	d := dep(env, i, AwaitingApproval)
	d.Author = "Carol Coder <carol@example.com>"
	d.Requirement = req
	return d
}

func TestLoadApprovers(t *testing.T) {
	p := filepath.Join(t.TempDir(), "approvers.yaml")
	os.WriteFile(p, []byte("teams:\n  Acme/Platform: [ann, bob]\n  acme/empty:\naliases:\n  ann: [\"Ann Smith\", ann@example.com]\n"), 0o600)
	a, err := LoadApprovers(p)
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := a.Members("acme/platform"); !ok || strings.Join(m, ",") != "ann,bob" {
		t.Fatalf("%v %v", m, ok)
	}
	if _, ok := a.Members("acme/empty"); !ok {
		t.Fatal("an empty team is mapped (to nobody)")
	}
	if n := a.Names("ANN"); strings.Join(n, "|") != "ANN|Ann Smith|ann@example.com" {
		t.Fatal(n)
	}
	for content, want := range map[string]string{
		"teams: [a]\n":                       ":1: teams: must be a mapping",
		"teams:\n  platform: [a]\n":          ":2: teams: \"platform\" is not an org/team slug",
		"teams:\n  a/b: [x]\n  A/B: [y]\n":   ":3: teams: \"A/B\" is given twice",
		"teams:\n  a/b: x\n":                 ":2: teams: a/b: must be a list",
		"teams:\n  a/b:\n    - [x]\n":        ":3: teams: a/b: every entry",
		"approvers:\n  a/b: [x]\n":           ":1: unknown key \"approvers\"",
		"aliases:\n  a/b: [x]\n":             ":2: aliases: \"a/b\" is a team",
		"teams: {}\nteams: {}\n":             ":2: teams: given twice",
		"- a\n":                              ":1: the file must be a mapping",
		"teams:\n  a/b: [\"x\\ny\"]\n":       ":2: teams: a/b: an entry has a control character",
		"teams:\n  a/b: [x\n":                p + ": yaml",
		"aliases:\n  ann: [\"\"]\n":          ":2: aliases: ann: every entry must be a non-empty name",
		"teams:\n  ? [a]\n  : [x]\n":         ":2: teams: a key must be a non-empty name",
		"aliases:\n  ann: {x: y}\n":          ":2: aliases: ann: must be a list",
		"teams:\n  a/b: [x]\naliases: 3\n":   ":3: aliases: must be a mapping",
		"teams:\n  a/b: &x [x]\n  c/d: *x\n": "",
	} {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadApprovers(p)
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v", content, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", content, err, want)
		}
	}
	if a, err := LoadApprovers(""); err != nil || len(a.Teams) != 0 {
		t.Fatal(a, err)
	}
	if _, err := LoadApprovers(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Fatal("a missing file is an error")
	}
}

func FuzzParseApprovers(f *testing.F) {
	for _, s := range []string{"teams:\n  acme/ops: [ann]\naliases:\n  ann: [a@b.c]\n", "", "- x", "teams: {a/b: null}", "aliases: {x: [&a y, *a]}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseApprovers("approvers.yaml", b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "approvers.yaml") {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		for team := range a.Teams {
			if !teamSlug.MatchString(team) {
				t.Fatalf("accepted team %q", team)
			}
		}
		for _, l := range a.Aliases {
			for _, n := range l {
				if n == "" || hasControl(n) {
					t.Fatalf("accepted alias %q", n)
				}
			}
		}
	})
}

func TestDecide(t *testing.T) {
	now := t0.Add(time.Hour)
	later := now.Add(2 * time.Hour)
	teams, err := ParseApprovers("approvers.yaml", []byte("teams:\n  acme/ops: [dave, Carol]\naliases:\n  cc: [carol@EXAMPLE.com]\n  ghuser: [\"Ghost\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	req := Requirement{Required: true, Min: 1, From: []string{"Ann", "acme/ops"}, PreventSelfApproval: true}
	base := func() EnvRecord {
		r := NewRecord("prod")
		r.Deployments = []Deployment{awaiting("prod", 1, req)}
		return r
	}
	id := dep("prod", 1, Pending).ID
	type tc struct {
		name                   string
		change                 func(*EnvRecord, *Deployment)
		kind, by, reason, want string
		teams                  *Approvers
	}
	for _, c := range []tc{
		{name: "ok login", kind: "approve", by: "ann"},
		{name: "ok team", kind: "approve", by: "DAVE"},
		{name: "anyone", kind: "approve", by: "zed", change: func(_ *EnvRecord, d *Deployment) { d.Requirement.From = nil }},
		{name: "no id", kind: "approve", by: "ann", change: func(r *EnvRecord, _ *Deployment) { r.Deployments[0].ID = "other" }, want: "no deployment " + id + " in environment prod"},
		{name: "completed", kind: "approve", by: "ann", change: func(_ *EnvRecord, d *Deployment) { d.State = Completed }, want: "is Completed: it is finished"},
		{name: "rejected", kind: "approve", by: "ann", change: func(_ *EnvRecord, d *Deployment) {
			d.State = Rejected
			d.Transitions = append(d.Transitions, Transition{State: Rejected, Cause: "rejected by bob: no"})
		}, want: "is Rejected: it was rejected (rejected by bob: no)"},
		{name: "superseded state", kind: "approve", by: "ann", change: func(_ *EnvRecord, d *Deployment) { d.State = Superseded }, want: "a newer deployment superseded it"},
		{name: "superseded by newer", kind: "approve", by: "ann", change: func(r *EnvRecord, _ *Deployment) {
			r.Deployments = append(r.Deployments, dep("prod", 2, Planning))
		}, want: "superseded by " + dep("prod", 2, Pending).ID},
		{name: "applying", kind: "approve", by: "ann", change: func(r *EnvRecord, d *Deployment) {
			d.State = Applying
			r.Deployments = append(r.Deployments, dep("prod", 2, Planning))
		}, want: "is Applying: it was approved and is being applied"},
		{name: "planning", kind: "approve", by: "ann", change: func(_ *EnvRecord, d *Deployment) { d.State = Planning }, want: "is Planning, not awaiting approval"},
		{name: "blocked", kind: "approve", by: "ann", change: func(_ *EnvRecord, d *Deployment) { d.Until = &later }, want: "blocked by a gate of time until " + later.Format(time.RFC3339)},
		{name: "window passed", kind: "approve", by: "ann", change: func(_ *EnvRecord, d *Deployment) { past := now.Add(-time.Minute); d.Until = &past }},
		{name: "no approval needed", kind: "approve", by: "ann", change: func(_ *EnvRecord, d *Deployment) { d.Requirement = Requirement{} }, want: "needs no approval"},
		{name: "not eligible", kind: "approve", by: "eve", want: "eve may not decide on deployment " + id + ": the policy asks for an approver among Ann, acme/ops"},
		{name: "unicode fold is not a login", kind: "approve", by: "\u212Ann", change: func(_ *EnvRecord, d *Deployment) { d.Requirement.From = []string{"kann"} }, want: "may not decide"},
		{name: "team unmapped", kind: "approve", by: "dave", teams: &Approvers{}, want: "add acme/ops with its members under teams: in --approvers-file"},
		{name: "self by name via team", kind: "approve", by: "carol", change: func(_ *EnvRecord, d *Deployment) { d.Author = "carol <c@x.org>" }, want: "prevents self-approval and carol is the commit's author"},
		{name: "self by alias email", kind: "approve", by: "cc", change: func(_ *EnvRecord, d *Deployment) { d.Requirement.From = nil }, want: "prevents self-approval and carol@EXAMPLE.com is the commit's author"},
		{name: "self by full name alias", kind: "approve", by: "ghuser", change: func(_ *EnvRecord, d *Deployment) {
			d.Requirement.From = nil
			d.Author = "ghost <1+someone@users.noreply.github.com>"
		}, want: "self-approval"},
		{name: "self by noreply login", kind: "approve", by: "someone", change: func(_ *EnvRecord, d *Deployment) {
			d.Requirement.From = nil
			d.Author = "X <123+Someone@users.noreply.github.com>"
		}, want: "self-approval"},
		{name: "self allowed", kind: "approve", by: "cc", change: func(_ *EnvRecord, d *Deployment) {
			d.Requirement.From = nil
			d.Requirement.PreventSelfApproval = false
		}},
		{name: "twice", kind: "approve", by: "ANN", change: func(_ *EnvRecord, d *Deployment) {
			d.Decisions = []Decision{{Kind: "approve", By: "ann", At: t0}}
		}, want: "ANN already decided on deployment " + id + " (approve at"},
		{name: "reject", kind: "reject", by: "dave", reason: "not today"},
		{name: "reject planning", kind: "reject", by: "dave", reason: "no", change: func(_ *EnvRecord, d *Deployment) { d.State = Planning }},
		{name: "reject blocked", kind: "reject", by: "dave", reason: "no", change: func(_ *EnvRecord, d *Deployment) { d.Until = &later }},
		{name: "reject no reason", kind: "reject", by: "dave", reason: "  ", want: "a rejection needs a reason"},
		{name: "reject not eligible", kind: "reject", by: "eve", reason: "x", want: "eve may not decide"},
		{name: "no identity", kind: "approve", by: " ", want: "no identity"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := base()
			if c.change != nil {
				c.change(&rec, &rec.Deployments[0])
			}
			tm := teams
			if c.teams != nil {
				tm = *c.teams
			}
			before := len(rec.Audit)
			err := Decide(&rec, id, c.kind, c.by, tm, c.reason, "host/user", now)
			if c.want != "" {
				if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("err = %v, want %q", err, c.want)
				}
				if len(rec.Audit) != before {
					t.Fatal("a refusal was audited")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d := rec.Get(id)
			last := d.Decisions[len(d.Decisions)-1]
			if last.Kind != c.kind || last.By != strings.TrimSpace(c.by) || !last.At.Equal(now) || last.From != "host/user" {
				t.Fatalf("decision %+v", last)
			}
			a := rec.Audit[len(rec.Audit)-1]
			if a.Action != c.kind || a.DeploymentID != id || a.Who != c.by || a.From != "host/user" {
				t.Fatalf("audit %+v", a)
			}
			if c.name == "ok team" && (len(last.Teams) != 1 || last.Teams[0] != "acme/ops" || !strings.Contains(a.Detail, "acme/ops")) {
				t.Fatalf("teams %v, detail %q", last.Teams, a.Detail)
			}
			if c.kind == "reject" {
				tr := d.Transitions[len(d.Transitions)-1]
				if d.State != Rejected || !strings.Contains(tr.Cause, c.reason) || last.Reason != c.reason {
					t.Fatalf("%s %+v", d.State, tr)
				}
			} else if d.State != AwaitingApproval {
				t.Fatalf("an approval moved the deployment to %s", d.State)
			}
		})
	}
	rec := base()
	if err := Decide(&rec, id, "maybe", "ann", teams, "", "", now); err == nil {
		t.Fatal("kind maybe accepted")
	}
}

func TestRequestRollback(t *testing.T) {
	now := t0.Add(time.Hour)
	mk := func(states ...State) EnvRecord {
		r := NewRecord("prod")
		for i, s := range states {
			r.Deployments = append([]Deployment{dep("prod", i, s)}, r.Deployments...)
		}
		return r
	}
	// current = lastGood = #2; the one before (#1 failed) is skipped for #0.
	rec := mk(Completed, Failed, Completed)
	rec.Current, rec.LastGood = rec.Deployments[0].ID, rec.Deployments[0].ID
	d, err := RequestRollback(&rec, "", "ann", "h/u", now)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Rollback || d.SHA != dep("prod", 0, Pending).SHA || d.RollbackOf != dep("prod", 2, Pending).SHA || d.State != Pending || rec.Deployments[0].ID != d.ID {
		t.Fatalf("%+v", d)
	}
	if a := rec.Audit[len(rec.Audit)-1]; a.Action != "rollback" || a.Who != "ann" || a.DeploymentID != d.ID {
		t.Fatalf("%+v", a)
	}
	if _, err := RequestRollback(&rec, "", "ann", "h/u", now.Add(time.Second)); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "already open") {
		t.Fatal(err)
	}
	// current (failed-kept) is not last good: back to last good.
	rec = mk(Completed, Completed)
	rec.Current, rec.LastGood = rec.Deployments[0].ID, rec.Deployments[1].ID
	if d, err := RequestRollback(&rec, "", "ann", "", now); err != nil || d.SHA != rec.Deployments[2].SHA {
		t.Fatal(d, err)
	}
	// --to a prefix of a known commit, and an unknown full one.
	rec = mk(Completed, Completed)
	rec.Current, rec.LastGood = rec.Deployments[0].ID, rec.Deployments[0].ID
	if d, err := RequestRollback(&rec, dep("prod", 0, Pending).SHA[:9], "ann", "", now); err != nil || d.SHA != dep("prod", 0, Pending).SHA {
		t.Fatal(d, err)
	}
	rec.Deployments = rec.Deployments[1:]
	if d, err := RequestRollback(&rec, "ABCDEF0123", "ann", "", now); err != nil || d.SHA != "abcdef0123" {
		t.Fatal(d, err)
	}
	for name, c := range map[string]struct {
		rec  EnvRecord
		to   string
		want string
	}{
		"nothing deployed": {NewRecord("prod"), "", "no current deployment"},
		"only one": {func() EnvRecord {
			r := mk(Completed)
			r.Current, r.LastGood = r.Deployments[0].ID, r.Deployments[0].ID
			return r
		}(), "", "nothing to roll back to"},
		"to current":   {func() EnvRecord { r := mk(Completed); r.Current = r.Deployments[0].ID; return r }(), dep("prod", 0, Pending).SHA[:7], "is the current commit"},
		"to not a sha": {func() EnvRecord { r := mk(Completed); r.Current = r.Deployments[0].ID; return r }(), "main", "not a commit SHA"},
	} {
		before := len(c.rec.Deployments)
		if _, err := RequestRollback(&c.rec, c.to, "ann", "", now); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", name, err)
		}
		if len(c.rec.Deployments) != before {
			t.Errorf("%s: a refusal added a deployment", name)
		}
	}
}
