package policy

import (
	"embed"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// builtinFS holds the built-in policy library and its tests.
//
//go:embed rego
var builtinFS embed.FS

// BuiltinFS returns the built-in policy library (rules, helpers and their
// _test.rego files) as files rooted at "honua/".
func BuiltinFS() fs.FS {
	sub, err := fs.Sub(builtinFS, "rego")
	if err != nil {
		panic(err)
	}
	return sub
}

// builtinPrefix names embedded modules in messages and locations, so that a
// built-in rule can never be mistaken for a file of the config repository.
const builtinPrefix = "builtin:"

type builtinSet struct {
	sources map[string]string // name → source; rules and tests
	rules   map[string]*ast.Module
	tests   map[string]*ast.Module
	err     error
}

var builtins = sync.OnceValue(func() *builtinSet {
	s := &builtinSet{sources: map[string]string{}, rules: map[string]*ast.Module{}, tests: map[string]*ast.Module{}}
	s.err = fs.WalkDir(BuiltinFS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".rego" {
			return err
		}
		b, err := fs.ReadFile(BuiltinFS(), p)
		if err != nil {
			return err
		}
		name := builtinPrefix + p
		m, err := ast.ParseModuleWithOpts(name, string(b), parserOptions)
		if err != nil {
			return err
		}
		s.sources[name] = string(b)
		if strings.HasSuffix(p, "_test.rego") {
			s.tests[name] = m
		} else {
			s.rules[name] = m
		}
		return nil
	})
	return s
})

var parserOptions = ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
