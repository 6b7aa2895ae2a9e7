# Package honua.builtin.approval says when a deployment needs approval and
# from whom. Each entry is a requirement {rule, reason, from?, min?}; without
# from, the environment's approvers (policy approvers and GitHub required
# reviewers) are eligible; without min, the environment's minApprovals apply.
package honua.builtin.approval

import data.honua.lib

approval contains {"rule": "auto-approve", "reason": reason} if {
	lib.has_changes
	not lib.env.autoApprove
	reason := sprintf("%s does not deploy without approval (autoApprove: false)", [input.environment])
}

# A rule with approvers of its own ("from") is a separate requirement, met
# only by them; an empty "from" means the environment's approvers.
approval contains {"rule": "approval-rule", "reason": reason, "from": object.get(m, "from", [])} if {
	lib.has_changes
	some m in data.honua.conditions.matched
	m.env == input.environment
	reason := rule_reason(m)
}

rule_reason(m) := sprintf("%s (approval rule %q: %s)", [m.reason, m.name, m.condition]) if m.reason != ""

else := sprintf("approval rule %q: %s", [m.name, m.condition])

# A change to .gitops/ changes the rules every later PR is judged by, so the
# policy owners must approve it, whatever the environment's own rules say.
approval contains {"rule": "policy-change", "reason": reason, "from": owners, "min": 1} if {
	input.pr.touches_gitops
	owners := data.honua.config.policyOwners
	count(owners) > 0
	reason := "the PR changes .gitops/ (deployment policy): a policy owner must approve"
}

approval contains {"rule": "policy-change", "reason": reason} if {
	input.pr.touches_gitops
	count(data.honua.config.policyOwners) == 0
	reason := "the PR changes .gitops/ (deployment policy) and no policyOwners are set: an approver must approve"
}
