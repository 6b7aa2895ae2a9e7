package config

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// appendJSON appends v, a JSON-compatible value (map[string]any, []any,
// string, int64, float64, bool, nil), to dst as indented JSON at nesting
// level depth: byte for byte what encoding/json's Encoder writes with
// SetEscapeHTML(false) and SetIndent("", "  "), without its reflection,
// its compact-then-indent second pass, or a copy of the value. A nil or
// empty map or list is written {} or [], like a copied value (CopyValue)
// would be. Types outside the set go through encoding/json itself.
func appendJSON(dst []byte, v any, depth int) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendJSONString(dst, t), nil
	case bool:
		return strconv.AppendBool(dst, t), nil
	case int64:
		return strconv.AppendInt(dst, t, 10), nil
	case float64:
		return appendJSONFloat(dst, t)
	case map[string]any:
		return appendJSONObject(dst, t, nil, depth)
	case filledObject:
		return appendJSONObject(dst, t.value, t.fields, depth)
	case []any:
		if len(t) == 0 {
			return append(dst, "[]"...), nil
		}
		dst = append(dst, '[')
		var err error
		for i, e := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendNewline(dst, depth+1)
			if dst, err = appendJSON(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return append(appendNewline(dst, depth), ']'), nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return appendIndented(dst, raw, depth)
}

// appendJSONObject writes m with the values of override in place of m's
// (an override's key is written even where m has none), keys sorted as
// encoding/json sorts them.
func appendJSONObject(dst []byte, m map[string]any, override map[string]any, depth int) ([]byte, error) {
	keys := make([]string, 0, len(m)+len(override))
	for k := range m {
		keys = append(keys, k)
	}
	for k := range override {
		if _, ok := m[k]; !ok {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return append(dst, "{}"...), nil
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	var err error
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendNewline(dst, depth+1)
		dst = appendJSONString(dst, k)
		dst = append(dst, ':', ' ')
		v, ok := override[k]
		if !ok {
			v = m[k]
		}
		if dst, err = appendJSON(dst, v, depth+1); err != nil {
			return dst, err
		}
	}
	return append(appendNewline(dst, depth), '}'), nil
}

func appendNewline(dst []byte, depth int) []byte {
	dst = append(dst, '\n')
	for range depth {
		dst = append(dst, ' ', ' ')
	}
	return dst
}

// appendJSONFloat writes f as encoding/json does (ES6 number formatting).
func appendJSONFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, &json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-09 is written e-9
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s quoted as encoding/json does without HTML
// escaping: invalid UTF-8 becomes U+FFFD, U+2028 and U+2029 are escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendIndented appends compact JSON raw indented as at depth.
func appendIndented(dst []byte, raw []byte, depth int) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	if err := json.Indent(buf, raw, strings.Repeat("  ", depth), "  "); err != nil {
		return dst, err
	}
	return buf.Bytes(), nil
}
