package order

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

const docPath = "../../docs/deploy-orders.md"

// docExamples returns the fenced blocks of docs/deploy-orders.md that
// follow a "<!-- example: NAME -->" line, by name.
func docExamples(t *testing.T) map[string]string {
	t.Helper()
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- example: ([a-z0-9-]+) -->\n```[a-z]*\n(.*?)```")
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(doc), -1) {
		out[m[1]] = m[2]
	}
	return out
}

// TestDocExample keeps the worked example of docs/deploy-orders.md true.
func TestDocExample(t *testing.T) {
	ex := docExamples(t)
	for _, name := range []string{"public-key", "key-id", "canonical", "signature-hex", "signature-base64", "payload", "python"} {
		if _, ok := ex[name]; !ok {
			t.Fatalf("docs/deploy-orders.md has no example %q", name)
		}
	}
	o := exampleOrder()
	o.KeyID = KeyID(pub(exampleKey()))
	canonical, err := Canonical(o)
	if err != nil {
		t.Fatal(err)
	}
	payload := mustSign(t, o, exampleKey())
	var env struct{ Signature string }
	if err := json.Unmarshal(payload, &env); err != nil {
		t.Fatal(err)
	}
	sig, _ := base64.StdEncoding.DecodeString(env.Signature)
	pubPEM, err := PublicKeyPEM(pub(exampleKey()))
	if err != nil {
		t.Fatal(err)
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, payload, "", "  "); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(canonical)
	checks := []struct{ name, want string }{
		{"public-key", string(pubPEM)},
		{"key-id", o.KeyID + "\n"},
		{"canonical", string(canonical)},
		{"signature-hex", hex.EncodeToString(sig) + "\n"},
		{"signature-base64", env.Signature + "\n"},
		{"payload", indented.String() + "\n"},
	}
	for _, c := range checks {
		if got := ex[c.name]; got != c.want {
			t.Errorf("docs/deploy-orders.md example %q is\n%s\nwant\n%s", c.name, got, c.want)
		}
	}
	doc, _ := os.ReadFile(docPath)
	for _, s := range []string{
		fmt.Sprintf("(%d bytes, SHA-256\n`%x`", len(canonical), sum),
		hex.EncodeToString(pub(exampleKey())),
	} {
		if !bytes.Contains(doc, []byte(s)) {
			t.Errorf("docs/deploy-orders.md does not say %q", s)
		}
	}
	// The doc's payload verifies as it is printed (indented).
	if _, err := Verify([]byte(ex["payload"]), Keys(pub(exampleKey())), exampleNow); err != nil {
		t.Errorf("the doc's payload does not verify: %v", err)
	}
}

// TestDocPython runs the Python verifier of docs/deploy-orders.md against
// the example and a tampered copy, when python3 with cryptography is at hand.
func TestDocPython(t *testing.T) {
	if testing.Short() {
		t.Skip("runs python3")
	}
	py, err := exec.LookPath("python3")
	if err != nil || exec.Command(py, "-c", "import cryptography").Run() != nil {
		t.Skip("python3 with cryptography is not installed")
	}
	ex := docExamples(t)
	payload := mustSign(t, exampleOrder(), exampleKey())
	tampered := bytes.Replace(payload, []byte(`"pr":12`), []byte(`"pr":13`), 1)
	newline := bytes.Replace(payload, []byte(`"production"`), []byte(`"production\ntask=deploy"`), 1)
	harness := ex["python"] + `
import sys
from datetime import datetime, timezone
keys = {sys.argv[1]: sys.argv[2].encode()}
now = datetime(2026, 3, 10, 20, 0, 0, tzinfo=timezone.utc)
for name, p in (("good", sys.argv[3]), ("tampered", sys.argv[4]), ("newline", sys.argv[5])):
    try:
        o = verify_order(p.encode(), keys, now)
        print(name, "ok", o["environment"], o["pr"])
    except Exception as e:
        print(name, "refused", type(e).__name__)
try:
    verify_order(sys.argv[3].encode(), keys, datetime(2026, 3, 12, tzinfo=timezone.utc))
    print("late ok")
except Exception as e:
    print("late refused", e)
`
	pubPEM, _ := PublicKeyPEM(pub(exampleKey()))
	out, err := exec.Command(py, "-c", harness, KeyID(pub(exampleKey())), string(pubPEM), string(payload), string(tampered), string(newline)).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	want := "good ok production 12\ntampered refused InvalidSignature\nnewline refused ValueError\nlate refused the order expired\n"
	if string(out) != want {
		t.Errorf("the Python verifier says\n%s\nwant\n%s", out, want)
	}
	if !strings.Contains(ex["python"], "def verify_order") {
		t.Error("the Python example lost verify_order")
	}
}
