package order

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRoundTrip(t *testing.T) {
	o := exampleOrder()
	payload := mustSign(t, o, exampleKey())
	got, err := Verify(payload, Keys(pub(exampleKey())), exampleNow)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := o
	want.KeyID = KeyID(pub(exampleKey()))
	want.Approvals = []Approval{o.Approvals[1], o.Approvals[0]} // canonical order
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Verify(Sign(o)) (-want +got):\n%s", diff)
	}
	if err := got.Matches("Kailua-GIS/honua-config", o.SHA, "production", TaskDeploy); err != nil {
		t.Errorf("Matches: %v", err)
	}
}

func TestRoundTripNormalizes(t *testing.T) {
	hst := time.FixedZone("HST", -10*3600)
	o := exampleOrder()
	o.Version = 0
	o.IssuedAt = exampleIssued.In(hst).Add(400 * time.Millisecond)
	o.Approvals = nil
	o.PR = 0
	o.Task = TaskRollback
	o.RollbackOf = "1111111111111111111111111111111111111111"
	got, err := Verify(mustSign(t, o, exampleKey()), Keys(pub(exampleKey())), exampleNow)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.Version != Version || !got.IssuedAt.Equal(exampleIssued) || got.IssuedAt.Location() != time.UTC {
		t.Errorf("got version %d, issued_at %v; want %d, %v in UTC", got.Version, got.IssuedAt, Version, exampleIssued)
	}
	if len(got.Approvals) != 0 || got.RollbackOf != o.RollbackOf {
		t.Errorf("got approvals %v, rollback_of %q", got.Approvals, got.RollbackOf)
	}
}

