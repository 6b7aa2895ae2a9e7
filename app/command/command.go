// Package command parses the commands people give the App in pull request
// comments: /plan, /approve, /reject, /rollback and /help. It is pure: a
// comment body in, a Command out; who may give a command, and what it does,
// is decided elsewhere.
package command

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The names of the commands.
const (
	Plan     = "plan"
	Approve  = "approve"
	Reject   = "reject"
	Rollback = "rollback"
	Help     = "help"
)

// names are the commands, in the order help lists them.
var names = []string{Plan, Approve, Reject, Rollback, Help}

// Limits of what is read.
const (
	// MaxBody is how much of a comment is read, in bytes; the rest is
	// ignored.
	MaxBody = 64 << 10
	// MaxReason is the longest reason kept, in bytes; a longer one is cut
	// (on a character boundary) and ends with "…".
	MaxReason = 1000
	// MaxEnv is the longest environment name.
	MaxEnv = 64
)

// Command is a command found in a comment.
type Command struct {
	// Name is the command (Plan, Approve...). It is empty only for a typo
	// of one (Err then says which was meant).
	Name string
	// Env is the environment named, or empty for the default one. For
	// /reject it is the first word when that looks like an environment name:
	// Resolve decides whether it is one.
	Env string
	// SHA is /rollback's --to commit, lowercase; 7 to 40 hex digits.
	SHA string
	// Reason is /reject's reason: the rest of the command's line and the
	// lines after it.
	Reason string
	// Err is set when the comment is meant as a command but is malformed;
	// it says what is wrong, for a reply that adds Usage(Name) or HelpText.
	Err error
}

// Parse finds the command of a comment. Only a comment whose first
// non-empty line starts with a command counts: "> /approve" (a quote) and a
// command inside a code block do not, nor one indented four spaces or a tab
// (Markdown's indented code). Command names are case-insensitive. A word
// that is not a command is not one (ok is false: "/tmp is full"), except a
// near miss of one (an edit or two away: "/aprove"), which is a malformed
// command whose Err suggests the right one. Only the first MaxBody bytes of
// body are read.
//
// Arguments: /plan and /help take none (/help ignores any); /approve takes
// an optional environment; /rollback an optional environment and --to SHA
// (or --to=SHA), in any order; /reject an optional environment and a
// reason, which may continue on the following lines. Anything else, an
// unknown flag, an extra argument, an invalid environment name or SHA,
// makes the command malformed (Err says what). The lines after a command
// other than /reject are commentary and ignored.
func Parse(body string) (Command, bool) {
	if len(body) > MaxBody {
		body = cutRunes(body, MaxBody)
	}
	body = strings.TrimPrefix(body, "\uFEFF")
	first, rest, ok := firstLine(body)
	if !ok || !strings.HasPrefix(first, "/") {
		return Command{}, false
	}
	word, args := first[1:], ""
	if i := strings.IndexAny(word, " \t\v\f"); i >= 0 {
		word, args = word[:i], strings.TrimLeft(word[i:], " \t\v\f")
	}
	name, known := lookup(word)
	if !known {
		if n, ok := lookup(strings.TrimRight(word, ".,;:!?")); ok {
			return Command{Err: fmt.Errorf("write /%s and a space before anything else (not /%s)", n, clip(word))}, true
		}
		if s := suggest(word); s != "" {
			return Command{Err: fmt.Errorf("/%s is not a command: did you mean /%s?", clip(word), s)}, true
		}
		return Command{}, false
	}
	c := Command{Name: name}
	switch name {
	case Plan:
		if args != "" {
			c.Err = fmt.Errorf("/plan takes no arguments (got %s)", quote(args))
		}
	case Help:
	case Approve:
		c.Env, c.Err = parseApprove(strings.Fields(args))
	case Rollback:
		c.Env, c.SHA, c.Err = parseRollback(strings.Fields(args))
	case Reject:
		c.Env, c.Reason, c.Err = parseReject(args, rest)
	}
	return c, true
}

// firstLine returns the first non-empty line of body, trimmed, and the
// text after it; ok is false when there is none, or when it is indented
// as Markdown code.
func firstLine(body string) (line, rest string, ok bool) {
	for body != "" {
		line, body, _ = strings.Cut(body, "\n")
		line = strings.TrimRight(line, " \t\r\v\f")
		if line == "" {
			continue
		}
		trimmed := strings.TrimLeft(line, " ")
		if len(line)-len(trimmed) >= 4 || strings.HasPrefix(trimmed, "\t") {
			return "", "", false
		}
		return trimmed, body, true
	}
	return "", "", false
}

// lookup returns the command a word names, case-insensitively.
func lookup(word string) (string, bool) {
	w := strings.ToLower(word)
	for _, n := range names {
		if w == n {
			return n, true
		}
	}
	return "", false
}

