package order

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// TimeLayout is how times are written, in the payload and in the canonical
// bytes alike: RFC 3339 in UTC, to the second ("2026-03-10T19:00:00Z").
const TimeLayout = "2006-01-02T15:04:05Z"

// Canonical returns the bytes an order's signature is over, after checking
// every field (it refuses an order it could not write unambiguously):
//
//	honua-gitops deploy order v1
//	version=1
//	repo=<owner/name>
//	sha=<commit>
//	environment=<name>
//	task=<deploy | deploy:rollback>
//	plan_digest=<digest>
//	policy_digest=<digest>
//	pr=<number, 0 for a push>
//	rollback_of=<commit, or nothing>
//	issued_at=<time>
//	expires_at=<time>
//	key_id=<key id>
//	approvals=<count>
//	approval=<login> <via> <at>   (one line per approval, the lines sorted by their bytes)
//
// Every line ends with a line feed, the last one too; there is no other
// whitespace. Numbers are decimal without sign or leading zeros; times are
// TimeLayout (Canonical writes them in UTC, to the second). No value holds a
// line feed or any other control character, so the lines are unambiguous.
// docs/deploy-orders.md has a worked example.
func Canonical(o Order) ([]byte, error) {
	if err := validate(&o); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	line := func(k, v string) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
		b.WriteByte('\n')
	}
	b.WriteString(Header)
	b.WriteByte('\n')
	line("version", strconv.Itoa(o.Version))
	line("repo", o.Repo)
	line("sha", o.SHA)
	line("environment", o.Environment)
	line("task", o.Task)
	line("plan_digest", o.PlanDigest)
	line("policy_digest", o.PolicyDigest)
	line("pr", strconv.Itoa(o.PR))
	line("rollback_of", o.RollbackOf)
	line("issued_at", formatTime(o.IssuedAt))
	line("expires_at", formatTime(o.ExpiresAt))
	line("key_id", o.KeyID)
	line("approvals", strconv.Itoa(len(o.Approvals)))
	for _, l := range approvalLines(o.Approvals) {
		line("approval", l)
	}
	return b.Bytes(), nil
}

// approvalLines are the values of the approval lines, sorted by their
// bytes.
func approvalLines(as []Approval) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Login + " " + a.Via + " " + formatTime(a.At)
	}
	slices.Sort(out)
	return out
}

// sortApprovals puts approvals in the order of their canonical lines.
func sortApprovals(as []Approval) {
	slices.SortFunc(as, func(a, b Approval) int {
		return strings.Compare(a.Login+" "+a.Via+" "+formatTime(a.At), b.Login+" "+b.Via+" "+formatTime(b.At))
	})
}

func formatTime(t time.Time) string { return t.UTC().Truncate(time.Second).Format(TimeLayout) }

// parseTime reads a time written exactly as TimeLayout.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || t.UTC().Format(TimeLayout) != s {
		return time.Time{}, fmt.Errorf("%s is not a time written as %s", short(s), TimeLayout)
	}
	return t.UTC(), nil
}

