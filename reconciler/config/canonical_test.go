package config

import "testing"

func TestUnorderedList(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		path string
		want bool
	}{
		{"service keywords", KindService, "keywords", true},
		{"layer allowed content types", KindLayer, "attachments.allowedContentTypes", true},
		{"layer disallowed content types", KindLayer, "attachments.disallowedContentTypes", true},
		{"layer keywords are ordered", KindLayer, "keywords", false},
		{"catalog keywords are ordered", KindCatalog, "keywords", false},
		{"layer crs: the first is the default", KindLayer, "crs", false},
		{"style rules: drawing order", KindStyle, "rules", false},
		{"service additional CRS", KindService, "ogc.additionalCrs", false},
		{"service content types are no table entry", KindService, "attachments.allowedContentTypes", false},
		{"an unknown list is ordered", KindLayer, "x.y", false},
		{"no kind: every list is ordered", "", "keywords", false},
		{"the map holding a list is not a list", KindLayer, "attachments", false},
		{"a nested copy of the path is another place", KindLayer, "x.attachments.allowedContentTypes", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UnorderedList(tt.kind, tt.path); got != tt.want {
				t.Errorf("UnorderedList(%q, %q) = %v, want %v", tt.kind, tt.path, got, tt.want)
			}
		})
	}
}

func TestFieldPath(t *testing.T) {
	tests := []struct {
		name, parent, key, want string
	}{
		{"top level", "", "keywords", "keywords"},
		{"nested", "attachments", "allowedContentTypes", "attachments.allowedContentTypes"},
		{"in list elements", ElementPath("fields"), "name", "fields[].name"},
		{"a key with a dot cannot pass for a nested path", "", "attachments.allowedContentTypes", `["attachments.allowedContentTypes"]`},
		{"empty key", "a", "", `a[""]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FieldPath(tt.parent, tt.key); got != tt.want {
				t.Errorf("FieldPath(%q, %q) = %q, want %q", tt.parent, tt.key, got, tt.want)
			}
		})
	}
}

// TestDigestOf: an object's digest ignores what the server ignores (key
// order, number spelling, the order of the lists of the unordered table)
// and nothing else.
func TestDigestOf(t *testing.T) {
	types := func(ts ...any) map[string]any {
		return map[string]any{"id": "l", "attachments": map[string]any{"allowedContentTypes": ts}}
	}
	tests := []struct {
		name  string
		kind  Kind
		a, b  map[string]any
		equal bool
	}{
		{"key order and number spelling", KindLayer,
			map[string]any{"id": "l", "storage": map[string]any{"srid": int64(4326), "table": "t"}},
			map[string]any{"storage": map[string]any{"table": "t", "srid": 4326.0}, "id": "l"}, true},
		{"layer keywords reordered", KindLayer,
			map[string]any{"keywords": []any{"a", "b"}}, map[string]any{"keywords": []any{"b", "a"}}, false},
		{"layer fields reordered", KindLayer,
			map[string]any{"fields": []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}},
			map[string]any{"fields": []any{map[string]any{"name": "b"}, map[string]any{"name": "a"}}}, false},
		{"style rules reordered", KindStyle,
			map[string]any{"rules": []any{map[string]any{"id": "a"}, map[string]any{"id": "b"}}},
			map[string]any{"rules": []any{map[string]any{"id": "b"}, map[string]any{"id": "a"}}}, false},
		{"service keywords reordered", KindService,
			map[string]any{"keywords": []any{"a", "b", "c"}}, map[string]any{"keywords": []any{"c", "a", "b"}}, true},
		{"service keywords: a duplicate counts", KindService,
			map[string]any{"keywords": []any{"a", "a", "b"}}, map[string]any{"keywords": []any{"a", "b", "b"}}, false},
		{"layer content types reordered", KindLayer, types("image/png", "image/jpeg"), types("image/jpeg", "image/png"), true},
		{"layer content types of any shape reordered", KindLayer,
			types(map[string]any{"x": int64(1)}, []any{"a"}), types([]any{"a"}, map[string]any{"x": 1.0}), true},
		{"service content types are ordered", KindService, types("image/png", "image/jpeg"), types("image/jpeg", "image/png"), false},
		{"a literal dotted key is no table entry", KindLayer,
			map[string]any{"attachments.allowedContentTypes": []any{"a", "b"}},
			map[string]any{"attachments.allowedContentTypes": []any{"b", "a"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DigestOf(tt.kind, tt.a) == DigestOf(tt.kind, tt.b); got != tt.equal {
				t.Errorf("DigestOf(%s) equal = %v, want %v", tt.kind, got, tt.equal)
			}
		})
	}
}

// TestDigestWithoutKind: without a kind no list is known to be unordered,
// so Digest sees every reordering.
func TestDigestWithoutKind(t *testing.T) {
	a := map[string]any{"keywords": []any{"a", "b"}}
	b := map[string]any{"keywords": []any{"b", "a"}}
	if Digest(a) == Digest(b) {
		t.Errorf("Digest ignores the order of keywords without a kind")
	}
	if DigestOf(KindService, a) != DigestOf(KindService, b) {
		t.Errorf("DigestOf(service) sees the order of keywords")
	}
	if Digest(a) != DigestOf(KindLayer, a) {
		t.Errorf("Digest and DigestOf(layer) differ on a value without unordered lists")
	}
}
