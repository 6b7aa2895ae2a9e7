# Package honua.builtin.validation denies deploying a head whose config has
# validation errors where the policy requires validation.
package honua.builtin.validation

import data.honua.lib

deny contains {"rule": "validation", "message": msg} if {
	lib.env.requiresValidation
	n := count(input.plan.errors)
	n > 0
	e := input.plan.errors[0]
	msg := sprintf("%s requires a valid config (requiresValidation: true) and head has %s; first: %s: %s", [
		input.environment, lib.plural(n, "validation error"), lib.position(e), e.message,
	])
}

warn contains {"rule": "validation", "message": msg} if {
	not lib.env.requiresValidation
	n := count(input.plan.errors)
	n > 0
	msg := sprintf("head has %s in %s; requiresValidation is false, so they do not block", [
		lib.plural(n, "validation error"), input.environment,
	])
}
