package order

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

// pkcs8PEM writes a private key as `openssl genpkey -algorithm ed25519`
// does: PKCS #8 DER in a "PRIVATE KEY" block.
func pkcs8PEM(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestParsePrivateKeyPEM(t *testing.T) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	data := pkcs8PEM(t, k)
	if !strings.HasPrefix(string(data), "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI") {
		// The prefix every openssl ed25519 key has: the PKCS #8 header of
		// OID 1.3.101.112.
		t.Errorf("unexpected PEM:\n%s", data)
	}
	got, err := ParsePrivateKeyPEM(data)
	if err != nil {
		t.Fatalf("ParsePrivateKeyPEM: %v", err)
	}
	if !got.Equal(k) {
		t.Error("ParsePrivateKeyPEM gave another key")
	}
	pubPEM, err := PublicKeyPEM(pub(k))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePublicKeyPEM(pubPEM)
	if err != nil {
		t.Fatalf("ParsePublicKeyPEM: %v", err)
	}
	if !p.Equal(pub(k)) {
		t.Error("ParsePublicKeyPEM gave another key")
	}
	// A key read from PEM signs orders that its public key verifies.
	payload := mustSign(t, exampleOrder(), got)
	if _, err := Verify(payload, Keys(p), exampleNow); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestParseKeyPEMRefuses(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPub, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	good := pkcs8PEM(t, exampleKey())
	block := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no PEM block"},
		{"not PEM", []byte("ed25519 please"), "no PEM block"},
		{"ECDSA", pkcs8PEM(t, ec), "not an Ed25519 key"},
		{"public key", block("PUBLIC KEY", ecPub), "not PRIVATE KEY"},
		{"encrypted", block("ENCRYPTED PRIVATE KEY", []byte{1}), "encrypted"},
		{"OpenSSH", block("OPENSSH PRIVATE KEY", []byte{1}), "OpenSSH"},
		{"garbage DER", block("PRIVATE KEY", []byte{1, 2, 3}), "not a PKCS #8"},
		{"two keys", append(append([]byte{}, good...), good...), "more than one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePrivateKeyPEM(tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParsePrivateKeyPEM = %v, want an error about %q", err, tt.want)
			}
		})
	}
	if _, err := ParsePublicKeyPEM(block("PUBLIC KEY", ecPub)); err == nil || !strings.Contains(err.Error(), "not an Ed25519") {
		t.Errorf("ParsePublicKeyPEM(ECDSA) = %v", err)
	}
	if _, err := ParsePublicKeyPEM(good); err == nil || !strings.Contains(err.Error(), "not PUBLIC KEY") {
		t.Errorf("ParsePublicKeyPEM(private key) = %v", err)
	}
}

func TestKeyID(t *testing.T) {
	id := KeyID(pub(exampleKey()))
	if len(id) != 16 || !isLowerHex(id) {
		t.Errorf("KeyID = %q, want 16 lowercase hex digits", id)
	}
	if id == KeyID(pub(otherKey())) {
		t.Error("two keys have the same id")
	}
}
