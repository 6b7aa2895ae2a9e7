package gate

import (
	"testing"

	"github.com/honua-io/honua-gitops/policy"
)

func TestMayApprove(t *testing.T) {
	p := Pull{Repo: "kailua-gis/honua-config", Number: 12, Author: "author", Merger: "merger", Merged: true}
	prod := Environment{Name: "production", Configured: true, Reviewers: []policy.Reviewer{{Type: "Team", Slug: "gis-leads"}, {Type: "User", Login: "lkeawe"}}}
	noReviewers := Environment{Name: "production", Configured: true}
	pol := policy.EnvPolicy{Name: "production"}
	tests := []struct {
		name   string
		who    Person
		env    Environment
		pol    policy.EnvPolicy
		wantOK bool
		why    string
	}{
		{"a required reviewer", team["lkeawe"], prod, pol, true, ""},
		{"a required reviewer, other case", Person{Login: "LKeawe", Permission: "write"}, prod, pol, true, ""},
		{"a member of a required team (slug without org)", team["kalani"], prod, pol, true, ""},
		{"a member of a required team (org/team)", team["kalani"], Environment{Name: "production", Reviewers: []policy.Reviewer{{Type: "team", Slug: "kailua-gis/gis-leads"}}}, pol, true, ""},
		{"a team of another org does not count", Person{Login: "x", Permission: "write", Teams: []string{"other-org/gis-leads"}}, prod, pol, false,
			"x, only the approvers of production may approve its deployments: ask one of kailua-gis/gis-leads, lkeawe (they are set under Settings → Environments → production → Required reviewers, and in the policy's approvers)."},
		{"an approver of the policy", team["mahina"], prod, policy.EnvPolicy{Name: "production", Approvers: []string{"kailua-gis/policy-owners"}}, true, ""},
		{"an approver of the policy by login", team["author"], noReviewers, policy.EnvPolicy{Name: "production", Approvers: []string{"@author"}}, true, ""},
		{"anyone with write when nobody is named", team["author"], noReviewers, pol, true, ""},
		{"maintain is write", team["mahina"], noReviewers, pol, true, ""},
		{"read only", team["reader"], noReviewers, pol, false,
			"reader, to approve deployments to production you need write access to kailua-gis/honua-config (you have read): ask a maintainer to grant it, or to do it for you."},
		{"triage", team["triage"], prod, pol, false,
			"triage, to approve deployments to production you need write access to kailua-gis/honua-config (you have triage): ask a maintainer to grant it, or to do it for you."},
		{"no permission known", Person{Login: "stranger"}, prod, pol, false,
			"stranger, to approve deployments to production you need write access to kailua-gis/honua-config (you have none): ask a maintainer to grant it, or to do it for you."},
		{"a bot", team["ci-bot"], noReviewers, pol, false, "ci-bot is a bot, and bots cannot approve deployments to production."},
		{"the App itself", Person{Login: "honua-gitops[bot]", Permission: "write"}, noReviewers, pol, false, "honua-gitops[bot] is a bot, and bots cannot approve deployments to production."},
		{"nobody", Person{}, noReviewers, pol, false, "the App could not tell who asked."},
		{"the author may approve without self-review prevention", Person{Login: "author", Permission: "write", Teams: []string{"kailua-gis/gis-leads"}}, prod, pol, true, ""},
		{"the author, GitHub prevents self-review", Person{Login: "Author", Permission: "write", Teams: []string{"kailua-gis/gis-leads"}}, withSelfReview(prod), pol, false,
			"Author, you opened this pull request, and production does not allow approving one's own change: ask one of kailua-gis/gis-leads, lkeawe."},
		{"the merger, the policy prevents self-approval", Person{Login: "merger", Permission: "write"}, noReviewers, policy.EnvPolicy{Name: "production", PreventSelfApproval: true}, false,
			"merger, you merged this pull request, and production does not allow approving one's own change: ask someone else with write access."},
		{"someone else, self-approval prevented", team["lkeawe"], withSelfReview(prod), pol, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, why := MayApprove(tt.who, p, tt.env, tt.pol)
			if ok != tt.wantOK || why != tt.why {
				t.Errorf("MayApprove = %v, %q\nwant %v, %q", ok, why, tt.wantOK, tt.why)
			}
		})
	}
}

func withSelfReview(e Environment) Environment {
	e.PreventSelfReview = true
	return e
}

func TestMayRollback(t *testing.T) {
	merged := Pull{Repo: "kailua-gis/honua-config", Number: 12, Author: "author", Merger: "lkeawe", Merged: true}
	open := merged
	open.Merged = false
	prod := Environment{Name: "production", Configured: true, PreventSelfReview: true, Reviewers: []policy.Reviewer{{Type: "User", Login: "lkeawe"}, {Type: "User", Login: "author"}}}
	pol := policy.EnvPolicy{Name: "production"}
	tests := []struct {
		name   string
		who    Person
		p      Pull
		wantOK bool
		why    string
	}{
		{"an eligible reviewer", team["lkeawe"], merged, true, ""},
		{"the author undoes their own change", team["author"], merged, true, ""},
		{"read-only", team["reader"], merged, false,
			"reader, to roll back production you need write access to kailua-gis/honua-config (you have read): ask a maintainer to grant it, or to do it for you."},
		{"write but not eligible", team["kalani"], merged, false,
			"kalani, only the approvers of production may roll it back: ask one of lkeawe, author (they are set under Settings → Environments → production → Required reviewers, and in the policy's approvers)."},
		{"not merged", team["lkeawe"], open, false, "lkeawe, only a merged pull request can be rolled back, and #12 is not merged."},
		{"a bot", team["ci-bot"], merged, false, "ci-bot is a bot, and bots cannot roll back production."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, why := MayRollback(tt.who, tt.p, prod, pol)
			if ok != tt.wantOK || why != tt.why {
				t.Errorf("MayRollback = %v, %q\nwant %v, %q", ok, why, tt.wantOK, tt.why)
			}
		})
	}
}

func TestProtect(t *testing.T) {
	protected := policy.EnvPolicy{Name: "production", Approvers: []string{"lkeawe"}}
	tests := []struct {
		name   string
		env    Environment
		pol    policy.EnvPolicy
		wantOK bool
		why    string
	}{
		{"reviewers configured", Environment{Name: "production", Configured: true, Reviewers: []policy.Reviewer{{Type: "User", Login: "lkeawe"}}}, protected, true, ""},
		{"auto-approved needs nothing", Environment{Name: "staging"}, policy.EnvPolicy{Name: "staging", AutoApprove: true}, true, ""},
		{"no reviewers", Environment{Name: "production", Configured: true}, protected, false,
			"production needs approval under the deployment policy, but its GitHub environment has no required reviewers: add them under Settings → Environments → production → Required reviewers."},
		{"no environment on GitHub", Environment{Name: "production"}, protected, false,
			"production needs approval under the deployment policy, but this repository has no GitHub environment production to say who approves: create it under Settings → Environments → New environment, then add its approvers under Required reviewers."},
		{"the policy's name when the environment has none", Environment{}, protected, false,
			"production needs approval under the deployment policy, but this repository has no GitHub environment production to say who approves: create it under Settings → Environments → New environment, then add its approvers under Required reviewers."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, why := Protect(tt.env, tt.pol)
			if ok != tt.wantOK || why != tt.why {
				t.Errorf("Protect = %v, %q\nwant %v, %q", ok, why, tt.wantOK, tt.why)
			}
		})
	}
}
