package config

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes files (path → content) under a new temporary directory.
func writeTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func loadTree(t testing.TB, files map[string]string) *State {
	t.Helper()
	st, err := NewLoader(Limits{}).Load(context.Background(), NewDirSource(writeTree(t, files), Limits{}))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// minimal is a valid one-environment repository; tests change one file.
func minimal() map[string]string {
	return map[string]string{
		"environments/common/metadata.yaml": `folders:
  - id: transportation
    title: Transportation
services:
  - id: roads
    folderId: transportation
    serviceType: FeatureServer
    dataSourceId: pg
`,
		"environments/prod/metadata.yaml": `catalog:
  id: city-prod
  title: City
`,
		"environments/prod/datasources.yaml": `dataSources:
  - id: pg
    provider: postgis
    connectionString: "Host=db;Username=gis;Password=${PG_PASSWORD}"
`,
		"environments/common/layers/streets.yaml": `id: streets
serviceId: roads
title: Streets
geometryType: LineString
idField: objectid
geometryField: geom
storage:
  table: public.streets
  srid: 4326
  crs: EPSG:4326
fields:
  - name: objectid
    type: int64
  - name: name
    type: string
styles:
  defaultStyleId: line
  styleIds: [line]
`,
		"environments/common/styles/line.yaml": `id: line
format: mvp-style
geometryType: LineString
renderer: simple
simple:
  strokeColor: "#333333"
  strokeWidth: 2
`,
	}
}

// allDiagnostics returns every diagnostic of st as strings.
func allDiagnostics(st *State) []string {
	var out []string
	for _, d := range st.Diagnostics {
		out = append(out, d.String())
	}
	for _, n := range st.EnvironmentNames() {
		for _, d := range st.Environments[n].Diagnostics {
			out = append(out, d.String())
		}
	}
	return out
}

func findDiagnostic(st *State, substr string) (string, bool) {
	for _, d := range allDiagnostics(st) {
		if strings.Contains(d, substr) {
			return d, true
		}
	}
	return "", false
}
