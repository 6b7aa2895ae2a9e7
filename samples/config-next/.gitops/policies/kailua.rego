# Package honua.custom.kailua holds the Kailua GIS team's own deployment
# rules, on top of the built-in ones. Rules see the same input as the
# built-ins (docs/policy.md, "Input") and contribute deny, warn and approval
# entries of the same shapes.
package honua.custom.kailua

# Layers whose id starts with "public-" feed the county open data portal and
# third-party apps; they are retired through the portal, never by a PR.
deny contains {"rule": "public-layer-removal", "message": msg} if {
	input.plan.summary.removed > 0 # skip the scan when nothing is removed
	some c in input.plan.changes
	c.kind == "layer"
	c.action == "remove"
	startswith(c.id, "public-")
	msg := sprintf("layer %s is published on the open data portal: retire it there first, then remove it (%s:%d)", [c.id, c.file, c.line])
}

# Moving a production data source to another database engine is a migration,
# not a config change.
deny contains {"rule": "datasource-provider", "message": msg} if {
	input.environment == "production"
	some c in input.plan.changes
	c.kind == "datasource"
	c.action == "modify"
	some d in c.details
	d.path == "provider"
	msg := sprintf("data source %s would move from %v to %v in production: migrate with a runbook, not a PR", [c.id, d.from, d.to])
}

# A layer without a description shows as a bare id in the catalog.
warn contains {"rule": "layer-description", "message": msg} if {
	some c in input.plan.changes
	c.kind == "layer"
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
	some c in input.plan.changes
	c.kind == "layer"
	c.id in hazard_layers
	print("hazard layer changed:", c.id, c.action)
}
