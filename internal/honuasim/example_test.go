package honuasim_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/honua-io/honua-gitops/internal/honuasim"
)

// A document whose layer names no service is refused on reload, and the
// server keeps the one it had.
func Example() {
	dir, _ := os.MkdirTemp("", "honuasim-example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "metadata.json")
	good := `{"catalog":{"id":"city"},"folders":[{"id":"base"}],
	 "dataSources":[{"id":"pg","provider":"postgis","connectionString":"Host=db"}],
	 "services":[{"id":"transportation","folderId":"base","serviceType":"FeatureServer","dataSourceId":"pg"}],
	 "layers":[{"id":"streets","serviceId":"transportation","geometryType":"LineString","idField":"objectid","geometryField":"geom",
	            "storage":{"table":"public.streets","srid":4326}}]}`
	_ = os.WriteFile(path, []byte(good), 0o600)

	s, err := honuasim.NewServer(honuasim.Options{MetadataPath: path, AdminToken: "s3cret"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	bad := `{"catalog":{"id":"city"},"folders":[],"dataSources":[],"services":[],
	 "layers":[{"id":"streets","serviceId":"transportation","geometryType":"LineString","idField":"objectid","geometryField":"geom",
	            "storage":{"table":"public.streets","srid":4326}}]}`
	_ = os.WriteFile(path, []byte(bad), 0o600)
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/admin/metadata/reload", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println("reload:", resp.StatusCode)
	fmt.Println("problems:", honuasim.Validate([]byte(bad)).Errors)

	resp, err = http.Get(s.URL() + "/ogc/collections/transportation::streets")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println("still served:", resp.StatusCode)
	// Output:
	// reload: 422
	// problems: [layers[0] (streets): serviceId "transportation" names no service]
	// still served: 200
}
