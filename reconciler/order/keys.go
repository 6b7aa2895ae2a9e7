package order

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// KeyID names a public key: the first 16 hex digits of the SHA-256 of its
// 32 raw bytes. Orders carry it so that a runner can trust several keys at
// once (the old and the new one, while the App's key is rotated).
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Keys returns the keys by their KeyID, as Verify takes them.
func Keys(pubs ...ed25519.PublicKey) map[string]ed25519.PublicKey {
	m := make(map[string]ed25519.PublicKey, len(pubs))
	for _, p := range pubs {
		m[KeyID(p)] = p
	}
	return m
}

// ParsePrivateKeyPEM reads an Ed25519 private key in PKCS #8 PEM ("BEGIN
// PRIVATE KEY"), as `openssl genpkey -algorithm ed25519` writes it.
func ParsePrivateKeyPEM(data []byte) (ed25519.PrivateKey, error) {
	der, err := pemBlock(data, "PRIVATE KEY")
	if err != nil {
		return nil, fmt.Errorf("reading the signing key: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("reading the signing key: not a PKCS #8 private key: %w", err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("reading the signing key: it is a %T, not an Ed25519 key (make one with: openssl genpkey -algorithm ed25519)", k)
	}
	return ek, nil
}

// ParsePublicKeyPEM reads an Ed25519 public key in PKIX PEM ("BEGIN PUBLIC
// KEY"), as `openssl pkey -pubout` writes it.
func ParsePublicKeyPEM(data []byte) (ed25519.PublicKey, error) {
	der, err := pemBlock(data, "PUBLIC KEY")
	if err != nil {
		return nil, fmt.Errorf("reading a verification key: %w", err)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("reading a verification key: not a PKIX public key: %w", err)
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("reading a verification key: it is a %T, not an Ed25519 key", k)
	}
	return ek, nil
}

// PublicKeyPEM writes a public key in PKIX PEM, for a runner's
// configuration.
func PublicKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("writing a verification key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// pemBlock returns the bytes of the one PEM block of data, which must be
// of type want.
func pemBlock(data []byte, want string) ([]byte, error) {
	b, rest := pem.Decode(data)
	switch {
	case b == nil:
		return nil, errors.New("no PEM block found (expected -----BEGIN " + want + "-----)")
	case b.Type == "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("the key is encrypted: decrypt it first (openssl pkey -in key.pem -out plain.pem)")
	case b.Type == "OPENSSH PRIVATE KEY":
		return nil, errors.New("an OpenSSH key is not supported: make one with openssl genpkey -algorithm ed25519")
	case b.Type != want:
		return nil, fmt.Errorf("the PEM block is %s, not %s", short(b.Type), want)
	case len(b.Headers) > 0:
		return nil, errors.New("the PEM block has headers (an encrypted key?)")
	}
	if more, _ := pem.Decode(rest); more != nil || len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("more than one PEM block, or data after the key")
	}
	return b.Bytes, nil
}
