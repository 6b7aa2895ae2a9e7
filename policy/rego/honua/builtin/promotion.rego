# Package honua.builtin.promotion denies a deployment whose commit has not yet
# succeeded in the environment it must be promoted from, or has not soaked
# there long enough (promotion: {after, soak}). A rollback puts back a commit
# that already ran here, and is not promoted.
package honua.builtin.promotion

import data.honua.lib

now_ns := time.parse_rfc3339_ns(input.now)

deny contains {"rule": "promotion", "message": msg} if {
	lib.has_changes
	p := lib.env.promotion
	p != null
	not lib.rollback
	not skipped(p)
	msg := problem(p)
}

# skipped is true when the commit does not change the environment it must be
# promoted from (the input says which environments it changes): it cannot run
# there first, and goes without promotion, with a warning.
skipped(p) if {
	input.changed_environments != null
	not p.after in {e | some e in input.changed_environments}
}

warn contains {"rule": "promotion-skipped", "message": msg} if {
	lib.has_changes
	p := lib.env.promotion
	p != null
	not lib.rollback
	skipped(p)
	msg := sprintf("this commit changes %s but not %s, where %s is promoted from: it cannot run in %s first, and is not held for promotion", [
		input.environment, p.after, input.environment, p.after,
	])
}

# short names a commit; a plan of directories has none.
short(sha) := "this change" if sha == ""

else := substring(sha, 0, 12)

problem(p) := msg if {
	not input.deployments[p.after]
	msg := sprintf("%s deploys only commits that succeeded in %s at least %s ago: %s has never been deployed to %s", [
		input.environment, p.after, p.soak, short(input.sha), p.after,
	])
} else := msg if {
	d := input.deployments[p.after]
	d.sha != input.sha
	msg := sprintf("%s deploys only commits that succeeded in %s at least %s ago: %s runs %s, not %s", [
		input.environment, p.after, p.soak, p.after, short(d.sha), short(input.sha),
	])
} else := msg if {
	d := input.deployments[p.after]
	ready := time.parse_rfc3339_ns(d.succeeded_at) + (p.soakSeconds * 1000000000)
	now_ns < ready
	msg := sprintf("%s deploys only commits that succeeded in %s at least %s ago: %s succeeded there at %s; it can be promoted from %s", [
		input.environment, p.after, p.soak, short(input.sha), d.succeeded_at,
		time.format([ready, "UTC", "2006-01-02T15:04:05Z07:00"]),
	])
}
