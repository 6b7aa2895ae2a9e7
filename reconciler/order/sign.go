package order

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Sign checks o, signs its canonical bytes with key and returns the
// deployment payload:
//
//	{"order": {...}, "signature": "<base64 of the Ed25519 signature>", "key_id": "..."}
//
// It fills in Version (when 0) and KeyID (KeyID of key's public key; an
// order that names another key is refused), writes times in UTC to the
// second and approvals in canonical order. It refuses an order with a field
// it could not sign unambiguously (a newline in the environment, a sha that
// is not a commit...), saying which.
func Sign(o Order, key ed25519.PrivateKey) (json.RawMessage, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("signing a deploy order: the key is %d bytes, not an Ed25519 private key", len(key))
	}
	id := KeyID(key.Public().(ed25519.PublicKey))
	switch o.KeyID {
	case "":
		o.KeyID = id
	case id:
	default:
		return nil, fmt.Errorf("signing a deploy order: it names key %s but the key given is %s", short(o.KeyID), id)
	}
	if o.Version == 0 {
		o.Version = Version
	}
	o.IssuedAt = o.IssuedAt.UTC().Truncate(time.Second)
	o.ExpiresAt = o.ExpiresAt.UTC().Truncate(time.Second)
	o.Approvals = slices.Clone(o.Approvals)
	for i := range o.Approvals {
		o.Approvals[i].At = o.Approvals[i].At.UTC().Truncate(time.Second)
	}
	// Checked before sorting, so that an error's approvals[i] is the
	// caller's i.
	if err := validate(&o); err != nil {
		return nil, fmt.Errorf("signing a deploy order: %w", err)
	}
	sortApprovals(o.Approvals)
	msg, err := Canonical(o)
	if err != nil {
		return nil, fmt.Errorf("signing a deploy order: %w", err)
	}
	sig := ed25519.Sign(key, msg)
	out, err := marshal(envelope{Order: toWire(o), Signature: base64.StdEncoding.EncodeToString(sig), KeyID: o.KeyID})
	if err != nil {
		return nil, fmt.Errorf("signing a deploy order: %w", err)
	}
	return out, nil
}

// Verify reads a deployment payload and returns its order when it is
// authentic and current: well formed (every field of the format present,
// none other, none twice, each valid and within its limits), signed with
// the key of keys named by its key_id over the canonical bytes rebuilt from
// the parsed order, not expired at now and not issued beyond ClockSkew
// after it. Its errors wrap ErrMalformed, ErrUnknownKey, ErrBadSignature,
// ErrExpired or ErrNotYetValid, say what is wrong, and never echo more
// than a few dozen bytes of the payload.
//
// The caller must still check that the order is for the deployment it came
// with (Order.Matches).
func Verify(payload []byte, keys map[string]ed25519.PublicKey, now time.Time) (Order, error) {
	o, sig, err := parse(payload)
	if err != nil {
		return Order{}, err
	}
	msg, err := Canonical(o)
	if err != nil {
		return Order{}, err
	}
	pub, ok := keys[o.KeyID]
	if !ok || len(pub) != ed25519.PublicKeySize {
		return Order{}, fmt.Errorf("%w: key_id %s is not one of the %d keys this runner trusts", ErrUnknownKey, short(o.KeyID), len(keys))
	}
	if !ed25519.Verify(pub, msg, sig) {
		return Order{}, fmt.Errorf("%w: the order was changed after it was signed, or key %s did not sign it", ErrBadSignature, o.KeyID)
	}
	if !now.Before(o.ExpiresAt) {
		return Order{}, fmt.Errorf("%w: it expired at %s (now %s)", ErrExpired, formatTime(o.ExpiresAt), formatTime(now))
	}
	if o.IssuedAt.After(now.Add(ClockSkew)) {
		return Order{}, fmt.Errorf("%w: it is issued at %s, after now (%s): check the clocks", ErrNotYetValid, formatTime(o.IssuedAt), formatTime(now))
	}
	return o, nil
}

// envelope is the payload.
type envelope struct {
	Order     wireOrder `json:"order"`
	Signature string    `json:"signature"`
	KeyID     string    `json:"key_id"`
}

