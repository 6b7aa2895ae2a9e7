package command

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// result is a Command with its error as text, for comparing.
type result struct {
	Name, Env, SHA, Reason string
	Err                    string // a part of the error; "" for none
	OK                     bool
}

func resultOf(c Command, ok bool) result {
	r := result{Name: c.Name, Env: c.Env, SHA: c.SHA, Reason: c.Reason, OK: ok}
	if c.Err != nil {
		r.Err = c.Err.Error()
	}
	return r
}

// matches compares got with want, whose Err need only be part of got's.
func matches(got, want result) bool {
	if (want.Err == "") != (got.Err == "") || !strings.Contains(got.Err, want.Err) {
		return false
	}
	got.Err, want.Err = "", ""
	return got == want
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		body string
		want result
	}{
		// What counts as a command.
		{"plan", "/plan", result{Name: Plan, OK: true}},
		{"case-insensitive", "/APPROVE Production", result{Name: Approve, Env: "Production", OK: true}},
		{"CRLF and blank lines first", "\r\n  \r\n/approve staging\r\nthanks!", result{Name: Approve, Env: "staging", OK: true}},
		{"up to three spaces of indent", "   /plan", result{Name: Plan, OK: true}},
		{"BOM", "\uFEFF/help", result{Name: Help, OK: true}},
		{"commentary after", "/approve production\nLooks good, the window is open.", result{Name: Approve, Env: "production", OK: true}},
		{"tabs between arguments", "/approve\tproduction", result{Name: Approve, Env: "production", OK: true}},
		{"empty", "", result{}},
		{"blank", " \n\t\n", result{}},
		{"prose", "LGTM, /approve later", result{}},
		{"command on a later line", "Looks good.\n/approve production", result{}},
		{"quoted", "> /approve production\n\nWhy?", result{}},
		{"fenced code", "```\n/approve production\n```", result{}},
		{"indented code", "    /approve production", result{}},
		{"tab-indented code", "\t/approve production", result{}},
		{"a path", "/usr/local/bin is missing", result{}},
		{"an unknown word", "/shrug", result{}},
		{"a slash alone", "/ approve", result{}},
		{"a far word", "/deploy production", result{}},
		{"short word two edits away", "/pa", result{}},
		{"digits", "/plan2", result{}},

		// Near misses.
		{"typo", "/aprove production", result{Err: "did you mean /approve?", OK: true}},
		{"typo, two edits", "/rolback production", result{Err: "did you mean /rollback?", OK: true}},
		{"transposition", "/apporve", result{Err: "did you mean /approve?", OK: true}},
		{"short typo", "/hlp", result{Err: "did you mean /help?", OK: true}},
		{"punctuation", "/approve, thanks", result{Err: "write /approve and a space", OK: true}},
		{"typo and punctuation", "/aprove!", result{Err: "did you mean /approve?", OK: true}},
		{"typo in capitals", "/PLN", result{Err: "did you mean /plan?", OK: true}},

		// /plan and /help.
		{"plan with an argument", "/plan production", result{Name: Plan, Err: "/plan takes no arguments", OK: true}},
		{"help ignores arguments", "/help approve", result{Name: Help, OK: true}},

		// /approve.
		{"approve without environment", "/approve", result{Name: Approve, OK: true}},
		{"approve with dots and underscores", "/approve eu_west.prod-2", result{Name: Approve, Env: "eu_west.prod-2", OK: true}},
		{"approve two environments", "/approve staging production", result{Name: Approve, Err: "one environment at most", OK: true}},
		{"approve with a flag", "/approve --force", result{Name: Approve, Err: "unknown flag `--force`", OK: true}},
		{"approve a bad name", "/approve prod!", result{Name: Approve, Err: "`prod!` is not an environment name", OK: true}},
		{"approve a long name", "/approve " + strings.Repeat("p", MaxEnv+1), result{Name: Approve, Err: "is not an environment name", OK: true}},
		{"approve a non-ASCII name", "/approve prödüction", result{Name: Approve, Err: "is not an environment name", OK: true}},

		// /reject.
		{"reject", "/reject production the layer points at staging's database", result{Name: Reject, Env: "production", Reason: "the layer points at staging's database", OK: true}},
		{"reject, reason on the next lines", "/reject production\n\nThe layer points at\nstaging's database.", result{Name: Reject, Env: "production", Reason: "The layer points at\nstaging's database.", OK: true}},
		{"reject, reason only", "/reject (see above) wrong projection", result{Name: Reject, Reason: "(see above) wrong projection", OK: true}},
		{"reject and a colon", "/reject: wrong projection", result{Err: "write /reject and a space before anything else (not /reject:)", OK: true}},
		{"reject without anything", "/reject", result{Name: Reject, Err: "needs a reason", OK: true}},
		{"reject, one word", "/reject production", result{Name: Reject, Env: "production", OK: true}},
		{"reject, control characters", "/reject production bad\x00\x1b[31m layer", result{Name: Reject, Env: "production", Reason: "bad  [31m layer", OK: true}},

		// /rollback.
		{"rollback", "/rollback", result{Name: Rollback, OK: true}},
		{"rollback env", "/rollback production", result{Name: Rollback, Env: "production", OK: true}},
		{"rollback --to", "/rollback production --to 1A2B3C4", result{Name: Rollback, Env: "production", SHA: "1a2b3c4", OK: true}},
		{"rollback --to first", "/rollback --to=1a2b3c4d5e6f production", result{Name: Rollback, Env: "production", SHA: "1a2b3c4d5e6f", OK: true}},
		{"rollback full sha", "/rollback --to " + strings.Repeat("ab", 20), result{Name: Rollback, SHA: strings.Repeat("ab", 20), OK: true}},
		{"rollback short sha", "/rollback --to 1a2b3c", result{Name: Rollback, Err: "not a commit SHA", OK: true}},
		{"rollback long sha", "/rollback --to " + strings.Repeat("a", 41), result{Name: Rollback, Err: "not a commit SHA", OK: true}},
		{"rollback non-hex sha", "/rollback --to main", result{Name: Rollback, Err: "`main` is not a commit SHA", OK: true}},
		{"rollback --to without sha", "/rollback production --to", result{Name: Rollback, Err: "--to needs a commit", OK: true}},
		{"rollback --to twice", "/rollback --to 1a2b3c4 --to 1a2b3c5", result{Name: Rollback, Err: "twice", OK: true}},
		{"rollback unknown flag", "/rollback production --force", result{Name: Rollback, Err: "unknown flag `--force`: /rollback takes only --to SHA", OK: true}},
		{"rollback single-dash flag", "/rollback -t 1a2b3c4", result{Name: Rollback, Err: "unknown flag `-t`", OK: true}},
		{"rollback extra argument", "/rollback production now", result{Name: Rollback, Err: "one environment at most", OK: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resultOf(Parse(tt.body))
			if !matches(got, tt.want) {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.body, got, tt.want)
			}
		})
	}
}

