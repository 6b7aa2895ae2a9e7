package honuasim_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/honua-io/honua-gitops/internal/honuasim"
	"github.com/honua-io/honua-gitops/reconciler/config"
	"github.com/honua-io/honua-gitops/samples"
)

const adminToken = "admin-s3cret"

// sampleDocs renders every environment of an embedded sample as the runner
// will: the config model's Render, secrets filled.
func sampleDocs(t testing.TB, sample string) map[string][]byte {
	t.Helper()
	fsys, err := samples.FS(sample)
	if err != nil {
		t.Fatal(err)
	}
	st, err := config.NewLoader(config.DefaultLimits).Load(context.Background(), &config.FSSource{FS: fsys, Label: sample})
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string][]byte{}
	for _, name := range st.EnvironmentNames() {
		doc, err := config.RenderJSON(st.Environments[name], func(string) (string, bool) { return "s3cret", true })
		if err != nil {
			t.Fatalf("rendering %s/%s: %v", sample, name, err)
		}
		docs[name] = doc
	}
	if len(docs) == 0 {
		t.Fatalf("sample %s has no environments", sample)
	}
	return docs
}

// productionDoc is the rendered production document of samples/config.
func productionDoc(t testing.TB) []byte {
	t.Helper()
	return sampleDocs(t, "config")["production"]
}

// collectionIDs lists serviceId::layerId for every layer of a document.
func collectionIDs(t testing.TB, doc []byte) []string {
	t.Helper()
	var top struct {
		Layers []struct{ ID, ServiceID string } `json:"layers"`
	}
	if err := json.Unmarshal(doc, &top); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range top.Layers {
		ids = append(ids, l.ServiceID+"::"+l.ID)
	}
	return ids
}

// mutate decodes doc, lets f change it, and encodes it again.
func mutate(t testing.TB, doc []byte, f func(top map[string]any)) []byte {
	t.Helper()
	var top map[string]any
	if err := json.Unmarshal(doc, &top); err != nil {
		t.Fatal(err)
	}
	f(top)
	out, err := json.Marshal(top)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func item(top map[string]any, key string, i int) map[string]any {
	return top[key].([]any)[i].(map[string]any)
}

// newSim starts a server whose metadata file holds doc (none when nil).
func newSim(t testing.TB, doc []byte) (*honuasim.Server, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "metadata.json")
	if doc != nil {
		writeDoc(t, path, doc)
	}
	return honuasim.New(t, honuasim.Options{MetadataPath: path, AdminToken: adminToken}), path
}

func writeDoc(t testing.TB, path string, doc []byte) {
	t.Helper()
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
}

type answer struct {
	Status int
	Body   map[string]any
	Raw    string
}

// call makes a request; token "" sends no Authorization header.
func call(t testing.TB, method, url, token string, body []byte) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{Status: resp.StatusCode, Raw: string(raw)}
	_ = json.Unmarshal(raw, &a.Body) // some answers are not objects
	return a
}

func reload(t testing.TB, s *honuasim.Server) answer {
	t.Helper()
	return call(t, http.MethodPost, s.URL()+"/admin/metadata/reload", adminToken, nil)
}

func get(t testing.TB, url string) answer {
	t.Helper()
	return call(t, http.MethodGet, url, "", nil)
}

func removeFile(path string) error { return os.Remove(path) }

// newOpenSim starts a server with no admin token configured.
func newOpenSim(t testing.TB, path string) *honuasim.Server {
	t.Helper()
	return honuasim.New(t, honuasim.Options{MetadataPath: path})
}

// newServer starts and closes a server, for its error.
func newServer(path string) (*honuasim.Server, error) {
	s, err := honuasim.NewServer(honuasim.Options{MetadataPath: path})
	if err == nil {
		s.Close()
	}
	return s, err
}
