package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// fakeSource lists files and problems as a Source found them, and fails
// reads of the paths in readErr.
type fakeSource struct {
	files    map[string]string
	sizes    map[string]int64
	problems []config.Diagnostic
	listErr  error
	readErr  map[string]error
}

func (s *fakeSource) Name() string { return "fake" }

func (s *fakeSource) List(context.Context) ([]config.File, error) {
	if s.listErr != nil {
		return nil, s.listErr
	}
	var out []config.File
	for _, p := range sortedKeys(s.files) {
		out = append(out, config.File{Path: p, Size: s.sizes[p]})
	}
	if len(s.problems) > 0 {
		return out, &config.TreeError{Problems: s.problems}
	}
	return out, nil
}

func (s *fakeSource) Read(_ context.Context, p string) ([]byte, error) {
	if err := s.readErr[p]; err != nil {
		return nil, err
	}
	return []byte(s.files[p]), nil
}

// TestLoadSourceProblems checks which of the problems a source found in its
// tree make the policy fail closed: those under .gitops/, and those that
// may hide files there. Problems elsewhere are the plan's to report.
func TestLoadSourceProblems(t *testing.T) {
	problem := func(rule, file string) config.Diagnostic {
		return config.Diagnostic{Severity: config.SeverityError, File: file, Rule: rule, Message: file + " is a " + rule}
	}
	tooLarge := fmt.Errorf(".gitops/x is 2000000 bytes: %w", config.ErrFileTooLarge)
	tests := []struct {
		name    string
		src     fakeSource
		want    string // in the bundle's first error; "" for none
		loadErr string // in Load's error; "" for none
	}{
		{name: "symlink elsewhere", src: fakeSource{problems: []config.Diagnostic{problem("symlink", "environments/production/layers/x.yaml")}}},
		{name: "symlink under .gitops", src: fakeSource{problems: []config.Diagnostic{problem("symlink", ".gitops/policies/x.rego")}},
			want: ".gitops/policies/x.rego: error: .gitops/policies/x.rego is a symlink"},
		{name: ".gitops is a symlink", src: fakeSource{problems: []config.Diagnostic{problem("symlink", ".gitops")}},
			want: ".gitops: error: .gitops is a symlink"},
		{name: "a folder named like .gitops", src: fakeSource{problems: []config.Diagnostic{problem("symlink", ".gitopsx/y")}}},
		{name: "too many files", src: fakeSource{problems: []config.Diagnostic{problem("too-many-files", "environments/a/b.yaml")}},
			want: "the policy may be incomplete: environments/a/b.yaml is a too-many-files"},
		{name: "the root itself", src: fakeSource{problems: []config.Diagnostic{problem("symlink", "fake")}},
			want: "the policy may be incomplete: fake is a symlink"},
		{name: "policy file too large to read", src: fakeSource{files: map[string]string{PolicyFile: "x"}, readErr: map[string]error{PolicyFile: tooLarge}},
			want: ".gitops/deployment-policy.yaml:1:1: error: the file is over the limit of 1048576 bytes"},
		{name: "module listed too large", src: fakeSource{files: map[string]string{".gitops/policies/a.rego": "x"}, sizes: map[string]int64{".gitops/policies/a.rego": 2 << 20}},
			want: ".gitops/policies/a.rego:1:1: error: the file is over the limit of 1048576 bytes"},
		{name: "module read too large", src: fakeSource{files: map[string]string{".gitops/policies/a.rego": strings.Repeat("#", 2<<20)}},
			want: ".gitops/policies/a.rego:1:1: error: the file is over the limit"},
		{name: "test module too large is not policy", src: fakeSource{files: map[string]string{".gitops/policies/a_test.rego": "x"}, sizes: map[string]int64{".gitops/policies/a_test.rego": 2 << 20}}},
		{name: "other read error", src: fakeSource{files: map[string]string{PolicyFile: "x"}, readErr: map[string]error{PolicyFile: errors.New("disk on fire")}},
			loadErr: "reading .gitops/deployment-policy.yaml: disk on fire"},
		{name: "listing fails", src: fakeSource{listErr: errors.New("no such revision")}, loadErr: "listing the policy of fake: no such revision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Load(context.Background(), &tt.src)
			if tt.loadErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.loadErr) {
					t.Fatalf("Load error = %v, want %q", err, tt.loadErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			switch {
			case tt.want == "" && len(b.Errors) > 0:
				t.Errorf("bundle errors %v, want none", b.Errors)
			case tt.want != "" && (len(b.Errors) == 0 || !strings.Contains(b.Errors[0].String(), tt.want)):
				t.Errorf("bundle errors %v, want one containing %q", b.Errors, tt.want)
			case tt.want != "":
				v := evaluate(t, b, prodInput("2026-03-11T20:00:00Z"))
				if v.Allow || v.Deny[0].Rule != "policy-error" || !strings.Contains(v.Deny[0].Message, b.Errors[0].Message) {
					t.Errorf("verdict deny = %+v, want a policy-error naming the problem", v.Deny)
				}
			}
		})
	}
}