func parseApprove(args []string) (env string, err error) {
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "-"):
			return "", fmt.Errorf("unknown flag %s: /approve takes no flags", quote(a))
		case env != "":
			return "", fmt.Errorf("/approve takes one environment at most (got %s and %s)", quote(env), quote(a))
		}
		if err := checkEnv(a); err != nil {
			return "", err
		}
		env = a
	}
	return env, nil
}

func parseRollback(args []string) (env, sha string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--to" || strings.HasPrefix(a, "--to="):
			if sha != "" {
				return "", "", errors.New("--to is given twice")
			}
			v, ok := strings.CutPrefix(a, "--to=")
			if !ok {
				if i+1 == len(args) {
					return "", "", errors.New("--to needs a commit: /rollback production --to 1a2b3c4")
				}
				i++
				v = args[i]
			}
			if !isSHA(v) {
				return "", "", fmt.Errorf("%s is not a commit SHA (7 to 40 hex digits)", quote(v))
			}
			sha = strings.ToLower(v)
		case strings.HasPrefix(a, "-"):
			return "", "", fmt.Errorf("unknown flag %s: /rollback takes only --to SHA", quote(a))
		case env != "":
			return "", "", fmt.Errorf("/rollback takes one environment at most (got %s and %s)", quote(env), quote(a))
		default:
			if err := checkEnv(a); err != nil {
				return "", "", err
			}
			env = a
		}
	}
	return env, sha, nil
}

// parseReject reads "[env] reason", the reason continuing on the lines
// after the command. The first word is taken for the environment when it
// could be one; Resolve gives it back to the reason when it is not.
func parseReject(args, rest string) (env, reason string, err error) {
	word, after := args, ""
	if i := strings.IndexAny(args, " \t\v\f"); i >= 0 {
		word, after = args[:i], args[i:]
	}
	if word != "" && checkEnv(word) == nil {
		env, args = word, strings.TrimLeft(after, " \t\v\f")
	}
	reason = cleanReason(args + "\n" + rest)
	if env == "" && reason == "" {
		return "", "", errors.New("a rejection needs a reason: /reject production the new layer breaks the basemap")
	}
	return env, reason, nil
}

// cleanReason trims a reason, makes it valid UTF-8, turns control
// characters other than line feeds into spaces and cuts it to MaxReason.
func cleanReason(s string) string {
	// Cut long text before the work: only MaxReason bytes are kept.
	if s = strings.TrimSpace(s); len(s) > 2*MaxReason {
		s = cutRunes(s, 2*MaxReason)
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '\n' {
			return r
		}
		if r < 0x20 || (0x7f <= r && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > MaxReason {
		s = strings.TrimSpace(cutRunes(s, MaxReason-len("…"))) + "…"
	}
	return s
}

// Resolve checks the command's environment against the environments that
// exist (from the plan or the policy), matching without regard to ASCII
// case, and writes it as they spell it. An unknown environment makes the
// command malformed, with a suggestion when one is close, except for
// /reject, whose first word then goes back to the reason ("/reject risky
// change" rejects the default environment); a /reject of a known
// environment without a reason is malformed. A command with an Err, or
// without an environment, is returned as it is.
func (c Command) Resolve(envs []string) Command {
	if c.Err != nil || c.Env == "" {
		return c
	}
	for _, e := range envs {
		if strings.EqualFold(e, c.Env) && isASCII(e) {
			c.Env = e
			if c.Name == Reject && c.Reason == "" {
				c.Err = fmt.Errorf("a rejection needs a reason: /reject %s the new layer breaks the basemap", e)
			}
			return c
		}
	}
	if c.Name == Reject {
		c.Reason = cleanReason(c.Env + " " + c.Reason)
		c.Env = ""
		return c
	}
	msg := fmt.Sprintf("there is no environment %s", quote(c.Env))
	if s := nearest(strings.ToLower(c.Env), envs, 2); s != "" {
		msg += fmt.Sprintf(": did you mean %s?", s)
	} else if len(envs) > 0 {
		msg += fmt.Sprintf(" (the environments are %s)", strings.Join(envs, ", "))
	}
	c.Err = errors.New(msg)
	return c
}

// checkEnv accepts an environment name: 1 to MaxEnv letters, digits, '-',
// '_' and '.'.
func checkEnv(s string) error {
	ok := s != "" && len(s) <= MaxEnv
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = isLetter(c) || ('0' <= c && c <= '9') || c == '-' || c == '_' || c == '.'
	}
	if !ok {
		return fmt.Errorf("%s is not an environment name (letters, digits, '-', '_' and '.', at most %d)", quote(s), MaxEnv)
	}
	return nil
}

func isSHA(s string) bool {
	if len(s) < 7 || len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9') && !('a' <= c && c <= 'f') && !('A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// cutRunes cuts s to at most n bytes, on a character boundary.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// clip shortens what a person wrote for a message.
func clip(s string) string {
	const max = 40
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > max {
		return cutRunes(s, max) + "…"
	}
	return s
}

// quote quotes what a person wrote for a message, shortened.
func quote(s string) string { return "`" + strings.ReplaceAll(clip(s), "`", "'") + "`" }
