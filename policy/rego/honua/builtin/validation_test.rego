package honua.builtin.validation_test

import data.honua.builtin.validation
import data.honua.fixtures

invalid := object.union(fixtures.base, {"plan": object.union(fixtures.base.plan, {"errors": [{
	"file": "environments/production/layers/parcels.yaml", "line": 4, "column": 1,
	"message": "serviceId planing is not a service", "rule": "reference",
}]})})

test_errors_denied if {
	some d in validation.deny with input as invalid with data.honua.config as fixtures.config
	contains(d.message, "environments/production/layers/parcels.yaml:4: serviceId planing is not a service")
}

test_errors_warned_without_validation if {
	cfg := fixtures.env_with({"requiresValidation": false})
	count(validation.deny) == 0 with input as invalid with data.honua.config as cfg
	count(validation.warn) == 1 with input as invalid with data.honua.config as cfg
}