func TestParseLongReason(t *testing.T) {
	c, ok := Parse("/reject production " + strings.Repeat("é", MaxReason))
	if !ok || c.Err != nil || c.Env != "production" || len(c.Reason) > MaxReason || !strings.HasSuffix(c.Reason, "é…") {
		t.Errorf("Parse(long reason) = env %q, reason of %d bytes, %v, %v", c.Env, len(c.Reason), c.Err, ok)
	}
}

func TestParseCapsBody(t *testing.T) {
	// A reason beyond MaxBody is not read at all: the comment is cut first.
	body := "/reject production " + strings.Repeat("é", MaxBody)
	c, ok := Parse(body)
	if !ok || c.Err != nil || len(c.Reason) > MaxReason {
		t.Errorf("Parse(huge) = %+v, %v", c, ok)
	}
	// A command that starts beyond MaxBody is not seen.
	if _, ok := Parse(strings.Repeat("\n", MaxBody) + "/plan"); ok {
		t.Error("a command after MaxBody bytes was read")
	}
}

func TestResolve(t *testing.T) {
	envs := []string{"development", "staging", "production"}
	tests := []struct {
		name string
		body string
		want result
	}{
		{"known", "/approve production", result{Name: Approve, Env: "production", OK: true}},
		{"spelled as the environment is", "/approve PRODUCTION", result{Name: Approve, Env: "production", OK: true}},
		{"default", "/approve", result{Name: Approve, OK: true}},
		{"unknown, close", "/approve prodution", result{Name: Approve, Env: "prodution", Err: "there is no environment `prodution`: did you mean production?", OK: true}},
		{"unknown, far", "/rollback qa", result{Name: Rollback, Env: "qa", Err: "(the environments are development, staging, production)", OK: true}},
		{"reject known", "/reject staging breaks the basemap", result{Name: Reject, Env: "staging", Reason: "breaks the basemap", OK: true}},
		{"reject: first word is the reason", "/reject risky change", result{Name: Reject, Reason: "risky change", OK: true}},
		{"reject: one-word reason", "/reject risky", result{Name: Reject, Reason: "risky", OK: true}},
		{"reject known without reason", "/reject production", result{Name: Reject, Env: "production", Err: "a rejection needs a reason: /reject production", OK: true}},
		{"malformed stays so", "/approve a b", result{Name: Approve, Err: "one environment at most", OK: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := Parse(tt.body)
			got := resultOf(c.Resolve(envs), ok)
			if !matches(got, tt.want) {
				t.Errorf("Parse(%q).Resolve = %s", tt.body, cmp.Diff(tt.want, got))
			}
		})
	}
	// A name that folds to an environment only through Unicode is not it.
	c, _ := Parse("/approve kelvin")
	if got := c.Resolve([]string{"\u212Aelvin"}); got.Err == nil {
		t.Errorf("kelvin resolved to the Kelvin sign's environment: %+v", got)
	}
}

func TestUsage(t *testing.T) {
	for _, n := range names {
		if Usage(n) == "" || !strings.Contains(HelpText, "`"+Usage(n)+"`") {
			t.Errorf("command %s: usage %q missing from HelpText", n, Usage(n))
		}
	}
	if Usage("deploy") != "" {
		t.Error("Usage of an unknown command")
	}
}

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"", "abc", 3}, {"aprove", "approve", 1}, {"apporve", "approve", 2}, {"kitten", "sitting", 3}} {
		if got := distance(tt.a, tt.b); got != tt.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
