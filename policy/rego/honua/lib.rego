# Package honua.lib holds the helpers every built-in rule shares: the policy of
# the environment being evaluated and facts derived from the input.
package honua.lib

# env is the policy of input.environment from .gitops/deployment-policy.yaml,
# normalised by the engine (every field present, durations in seconds, windows
# in minutes). An environment the file does not list gets the strict defaults.
env := e if {
	e := data.honua.config.environments[input.environment]
} else := data.honua.config.defaults

# listed is true when the policy file names the environment.
listed if data.honua.config.environments[input.environment]

# has_changes is true when the plan changes something in the environment;
# time, promotion and approval rules only apply to a deployment that happens.
has_changes if count(input.plan.changes) > 0

# breaking and removed are the breaking changes and the removals, in plan
# order. The engine precomputes them in input.plan.index, so that no rule
# scans the changes of a large plan; an input without the index (a test's)
# gets them by scanning.
breaking := b if {
	b := input.plan.index.breaking
} else := [c | some c in input.plan.changes; c.breaking]

removed := r if {
	r := input.plan.index.removed
} else := [c | some c in input.plan.changes; c.action == "remove"]

labels := {l | some l in input.pr.labels}

# emergency is true when the PR carries the environment's emergency label.
emergency if {
	env.emergencyLabel != ""
	env.emergencyLabel in labels
}

# rollback is true when the deployment puts back an earlier configuration that
# succeeded (/rollback).
rollback if input.rollback == true

# describe names up to five changes ("layer parcels, datasource kailua-postgis
# and 3 more").
describe(changes) := text if {
	count(changes) <= 5
	text := concat(", ", [sprintf("%s %s", [c.kind, c.id]) | some c in changes])
} else := text if {
	first := array.slice(changes, 0, 5)
	names := concat(", ", [sprintf("%s %s", [c.kind, c.id]) | some c in first])
	text := sprintf("%s and %d more", [names, count(changes) - 5])
}

# position writes where a diagnostic is: "file:line", or "file" when it names
# no line (a symlink, a file over the size limit).
position(e) := sprintf("%s:%d", [e.file, e.line]) if e.line > 0

else := e.file

# plural gives "1 change" or "3 changes".
plural(n, word) := sprintf("%d %s", [n, word]) if n == 1

else := sprintf("%d %ss", [n, word])
