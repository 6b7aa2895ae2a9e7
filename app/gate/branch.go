package gate

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// BranchAllowed decides whether branch may deploy to env under the
// environment's deployment branch policy: any branch when it has none;
// protected branches only (protected says whether branch is); or branches
// matching one of its name patterns. For a merge, branch is the branch
// merged into (the pull request's base).
//
// Patterns are matched as GitHub does (Ruby's File.fnmatch with
// FNM_PATHNAME), for the part of the syntax that is matched here: '*'
// matches any characters but '/', '?' one character but '/', "**/" any
// number of whole path segments (none included), and every other character
// itself. Character classes ("[abc]") and escapes are not matched: a
// pattern using them matches only itself, so such a policy refuses rather
// than allows. Tag patterns do not apply to branches.
func BranchAllowed(env Environment, branch string, protected bool) (bool, string) {
	bp := env.BranchPolicy
	if bp == nil {
		return true, ""
	}
	branch = strings.TrimPrefix(branch, "refs/heads/")
	settings := fmt.Sprintf("Settings → Environments → %s → Deployment branches and tags", env.Name)
	if bp.ProtectedBranches {
		if protected {
			return true, ""
		}
		return false, fmt.Sprintf("%s accepts deployments from protected branches only, and %s is not protected: protect it (Settings → Branches), or change %s.", env.Name, branch, settings)
	}
	for _, p := range bp.Patterns {
		if MatchBranch(p, branch) {
			return true, ""
		}
	}
	if len(bp.Patterns) == 0 {
		return false, fmt.Sprintf("%s accepts deployments from no branch: add %s under %s.", env.Name, branch, settings)
	}
	return false, fmt.Sprintf("%s accepts deployments only from branches matching %s, and %s is not one: add it under %s.", env.Name, strings.Join(bp.Patterns, ", "), branch, settings)
}

// MatchBranch reports whether a branch name matches a deployment branch
// pattern (see BranchAllowed for the syntax). Failed positions are
// remembered, so that no pattern backtracks exponentially.
func MatchBranch(pattern, name string) bool {
	// failed[i*w+j] records that pattern[i:] does not match name[j:], for
	// the i of a star.
	w := len(name) + 1
	var failed []bool
	fail := func(i, j int) {
		if failed == nil {
			failed = make([]bool, (len(pattern)+1)*w)
		}
		failed[i*w+j] = true
	}
	var match func(i, j int) bool
	match = func(i, j int) bool {
		for i < len(pattern) {
			if failed != nil && failed[i*w+j] {
				return false
			}
			switch {
			case strings.HasPrefix(pattern[i:], "**/"):
				// Zero or more whole segments.
				for k := j; k <= len(name); k++ {
					if (k == j || name[k-1] == '/') && match(i+3, k) {
						return true
					}
				}
				fail(i, j)
				return false
			case pattern[i] == '*':
				start := i
				for i < len(pattern) && pattern[i] == '*' {
					i++
				}
				for k := j; k <= len(name); k++ {
					if match(i, k) {
						return true
					}
					if k < len(name) && name[k] == '/' {
						break
					}
				}
				fail(start, j)
				return false
			case pattern[i] == '?':
				if j == len(name) || name[j] == '/' {
					return false
				}
				_, size := utf8.DecodeRuneInString(name[j:])
				i, j = i+1, j+size
			default:
				if j == len(name) || name[j] != pattern[i] {
					return false
				}
				i, j = i+1, j+1
			}
		}
		return j == len(name)
	}
	return match(0, 0)
}
