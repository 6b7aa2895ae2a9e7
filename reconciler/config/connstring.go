package config

import (
	"strings"
)

// Connection strings are parsed the way their drivers read them, so that
// validation and masking agree with what the driver will treat as a
// credential. Three forms are read:
//
//   - URLs (postgresql://user:password@host/db?key=value, also behind a
//     "jdbc:" prefix, and without a scheme: user:password@account/db):
//     the user information ends at the LAST '@' of the authority, as Go's
//     net/url and the MongoDB driver read it, so "u:p@ss@host" has the
//     password "p@ss". Query parameters are key=value pairs separated by
//     '&' or ';', and so are JDBC properties after the authority
//     (jdbc:sqlserver://host;password=x).
//   - ADO.NET and ODBC key=value pairs separated by ';' (when the string has
//     one outside quotes): a value may be quoted with " or ' (a doubled
//     quote is a quote) or, in ODBC, with braces ({pa;ss}, "}}" for '}');
//     an unquoted value runs to the next ';'. "==" in a key is '='.
//   - libpq keyword=value pairs separated by white space: a value may be
//     single-quoted, with \' and \\ escapes.
//
// Masking errs on the side of hiding: an unclosed quote hides the rest of
// the string, and a credential key=value written inside another value (a
// mistake no driver reads) is found and hidden too.

// connPart is one value of a connection string: the key it belongs to
// (normalised: lower case, without spaces, '_', '-' and '.'), and where its
// value is in the string.
type connPart struct {
	key        string
	start, end int
	// outerStart and outerEnd take in the value's quotes, and what follows
	// a closing quote that no driver reads: masking replaces all of it,
	// so that the masked string reads back cleanly. Zero means the same
	// as start and end.
	outerStart, outerEnd int
}

// outer returns the span that masking replaces.
func (p connPart) outer() (int, int) {
	if p.outerEnd == 0 {
		return p.start, p.end
	}
	return p.outerStart, p.outerEnd
}

// credentialSuffixes are the endings of keys whose values are credentials
// (after normalisation): "password" covers Password, SslPassword,
// keystore_password; "pwd" covers PWD and Snowflake's private_key_pwd;
// "accesskey" covers AWS's SecretAccessKey but not AccessKeyId.
var credentialSuffixes = []string{
	"password", "passwd", "pwd", "passphrase", "passcode",
	"secret", "token", "apikey", "accesskey", "accountkey", "privatekey",
	"masterkey", "signature", "credential", "credentials",
}

// credentialKeys are whole keys that carry credentials without one of the
// endings above: "sig" is an Azure SAS signature.
var credentialKeys = []string{"sig", "authorization"}

// CredentialKeys lists what makes a key a credential: the keys of
// credentialKeys and the endings of credentialSuffixes (any key ending in
// one of them is a credential), as normalised by IsCredentialKey. Tests and
// documentation list them from here.
func CredentialKeys() []string {
	return append(append([]string{}, credentialSuffixes...), credentialKeys...)
}

// IsCredentialKey reports whether a connection-string key or a mapping key
// names a credential. Case, spaces, '_', '-' and '.' do not matter:
// "Private Key Pwd", "private_key_pwd" and "privateKeyPwd" are one key.
// Validation (which refuses such values inline) and the plan's masking use
// this one definition.
func IsCredentialKey(key string) bool {
	// Called for every key of every object loaded: no allocation, and most
	// keys are rejected by their last letter.
	i := len(key)
	for i > 0 && isKeySeparator(key[i-1]) {
		i--
	}
	if i == 0 {
		return false
	}
	last := key[i-1]
	if last >= 'A' && last <= 'Z' {
		last += 'a' - 'A'
	}
	for _, c := range credentialByLast[last] {
		if rest, ok := cutNormalizedSuffix(key, c.text); ok && (!c.whole || isSeparators(rest)) {
			return true
		}
	}
	return false
}

// credential is an ending of credentialSuffixes, or a whole key of
// credentialKeys.
type credential struct {
	text  string
	whole bool
}

