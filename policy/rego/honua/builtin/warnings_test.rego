package honua.builtin.warnings_test

import data.honua.builtin.warnings
import data.honua.fixtures

removal(id) := object.union(fixtures.change, {"id": id, "action": "remove", "breaking": true})

test_large_removal_edge if {
	four := [removal(sprintf("l%d", [i])) | some i in numbers.range(1, 4)]
	five := [removal(sprintf("l%d", [i])) | some i in numbers.range(1, 5)]
	not large with input as fixtures.with_changes(four) with data.honua.config as fixtures.config
	large with input as fixtures.with_changes(five) with data.honua.config as fixtures.config
}

large if {
	some w in warnings.warn
	w.rule == "large-removal"
}

test_datasource_removal_warned if {
	ds := object.union(fixtures.change, {"kind": "datasource", "id": "kailua-postgis", "action": "remove"})
	some w in warnings.warn with input as fixtures.with_changes([ds]) with data.honua.config as fixtures.config
	w.rule == "datasource-removal"
}

test_emergency_label_always_warned if {
	some w in warnings.warn with input as fixtures.with_labels(["emergency-deploy"]) with data.honua.config as fixtures.config
	w.rule == "emergency-label"
}

test_unlisted_environment_warned if {
	inp := object.union(fixtures.base, {"environment": "qa"})
	some w in warnings.warn with input as inp with data.honua.config as fixtures.config
	w.rule == "unlisted-environment"
}
