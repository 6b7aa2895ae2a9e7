# Package honua.builtin.gitops denies a PR whose own .gitops/ does not load
# or compile. The PR is judged by base's policy, but once merged its
# .gitops/ is the policy of every later deployment, and a policy that does
# not load stops them all (fail closed): the PR is stopped instead, with
# what is wrong. input.pr.gitops_errors holds those problems; it is empty
# when the PR does not change .gitops/.
package honua.builtin.gitops

import data.honua.lib

deny contains {"rule": "policy-invalid", "message": msg} if {
	# Undefined, and so nothing to do, when the list is empty or absent.
	e := input.pr.gitops_errors[0]
	msg := sprintf("this PR's .gitops/ does not load or compile (%s: %s%s): merged, it would stop every deployment; fix it in the PR", [
		lib.position(e), e.message, more(count(input.pr.gitops_errors)),
	])
}

more(n) := "" if n == 1

else := sprintf("; and %s", [lib.plural(n - 1, "more problem")])
