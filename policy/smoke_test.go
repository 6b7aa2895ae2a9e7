package policy

import (
	"encoding/json"
	"testing"
)

func TestSmoke(t *testing.T) {
	b := mustLoad(t, sampleFiles(t))
	if len(b.Errors) > 0 {
		t.Fatal(b.Errors)
	}
	in := Input{Environment: "production", Now: mustTime(t, "2026-03-07T20:00:00Z"), Plan: planOf(layerChange("parcels", "modify", true)), PR: PR{Number: 7, Author: "ana", HeadSHA: "abc", Labels: []string{}}}
	v := evaluate(t, b, in)
	out, _ := json.MarshalIndent(v, "", "  ")
	t.Log(string(out))
}
