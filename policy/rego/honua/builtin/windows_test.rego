package honua.builtin.windows_test

import data.honua.builtin.windows
import data.honua.fixtures

test_inside_window_allowed if {
	count(windows.deny) == 0 with input as fixtures.base with data.honua.config as fixtures.config
}

test_outside_window_denied_with_next_opening if {
	some d in windows.deny with input as fixtures.at("2026-03-09T20:00:00Z") with data.honua.config as fixtures.config
	d.rule == "deployment-window"
	contains(d.message, "Tue–Thu 09:00–16:00, Pacific/Honolulu")
	contains(d.message, "the next window opens Tue 2026-03-10 09:00 HST")
}

test_emergency_label_passes_window if {
	inp := object.union(fixtures.with_labels(["emergency-deploy"]), {"now": "2026-03-09T20:00:00Z"})
	count(windows.deny) == 0 with input as inp with data.honua.config as fixtures.config
}

test_nothing_to_deploy_nothing_denied if {
	inp := object.union(fixtures.with_changes([]), {"now": "2026-03-09T20:00:00Z"})
	count(windows.deny) == 0 with input as inp with data.honua.config as fixtures.config
}
