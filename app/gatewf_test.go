package app

import (
	"strings"
	"testing"
)

func TestGateTitle(t *testing.T) {
	sha := strings.Repeat("ab", 20)
	digest := "sha256:" + strings.Repeat("c", 64)
	ref := gateRef{env: "production", deploymentID: 42, sha: sha, orderDigest: digest}
	got, ok := parseGateTitle(ref.title())
	if !ok || got != ref {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
	spaced := gateRef{env: "long term", deploymentID: 7, sha: sha, orderDigest: digest}
	if got, ok := parseGateTitle(spaced.title()); !ok || got != spaced {
		t.Errorf("an environment with a space: %+v %v", got, ok)
	}
	for _, bad := range []string{
		"",
		"honua gate: production #42 " + sha, // no digest
		"honua gate: production #0 " + sha + " " + digest,                   // no deployment 0
		"honua gate: production #42 " + strings.ToUpper(sha) + " " + digest, // GitHub shas are lowercase
		"honua gate: production #42 " + sha + " sha1:" + strings.Repeat("c", 40),
		"honua gate:  #42 " + sha + " " + digest,
		"Honua gate: production #42 " + sha + " " + digest,
		"honua gate: production #42 " + sha + " " + digest + " extra",
		"honua gate: production #99999999999999999999 " + sha + " " + digest,
	} {
		if got, ok := parseGateTitle(bad); ok {
			t.Errorf("%q read as %+v", bad, got)
		}
	}
}

// FuzzGateTitle: a run's title is written by whoever dispatched it; any
// title reads as nothing or as a ref that writes back to the same title.
func FuzzGateTitle(f *testing.F) {
	f.Add("honua gate: production #42 " + strings.Repeat("ab", 20) + " sha256:" + strings.Repeat("c", 64))
	f.Add("honua gate: x #1 y z")
	f.Fuzz(func(t *testing.T, s string) {
		ref, ok := parseGateTitle(s)
		if !ok {
			return
		}
		if ref.title() != s || ref.deploymentID <= 0 || ref.env == "" {
			t.Fatalf("%q read as %+v", s, ref)
		}
	})
}
