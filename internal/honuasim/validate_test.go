package honuasim_test

import (
	"fmt"
	"testing"

	"github.com/honua-io/honua-gitops/internal/honuasim"
)

func FuzzValidate(f *testing.F) {
	f.Add(productionDoc(f))
	f.Add([]byte(`{"catalog":{"id":"c"},"folders":[],"dataSources":[],"services":[],"layers":[]}`))
	f.Add([]byte(`{"catalog":{"id":"c"},"folders":[{"id":"f"}],"dataSources":[{"id":"d","provider":"postgis","connectionString":"x"}],"services":[{"id":"s","folderId":"f","serviceType":"ogc","dataSourceId":"d"}],"layers":[{"id":"l","serviceId":"s","geometryType":"Point","idField":"id","geometryField":"g","styles":{"styleIds":["x"]},"extent":{"bbox":[1,2,3]}}],"rasterDatasets":[{"id":"r","layerId":"l","source":{"type":"a","uri":"b"}}]}`))
	f.Add([]byte(`[1, "x", null]`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		r := honuasim.Validate(doc)
		if r.OK() && r.Errors != nil {
			t.Fatal("OK with errors")
		}
	})
}

func BenchmarkValidate(b *testing.B) {
	doc := productionDoc(b)
	b.Run(fmt.Sprintf("sample=production/bytes=%d", len(doc)), func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if !honuasim.Validate(doc).OK() {
				b.Fatal("invalid")
			}
		}
	})
}
