package command

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse: Parse never panics, and what it returns keeps its promises.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/plan", "/approve production", "/reject staging breaks it\nreally", "/rollback --to 1a2b3c4 production",
		"/rollback production --to=abcdef0123", "/help me", "/aprove", "> /approve", "```\n/plan\n```", "    /plan",
		"\uFEFF/APPROVE", "/reject \x00\xff", "/approve, ok", "/", "/\t", "\r\n\r\n/plan\r\n", "/reject ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		c, ok := Parse(body)
		if !ok {
			if c != (Command{}) {
				t.Fatalf("not a command, yet %+v", c)
			}
			return
		}
		check(t, c)
		if c.Name != Reject && len(body) < MaxBody-16 {
			// The lines after a command are commentary.
			c2, ok2 := Parse(body + "\n/approve x\nmore")
			if !ok2 || c2.Name != c.Name || c2.Env != c.Env || c2.SHA != c.SHA || (c.Err == nil) != (c2.Err == nil) {
				t.Fatalf("a line after the command changed it: %+v, then %+v", c, c2)
			}
		}
		check(t, c.Resolve([]string{"production", "Staging", "dev"}))
	})
}

func check(t *testing.T, c Command) {
	t.Helper()
	if c.Err != nil {
		if n := len(c.Err.Error()); n > 400 {
			t.Fatalf("error of %d bytes", n)
		}
		if _, ok := lookup(c.Name); !ok && c.Name != "" {
			t.Fatalf("unknown name %q", c.Name)
		}
		return
	}
	if _, ok := lookup(c.Name); !ok {
		t.Fatalf("no error, yet name %q", c.Name)
	}
	if c.Env != "" && checkEnv(c.Env) != nil {
		t.Fatalf("invalid env %q", c.Env)
	}
	if c.SHA != "" && (!isSHA(c.SHA) || strings.ToLower(c.SHA) != c.SHA || c.Name != Rollback) {
		t.Fatalf("invalid sha %q for %s", c.SHA, c.Name)
	}
	if (c.Name == Plan || c.Name == Help) && c.Env != "" {
		t.Fatalf("/%s with env %q", c.Name, c.Env)
	}
	if c.Reason != "" && c.Name != Reject {
		t.Fatalf("/%s with a reason", c.Name)
	}
	if c.Name == Reject && c.Env == "" && c.Reason == "" {
		t.Fatal("a rejection of nothing without a reason")
	}
	if len(c.Reason) > MaxReason || !utf8.ValidString(c.Reason) || strings.TrimSpace(c.Reason) != c.Reason {
		t.Fatalf("reason %q", c.Reason)
	}
	for _, r := range c.Reason {
		if r != '\n' && (r < 0x20 || (0x7f <= r && r < 0xa0)) {
			t.Fatalf("reason with control character %q", c.Reason)
		}
	}
}
