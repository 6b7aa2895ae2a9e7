package gate

import (
	"fmt"
	"strings"

	"github.com/honua-io/honua-gitops/policy"
)

// MayApprove decides whether person may approve the deployment of p to
// env (with the Approve button or /approve), and if not, says why and what
// to do. It takes write access to the repository (bots never approve);
// when the environment names approvers, being one of them: a required
// reviewer of the GitHub environment (a user, or a member of a team) or an
// approver of the policy (a login or an org/team slug); and, when the
// environment forbids approving one's own change (GitHub's
// prevent_self_review or the policy's preventSelfApproval), being neither
// the pull request's author nor its merger. Administrators get no bypass.
func MayApprove(who Person, p Pull, env Environment, pol policy.EnvPolicy) (ok bool, why string) {
	name := envName(env, pol)
	if ok, why := mayAct(who, p, env, pol, "approve deployments to "+name, "approve its deployments"); !ok {
		return false, why
	}
	if env.PreventSelfReview || pol.PreventSelfApproval {
		if role := selfRole(who.Login, p); role != "" {
			return false, fmt.Sprintf("%s, you %s this pull request, and %s does not allow approving one's own change: %s.", who.Login, role, name, askOthers(approvers(p, env, pol)))
		}
	}
	return true, ""
}

// MayRollback decides whether person may roll back the deployment of p
// to env (/rollback). It takes what approving takes (MayApprove), but for
// one's own change: a rollback puts back what was approved before, and the
// policy lets its requester's approval count (policy.Input.Rollback), so
// the author of a bad change may undo it. It also takes a merged pull
// request.
func MayRollback(who Person, p Pull, env Environment, pol policy.EnvPolicy) (ok bool, why string) {
	name := envName(env, pol)
	if !p.Merged {
		return false, fmt.Sprintf("%s, only a merged pull request can be rolled back, and #%d is not merged.", who.Login, p.Number)
	}
	return mayAct(who, p, env, pol, "roll back "+name, "roll it back")
}

// mayAct checks write access and eligibility for doing what (said as
// brief after the environment's name).
func mayAct(who Person, p Pull, env Environment, pol policy.EnvPolicy, what, brief string) (bool, string) {
	switch {
	case who.Login == "":
		return false, "the App could not tell who asked."
	case isBot(who):
		return false, fmt.Sprintf("%s is a bot, and bots cannot %s.", who.Login, what)
	case !canWrite(who.Permission):
		have := strings.ToLower(who.Permission)
		if have == "" {
			have = "none"
		}
		return false, fmt.Sprintf("%s, to %s you need write access to %s (you have %s): ask a maintainer to grant it, or to do it for you.", who.Login, what, p.Repo, have)
	}
	list := approvers(p, env, pol)
	if len(list) == 0 || eligible(who, list) {
		return true, ""
	}
	name := envName(env, pol)
	return false, fmt.Sprintf("%s, only the approvers of %s may %s: %s (they are set under Settings → Environments → %s → Required reviewers, and in the policy's approvers).", who.Login, name, brief, askOthers(list), name)
}

// approvers are the environment's eligible approvers: its GitHub required
// reviewers and the policy's approvers, users as logins and teams as
// "org/team" (a team without an org is the repository owner's).
func approvers(p Pull, env Environment, pol policy.EnvPolicy) []string {
	var out []string
	add := func(s string) {
		s = strings.TrimPrefix(s, "@")
		if s == "" {
			return
		}
		for _, x := range out {
			if equalLogin(x, s) {
				return
			}
		}
		out = append(out, s)
	}
	owner, _, _ := strings.Cut(p.Repo, "/")
	for _, r := range env.Reviewers {
		switch {
		case equalLogin(r.Type, "Team") && r.Slug != "":
			if !strings.Contains(r.Slug, "/") && owner != "" {
				add(owner + "/" + r.Slug)
			} else {
				add(r.Slug)
			}
		case r.Login != "":
			add(r.Login)
		}
	}
	for _, a := range pol.Approvers {
		add(a)
	}
	return out
}

// eligible reports whether who is in list: by login, or by a team.
func eligible(who Person, list []string) bool {
	for _, x := range list {
		if !strings.Contains(x, "/") {
			if equalLogin(x, who.Login) {
				return true
			}
			continue
		}
		for _, t := range who.Teams {
			if equalLogin(t, x) {
				return true
			}
		}
	}
	return false
}

// askOthers says whom to ask.
func askOthers(list []string) string {
	if len(list) == 0 {
		return "ask someone else with write access"
	}
	return "ask one of " + strings.Join(list, ", ")
}

// Protect decides whether a deployment to env may go ahead as far as its
// protection goes: an environment the policy protects (autoApprove false)
// must have required reviewers on GitHub, or the App refuses it and says
// how to set them up. GitHub gates only Actions jobs by an environment's
// reviewers, so the App enforces them, and an environment that has none,
// or does not exist on GitHub, would otherwise be protected by nothing but
// the policy file of the very repository being deployed.
func Protect(env Environment, pol policy.EnvPolicy) (ok bool, why string) {
	if pol.AutoApprove {
		return true, ""
	}
	name := envName(env, pol)
	switch {
	case !env.Configured:
		return false, fmt.Sprintf("%s needs approval under the deployment policy, but this repository has no GitHub environment %s to say who approves: create it under Settings → Environments → New environment, then add its approvers under Required reviewers.", name, name)
	case len(env.Reviewers) == 0:
		return false, fmt.Sprintf("%s needs approval under the deployment policy, but its GitHub environment has no required reviewers: add them under Settings → Environments → %s → Required reviewers.", name, name)
	}
	return true, ""
}
