package honua.builtin.protection_test

import data.honua.builtin.protection
import data.honua.fixtures

test_unread_protection_is_not_judged if {
	count(protection.deny) == 0 with input as fixtures.base with data.honua.config as fixtures.config
}

test_no_reviewers_denied if {
	inp := object.union(fixtures.base, {"protection": {"reviewers": [], "prevent_self_review": false, "wait_timer": 0}})
	some d in protection.deny with input as inp with data.honua.config as fixtures.config
	contains(d.message, "Settings → Environments → production → Required reviewers")
}

test_reviewers_configured if {
	inp := object.union(fixtures.base, {"protection": {"reviewers": [{"type": "User", "login": "lkeawe"}], "prevent_self_review": true, "wait_timer": 10}})
	count(protection.deny) == 0 with input as inp with data.honua.config as fixtures.config
	some w in protection.warn with input as inp with data.honua.config as fixtures.config
	w.rule == "wait-timer"
}
