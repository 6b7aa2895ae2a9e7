package honua.builtin.gitops_test

import data.honua.builtin.gitops
import data.honua.fixtures

broken := object.union(fixtures.base, {"pr": object.union(fixtures.base.pr, {"gitops_errors": [
	{"file": ".gitops/policies/big.rego", "line": 0, "column": 0, "message": "the file is over the limit of 1048576 bytes", "rule": "file-too-large"},
	{"file": ".gitops/deployment-policy.yaml", "line": 3, "column": 5, "message": "unknown field", "rule": "policy-file"},
]})})

test_head_policy_errors_denied if {
	some d in gitops.deny with input as broken with data.honua.config as fixtures.config
	d.rule == "policy-invalid"
	contains(d.message, "(.gitops/policies/big.rego: the file is over the limit of 1048576 bytes; and 1 more problem)")
}

test_no_errors_no_deny if {
	count(gitops.deny) == 0 with input as fixtures.base with data.honua.config as fixtures.config
}

test_input_without_the_field if {
	count(gitops.deny) == 0 with input as object.remove(fixtures.base, ["pr"]) with data.honua.config as fixtures.config
}
