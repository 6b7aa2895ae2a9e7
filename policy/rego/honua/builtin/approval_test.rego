package honua.builtin.approval_test

import data.honua.builtin.approval
import data.honua.fixtures

test_auto_approve_false_needs_approval if {
	some a in approval.approval with input as fixtures.base with data.honua.config as fixtures.config
	a.rule == "auto-approve"
}

test_auto_approve_true_needs_none if {
	count(approval.approval) == 0 with input as fixtures.base
		with data.honua.config as fixtures.env_with({"autoApprove": true})
}

test_matched_approval_rule if {
	m := {"env": "production", "name": "removals", "condition": "resourcesRemoved > 0", "reason": "removals break URLs", "line": 3}
	some a in approval.approval with input as fixtures.base
		with data.honua.config as fixtures.env_with({"autoApprove": true})
		with data.honua.conditions.matched as {m}
	a.reason == `removals break URLs (approval rule "removals": resourcesRemoved > 0)`
}

test_matched_approval_rule_with_approvers if {
	m := {"env": "production", "name": "secrets", "condition": "secretsChanged", "reason": "secrets need the platform team", "line": 3, "from": ["kailua-gis/platform"]}
	some a in approval.approval with input as fixtures.base
		with data.honua.config as fixtures.env_with({"autoApprove": true})
		with data.honua.conditions.matched as {m}
	a.rule == "approval-rule"
	a.from == ["kailua-gis/platform"]
}

test_gitops_change_needs_policy_owner if {
	inp := object.union(fixtures.base, {"pr": object.union(fixtures.base.pr, {"touches_gitops": true})})
	some a in approval.approval with input as inp with data.honua.config as fixtures.env_with({"autoApprove": true})
	a.rule == "policy-change"
	a.from == ["kailua-gis/platform"]
}

test_gitops_change_without_plan_changes if {
	inp := object.union(fixtures.with_changes([]), {"pr": object.union(fixtures.base.pr, {"touches_gitops": true})})
	some a in approval.approval with input as inp with data.honua.config as fixtures.config
	a.rule == "policy-change"
}
