# Package honua.builtin.warnings flags what deserves a reviewer's look without
# blocking: large removals, removed data sources, the emergency label, and an
# environment the policy file does not list.
package honua.builtin.warnings

import data.honua.lib
import data.honua.schedule

# The summary guards keep these rules from scanning every change of a large
# plan that removes nothing.
warn contains {"rule": "large-removal", "message": msg} if {
	input.plan.summary.removed >= lib.env.largeRemoval
	n := count(lib.removed)
	n >= lib.env.largeRemoval
	msg := sprintf("this plan removes %s from %s: %s", [lib.plural(n, "object"), input.environment, lib.describe(lib.removed)])
}

warn contains {"rule": "datasource-removal", "message": msg} if {
	input.plan.summary.removed > 0
	some c in lib.removed
	c.kind == "datasource"
	msg := sprintf("removing data source %s from %s takes down every service and layer that reads it", [c.id, input.environment])
}

warn contains {"rule": "emergency-label", "message": msg} if {
	lib.has_changes
	lib.emergency
	msg := sprintf("emergency label %q is set: %s", [lib.env.emergencyLabel, emergency_effect])
}

emergency_effect := sprintf("blackout period %q is crossed (allowEmergency: true)", [b.name]) if {
	some b in schedule.active_blackouts
	schedule.emergency_crosses(b)
} else := "the closed deployment window is bypassed" if {
	not schedule.in_window
} else := "it would bypass a closed deployment window, never a blackout that does not allow it"

warn contains {"rule": "unlisted-environment", "message": msg} if {
	lib.has_changes
	not lib.listed
	msg := sprintf("%s is not in .gitops/deployment-policy.yaml: the strict defaults apply (approval required, no breaking changes)", [input.environment])
}