// credentialByLast holds the credentials by their last letter.
var credentialByLast = func() (t [256][]credential) {
	for _, s := range credentialSuffixes {
		t[s[len(s)-1]] = append(t[s[len(s)-1]], credential{text: s})
	}
	for _, k := range credentialKeys {
		t[k[len(k)-1]] = append(t[k[len(k)-1]], credential{text: k, whole: true})
	}
	return t
}()

// cutNormalizedSuffix reports whether key, normalised as normalizeKey
// does, ends with suffix (lower case, without separators), and returns
// what precedes it.
func cutNormalizedSuffix(key, suffix string) (string, bool) {
	i := len(key)
	for j := len(suffix) - 1; j >= 0; j-- {
		for i > 0 && isKeySeparator(key[i-1]) {
			i--
		}
		if i == 0 {
			return "", false
		}
		c := key[i-1]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != suffix[j] {
			return "", false
		}
		i--
	}
	return key[:i], true
}

func isKeySeparator(c byte) bool { return c == ' ' || c == '_' || c == '-' || c == '.' || c == '\t' }

func isSeparators(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isKeySeparator(s[i]) {
			return false
		}
	}
	return true
}

func normalizeKey(k string) string {
	var b strings.Builder
	b.Grow(len(k))
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == ' ' || c == '_' || c == '-' || c == '.' || c == '\t':
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// connectionParts returns the values of a connection string with the keys
// they belong to, in order. URL parts are keyed "user", "password" and
// "host".
func connectionParts(cs string) []connPart {
	if start, ok := urlStart(cs); ok {
		return urlParts(cs, start)
	}
	if hasUnquotedSemicolon(cs) {
		return adoParts(cs)
	}
	if i := strings.IndexByte(cs, '@'); i > 0 && !strings.ContainsAny(cs[:i], "=; \t") && strings.Contains(cs[:i], ":") {
		return urlParts(cs, 0) // user:password@account/db, as Snowflake's Go DSN
	}
	return libpqParts(cs)
}

// urlStart returns where the authority of a URL begins: after
// "scheme://" (schemes may be stacked, as in jdbc:postgresql://).
func urlStart(cs string) (int, bool) {
	i := 0
	for {
		j := i
		for j < len(cs) && (isAlnum(cs[j]) || j > i && (cs[j] == '+' || cs[j] == '.' || cs[j] == '-')) {
			j++
		}
		if j == i || j >= len(cs) || cs[j] != ':' || !isLetter(cs[i]) {
			return 0, false
		}
		if strings.HasPrefix(cs[j:], "://") {
			return j + 3, true
		}
		i = j + 1
	}
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool  { return isLetter(c) || c >= '0' && c <= '9' }

// urlParts reads the URL whose authority starts at start.
func urlParts(cs string, start int) []connPart {
	var parts []connPart
	rest := cs[start:]
	// The authority ends at the first '/', '?', '#' or ';'; its user
	// information at its last '@'. A password holding one of those
	// characters (which drivers cannot read unencoded) would end the
	// authority early: then the last '@' before the query is taken, so
	// that the password is hidden rather than shown.
	end := strings.IndexAny(rest, "/?#;")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if at < 0 {
		q := strings.IndexAny(rest, "?#")
		if q < 0 {
			q = len(rest)
		}
		if a := strings.LastIndexByte(rest[:q], '@'); a >= 0 && strings.Contains(rest[:a], ":") {
			at = a
			if end = strings.IndexAny(rest[a:], "/?#;"); end < 0 {
				end = len(rest)
			} else {
				end += a
			}
		}
	}
	host := 0
	if at >= 0 {
		user := rest[:at]
		if c := strings.IndexByte(user, ':'); c >= 0 {
			parts = append(parts, connPart{key: "user", start: start, end: start + c}, connPart{key: "password", start: start + c + 1, end: start + at})
		} else {
			parts = append(parts, connPart{key: "user", start: start, end: start + at})
		}
		host = at + 1
	}
	parts = append(parts, connPart{key: "host", start: start + host, end: start + end})
	// What follows the authority: a path, then key=value parameters after
	// '?' (or ';' in JDBC).
	tail := end
	if p := strings.IndexAny(rest[end:], "?;"); p >= 0 {
		tail = end + p + 1
		parts = append(parts, splitPairs(cs, start+tail, len(cs), "&;")...)
	}
	return parts
}

// splitPairs reads key=value pairs of cs[from:to] separated by any of seps,
// unquoted (URL parameters).
func splitPairs(cs string, from, to int, seps string) []connPart {
	var parts []connPart
	for i := from; i < to; {
		j := i
		for j < to && !strings.ContainsRune(seps, rune(cs[j])) {
			j++
		}
		if eq := strings.IndexByte(cs[i:j], '='); eq > 0 {
			parts = append(parts, connPart{key: normalizeKey(cs[i : i+eq]), start: i + eq + 1, end: j})
		}
		i = j + 1
	}
	return parts
}

// hasUnquotedSemicolon reports whether cs has a ';' that is not inside a
// quoted value, or a " or { quote that is never closed: the ADO.NET and
// ODBC form. A quote opens a value only right after '=' (spaces aside).
func hasUnquotedSemicolon(cs string) bool {
	var quote byte
	afterEq := false
	for i := 0; i < len(cs); i++ {
		c := cs[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case (c == '"' || c == '\'' || c == '{') && afterEq:
			quote = c
			if c == '{' {
				quote = '}'
			}
		case c == ';':
			return true
		}
		if c != ' ' && c != '\t' {
			afterEq = c == '=' && quote == 0
		}
	}
	// A double quote or brace that never closes is ADO.NET's or ODBC's
	// (libpq quotes with ' only): read so, the rest is the value.
	return quote == '"' || quote == '}'
}

// adoParts reads key=value pairs separated by ';' with ADO.NET and ODBC
// quoting.
func adoParts(cs string) []connPart {
	var parts []connPart
	i := 0
	for i < len(cs) {
		for i < len(cs) && (cs[i] == ';' || cs[i] == ' ' || cs[i] == '\t') {
			i++
		}
		// The key runs to the first '=' that is not doubled.
		var key strings.Builder
		j := i
		for j < len(cs) && cs[j] != ';' {
			if cs[j] == '=' {
				if j+1 < len(cs) && cs[j+1] == '=' {
					key.WriteByte('=')
					j += 2
					continue
				}
				break
			}
			key.WriteByte(cs[j])
			j++
		}
		if j >= len(cs) || cs[j] != '=' {
			i = j + 1 // a segment without '=': nothing to read
			continue
		}
		j++
		for j < len(cs) && (cs[j] == ' ' || cs[j] == '\t') {
			j++
		}
		p, next := adoValue(cs, j)
		p.key = normalizeKey(key.String())
		parts = append(parts, p)
		i = next
	}
	return parts
}

// adoValue reads the value starting at i, and where the next pair starts.
func adoValue(cs string, i int) (connPart, int) {
	if i < len(cs) && (cs[i] == '"' || cs[i] == '\'' || cs[i] == '{') {
		closer := cs[i]
		if closer == '{' {
			closer = '}'
		}
		for j := i + 1; j < len(cs); j++ {
			if cs[j] != closer {
				continue
			}
			if j+1 < len(cs) && cs[j+1] == closer {
				j++ // a doubled quote is a quote
				continue
			}
			k := j + 1
			for k < len(cs) && cs[k] != ';' {
				k++
			}
			// What follows the closing quote, up to the next ';', no
			// driver reads: it is hidden with the value.
			outerEnd := j + 1
			if strings.TrimSpace(cs[j+1:k]) != "" {
				outerEnd = k
			}
			return connPart{start: i + 1, end: j, outerStart: i, outerEnd: outerEnd}, k + 1
		}
		// Unclosed: the rest is the value.
		return connPart{start: i + 1, end: len(cs), outerStart: i, outerEnd: len(cs)}, len(cs)
	}
	j := i
	for j < len(cs) && cs[j] != ';' {
		j++
	}
	e := j
	for e > i && (cs[e-1] == ' ' || cs[e-1] == '\t') {
		e--
	}
	return connPart{start: i, end: e}, j + 1
}

// libpqParts reads libpq's keyword = value pairs separated by white space.
func libpqParts(cs string) []connPart {
	var parts []connPart
	i := 0
	space := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for i < len(cs) {
		for i < len(cs) && space(cs[i]) {
			i++
		}
		k := i
		for i < len(cs) && !space(cs[i]) && cs[i] != '=' {
			i++
		}
		key := cs[k:i]
		for i < len(cs) && space(cs[i]) {
			i++
		}
		if i >= len(cs) || cs[i] != '=' || key == "" {
			if i < len(cs) && cs[i] == '=' {
				i++ // '=' without a key
			}
			continue // a word without '=': not a pair
		}
		i++
		for i < len(cs) && space(cs[i]) {
			i++
		}
		// libpq quotes with ' only; a value that starts with " is read as
		// quoted too, so that what its author meant as the value is
		// hidden whole.
		if i < len(cs) && (cs[i] == '\'' || cs[i] == '"') {
			q := cs[i]
			s := i + 1
			j := s
			for j < len(cs) && cs[j] != q {
				if cs[j] == '\\' {
					j++
				}
				j++
			}
			// What is glued to the closing quote libpq does not read:
			// it is hidden with the value.
			k := min(j+1, len(cs))
			for k < len(cs) && !space(cs[k]) {
				k++
			}
			parts = append(parts, connPart{key: normalizeKey(key), start: s, end: min(j, len(cs)), outerStart: s - 1, outerEnd: k})
			i = k
			continue
		}
		s := i
		for i < len(cs) && !space(cs[i]) {
			if cs[i] == '\\' {
				i++
			}
			i++
		}
		i = min(i, len(cs))
		parts = append(parts, connPart{key: normalizeKey(key), start: s, end: i})
	}
	return parts
}

// credentialSpans returns the spans of cs that hold credentials: the values
// of credential keys, and the password of a URL. A credential key=value
// inside another value (Host=db Password=x;...) counts too, so that a
// string no driver reads the way its author meant still has its secret
// found.
func credentialSpans(cs string) []connPart {
	var out []connPart
	for _, p := range connectionParts(cs) {
		if IsCredentialKey(p.key) {
			out = append(out, p)
			continue
		}
		if !strings.Contains(cs[p.start:p.end], "=") {
			continue
		}
		for _, q := range libpqParts(cs[p.start:p.end]) {
			if IsCredentialKey(q.key) {
				os, oe := q.outer()
				out = append(out, connPart{key: q.key, start: p.start + q.start, end: p.start + q.end, outerStart: p.start + os, outerEnd: p.start + oe})
			}
		}
	}
	return out
}

// inlineSecrets returns the keys of the credentials of a connection string
// whose value is not empty and not one whole ${NAME} reference.
func inlineSecrets(cs string) []string {
	var found []string
	for _, p := range credentialSpans(cs) {
		v := strings.TrimSpace(cs[p.start:p.end])
		if v != "" && !isSecretRef(v) {
			found = append(found, p.key)
		}
	}
	return found
}

// Redacted is what stands for a hidden secret.
const Redacted = "***"

// RedactConnectionString returns cs with every credential that is not a
// ${NAME} reference replaced by ***. Everything else is kept: the reviewer
// sees which host, database and reference a connection uses.
func RedactConnectionString(cs string) string {
	// A masked string can read differently from the original (a hidden
	// quote or ';' no longer splits it): mask again until it reads the
	// same, so that no reading of the result shows a credential.
	out := redactOnce(cs)
	for range 8 {
		next := redactOnce(out)
		if next == out {
			return out
		}
		out = next
	}
	if spans := credentialSpans(out); len(spans) > 0 {
		s, _ := spans[0].outer()
		return out[:s] + Redacted
	}
	return out
}

func redactOnce(cs string) string {
	spans := credentialSpans(cs)
	if len(spans) == 0 {
		return cs
	}
	var b strings.Builder
	last := 0
	for _, p := range spans {
		os, oe := p.outer()
		if os < last {
			continue // nested in a span already hidden
		}
		v := strings.TrimSpace(cs[p.start:p.end])
		if v == "" || isSecretRef(v) {
			continue
		}
		b.WriteString(cs[last:os])
		b.WriteString(Redacted)
		last = oe
	}
	b.WriteString(cs[last:])
	return b.String()
}
