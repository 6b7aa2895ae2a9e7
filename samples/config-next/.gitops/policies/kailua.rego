# Package honua.custom.kailua holds the Kailua GIS team's own deployment
# rules, on top of the built-in ones. Rules see the same input as the
# built-ins (docs/policy.md, "Input") and contribute deny, warn and approval
# entries of the same shapes.
package honua.custom.kailua

# Rules read input.plan.index (docs/policy.md, "Input") to find the few
# changes they care about without scanning every change of a large plan;
# inputs that tests build by hand may lack the index, and then the helpers
# below fall back to scanning input.plan.changes.

# Layers whose id starts with "public-" feed the county open data portal and
# third-party apps; they are retired through the portal, never by a PR.
deny contains {"rule": "public-layer-removal", "message": msg} if {
	some c in object.get(input.plan, ["index", "removed"], input.plan.changes)
	c.kind == "layer"
	c.action == "remove"
	startswith(c.id, "public-")
	msg := sprintf("layer %s is published on the open data portal: retire it there first, then remove it (%s:%d)", [c.id, c.file, c.line])
}

# Moving a production data source to another database engine is a migration,
# not a config change.
deny contains {"rule": "datasource-provider", "message": msg} if {
	input.environment == "production"
	some c in changes_of("datasource")
	c.action == "modify"
	some d in c.details
	d.path == "provider"
	msg := sprintf("data source %s would move from %v to %v in production: migrate with a runbook, not a PR", [c.id, d.from, d.to])
}

# A layer without a description shows as a bare id in the catalog.
warn contains {"rule": "layer-description", "message": msg} if {
	may_touch("layer", "description")
	some c in changes_of("layer")
	c.action == "modify"
	some d in c.details
	d.path == "description"
	d.to == null
	msg := sprintf("layer %s loses its description: the catalog will show only its id", [c.id])
}

# Changes to the hazard layers used by emergency management also need the
# county's emergency-management GIS team.
hazard_layers := {"flood-zones", "tsunami-evacuation-zones", "shoreline"}

approval contains {
	"rule": "hazard-layers",
	"reason": sprintf("hazard layer %s changes: emergency management must approve", [c.id]),
	"from": ["kailua-gis/emergency-mgmt"],
	"min": 1,
} if {
	input.environment == "production"
	some id in hazard_layers
	c := layer_change(id)
	print("hazard layer changed:", c.id, c.action)
}

# changes_of(kind) is the changes of one kind: from the index when there is
# one, else every change (the caller checks c.kind or c.action).
changes_of(kind) := object.get(input.plan.index.changes, kind, {})

changes_of(kind) := cs if {
	not input.plan.index
	cs := [c | some c in input.plan.changes; c.kind == kind]
}

# may_touch(kind, path) holds when some change of kind may change the field
# at path: the index counts detail paths; without it, assume it may.
may_touch(kind, path) if input.plan.index.paths[kind][path] > 0

may_touch(_, _) if not input.plan.index

# layer_change(id) is the change to layer id, if the plan has one.
layer_change(id) := input.plan.index.changes.layer[id]

layer_change(id) := c if {
	not input.plan.index
	some c in input.plan.changes
	c.kind == "layer"
	c.id == id
}
