# Tests of the Kailua rules. They are self-contained (the input is built
# here), so `opa test .gitops/policies` and `honua-gitops policy test` give
# the same result.
package honua.custom.kailua_test

import data.honua.custom.kailua

change(kind, id, action, details) := {
	"kind": kind, "id": id, "action": action, "breaking": action == "remove",
	"reasons": [], "file": sprintf("environments/common/layers/%s.yaml", [id]), "line": 1,
	"collections": [], "details": details,
}

input_with(env, changes) := {
	"environment": env,
	"now": "2026-03-11T20:00:00Z",
	"sha": "c0ffee",
	"plan": {"summary": {"added": 0, "modified": 0, "removed": count([c | some c in changes; c.action == "remove"]), "breaking": 0}, "changes": changes, "errors": []},
	"pr": {"number": 1, "author": "ana", "labels": [], "base_sha": "ba5e", "head_sha": "c0ffee", "touches_gitops": false},
	"approvals": [],
	"protection": null,
	"deployments": {},
}

test_public_layer_removal_denied if {
	inp := input_with("staging", [change("layer", "public-parks", "remove", [])])
	some d in kailua.deny with input as inp
	d.rule == "public-layer-removal"
}

test_other_layer_removal_allowed if {
	inp := input_with("staging", [change("layer", "parks", "remove", [])])
	count(kailua.deny) == 0 with input as inp
}

test_provider_change_denied_in_production if {
	ds := change("datasource", "kailua-postgis", "modify", [{"path": "provider", "from": "postgis", "to": "sqlserver"}])
	some d in kailua.deny with input as input_with("production", [ds])
	d.message == "data source kailua-postgis would move from postgis to sqlserver in production: migrate with a runbook, not a PR"
	count(kailua.deny) == 0 with input as input_with("staging", [ds])
}

test_connection_string_change_allowed if {
	ds := change("datasource", "kailua-postgis", "modify", [{"path": "connectionString", "from": "a", "to": "b"}])
	count(kailua.deny) == 0 with input as input_with("production", [ds])
}

test_lost_description_warned if {
	l := change("layer", "parcels", "modify", [{"path": "description", "from": "Tax parcels", "to": null}])
	some w in kailua.warn with input as input_with("staging", [l])
	w.rule == "layer-description"
}

test_hazard_layer_needs_emergency_management if {
	l := change("layer", "flood-zones", "modify", [{"path": "title", "from": "a", "to": "b"}])
	some a in kailua.approval with input as input_with("production", [l])
	a.from == ["kailua-gis/emergency-mgmt"]
	count(kailua.approval) == 0 with input as input_with("staging", [l])
}
