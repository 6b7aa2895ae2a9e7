package gate

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func dep(id int64, sha, env, state string, m int) DeploymentInfo {
	return DeploymentInfo{ID: id, SHA: sha, Env: env, State: state, CreatedAt: at(m)}
}

func TestSupersedes(t *testing.T) {
	newer := dep(10, sha2, "production", StatePending, 10)
	tests := []struct {
		name  string
		older DeploymentInfo
		want  bool
	}{
		{"an older pending one", dep(5, sha1, "production", StatePending, 5), true},
		{"an older queued one", dep(5, sha1, "production", "QUEUED", 5), true},
		{"the same instant, smaller id", dep(9, sha1, "production", StateQueued, 10), true},
		{"the same instant, larger id", dep(11, sha1, "production", StateQueued, 10), false},
		{"itself", newer, false},
		{"another environment", dep(5, sha1, "staging", StatePending, 5), false},
		{"environment names ignore case", dep(5, sha1, "Production", StatePending, 5), true},
		{"in progress is left to finish", dep(5, sha1, "production", StateInProgress, 5), false},
		{"finished", dep(5, sha1, "production", StateSuccess, 5), false},
		{"already inactive", dep(5, sha1, "production", StateInactive, 5), false},
		{"a later one", dep(20, sha3, "production", StatePending, 20), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Supersedes(newer, tt.older); got != tt.want {
				t.Errorf("Supersedes = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPending(t *testing.T) {
	newer := dep(10, sha3, "production", StatePending, 10)
	history := []DeploymentInfo{
		dep(7, sha2, "production", StateQueued, 7),
		dep(3, sha1, "production", StatePending, 3),
		dep(4, sha1, "production", StateSuccess, 4),
		dep(6, sha2, "staging", StatePending, 6),
		newer,
		dep(12, sha3, "production", StatePending, 12),
	}
	var got []int64
	for _, d := range Pending(history, newer) {
		got = append(got, d.ID)
	}
	if diff := cmp.Diff([]int64{3, 7}, got); diff != "" {
		t.Errorf("Pending (-want +got):\n%s", diff)
	}
}

func TestRollbackTarget(t *testing.T) {
	const (
		a = "aaaaaaa111111111111111111111111111111111"
		b = "bbbbbbb222222222222222222222222222222222"
		c = "ccccccc333333333333333333333333333333333"
		d = "ddddddd444444444444444444444444444444444"
		// e1 and e2 share their first seven digits.
		e1 = "eeeeeee555555555555555555555555555555555"
		e2 = "eeeeeee666666666666666666666666666666666"
	)
	prod := func(id int64, sha, state string) DeploymentInfo { return dep(id, sha, "production", state, int(id)) }
	tests := []struct {
		name    string
		history []DeploymentInfo
		req     RollbackRequest
		want    string
		wantErr string
	}{
		{
			name:    "the last good one before",
			history: []DeploymentInfo{prod(1, a, StateSuccess), prod(2, b, StateSuccess), prod(3, c, StateSuccess)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c},
			want:    b,
		},
		{
			name:    "in any order, other environments ignored",
			history: []DeploymentInfo{prod(3, c, StateSuccess), dep(4, d, "staging", StateSuccess, 2), prod(1, a, StateSuccess)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c},
			want:    a,
		},
		{
			name:    "failed ones before are skipped",
			history: []DeploymentInfo{prod(1, a, StateSuccess), prod(2, b, StateFailure), prod(3, d, StateInactive), prod(4, c, StateSuccess)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c},
			want:    a,
		},
		{
			name:    "earlier deployments of the same commit are skipped",
			history: []DeploymentInfo{prod(1, a, StateSuccess), prod(2, c, StateSuccess), prod(3, c, StateSuccess)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c},
			want:    a,
		},
		{
			name:    "after a rollback failed (error), roll back again",
			history: []DeploymentInfo{prod(1, a, StateSuccess), prod(2, c, StateError)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c},
			want:    a,
		},
		{
			name:    "while it is being applied",
			history: []DeploymentInfo{prod(1, a, StateSuccess), prod(2, c, StateInProgress)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c},
			want:    a,
		},
		{
			name:    "nothing before",
			history: []DeploymentInfo{prod(1, c, StateSuccess)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c},
			wantErr: "nothing to roll back to: production has no successful deployment before #12's",
		},
		{
			name:    "never deployed",
			history: []DeploymentInfo{prod(1, a, StateSuccess)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c},
			wantErr: "#12 was never deployed to production, so there is nothing to roll back",
		},
		{
			name:    "not run yet",
			history: []DeploymentInfo{prod(1, a, StateSuccess), prod(2, c, StatePending)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c},
			wantErr: "#12's deployment to production has not run yet (pending), so there is nothing to roll back: /reject production stops it",
		},
		{
			name:    "superseded",
			history: []DeploymentInfo{prod(1, a, StateSuccess), prod(2, c, StateInactive)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c},
			wantErr: "#12's deployment to production was superseded before it ran, so there is nothing to roll back",
		},
		{
			name:    "failed and undone by the runner",
			history: []DeploymentInfo{prod(1, a, StateSuccess), prod(2, c, StateFailure)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c},
			wantErr: "#12's deployment to production failed, and the runner already put back what ran before it",
		},
		{
			name:    "already rolled back",
			history: []DeploymentInfo{prod(1, a, StateSuccess), prod(2, c, StateSuccess), prod(3, a, StateSuccess)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c},
			wantErr: "production already runs aaaaaaa again, what it ran before #12",
		},
		{
			name:    "deployed since: refuse to undo others' changes",
			history: []DeploymentInfo{prod(1, a, StateSuccess), prod(2, c, StateSuccess), prod(3, d, StateSuccess), prod(4, b, StateFailure)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c},
			wantErr: "production has been deployed since #12 (ddddddd): going back to before #12 would undo that too. To do it anyway: /rollback production --to aaaaaaa",
		},
		{
			name:    "--to an earlier success",
			history: []DeploymentInfo{prod(1, a, StateSuccess), prod(2, b, StateSuccess), prod(3, c, StateSuccess), prod(4, d, StateSuccess)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c, To: "AAAAAAA1"},
			want:    a,
		},
		{
			name:    "--to a failed one",
			history: []DeploymentInfo{prod(1, a, StateSuccess), prod(2, b, StateFailure), prod(3, c, StateSuccess)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c, To: "bbbbbbb"},
			wantErr: "bbbbbbb was not deployed successfully to production before #12: --to takes one of the commits it ran before",
		},
		{
			name:    "--to a later one",
			history: []DeploymentInfo{prod(1, a, StateSuccess), prod(2, c, StateSuccess), prod(3, d, StateSuccess)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c, To: "ddddddd"},
			wantErr: "ddddddd was not deployed successfully to production before #12",
		},
		{
			name:    "--to its own commit",
			history: []DeploymentInfo{prod(1, a, StateSuccess), prod(2, c, StateSuccess)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c, To: "ccccccc"},
			wantErr: "ccccccc is #12's own commit: --to takes a commit deployed to production before it",
		},
		{
			name:    "--to ambiguous",
			history: []DeploymentInfo{prod(1, e1, StateSuccess), prod(2, e2, StateSuccess), prod(3, e1, StateSuccess), prod(4, c, StateSuccess)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c, To: "eeeeeee"},
			wantErr: "eeeeeee matches 2 deployed commits (" + e1 + ", " + e2 + "): give more of its digits",
		},
		{
			name:    "--to more digits",
			history: []DeploymentInfo{prod(1, e1, StateSuccess), prod(2, e2, StateSuccess), prod(4, c, StateSuccess)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c, To: "eeeeeee6"},
			want:    e2,
		},
		{
			name:    "--to too short",
			history: []DeploymentInfo{prod(1, a, StateSuccess), prod(2, c, StateSuccess)},
			req:     RollbackRequest{Env: "production", PR: 12, SHA: c, To: "aaaa"},
			wantErr: "--to aaaa is not a commit SHA (7 to 40 hex digits)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RollbackTarget(tt.history, tt.req)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("RollbackTarget = %q, %v\nwant error %q", got, err, tt.wantErr)
				}
			case err != nil || got != tt.want:
				t.Errorf("RollbackTarget = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
