package honua.builtin.promotion_test

import data.honua.builtin.promotion
import data.honua.fixtures

test_soaked_commit_allowed if {
	count(promotion.deny) == 0 with input as fixtures.base with data.honua.config as fixtures.config
}

test_soak_edge if {
	# Succeeded in staging at 17:00 UTC; soak 2h: 19:00 is ready, 18:59:59 is not.
	count(promotion.deny) == 0 with input as fixtures.at("2026-03-11T19:00:00Z") with data.honua.config as fixtures.config
	some d in promotion.deny with input as fixtures.at("2026-03-11T18:59:59Z") with data.honua.config as fixtures.config
	contains(d.message, "it can be promoted from 2026-03-11T19:00:00Z")
}

test_never_deployed_to_staging if {
	inp := object.union(object.remove(fixtures.base, ["deployments"]), {"deployments": {}})
	some d in promotion.deny with input as inp with data.honua.config as fixtures.config
	contains(d.message, "has never been deployed to staging")
}

test_other_commit_in_staging if {
	inp := object.union(fixtures.base, {"deployments": {"staging": {"sha": "0ld", "succeeded_at": "2026-03-01T00:00:00Z"}}})
	some d in promotion.deny with input as inp with data.honua.config as fixtures.config
	contains(d.message, "staging runs 0ld, not c0ffee")
}

test_no_promotion_rule if {
	inp := object.union(object.remove(fixtures.base, ["deployments"]), {"deployments": {}})
	count(promotion.deny) == 0 with input as inp with data.honua.config as fixtures.env_with({"promotion": null})
}

test_never_deployed_without_sha if {
	inp := object.union(object.remove(fixtures.base, ["deployments", "sha"]), {"deployments": {}, "sha": ""})
	some d in promotion.deny with input as inp with data.honua.config as fixtures.config
	contains(d.message, "this change has never been deployed to staging")
}
