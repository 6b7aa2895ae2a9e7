package config

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"path/filepath"
	"testing"
)

// encodingJSON is the reference: what encoding/json writes for v with the
// settings RenderJSON promises.
func encodingJSON(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRenderJSONMatchesEncodingJSON renders the sample repositories'
// environments both ways: the streamed document is byte for byte what
// encoding/json writes for Render's.
func TestRenderJSONMatchesEncodingJSON(t *testing.T) {
	secrets := func(name string) (string, bool) { return "v<&>\u2028\"" + name, true }
	for _, dir := range []string{"../../samples/config", "../../samples/config-next"} {
		st, err := NewLoader(DefaultLimits).Load(context.Background(), NewDirSource(dir, DefaultLimits))
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Environments) == 0 {
			t.Fatalf("%s: no environments", dir)
		}
		for name, env := range st.Environments {
			doc, err := Render(env, secrets)
			if err != nil {
				t.Fatalf("%s %s: %v", filepath.Base(dir), name, err)
			}
			got, err := RenderJSON(env, secrets)
			if err != nil {
				t.Fatal(err)
			}
			if want := encodingJSON(t, doc); !bytes.Equal(got, want) {
				t.Errorf("%s %s: RenderJSON differs from encoding/json (%d vs %d bytes)", filepath.Base(dir), name, len(got), len(want))
			}
		}
	}
}

// TestRenderJSONDoesNotChangeTheState: filling secrets writes into the
// document only; the cached objects keep their references.
func TestRenderJSONDoesNotChangeTheState(t *testing.T) {
	st, err := NewLoader(DefaultLimits).Load(context.Background(), NewDirSource("../../samples/config", DefaultLimits))
	if err != nil {
		t.Fatal(err)
	}
	env := st.Environments["production"]
	before := encodingJSON(t, env.Sorted()[0].Value)
	var all bytes.Buffer
	for _, o := range env.Sorted() {
		all.Write(encodingJSON(t, o.Value))
	}
	doc, err := RenderJSON(env, func(string) (string, bool) { return "filled", true })
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte("filled")) {
		t.Fatal("no secret was filled: the test proves nothing")
	}
	var after bytes.Buffer
	for _, o := range env.Sorted() {
		after.Write(encodingJSON(t, o.Value))
	}
	if !bytes.Equal(all.Bytes(), after.Bytes()) || !bytes.Equal(before, encodingJSON(t, env.Sorted()[0].Value)) {
		t.Fatal("rendering changed the environment's objects")
	}
}

func TestAppendJSONEdgeCases(t *testing.T) {
	values := []any{
		nil, true, false, int64(math.MinInt64), int64(0), 0.0, math.Copysign(0, -1), 1e21, 1e20, 1e-6, 1e-7, 123456789.125, 5e-324, math.MaxFloat64,
		"", "plain", "q\"b\\s/", "\x00\x01\b\f\n\r\t\x1f\x7f", "<&>", "\u2028\u2029", "\xff\xfe bad", "é漢🙂",
		map[string]any{}, []any{}, map[string]any(nil), []any(nil),
		map[string]any{"b": int64(1), "a": []any{map[string]any{}, []any{}, "x"}, "": nil, "é": 1.5},
		[]any{[]any{[]any{int64(1)}}, map[string]any{"k": map[string]any{"l": "m"}}},
		map[string]any{"odd": 3, "u": uint64(7), "f32": float32(0.1)}, // outside the set: encoding/json writes them
	}
	for _, v := range values {
		got, err := appendJSON(nil, v, 0)
		if err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		got = append(got, '\n')
		if want := encodingJSON(t, CopyValue(v)); !bytes.Equal(got, want) {
			t.Errorf("%#v:\n got %q\nwant %q", v, got, want)
		}
	}
	if _, err := appendJSON(nil, math.Inf(1), 0); err == nil {
		t.Error("+Inf was written: JSON cannot carry it")
	}
	if _, err := appendJSON(nil, map[string]any{"x": []any{math.NaN()}}, 0); err == nil {
		t.Error("NaN was written: JSON cannot carry it")
	}
}

// FuzzAppendJSON builds a value from the input and checks the streamed
// JSON against encoding/json's.
func FuzzAppendJSON(f *testing.F) {
	f.Add([]byte("\x05\x03ab\x01\x02\x07xyz\x00"))
	f.Add([]byte("\x06\x06\x06\x04\x00\x00\x00\x00\x00\x00\xf0\x3f\x03\xff\xfe"))
	f.Add([]byte("\x05\x02\x03\xe2\x80\xa8\x03\x00\x1f"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &valueGen{data: data}
		v := g.value(0)
		got, err := appendJSON(nil, v, 0)
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		wantErr := enc.Encode(CopyValue(v))
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("errors differ: %v vs %v", err, wantErr)
		}
		if err != nil {
			return
		}
		if got = append(got, '\n'); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("got %q\nwant %q", got, want.Bytes())
		}
	})
}

// valueGen reads a JSON-compatible value from fuzz bytes.
type valueGen struct{ data []byte }

func (g *valueGen) byte() byte {
	if len(g.data) == 0 {
		return 0
	}
	b := g.data[0]
	g.data = g.data[1:]
	return b
}

func (g *valueGen) str() string {
	n := min(int(g.byte()%16), len(g.data))
	s := string(g.data[:n])
	g.data = g.data[n:]
	return s
}

func (g *valueGen) value(depth int) any {
	switch k := g.byte() % 8; {
	case k == 0:
		return nil
	case k == 1:
		return g.byte()%2 == 0
	case k == 2:
		var b [8]byte
		for i := range b {
			b[i] = g.byte()
		}
		return int64(binary.LittleEndian.Uint64(b[:]))
	case k == 3:
		return g.str()
	case k == 4:
		var b [8]byte
		for i := range b {
			b[i] = g.byte()
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b[:]))
	case k == 5 && depth < 8:
		m := map[string]any{}
		for n := g.byte() % 5; n > 0; n-- {
			m[g.str()] = g.value(depth + 1)
		}
		return m
	case k == 6 && depth < 8:
		l := []any{}
		for n := g.byte() % 5; n > 0; n-- {
			l = append(l, g.value(depth+1))
		}
		return l
	}
	return g.str()
}