// TestTamper changes each field of a signed payload, one at a time, to
// another valid value: every change must fail verification.
func TestTamper(t *testing.T) {
	payload := mustSign(t, exampleOrder(), exampleKey())
	other := KeyID(pub(otherKey()))
	keys := Keys(pub(exampleKey()), pub(otherKey()))
	approval := func(i int, o map[string]any) map[string]any {
		return o["approvals"].([]any)[i].(map[string]any)
	}
	tests := []struct {
		name string
		edit func(env, o map[string]any)
		want error
	}{
		{"version", func(_, o map[string]any) { o["version"] = 2 }, ErrMalformed},
		{"repo", func(_, o map[string]any) { o["repo"] = "kailua-gis/other-config" }, ErrBadSignature},
		{"sha", func(_, o map[string]any) { o["sha"] = "0000000000000000000000000000000000000000" }, ErrBadSignature},
		{"environment", func(_, o map[string]any) { o["environment"] = "staging" }, ErrBadSignature},
		{"task", func(_, o map[string]any) {
			o["task"] = TaskRollback
			o["rollback_of"] = "1111111111111111111111111111111111111111"
		}, ErrBadSignature},
		{"plan_digest", func(_, o map[string]any) { o["plan_digest"] = strings.Repeat("0", 64) }, ErrBadSignature},
		{"policy_digest", func(_, o map[string]any) { o["policy_digest"] = "sha256:" + strings.Repeat("0", 64) }, ErrBadSignature},
		{"pr", func(_, o map[string]any) { o["pr"] = 13 }, ErrBadSignature},
		{"pr to push", func(_, o map[string]any) { o["pr"] = 0 }, ErrBadSignature},
		{"issued_at", func(_, o map[string]any) { o["issued_at"] = "2026-03-10T19:00:01Z" }, ErrBadSignature},
		{"expires_at", func(_, o map[string]any) { o["expires_at"] = "2027-03-11T19:00:00Z" }, ErrBadSignature},
		{"key_id of the order only", func(_, o map[string]any) { o["key_id"] = other }, ErrMalformed},
		{"key_id of both", func(env, o map[string]any) { o["key_id"], env["key_id"] = other, other }, ErrBadSignature},
		{"key_id unknown", func(env, o map[string]any) { o["key_id"], env["key_id"] = "0123456789abcdef", "0123456789abcdef" }, ErrUnknownKey},
		{"approval login", func(_, o map[string]any) { approval(0, o)["login"] = "mallory" }, ErrBadSignature},
		{"approval via", func(_, o map[string]any) { approval(0, o)["via"] = "comment" }, ErrBadSignature},
		{"approval at", func(_, o map[string]any) { approval(1, o)["at"] = "2026-03-10T18:58:13Z" }, ErrBadSignature},
		{"approval removed", func(_, o map[string]any) { o["approvals"] = o["approvals"].([]any)[:1] }, ErrBadSignature},
		{"approval added", func(_, o map[string]any) {
			o["approvals"] = append(o["approvals"].([]any), map[string]any{"login": "mallory", "via": "review", "at": "2026-03-10T18:00:00Z"})
		}, ErrBadSignature},
		{"signature", func(env, _ map[string]any) {
			s := []byte(env["signature"].(string))
			s[0] ^= 'A' ^ 'B'
			env["signature"] = string(s)
		}, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(edit(t, payload, tt.edit), keys, exampleNow)
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	// And the untouched payload, re-encoded the same way, still verifies:
	// the failures above come from the edits.
	if _, err := Verify(edit(t, payload, func(_, _ map[string]any) {}), keys, exampleNow); err != nil {
		t.Errorf("re-encoded payload: %v", err)
	}
}

func TestApprovalOrderDoesNotMatter(t *testing.T) {
	payload := edit(t, mustSign(t, exampleOrder(), exampleKey()), func(_, o map[string]any) {
		as := o["approvals"].([]any)
		as[0], as[1] = as[1], as[0]
	})
	if _, err := Verify(payload, Keys(pub(exampleKey())), exampleNow); err != nil {
		t.Errorf("Verify with the approvals in another order: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	payload := mustSign(t, exampleOrder(), exampleKey())
	keys := Keys(pub(exampleKey()))
	tests := []struct {
		name string
		now  time.Time
		want error
	}{
		{"at issue", exampleIssued, nil},
		{"a second before expiry", exampleExpires.Add(-time.Second), nil},
		{"at expiry", exampleExpires, ErrExpired},
		{"long after", exampleExpires.Add(365 * 24 * time.Hour), ErrExpired},
		{"issued a little in the future (clock skew)", exampleIssued.Add(-ClockSkew), nil},
		{"issued in the future", exampleIssued.Add(-ClockSkew - time.Second), ErrNotYetValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(payload, keys, tt.now)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Verify at %v = %v, want %v", tt.now, err, tt.want)
			}
		})
	}
}

func TestWrongKey(t *testing.T) {
	payload := mustSign(t, exampleOrder(), otherKey())
	tests := []struct {
		name string
		keys map[string]ed25519.PublicKey
		want error
	}{
		{"not trusted", Keys(pub(exampleKey())), ErrUnknownKey},
		{"no keys", nil, ErrUnknownKey},
		{"another key under its id", map[string]ed25519.PublicKey{KeyID(pub(otherKey())): pub(exampleKey())}, ErrBadSignature},
		{"a broken key under its id", map[string]ed25519.PublicKey{KeyID(pub(otherKey())): pub(otherKey())[:31]}, ErrUnknownKey},
		{"rotation: old and new trusted", Keys(pub(exampleKey()), pub(otherKey())), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(payload, tt.keys, exampleNow)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSignRefuses(t *testing.T) {
	tests := []struct {
		name string
		edit func(o *Order)
		want string // in the error
	}{
		{"newline in the environment", func(o *Order) { o.Environment = "production\ntask=deploy" }, "environment"},
		{"control character", func(o *Order) { o.Environment = "prod\x00" }, "control character"},
		{"C1 control character", func(o *Order) { o.Environment = "prod\u0085" }, "control character"},
		{"line separator", func(o *Order) { o.Environment = "prod\u2028" }, "control character"},
		{"space at the end", func(o *Order) { o.Environment = "production " }, "space"},
		{"no environment", func(o *Order) { o.Environment = "" }, "environment: missing"},
		{"long environment", func(o *Order) { o.Environment = strings.Repeat("e", MaxEnvironment+1) }, "more than 255"},
		{"not UTF-8", func(o *Order) { o.Environment = "prod\xff" }, "UTF-8"},
		{"uppercase sha", func(o *Order) { o.SHA = strings.ToUpper(o.SHA) }, "sha"},
		{"short sha", func(o *Order) { o.SHA = o.SHA[:7] }, "sha"},
		{"repo without owner", func(o *Order) { o.Repo = "honua-config" }, "repo"},
		{"repo with a newline", func(o *Order) { o.Repo = "a/b\nc" }, "repo"},
		{"unknown task", func(o *Order) { o.Task = "destroy" }, "task"},
		{"rollback without rollback_of", func(o *Order) { o.Task = TaskRollback }, "rollback_of"},
		{"deploy with rollback_of", func(o *Order) { o.RollbackOf = o.SHA }, "rollback_of"},
		{"no plan digest", func(o *Order) { o.PlanDigest = "" }, "plan_digest"},
		{"policy digest of another hash", func(o *Order) { o.PolicyDigest = "sha512:" + strings.Repeat("0", 64) }, "policy_digest"},
		{"negative pr", func(o *Order) { o.PR = -1 }, "pr"},
		{"no issued_at", func(o *Order) { o.IssuedAt = time.Time{} }, "issued_at: missing"},
		{"expires before issued", func(o *Order) { o.ExpiresAt = o.IssuedAt.Add(-time.Hour) }, "after issued_at"},
		{"expires within the second", func(o *Order) { o.ExpiresAt = o.IssuedAt.Add(time.Millisecond) }, "after issued_at"},
		{"year 10000", func(o *Order) { o.ExpiresAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "out of range"},
		{"approval without time", func(o *Order) { o.Approvals[0].At = time.Time{} }, "approvals[0]: at: missing"},
		{"login with a space", func(o *Order) { o.Approvals[0].Login = "kalani x" }, "login"},
		{"via with a space", func(o *Order) { o.Approvals[0].Via = "a b" }, "via"},
		{"approving twice", func(o *Order) { o.Approvals[1].Login = "LKeawe" }, "approves twice"},
		{"too many approvals", func(o *Order) { o.Approvals = make([]Approval, MaxApprovals+1) }, "more than the 100"},
		{"version 2", func(o *Order) { o.Version = 2 }, "version"},
		{"another key's id", func(o *Order) { o.KeyID = KeyID(pub(otherKey())) }, "names key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := exampleOrder()
			tt.edit(&o)
			_, err := Sign(o, exampleKey())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Sign = %v, want an error about %q", err, tt.want)
			}
		})
	}
	if _, err := Sign(exampleOrder(), exampleKey()[:10]); err == nil {
		t.Error("Sign with a broken key: no error")
	}
}

func TestVerifyMalformed(t *testing.T) {
	good := mustSign(t, exampleOrder(), exampleKey())
	replace := func(old, new string) []byte {
		if !strings.Contains(string(good), old) {
			t.Fatalf("payload lacks %s", old)
		}
		return []byte(strings.Replace(string(good), old, new, 1))
	}
	tests := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"empty", nil, "not JSON"},
		{"not JSON", []byte("deploy please"), "not JSON"},
		{"an array", []byte(`[1,2]`), "not a JSON object"},
		{"truncated", good[:len(good)-1], "not JSON"},
		{"trailing data", append(append([]byte{}, good...), " {}"...), "after its end"},
		{"too large", make([]byte, MaxPayload+1), "more than"},
		{"not UTF-8", append(append([]byte{}, good[:len(good)-1]...), 0xff, '}'), "UTF-8"},
		{"unknown field", replace(`"key_id":`, `"extra":1,"key_id":`), "unknown field"},
		{"unknown order field", replace(`"pr":12`, `"pr":12,"force":true`), "unknown field"},
		{"duplicate field", replace(`"pr":12`, `"pr":12,"pr":13`), "twice"},
		{"missing field", replace(`"pr":12,`, ``), "misses [pr]"},
		{"null string", replace(`"environment":"production"`, `"environment":null`), "order.environment is not a string"},
		{"number as string", replace(`"pr":12`, `"pr":"12"`), "order.pr is not a whole number"},
		{"float", replace(`"pr":12`, `"pr":12.0`), "order.pr is not a whole number"},
		{"exponent", replace(`"pr":12`, `"pr":1.2e1`), "order.pr is not a whole number"},
		{"leading zero", replace(`"pr":12`, `"pr":012`), "not JSON"},
		{"huge number", replace(`"pr":12`, `"pr":99999999999999999999`), "order.pr is not a whole number"},
		{"version 2", replace(`"version":1`, `"version":2`), "version 2 is not supported"},
		{"time with fraction", replace(`"issued_at":"2026-03-10T19:00:00Z"`, `"issued_at":"2026-03-10T19:00:00.0Z"`), "not a time"},
		{"time with offset", replace(`"issued_at":"2026-03-10T19:00:00Z"`, `"issued_at":"2026-03-10T09:00:00-10:00"`), "not a time"},
		{"approvals null", edit(t, good, func(_, o map[string]any) { o["approvals"] = nil }), "order.approvals is not an array"},
		{"approval missing via", replace(`"via":"review",`, ``), "misses [via]"},
		{"signature not base64", replace(`"signature":"`, `"signature":"!`), "base64"},
		{"signature short", replace(`"signature":"`, `"signature":"AAAA`), "base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(tt.payload, Keys(pub(exampleKey())), exampleNow)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Verify = %v, want ErrMalformed about %q", err, tt.want)
			}
		})
	}
}

