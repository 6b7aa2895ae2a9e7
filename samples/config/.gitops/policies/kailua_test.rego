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

# indexed adds input.plan.index as the engine derives it (docs/policy.md), so
# the rules are tested on the index path as well as on the scan fallback.
indexed(inp) := object.union(inp, {"plan": {"index": {
	"removed": [c | some c in inp.plan.changes; c.action == "remove"],
	"changes": {k: {c.id: c | some c in inp.plan.changes; c.kind == k} | some k in kinds(inp)},
	"paths": {k: {p: n |
		some c in inp.plan.changes
		c.kind == k
		some d in c.details
		p := d.path
		n := count([1 | some c2 in inp.plan.changes; c2.kind == k; some d2 in c2.details; d2.path == p])
	} | some k in kinds(inp)},
}}})

kinds(inp) := {c.kind | some c in inp.plan.changes}

test_indexed_public_layer_removal_denied if {
	inp := indexed(input_with("staging", [change("layer", "public-parks", "remove", []), change("layer", "parks", "modify", [])]))
	some d in kailua.deny with input as inp
	d.rule == "public-layer-removal"
	count(kailua.deny) == 1 with input as inp
}

test_indexed_provider_change_denied_in_production if {
	ds := change("datasource", "kailua-postgis", "modify", [{"path": "provider", "from": "postgis", "to": "sqlserver"}])
	l := change("layer", "parcels", "modify", [{"path": "title", "from": "a", "to": "b"}])
	some d in kailua.deny with input as indexed(input_with("production", [l, ds]))
	d.rule == "datasource-provider"
}

test_indexed_lost_description_warned if {
	l := change("layer", "parcels", "modify", [{"path": "description", "from": "Tax parcels", "to": null}])
	some w in kailua.warn with input as indexed(input_with("staging", [l]))
	w.rule == "layer-description"
	other := change("layer", "parcels", "modify", [{"path": "title", "from": "a", "to": "b"}])
	count(kailua.warn) == 0 with input as indexed(input_with("staging", [other]))
}

test_indexed_hazard_layer_needs_emergency_management if {
	l := change("layer", "flood-zones", "modify", [{"path": "title", "from": "a", "to": "b"}])
	some a in kailua.approval with input as indexed(input_with("production", [l, change("layer", "parks", "add", [])]))
	a.from == ["kailua-gis/emergency-mgmt"]
	count(kailua.approval) == 0 with input as indexed(input_with("production", [change("layer", "parks", "add", [])]))
}