// wireOrder is the order as JSON: times as the strings that are signed.
type wireOrder struct {
	Version      int            `json:"version"`
	Repo         string         `json:"repo"`
	SHA          string         `json:"sha"`
	Environment  string         `json:"environment"`
	Task         string         `json:"task"`
	PlanDigest   string         `json:"plan_digest"`
	PolicyDigest string         `json:"policy_digest"`
	PR           int            `json:"pr"`
	Approvals    []wireApproval `json:"approvals"`
	RollbackOf   string         `json:"rollback_of"`
	IssuedAt     string         `json:"issued_at"`
	ExpiresAt    string         `json:"expires_at"`
	KeyID        string         `json:"key_id"`
}

type wireApproval struct {
	Login string `json:"login"`
	Via   string `json:"via"`
	At    string `json:"at"`
}

func toWire(o Order) wireOrder {
	w := wireOrder{
		Version: o.Version, Repo: o.Repo, SHA: o.SHA, Environment: o.Environment, Task: o.Task,
		PlanDigest: o.PlanDigest, PolicyDigest: o.PolicyDigest, PR: o.PR, RollbackOf: o.RollbackOf,
		IssuedAt: formatTime(o.IssuedAt), ExpiresAt: formatTime(o.ExpiresAt), KeyID: o.KeyID,
		Approvals: make([]wireApproval, len(o.Approvals)),
	}
	for i, a := range o.Approvals {
		w.Approvals[i] = wireApproval{Login: a.Login, Via: a.Via, At: formatTime(a.At)}
	}
	return w
}

// marshal writes JSON without HTML escaping: the payload is read by
// programs, and "<" stays "<" in a digest-free field like the environment.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// The keys of the payload's objects: each must be present, once, and no
// other.
var (
	envelopeKeys = []string{"order", "signature", "key_id"}
	orderKeys    = []string{"version", "repo", "sha", "environment", "task", "plan_digest", "policy_digest", "pr", "approvals", "rollback_of", "issued_at", "expires_at", "key_id"}
	approvalKeys = []string{"login", "via", "at"}
)

