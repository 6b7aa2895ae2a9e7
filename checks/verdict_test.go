package checks

import (
	"strings"
	"testing"

	"github.com/honua-io/honua-gitops/policy"
)

// TestVerdictTextEscapes: a verdict quotes what a pull request wrote (ids,
// labels, print() of custom rules); neither the terminal nor GitHub's
// markdown may take it for anything but text.
func TestVerdictTextEscapes(t *testing.T) {
	v := policy.Verdict{
		Environment: "production",
		Deny:        []policy.Finding{{Rule: "removal", Message: "layer [x](https://evil.example) @kailua-gis/gis-leads #1 <details>\n\x1b[8mPlan: ok"}},
		Prints:      []string{"![img](https://evil.example/i.png)"},
	}
	var md, txt strings.Builder
	if err := WriteVerdict(&md, v, Markdown); err != nil {
		t.Fatal(err)
	}
	if err := WriteVerdict(&txt, v, Text); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<details>", "@kailua", "#1", "\x1b", "https://"} {
		if strings.Contains(md.String(), bad) {
			t.Errorf("markdown holds %q:\n%s", bad, md.String())
		}
	}
	if strings.Contains(strings.ReplaceAll(md.String(), `\]`, ""), "](") {
		t.Errorf("markdown holds a link:\n%s", md.String())
	}
	if strings.Contains(txt.String(), "\x1b") || strings.Count(txt.String(), "\n") != 3 {
		t.Errorf("text is not one line per item:\n%q", txt.String())
	}
}
