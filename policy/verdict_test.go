package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLoginsCompareASCIICaseOnly checks that logins and team slugs match
// as GitHub matches them, ignoring ASCII case only: Unicode case folding
// would let "ſmith" (U+017F) approve for smith and "\u212Aelvin" (the Kelvin
// sign) for kelvin.
func TestLoginsCompareASCIICaseOnly(t *testing.T) {
	b := mustLoad(t, map[string]string{PolicyFile: "environments:\n  production:\n    approvers: [smith, kelvin, org/kilo-team]\n    minApprovals: 1\n    preventSelfApproval: true\n"})
	tests := []struct {
		name   string
		login  string
		teams  []string
		author string
		want   []string // approved_by
	}{
		{"same login", "smith", nil, "ana", []string{"smith"}},
		{"ASCII case", "SMITH", nil, "ana", []string{"SMITH"}},
		{"long s", "ſmith", nil, "ana", []string{}},
		{"Kelvin sign", "\u212Aelvin", nil, "ana", []string{}},
		{"team in ASCII case", "zed", []string{"ORG/Kilo-Team"}, "ana", []string{"zed"}},
		{"team with the Kelvin sign", "zed", []string{"org/\u212Ailo-team"}, "ana", []string{}},
		{"self-approval in ASCII case", "smith", nil, "Smith", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := prodInput("2026-03-11T20:00:00Z")
			in.PR.Author = tt.author
			in.Approvals = []Approval{{Login: tt.login, Teams: tt.teams, Commit: "c0ffee", SubmittedAt: in.Now}}
			v := evaluate(t, b, in)
			if !cmp.Equal(v.Approval.ApprovedBy, tt.want) {
				t.Errorf("approved by %q, want %q", v.Approval.ApprovedBy, tt.want)
			}
		})
	}
}

func TestEqualLogin(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"smith", "SMITH", true},
		{"org/Team-1", "ORG/team-1", true},
		{"ſmith", "smith", false},
		{"\u212A", "k", false},
		{"\u212A", "K", false},
		{"é", "É", false}, // not a GitHub login anyway; compared byte for byte
		{"smith", "smit", false},
		{"", "", true},
	} {
		if got := equalLogin(tt.a, tt.b); got != tt.want {
			t.Errorf("equalLogin(%q, %q) = %v", tt.a, tt.b, got)
		}
		if got := lowerASCII(tt.a) == lowerASCII(tt.b); got != tt.want {
			t.Errorf("lowerASCII(%q) == lowerASCII(%q) is %v", tt.a, tt.b, got)
		}
	}
}
