package config

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// FoldID returns the form of an id under which the Honua server compares
// ids: .NET's StringComparer.OrdinalIgnoreCase (the server keys folders,
// data sources, services, layers and styles with it). Two ids are the same
// id exactly when their folded forms are equal. That comparison upper-cases
// each character by Unicode's simple mapping, except that no character
// outside ASCII becomes an ASCII one: "ſtreets" (U+017F) and "streets",
// or "K" (U+212A KELVIN SIGN) and "k", are different ids to the server,
// while "σ" and "ς" (both Σ) are one. Unicode case folding (Go's
// strings.EqualFold) and lower-casing both differ from it, so every id
// comparison in honua-gitops goes through FoldID.
//
// ASCII letters fold to lower case (no other character can join their
// class), so an id that is already lower-case ASCII is returned as it is.
func FoldID(id string) string {
	i := 0
	for ; i < len(id); i++ {
		c := id[i]
		if c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			break
		}
	}
	if i == len(id) {
		return id
	}
	var b strings.Builder
	b.Grow(len(id))
	b.WriteString(id[:i])
	for _, r := range id[i:] {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	if u := unicode.ToUpper(r); u >= utf8.RuneSelf {
		return u
	}
	return r // ſ and ı upper-case to ASCII letters; .NET keeps them apart
}

// badIDRune returns the first control or invisible formatting character of
// s (Unicode categories Cc and Cf: newlines, escape codes, bidirectional
// overrides, zero-width characters), which an id must not hold: ids are
// printed in plans and URLs, where such characters can hide or fake text.
func badIDRune(s string) (rune, bool) {
	for _, r := range s {
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return r, true
		}
	}
	return 0, false
}
