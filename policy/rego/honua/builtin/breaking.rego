# Package honua.builtin.breaking denies breaking changes where the policy does
# not allow them, and asks for approval where it does.
package honua.builtin.breaking

import data.honua.lib

deny contains {"rule": "breaking-change", "message": msg} if {
	lib.has_changes
	not lib.env.allowBreakingChanges
	input.plan.summary.breaking > 0
	count(lib.breaking) > 0
	msg := sprintf("%s does not allow breaking changes (allowBreakingChanges: false) and this plan has %s: %s", [
		input.environment, lib.plural(count(lib.breaking), "breaking change"), lib.describe(lib.breaking),
	])
}

approval contains {"rule": "breaking-change", "reason": reason} if {
	lib.has_changes
	lib.env.allowBreakingChanges
	input.plan.summary.breaking > 0
	count(lib.breaking) > 0
	reason := sprintf("%s: %s", [lib.plural(count(lib.breaking), "breaking change"), lib.describe(lib.breaking)])
}
