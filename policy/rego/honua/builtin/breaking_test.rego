package honua.builtin.breaking_test

import data.honua.builtin.breaking
import data.honua.fixtures

breaking_change := object.union(fixtures.change, {"action": "modify", "breaking": true, "id": "parcels"})

test_breaking_denied_when_not_allowed if {
	some d in breaking.deny with input as fixtures.with_changes([breaking_change]) with data.honua.config as fixtures.config
	d.rule == "breaking-change"
	contains(d.message, "1 breaking change: layer parcels")
}

test_breaking_needs_approval_when_allowed if {
	cfg := fixtures.env_with({"allowBreakingChanges": true})
	count(breaking.deny) == 0 with input as fixtures.with_changes([breaking_change]) with data.honua.config as cfg
	some a in breaking.approval with input as fixtures.with_changes([breaking_change]) with data.honua.config as cfg
	a.rule == "breaking-change"
}

test_non_breaking_is_quiet if {
	count(breaking.deny) == 0 with input as fixtures.base with data.honua.config as fixtures.config
	count(breaking.approval) == 0 with input as fixtures.base with data.honua.config as fixtures.config
}
