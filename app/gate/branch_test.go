package gate

import (
	"strings"
	"testing"
)

func TestMatchBranch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"main", "main", true},
		{"main", "Main", false},
		{"main", "main2", false},
		{"release/*", "release/1.2", true},
		{"release/*", "release/", true},
		{"release/*", "release/1/2", false},
		{"release/*", "release", false},
		{"*", "main", true},
		{"*", "feature/x", false},
		{"*/*", "feature/x", true},
		{"release/**/*", "release/1", true},
		{"release/**/*", "release/a/b/c", true},
		{"release/**/x", "release/x", true},
		{"**/hotfix", "a/b/hotfix", true},
		{"**/hotfix", "hotfix", true},
		{"**/hotfix", "ahotfix", false},
		{"release/**", "release/a", true},
		{"release/**", "release/a/b", false},
		{"v?", "v1", true},
		{"v?", "v12", false},
		{"v?", "vé", true},
		{"v?", "v/", false},
		{"feat-*-fix", "feat-abc-fix", true},
		{"feat-*-fix", "feat-a/b-fix", false},
		{"[abc]", "a", false},
		{"[abc]", "[abc]", true},
		{"", "", true},
		{"", "main", false},
	}
	for _, tt := range tests {
		if got := MatchBranch(tt.pattern, tt.name); got != tt.want {
			t.Errorf("MatchBranch(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

// TestMatchBranchIsNotExponential: a pattern of many stars against a long
// name that fails at its very end returns at once.
func TestMatchBranchIsNotExponential(t *testing.T) {
	pattern := strings.Repeat("a*", 30) + "b"
	name := strings.Repeat("a", 250)
	if MatchBranch(pattern, name) {
		t.Error("matched")
	}
	pattern = strings.Repeat("**/a", 20) + "b"
	name = strings.Repeat("a/", 120)
	if MatchBranch(pattern, name) {
		t.Error("matched")
	}
}

func TestBranchAllowed(t *testing.T) {
	patterns := &BranchPolicy{Patterns: []string{"main", "release/*"}}
	tests := []struct {
		name      string
		policy    *BranchPolicy
		branch    string
		protected bool
		wantOK    bool
		why       string
	}{
		{"any branch", nil, "feature/x", false, true, ""},
		{"protected only, protected", &BranchPolicy{ProtectedBranches: true}, "main", true, true, ""},
		{"protected only, not protected", &BranchPolicy{ProtectedBranches: true}, "dev", false, false,
			"production accepts deployments from protected branches only, and dev is not protected: protect it (Settings → Branches), or change Settings → Environments → production → Deployment branches and tags."},
		{"a pattern matches", patterns, "release/2026.03", false, true, ""},
		{"a full ref", patterns, "refs/heads/main", false, true, ""},
		{"no pattern matches", patterns, "feature/x", false, false,
			"production accepts deployments only from branches matching main, release/*, and feature/x is not one: add it under Settings → Environments → production → Deployment branches and tags."},
		{"no patterns at all", &BranchPolicy{}, "main", true, false,
			"production accepts deployments from no branch: add main under Settings → Environments → production → Deployment branches and tags."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, why := BranchAllowed(Environment{Name: "production", BranchPolicy: tt.policy}, tt.branch, tt.protected)
			if ok != tt.wantOK || why != tt.why {
				t.Errorf("BranchAllowed = %v, %q\nwant %v, %q", ok, why, tt.wantOK, tt.why)
			}
		})
	}
}
