package checks

import (
	"bytes"
	"encoding/json"
	"strings"
)

// The App is stateless: what it must know later (who approved what, which
// plan a check run showed) it writes into its own comments and check runs
// as hidden markers, and reads back from them. A marker is one line of its
// own:
//
//	<!-- honua-gitops:<kind> <json> -->
//
// GitHub shows an HTML comment as nothing. Only whole lines are markers,
// and every renderer of this package escapes what it quotes (plan.MarkdownText
// writes '<' as "&lt;"; plan.MarkdownCode starts with '`' or "<code>"), so
// text from a pull request never starts a line with "<!--" and cannot forge
// one. The App must still read markers only from its own bot's comments.

// Bounds of ParseMarkers.
const (
	// MaxMarkers is the most markers ParseMarkers returns from one body.
	MaxMarkers = 32
	// MaxMarkerJSON is the most bytes of JSON one marker holds.
	MaxMarkerJSON = 16 << 10
	// maxMarkerKind is the longest kind.
	maxMarkerKind = 32
)

// The kinds of markers the App writes.
const (
	// MarkerPlanDigests ends the plan run's text: the head commit and each
	// environment's plan digest (see DigestsMarker).
	MarkerPlanDigests = "plan-digests"
	// MarkerApproval is an ApprovalRecord given by comment or button.
	MarkerApproval = "approval"
	// MarkerRejection is an ApprovalRecord of a rejection.
	MarkerRejection = "rejection"
	// MarkerDeployResult is a DeployResult (the answer that a deployment
	// ended), so that the App answers once.
	MarkerDeployResult = "deploy-result"
	// MarkerRollback is a RollbackRecord.
	MarkerRollback = "rollback"
)

const (
	markerPrefix = "<!-- honua-gitops:"
	markerSuffix = " -->"
)

// MarkerData is one marker read back: its kind and its JSON.
type MarkerData struct {
	Kind string
	JSON []byte
}

// Decode unmarshals the marker's JSON into v.
func (m MarkerData) Decode(v any) error { return json.Unmarshal(m.JSON, v) }

// Marker returns the marker line of kind holding v as JSON, to be written
// on a line of its own. kind is lowercase ASCII letters, digits and '-',
// starting with a letter, at most 32 bytes. It returns "" when kind is not
// such a name or v does not encode to at most MaxMarkerJSON bytes: a marker
// ParseMarkers would not read back is never written.
//
// The JSON is written with '<', '>' and '&' escaped (\u003c...), so the
// comment cannot end before the marker does.
func Marker(kind string, v any) string {
	if !validKind(kind) {
		return ""
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	// Encode ends with a newline; a json.RawMessage keeps its own layout,
	// so compact it to one line.
	var one bytes.Buffer
	if err := json.Compact(&one, bytes.TrimSpace(buf.Bytes())); err != nil {
		return ""
	}
	js := one.Bytes()
	if len(js) > MaxMarkerJSON || bytes.Contains(js, []byte("-->")) || !json.Valid(js) {
		return ""
	}
	return markerPrefix + kind + " " + string(js) + markerSuffix
}

// ParseMarkers returns the markers of body, in order: the lines that are
// exactly a marker (a trailing "\r" allowed), of a valid kind, with valid
// JSON of at most MaxMarkerJSON bytes. Anything else, a marker inside a
// line included, is ignored, and at most MaxMarkers are returned. body is
// outside input: a comment anyone may have written.
func ParseMarkers(body string) []MarkerData {
	var out []MarkerData
	for len(body) > 0 && len(out) < MaxMarkers {
		line := body
		if i := strings.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = ""
		}
		if m, ok := parseMarker(strings.TrimSuffix(line, "\r")); ok {
			out = append(out, m)
		}
	}
	return out
}

func parseMarker(line string) (MarkerData, bool) {
	rest, ok := strings.CutPrefix(line, markerPrefix)
	if !ok {
		return MarkerData{}, false
	}
	rest, ok = strings.CutSuffix(rest, markerSuffix)
	if !ok {
		return MarkerData{}, false
	}
	kind, js, ok := strings.Cut(rest, " ")
	if !ok || !validKind(kind) || len(js) > MaxMarkerJSON || strings.Contains(js, "-->") || !json.Valid([]byte(js)) {
		return MarkerData{}, false
	}
	// Valid JSON may still start or end with spaces; a marker is written
	// compact.
	if strings.TrimSpace(js) != js {
		return MarkerData{}, false
	}
	return MarkerData{Kind: kind, JSON: []byte(js)}, true
}

func validKind(k string) bool {
	if k == "" || len(k) > maxMarkerKind || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// planDigests is the JSON of a MarkerPlanDigests marker.
type planDigests struct {
	SHA     string            `json:"sha"`
	Digests map[string]string `json:"digests"`
}

// DigestsMarker returns the marker that ends the plan run's text: the head
// commit sha and each environment's plan digest (plan.Environment.Digest),
// by environment name. The App reads it back with ParseDigests to learn
// which plan a review of that commit approved. It returns "" when the
// digests do not fit in one marker (more than MaxMarkerJSON bytes, a few
// hundred environments): then no approval can be bound to a plan, and none
// counts.
func DigestsMarker(sha string, digests map[string]string) string {
	if digests == nil {
		digests = map[string]string{}
	}
	return Marker(MarkerPlanDigests, planDigests{SHA: sha, Digests: digests})
}

// ParseDigests reads the digests marker from text, a plan run's text as
// GitHub returns it. ok is false unless text holds exactly one such marker
// with a commit sha and digests that are 64 lowercase hex digits.
func ParseDigests(text string) (sha string, digests map[string]string, ok bool) {
	var found []MarkerData
	for _, m := range ParseMarkers(text) {
		if m.Kind == MarkerPlanDigests {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		return "", nil, false
	}
	var pd planDigests
	if err := found[0].Decode(&pd); err != nil || pd.SHA == "" {
		return "", nil, false
	}
	for env, d := range pd.Digests {
		if env == "" || !isDigest(d) {
			return "", nil, false
		}
	}
	if pd.Digests == nil {
		pd.Digests = map[string]string{}
	}
	return pd.SHA, pd.Digests, true
}

func isDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
