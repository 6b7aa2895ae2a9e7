# Package honua.fixtures holds the policy data and input the built-in tests
# share: a production environment with a Tue–Thu 09:00–16:00 window in
# Pacific/Honolulu, a holiday blackout, promotion from staging and approvers.
package honua.fixtures

production := {
	"autoApprove": false,
	"requiresValidation": true,
	"allowBreakingChanges": false,
	"timezone": "Pacific/Honolulu",
	"approvers": ["kailua-gis/gis-leads"],
	"minApprovals": 1,
	"preventSelfApproval": true,
	"approvalExpirySeconds": 0,
	"promotion": {"after": "staging", "soak": "2h", "soakSeconds": 7200},
	"emergencyLabel": "emergency-deploy",
	"largeRemoval": 5,
	"approvalRules": [],
	"windows": [{
		"days": ["Tuesday", "Wednesday", "Thursday"],
		"start": 540, "end": 960, "startTime": "09:00", "endTime": "16:00",
		"text": "Tue–Thu 09:00–16:00",
	}],
	"blackouts": [{
		"name": "Holiday freeze", "startDate": "2025-12-20", "endDate": "2026-01-02",
		"reason": "reduced staffing", "allowEmergency": false,
	}],
	"safety": {"requireBackup": true, "healthCheckTimeout": 300, "rollbackOnFailure": true},
	"notifications": {},
}

config := {
	"policyOwners": ["kailua-gis/platform"],
	"environments": {"production": production},
	"defaults": object.union(production, {"windows": [], "blackouts": [], "promotion": null}),
}

change := {
	"kind": "layer", "id": "bike-lanes", "action": "add", "breaking": false,
	"reasons": [], "file": "environments/common/layers/bike-lanes.yaml", "line": 1,
	"collections": ["transportation::bike-lanes"], "details": [],
}

# base is a PR that adds one layer to production on Wednesday 2026-03-11 at
# 10:00 in Honolulu (20:00 UTC), promoted from staging three hours earlier.
base := {
	"environment": "production",
	"now": "2026-03-11T20:00:00Z",
	"sha": "c0ffee",
	"plan": {
		"summary": {"added": 1, "modified": 0, "removed": 0, "breaking": 0},
		"changes": [change],
		"errors": [],
	},
	"pr": {
		"number": 12, "author": "ana", "labels": [], "base_sha": "ba5e",
		"head_sha": "c0ffee", "touches_gitops": false,
	},
	"approvals": [],
	"protection": null,
	"deployments": {"staging": {"sha": "c0ffee", "succeeded_at": "2026-03-11T17:00:00Z"}},
}

at(now) := object.union(base, {"now": now})

with_labels(labels) := object.union(base, {"pr": object.union(base.pr, {"labels": labels})})

with_changes(changes) := object.union(base, {"plan": {
	"summary": {
		"added": count([c | some c in changes; c.action == "add"]),
		"modified": count([c | some c in changes; c.action == "modify"]),
		"removed": count([c | some c in changes; c.action == "remove"]),
		"breaking": count([c | some c in changes; c.breaking]),
	},
	"changes": changes,
	"errors": [],
}})

# env_with gives a config whose production environment has the given fields.
env_with(fields) := object.union(config, {"environments": {"production": object.union(production, fields)}})
