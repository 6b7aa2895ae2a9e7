# Package honua.builtin.protection checks the GitHub environment protection the
# App read (input.protection; null when it was not read). GitHub does not gate
# deployments created through the API, so an environment that needs approval
# but has no required reviewers on GitHub is refused until someone fixes it.
package honua.builtin.protection

import data.honua.lib

deny contains {"rule": "unprotected-environment", "message": msg} if {
	lib.has_changes
	not lib.env.autoApprove
	input.protection != null
	count(object.get(input.protection, "reviewers", [])) == 0
	msg := sprintf("%s needs approval (autoApprove: false) but its GitHub environment has no required reviewers: add them under Settings → Environments → %s → Required reviewers", [
		input.environment, input.environment,
	])
}

warn contains {"rule": "wait-timer", "message": msg} if {
	lib.has_changes
	input.protection != null
	t := object.get(input.protection, "wait_timer", 0)
	t > 0
	msg := sprintf("the GitHub environment %s has a wait timer: the deployment starts %d minutes after approval", [input.environment, t])
}