// TestErrorsAreShort: errors name what is wrong without echoing large
// input.
func TestErrorsAreShort(t *testing.T) {
	big := strings.Repeat("x", 40000)
	good := mustSign(t, exampleOrder(), exampleKey())
	payloads := map[string][]byte{
		"long environment": edit(t, good, func(_, o map[string]any) { o["environment"] = big }),
		"long key":         edit(t, good, func(env, _ map[string]any) { env[big] = 1 }),
		"long key_id":      edit(t, good, func(env, o map[string]any) { o["key_id"], env["key_id"] = big, big }),
		"many bad approvals": edit(t, good, func(_, o map[string]any) {
			var as []any
			for range MaxApprovals {
				as = append(as, map[string]any{"login": big[:300], "via": big[:300], "at": big[:300]})
			}
			o["approvals"] = as
		}),
	}
	for name, p := range payloads {
		_, err := Verify(p, Keys(pub(exampleKey())), exampleNow)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if n := len(err.Error()); n > 2000 {
			t.Errorf("%s: error of %d bytes: %.300s…", name, n, err)
		}
	}
}

func TestMatches(t *testing.T) {
	o := exampleOrder()
	if err := o.Matches(o.Repo, o.SHA, o.Environment, o.Task); err != nil {
		t.Errorf("Matches its own deployment: %v", err)
	}
	err := o.Matches(o.Repo, "0000000000000000000000000000000000000000", "staging", TaskDeploy)
	if err == nil || !strings.Contains(err.Error(), "sha") || !strings.Contains(err.Error(), "environment") {
		t.Errorf("Matches another deployment = %v, want errors about sha and environment", err)
	}
}

// TestDigest: an order's digest is the same read back from its payload,
// and differs for an order that differs in anything.
func TestDigest(t *testing.T) {
	o := exampleOrder()
	got, err := Verify(mustSign(t, o, exampleKey()), Keys(pub(exampleKey())), exampleNow)
	if err != nil {
		t.Fatal(err)
	}
	d1, err := Digest(got)
	if err != nil || !strings.HasPrefix(d1, "sha256:") || len(d1) != len("sha256:")+64 {
		t.Fatalf("Digest: %q, %v", d1, err)
	}
	again, _ := Verify(mustSign(t, o, exampleKey()), Keys(pub(exampleKey())), exampleNow)
	if d2, _ := Digest(again); d2 != d1 {
		t.Errorf("the same order has two digests: %s, %s", d1, d2)
	}
	other := got
	other.PlanDigest = strings.Repeat("0", 64)
	if d3, _ := Digest(other); d3 == d1 {
		t.Error("a different plan digest gives the same order digest")
	}
}
