package gate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Supersedes reports whether newer makes older obsolete: both deploy to
// the same environment, newer was created after older (or at the same
// instant with a larger ID), and older has not started (pending or
// queued). The App marks a superseded deployment inactive, so that the
// runner never applies an older configuration over a newer one. A
// deployment the runner has started is left to finish.
func Supersedes(newer, older DeploymentInfo) bool {
	if newer.ID == older.ID || !equalLogin(newer.Env, older.Env) || !waiting(older.State) {
		return false
	}
	return later(newer, older)
}

// Pending returns the deployments of history that newer supersedes (see
// Supersedes), oldest first: the ones to mark inactive once newer is
// created.
func Pending(history []DeploymentInfo, newer DeploymentInfo) []DeploymentInfo {
	var out []DeploymentInfo
	for _, d := range history {
		if Supersedes(newer, d) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, byCreation)
	return out
}

// waiting reports whether a deployment in state s has not started.
func waiting(s string) bool {
	switch strings.ToLower(s) {
	case StatePending, StateQueued:
		return true
	}
	return false
}

// later reports whether a was created after b.
func later(a, b DeploymentInfo) bool { return byCreation(a, b) > 0 }

func byCreation(a, b DeploymentInfo) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// RollbackRequest is a /rollback: put back, in Env, what ran before pull
// request PR's deployment of SHA, or To.
type RollbackRequest struct {
	Env string
	PR  int
	// SHA is the commit the pull request deployed (its merge commit).
	SHA string
	// To is the commit asked for with --to (a prefix of at least 7 hex
	// digits), or empty.
	To string
}

// RollbackTarget returns the commit a rollback deploys, or an error that
// says politely why there is none. history is the environment's
// deployments in any order (those of other environments are ignored).
//
// Without To, the target is the last successful deployment to the
// environment before the pull request's (latest) deployment, of another
// commit. The rollback is refused when the pull request's deployment has
// not run (it is pending, queued or was superseded), when it failed (the
// runner already put back what ran before), when the environment already
// runs the target again, and when other commits were deployed successfully
// since: going back to before the pull request would undo them too, so the
// error says how to choose with --to. With To, the target is the one
// commit deployed successfully to the environment before the pull
// request's deployment whose SHA begins with To.
func RollbackTarget(history []DeploymentInfo, req RollbackRequest) (string, error) {
	env := req.Env
	var hs []DeploymentInfo
	for _, d := range history {
		if env == "" || equalLogin(d.Env, env) {
			hs = append(hs, d)
		}
	}
	if env == "" {
		env = "the environment"
	}
	slices.SortFunc(hs, byCreation)
	pr := "this pull request"
	if req.PR > 0 {
		pr = fmt.Sprintf("#%d", req.PR)
	}
	k := -1
	for i, d := range hs {
		if req.SHA != "" && equalLogin(d.SHA, req.SHA) {
			k = i
		}
	}
	if k < 0 {
		return "", fmt.Errorf("%s was never deployed to %s, so there is nothing to roll back", pr, env)
	}
	switch mine := hs[k]; strings.ToLower(mine.State) {
	case StatePending, StateQueued:
		return "", fmt.Errorf("%s's deployment to %s has not run yet (%s), so there is nothing to roll back: /reject %s stops it", pr, env, strings.ToLower(mine.State), env)
	case StateInactive:
		return "", fmt.Errorf("%s's deployment to %s was superseded before it ran, so there is nothing to roll back", pr, env)
	case StateFailure:
		return "", fmt.Errorf("%s's deployment to %s failed, and the runner already put back what ran before it", pr, env)
	}
	before, since := hs[:k], hs[k+1:]
	if req.To != "" {
		return rollbackTo(before, req, pr, env)
	}
	var target *DeploymentInfo
	for i := len(before) - 1; i >= 0; i-- {
		if succeeded(before[i]) && !equalLogin(before[i].SHA, req.SHA) {
			target = &before[i]
			break
		}
	}
	if target == nil {
		return "", fmt.Errorf("nothing to roll back to: %s has no successful deployment before %s's", env, pr)
	}
	var current *DeploymentInfo
	var others []string
	for i := range since {
		d := &since[i]
		if !succeeded(*d) {
			continue
		}
		current = d
		if !equalLogin(d.SHA, req.SHA) && !equalLogin(d.SHA, target.SHA) && !slices.Contains(others, short(d.SHA)) {
			others = append(others, short(d.SHA))
		}
	}
	switch {
	case current != nil && equalLogin(current.SHA, target.SHA):
		return "", fmt.Errorf("%s already runs %s again, what it ran before %s", env, short(target.SHA), pr)
	case len(others) > 0:
		return "", fmt.Errorf("%s has been deployed since %s (%s): going back to before %s would undo that too. To do it anyway: /rollback %s --to %s", env, pr, strings.Join(others, ", "), pr, env, short(target.SHA))
	}
	return target.SHA, nil
}

// rollbackTo finds the one commit deployed successfully (among before)
// that To is a prefix of.
func rollbackTo(before []DeploymentInfo, req RollbackRequest, pr, env string) (string, error) {
	to := lowerASCII(req.To)
	if len(to) < 7 || len(to) > 64 || strings.Trim(to, "0123456789abcdef") != "" {
		return "", fmt.Errorf("--to %s is not a commit SHA (7 to 40 hex digits)", clip(req.To))
	}
	if strings.HasPrefix(lowerASCII(req.SHA), to) {
		return "", fmt.Errorf("%s is %s's own commit: --to takes a commit deployed to %s before it", short(req.SHA), pr, env)
	}
	var found []string
	for _, d := range before {
		if succeeded(d) && strings.HasPrefix(lowerASCII(d.SHA), to) && !slices.ContainsFunc(found, func(s string) bool { return equalLogin(s, d.SHA) }) {
			found = append(found, d.SHA)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%s was not deployed successfully to %s before %s: --to takes one of the commits it ran before", clip(req.To), env, pr)
	case 1:
		return found[0], nil
	}
	for i, s := range found {
		found[i] = clip(s)
	}
	return "", fmt.Errorf("%s matches %d deployed commits (%s): give more of its digits", clip(req.To), len(found), strings.Join(found, ", "))
}

func succeeded(d DeploymentInfo) bool { return strings.EqualFold(d.State, StateSuccess) }

// clip shortens a value for a message.
func clip(s string) string {
	if len(s) > 40 {
		return strings.ToValidUTF8(s[:40], "") + "…"
	}
	return s
}
