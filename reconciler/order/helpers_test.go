package order

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"
)

// exampleSeed is the seed of the example key of docs/deploy-orders.md:
// the bytes 0 to 31. It is public: never sign real orders with it.
func exampleSeed() []byte {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	return seed
}

func exampleKey() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(exampleSeed()) }

func otherKey() ed25519.PrivateKey {
	seed := exampleSeed()
	seed[0] = 0xff
	return ed25519.NewKeyFromSeed(seed)
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

var (
	exampleIssued  = time.Date(2026, 3, 10, 19, 0, 0, 0, time.UTC)
	exampleExpires = exampleIssued.Add(24 * time.Hour)
	// exampleNow is within the example order's life.
	exampleNow = exampleIssued.Add(time.Hour)
)

// exampleOrder is the order of docs/deploy-orders.md.
func exampleOrder() Order {
	return Order{
		Version:      1,
		Repo:         "kailua-gis/honua-config",
		SHA:          "9fceb02d0ae598e95dc970b74767f19372d61af8",
		Environment:  "production",
		Task:         TaskDeploy,
		PlanDigest:   "3b8f5c0e4a2d9f71c6e8b1a07d5e4c3b2a19f8e7d6c5b4a3928170f6e5d4c3b2",
		PolicyDigest: "sha256:a4c1e9b27f3d8e60b5a2c7d9e1f04b38c6a5d2e7f9b1c3a08d4e6f2b7c9a1e53",
		PR:           12,
		Approvals: []Approval{
			{Login: "lkeawe", Via: "button", At: time.Date(2026, 3, 10, 18, 58, 12, 0, time.UTC)},
			{Login: "kalani", Via: "review", At: time.Date(2026, 3, 10, 18, 41, 5, 0, time.UTC)},
		},
		IssuedAt:  exampleIssued,
		ExpiresAt: exampleExpires,
	}
}

func mustSign(t testing.TB, o Order, k ed25519.PrivateKey) []byte {
	t.Helper()
	p, err := Sign(o, k)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return p
}

// edit decodes a payload, lets f change it and encodes it again.
func edit(t testing.TB, payload []byte, f func(env map[string]any, order map[string]any)) []byte {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(payload, &env); err != nil {
		t.Fatal(err)
	}
	f(env, env["order"].(map[string]any))
	out, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
