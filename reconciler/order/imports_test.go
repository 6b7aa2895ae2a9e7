package order

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestImports: the runner imports this package to verify orders, so it
// must not bring in the App, the checks or the policy engine, nor talk to
// the network.
func TestImports(t *testing.T) {
	forbidden := []string{
		"github.com/honua-io/honua-gitops/app", "github.com/honua-io/honua-gitops/checks",
		"github.com/honua-io/honua-gitops/policy", "github.com/google/go-github/", "net/http",
	}
	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f.Name(), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			for _, bad := range forbidden {
				// An entry ending in "/" forbids the packages under it.
				if path == bad || strings.HasSuffix(bad, "/") && strings.HasPrefix(path, bad) {
					t.Errorf("%s imports %s", f.Name(), path)
				}
			}
		}
	}
}
