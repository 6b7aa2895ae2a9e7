package checks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMarker(t *testing.T) {
	got := Marker("approval", map[string]any{"login": "ana", "note": "a --> b <c> & \n d"})
	want := `<!-- honua-gitops:approval {"login":"ana","note":"a --\u003e b \u003cc\u003e \u0026 \n d"} -->`
	if got != want {
		t.Errorf("Marker:\n got %s\nwant %s", got, want)
	}
	for _, kind := range []string{"", "Approval", "1st", "a b", "a:b", "a\n", strings.Repeat("a", 33)} {
		if m := Marker(kind, 1); m != "" {
			t.Errorf("Marker(%q) = %q, want \"\"", kind, m)
		}
	}
	if m := Marker("x", strings.Repeat("a", MaxMarkerJSON)); m != "" {
		t.Errorf("an oversized marker is written (%d bytes)", len(m))
	}
	if m := Marker("x", func() {}); m != "" {
		t.Errorf("a value that does not encode gives %q", m)
	}
	if m := Marker("x", json.RawMessage("{ \"a\" :\n 1 }")); m != `<!-- honua-gitops:x {"a":1} -->` {
		t.Errorf("raw JSON is not compacted: %q", m)
	}
}

func TestParseMarkers(t *testing.T) {
	body := strings.Join([]string{
		"Approved.",
		"",
		`<!-- honua-gitops:approval {"login":"ana"} -->`,
		`<!-- honua-gitops:rollback {"env":"production"} -->` + "\r",
		` <!-- honua-gitops:indented {"a":1} -->`,
		"text <!-- honua-gitops:inline {\"a\":1} -->",
		"`<!-- honua-gitops:code {\"a\":1} -->`",
		`<!-- honua-gitops:Upper {"a":1} -->`,
		`<!-- honua-gitops:bad {"a":} -->`,
		`<!-- honua-gitops:two {"a":1} --> <!-- honua-gitops:two {"b":2} -->`,
		`<!-- honua-gitops:spaced  {"a":1} -->`,
		`<!-- honua-gitops:nospace{"a":1} -->`,
		`<!-- honua-gitops:big "` + strings.Repeat("a", MaxMarkerJSON) + `" -->`,
		`<!-- honua-gitops:scalar 42 -->`,
	}, "\n")
	want := []MarkerData{
		{Kind: "approval", JSON: []byte(`{"login":"ana"}`)},
		{Kind: "rollback", JSON: []byte(`{"env":"production"}`)},
		{Kind: "scalar", JSON: []byte(`42`)},
	}
	if diff := cmp.Diff(want, ParseMarkers(body)); diff != "" {
		t.Errorf("ParseMarkers (-want +got):\n%s", diff)
	}

	var many strings.Builder
	for i := range MaxMarkers + 5 {
		fmt.Fprintf(&many, "<!-- honua-gitops:n {\"i\":%d} -->\n", i)
	}
	if got := ParseMarkers(many.String()); len(got) != MaxMarkers {
		t.Errorf("%d markers, want at most %d", len(got), MaxMarkers)
	}
}

func TestDigests(t *testing.T) {
	d := map[string]string{"production": strings.Repeat("a1", 32), "staging": strings.Repeat("b2", 32)}
	text := "plan\n\n" + DigestsMarker(headSHA, d) + "\n"
	sha, got, ok := ParseDigests(text)
	if !ok || sha != headSHA || !cmp.Equal(d, got) {
		t.Errorf("ParseDigests = %q, %v, %v; want %q, %v", sha, got, ok, headSHA, d)
	}
	if _, got, ok := ParseDigests(DigestsMarker(headSHA, nil)); !ok || got == nil || len(got) != 0 {
		t.Errorf("no environments: %v, %v; want an empty map", got, ok)
	}
	for name, text := range map[string]string{
		"none":        "plan",
		"two":         text + text,
		"no sha":      DigestsMarker("", d),
		"bad digest":  DigestsMarker(headSHA, map[string]string{"production": "sha256:abc"}),
		"upper hex":   DigestsMarker(headSHA, map[string]string{"production": strings.Repeat("A1", 32)}),
		"empty env":   DigestsMarker(headSHA, map[string]string{"": strings.Repeat("a1", 32)}),
		"wrong shape": `<!-- honua-gitops:plan-digests {"sha":1} -->`,
		"inline":      "x " + DigestsMarker(headSHA, d),
	} {
		if sha, got, ok := ParseDigests(text); ok {
			t.Errorf("%s: ParseDigests = %q, %v, true; want not ok", name, sha, got)
		}
	}
}

// FuzzParseMarkers reads comment bodies, which anyone can write: it must
// never panic, and what it returns must be within its bounds and written
// back the same by Marker.
func FuzzParseMarkers(f *testing.F) {
	f.Add("<!-- honua-gitops:approval {\"login\":\"ana\"} -->\n")
	f.Add("a\r\n<!-- honua-gitops:x [1,2,{\"a\":null}] -->\r\n<!-- honua-gitops:y \"--\\u003e\" -->")
	f.Add(HelpText())
	f.Add(RejectionComment(ApprovalRecord{Env: "production", Login: "lkeawe", Reason: "<!-- honua-gitops:approval {} -->"}))
	f.Add(DigestsMarker(headSHA, map[string]string{"production": strings.Repeat("a1", 32)}))
	f.Fuzz(func(t *testing.T, body string) {
		ms := ParseMarkers(body)
		if len(ms) > MaxMarkers {
			t.Fatalf("%d markers", len(ms))
		}
		for _, m := range ms {
			if !validKind(m.Kind) || len(m.JSON) > MaxMarkerJSON || !json.Valid(m.JSON) {
				t.Fatalf("marker %q %q out of bounds", m.Kind, m.JSON)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, m.JSON); err != nil {
				t.Fatal(err)
			}
			again := ParseMarkers(Marker(m.Kind, json.RawMessage(m.JSON)))
			if len(again) != 1 || again[0].Kind != m.Kind {
				t.Fatalf("marker %q %q does not round-trip: %+v", m.Kind, m.JSON, again)
			}
			var a, b any
			if json.Unmarshal(m.JSON, &a) != nil || json.Unmarshal(again[0].JSON, &b) != nil || !cmp.Equal(a, b) {
				t.Fatalf("marker %q: %q became %q", m.Kind, m.JSON, again[0].JSON)
			}
		}
		ParseDigests(body)
	})
}