// parse reads the payload strictly: a parser that took the first of two
// equal keys where another takes the last, or read a field this one
// ignores, would act on something else than what was checked.
func parse(payload []byte) (Order, []byte, error) {
	malformed := func(format string, args ...any) (Order, []byte, error) {
		return Order{}, nil, fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
	if len(payload) > MaxPayload {
		return malformed("the payload is %d bytes, more than %d", len(payload), MaxPayload)
	}
	if !utf8.Valid(payload) {
		return malformed("the payload is not UTF-8")
	}
	env, err := object(payload, "the payload", envelopeKeys)
	if err != nil {
		return malformed("%w", err)
	}
	// The version first: a later version has other fields, and deserves
	// a plainer answer than "unknown field".
	var probe struct {
		Version json.RawMessage `json:"version"`
	}
	if json.Unmarshal(env["order"], &probe) == nil && probe.Version != nil {
		if v, err := number(probe.Version, "order.version"); err == nil && v != Version {
			return malformed("order version %d is not supported (this verifier knows version %d)", v, Version)
		}
	}
	fields, err := object(env["order"], "order", orderKeys)
	if err != nil {
		return malformed("%w", err)
	}
	var o Order
	var problems []error
	str := func(name string, dst *string) {
		s, err := text(fields[name], "order."+name)
		if err != nil {
			problems = append(problems, err)
		}
		*dst = s
	}
	num := func(name string, dst *int) {
		n, err := number(fields[name], "order."+name)
		if err != nil {
			problems = append(problems, err)
		}
		*dst = n
	}
	tm := func(raw json.RawMessage, name string, dst *time.Time) {
		s, err := text(raw, name)
		if err == nil {
			*dst, err = parseTime(s)
			if err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
		}
		if err != nil {
			problems = append(problems, err)
		}
	}
	num("version", &o.Version)
	str("repo", &o.Repo)
	str("sha", &o.SHA)
	str("environment", &o.Environment)
	str("task", &o.Task)
	str("plan_digest", &o.PlanDigest)
	str("policy_digest", &o.PolicyDigest)
	num("pr", &o.PR)
	str("rollback_of", &o.RollbackOf)
	tm(fields["issued_at"], "order.issued_at", &o.IssuedAt)
	tm(fields["expires_at"], "order.expires_at", &o.ExpiresAt)
	str("key_id", &o.KeyID)
	items, err := array(fields["approvals"], "order.approvals", MaxApprovals)
	if err != nil {
		problems = append(problems, err)
	}
	for i, raw := range items {
		name := fmt.Sprintf("order.approvals[%d]", i)
		af, err := object(raw, name, approvalKeys)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		var a Approval
		for _, f := range []struct {
			key string
			dst *string
		}{{"login", &a.Login}, {"via", &a.Via}} {
			s, err := text(af[f.key], name+"."+f.key)
			if err != nil {
				problems = append(problems, err)
			}
			*f.dst = s
		}
		tm(af["at"], name+".at", &a.At)
		o.Approvals = append(o.Approvals, a)
	}
	var keyID, signature string
	if s, err := text(env["key_id"], "key_id"); err != nil {
		problems = append(problems, err)
	} else {
		keyID = s
	}
	if s, err := text(env["signature"], "signature"); err != nil {
		problems = append(problems, err)
	} else {
		signature = s
	}
	if len(problems) > 0 {
		return malformed("%w", joinProblems(problems))
	}
	if keyID != o.KeyID {
		return malformed("key_id %s differs from the order's key_id %s", short(keyID), short(o.KeyID))
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return malformed("the signature is not %d bytes of standard base64", ed25519.SignatureSize)
	}
	sortApprovals(o.Approvals)
	return o, sig, nil
}

// object reads a JSON object whose keys must be exactly want, each once;
// it returns the raw value of each.
func object(data []byte, what string, want []string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	t, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%s is not JSON: %w", what, jsonErr(err))
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%s is not a JSON object", what)
	}
	fields := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s is not JSON: %w", what, jsonErr(err))
		}
		key, _ := t.(string)
		if !slices.Contains(want, key) {
			return nil, fmt.Errorf("%s has an unknown field %s", what, short(key))
		}
		if _, dup := fields[key]; dup {
			return nil, fmt.Errorf("%s has the field %s twice", what, key)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%s.%s is not JSON: %w", what, key, jsonErr(err))
		}
		fields[key] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fmt.Errorf("%s is not JSON: %w", what, jsonErr(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s has data after its end", what)
	}
	var missing []string
	for _, k := range want {
		if _, ok := fields[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s misses %v", what, missing)
	}
	return fields, nil
}

// array reads a JSON array of at most max values.
func array(data json.RawMessage, what string, max int) ([]json.RawMessage, error) {
	if len(data) == 0 || data[0] != '[' {
		return nil, fmt.Errorf("%s is not an array", what)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%s is not JSON: %w", what, jsonErr(err))
	}
	var out []json.RawMessage
	for dec.More() {
		if len(out) == max {
			return nil, fmt.Errorf("%s has more than %d entries", what, max)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%s is not JSON: %w", what, jsonErr(err))
		}
		out = append(out, raw)
	}
	return out, nil
}

// text reads a JSON string (not null, not a number).
func text(raw json.RawMessage, what string) (string, error) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("%s is not a string", what)
	}
	return s, nil
}

// number reads a JSON number written as the canonical bytes write it:
// decimal digits, no sign, fraction, exponent or leading zero. Another
// language's parser would read 1.0 or 1e0 as a float and write it back
// differently.
func number(raw json.RawMessage, what string) (int, error) {
	s := string(raw)
	ok := s != "" && len(s) <= 10 && (s == "0" || s[0] != '0')
	for i := 0; ok && i < len(s); i++ {
		ok = '0' <= s[i] && s[i] <= '9'
	}
	if !ok {
		return 0, fmt.Errorf("%s is not a whole number written in decimal digits", what)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > MaxPR {
		return 0, fmt.Errorf("%s is out of range", what)
	}
	return n, nil
}

// jsonErr keeps a JSON error's own words, which name an offset, not the
// input.
func jsonErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("it ends early")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("syntax error at byte %d", se.Offset)
	}
	return errors.New("syntax error")
}