// validate checks every field of o; its errors name the field.
func validate(o *Order) error {
	var problems []error
	bad := func(field, format string, args ...any) {
		problems = append(problems, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if o.Version != Version {
		bad("version", "%d is not supported (this verifier knows version %d)", o.Version, Version)
	}
	if !validRepo(o.Repo) {
		bad("repo", "%s is not \"owner/name\"", short(o.Repo))
	}
	if !validCommit(o.SHA) {
		bad("sha", "%s is not a commit (40 or 64 lowercase hex digits)", short(o.SHA))
	}
	if msg := checkText(o.Environment, MaxEnvironment); msg != "" {
		bad("environment", "%s", msg)
	}
	switch o.Task {
	case TaskDeploy:
		if o.RollbackOf != "" {
			bad("rollback_of", "must be empty for task %s", TaskDeploy)
		}
	case TaskRollback:
		if !validCommit(o.RollbackOf) {
			bad("rollback_of", "%s is not a commit (a rollback names the commit it undoes)", short(o.RollbackOf))
		}
	default:
		bad("task", "%s is neither %s nor %s", short(o.Task), TaskDeploy, TaskRollback)
	}
	if !validDigest(o.PlanDigest) {
		bad("plan_digest", "%s is not a digest (64 lowercase hex digits, optionally after \"sha256:\")", short(o.PlanDigest))
	}
	if !validDigest(o.PolicyDigest) {
		bad("policy_digest", "%s is not a digest (64 lowercase hex digits, optionally after \"sha256:\")", short(o.PolicyDigest))
	}
	if o.PR < 0 || o.PR > MaxPR {
		bad("pr", "%d is not a pull request number (0 for a push)", o.PR)
	}
	if msg := checkTime(o.IssuedAt); msg != "" {
		bad("issued_at", "%s", msg)
	}
	if msg := checkTime(o.ExpiresAt); msg != "" {
		bad("expires_at", "%s", msg)
	}
	if !o.ExpiresAt.Truncate(time.Second).After(o.IssuedAt.Truncate(time.Second)) {
		bad("expires_at", "must be after issued_at")
	}
	if !validKeyID(o.KeyID) {
		bad("key_id", "%s is not a key id (1 to 64 letters, digits, '.', '_', ':' or '-')", short(o.KeyID))
	}
	if len(o.Approvals) > MaxApprovals {
		bad("approvals", "%d approvals, more than the %d an order may carry", len(o.Approvals), MaxApprovals)
	} else {
		seen := map[string]bool{}
		for i, a := range o.Approvals {
			field := fmt.Sprintf("approvals[%d]", i)
			if !validLogin(a.Login) {
				bad(field, "login %s is not a GitHub login", short(a.Login))
			}
			if !validVia(a.Via) {
				bad(field, "via %s is not 1 to 32 lowercase letters, digits, '-' or '_'", short(a.Via))
			}
			if msg := checkTime(a.At); msg != "" {
				bad(field, "at: %s", msg)
			}
			key := strings.ToLower(a.Login) // logins are ASCII (validLogin)
			if seen[key] {
				bad(field, "%s approves twice", short(a.Login))
			}
			seen[key] = true
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %w", ErrMalformed, joinProblems(problems))
	}
	return nil
}

// maxProblems is the most problems an error lists: an order of a hundred
// bad approvals gets a short answer.
const maxProblems = 8

// joinProblems joins the first maxProblems problems and counts the rest.
func joinProblems(problems []error) error {
	if len(problems) <= maxProblems {
		return errors.Join(problems...)
	}
	return errors.Join(append(problems[:maxProblems:maxProblems], fmt.Errorf("and %d more problems", len(problems)-maxProblems))...)
}

func checkTime(t time.Time) string {
	switch {
	case t.IsZero():
		return "missing"
	case t.UTC().Year() < 1970 || t.UTC().Year() > 9999:
		return fmt.Sprintf("year %d is out of range", t.UTC().Year())
	}
	return ""
}

// checkText accepts 1 to max bytes of UTF-8 without control characters,
// line or paragraph separators, or space at either end.
func checkText(s string, max int) string {
	switch {
	case s == "":
		return "missing"
	case len(s) > max:
		return fmt.Sprintf("%d bytes, more than %d", len(s), max)
	case !utf8.ValidString(s):
		return "not UTF-8"
	}
	for _, r := range s {
		if r < 0x20 || (0x7f <= r && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return fmt.Sprintf("%s holds a control character", short(s))
		}
	}
	if strings.TrimSpace(s) != s {
		return fmt.Sprintf("%s begins or ends with space", short(s))
	}
	return ""
}

func validRepo(s string) bool {
	owner, name, ok := strings.Cut(s, "/")
	return ok && validName(owner, 100) && validName(name, 100)
}

// validName accepts a GitHub owner or repository name: letters, digits,
// '.', '_' and '-', and not "." or "..".
func validName(s string, max int) bool {
	if s == "" || len(s) > max || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && !strings.ContainsRune("._-", rune(s[i])) {
			return false
		}
	}
	return true
}

func validCommit(s string) bool { return (len(s) == 40 || len(s) == 64) && isLowerHex(s) }

func validDigest(s string) bool {
	s = strings.TrimPrefix(s, "sha256:")
	return len(s) == 64 && isLowerHex(s)
}

func validKeyID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && !strings.ContainsRune("._:-", rune(s[i])) {
			return false
		}
	}
	return true
}

// validLogin accepts GitHub logins, those of Enterprise Managed Users
// ("name_shortcode") included: letters, digits, '-', '_' and '.', 1 to 64,
// beginning with a letter or digit.
func validLogin(s string) bool {
	if s == "" || len(s) > 64 || !isAlnum(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && !strings.ContainsRune("-_.", rune(s[i])) {
			return false
		}
	}
	return true
}

func validVia(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z') && !('0' <= c && c <= '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9') && !('a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// Digest identifies an order: "sha256:" and the hex SHA-256 of its
// canonical bytes. A gate workflow run carries it, so that an approval
// given in GitHub's dialog binds to the order it was asked for.
func Digest(o Order) (string, error) {
	b, err := Canonical(o)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}
