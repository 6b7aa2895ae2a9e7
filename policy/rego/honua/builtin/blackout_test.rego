package honua.builtin.blackout_test

import data.honua.builtin.blackout
import data.honua.fixtures

test_blackout_denied_and_named if {
	some d in blackout.deny with input as fixtures.at("2025-12-30T20:00:00Z") with data.honua.config as fixtures.config
	d.rule == "blackout"
	contains(d.message, `"Holiday freeze" (2025-12-20 to 2026-01-02: reduced staffing)`)
	contains(d.message, "it ends Sat 2026-01-03 00:00 HST")
}

test_day_after_blackout_allowed if {
	count(blackout.deny) == 0 with input as fixtures.at("2026-01-03T10:00:00Z") with data.honua.config as fixtures.config
}

test_emergency_label_does_not_cross_blackout if {
	inp := object.union(fixtures.with_labels(["emergency-deploy"]), {"now": "2025-12-30T20:00:00Z"})
	count(blackout.deny) == 1 with input as inp with data.honua.config as fixtures.config
}

test_emergency_label_crosses_blackout_that_allows_it if {
	cfg := fixtures.env_with({"blackouts": [{
		"name": "Drill", "startDate": "2026-03-11", "endDate": "2026-03-11",
		"reason": "", "allowEmergency": true,
	}]})
	count(blackout.deny) == 1 with input as fixtures.base with data.honua.config as cfg
	inp := fixtures.with_labels(["emergency-deploy"])
	count(blackout.deny) == 0 with input as inp with data.honua.config as cfg
}
