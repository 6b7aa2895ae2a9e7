// Package configgen generates large, valid Honua config repositories for
// benchmarks and load tests: N layers spread over services, with styles and
// three environments, committed to a real git repository.
package configgen

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Repo is a generated git repository with two commits: Base, and Head which
// changes Changed layer files of Base.
type Repo struct {
	Dir     string
	Base    string
	Head    string
	Layers  int
	Changed int
}

const services = 20

// Generate writes a config repository of layers layers into dir, commits it,
// changes changed layer files (titles, and a geometry type in every fifth)
// and commits again. It needs the git command.
func Generate(dir string, layers, changed int) (*Repo, error) {
	if err := WriteTree(dir, layers); err != nil {
		return nil, err
	}
	r := &Repo{Dir: dir, Layers: layers, Changed: changed}
	if err := git(dir, "init", "-q", "-b", "main"); err != nil {
		return nil, err
	}
	var err error
	if r.Base, err = commit(dir, "base"); err != nil {
		return nil, err
	}
	for i := 0; i < changed; i++ {
		n := i * (layers / max(changed, 1))
		geom := "Polygon"
		if i%5 == 0 {
			geom = "MultiPolygon"
		}
		if err := write(dir, LayerPath(n), Layer(n, geom, " (revised)")); err != nil {
			return nil, err
		}
	}
	if r.Head, err = commit(dir, "change"); err != nil {
		return nil, err
	}
	// A repository cloned from GitHub is packed; so is this one.
	if err := git(dir, "repack", "-a", "-d", "-q"); err != nil {
		return nil, err
	}
	if err := git(dir, "prune-packed"); err != nil {
		return nil, err
	}
	return r, nil
}

// WriteTree writes the files of a config repository of layers layers into
// dir (the tree of Generate's Base), without git: for callers that commit
// it elsewhere, such as the GitHub emulator.
func WriteTree(dir string, layers int) error {
	if err := write(dir, "environments/common/metadata.yaml", commonMetadata()); err != nil {
		return err
	}
	for _, env := range []string{"development", "staging", "production"} {
		if err := write(dir, "environments/"+env+"/metadata.yaml", fmt.Sprintf("catalog:\n  id: bench-%s\n  title: Benchmark %s\n", env, env)); err != nil {
			return err
		}
		ds := fmt.Sprintf("dataSources:\n  - id: pg\n    provider: postgis\n    connectionString: \"Host=pg-%s;Database=gis;Username=honua;Password=${PG_PASSWORD}\"\n", env)
		if err := write(dir, "environments/"+env+"/datasources.yaml", ds); err != nil {
			return err
		}
	}
	for i := 0; i < services; i++ {
		style := fmt.Sprintf("id: style-%02d\ntitle: Style %d\nformat: mvp-style\ngeometryType: Polygon\nrenderer: simple\nsimple:\n  fillColor: \"#%06x\"\n  strokeColor: \"#333333\"\n  strokeWidth: 1\n  opacity: 0.8\n", i, i, i*40503%0xffffff)
		if err := write(dir, fmt.Sprintf("environments/common/styles/style-%02d.yaml", i), style); err != nil {
			return err
		}
	}
	for i := 0; i < layers; i++ {
		if err := write(dir, LayerPath(i), Layer(i, "Polygon", "")); err != nil {
			return err
		}
	}
	return nil
}

// LayerPath is the path of generated layer i in the repository.
func LayerPath(i int) string { return fmt.Sprintf("environments/common/layers/layer-%05d.yaml", i) }

func commonMetadata() string {
	var b strings.Builder
	b.WriteString("folders:\n")
	for i := 0; i < 4; i++ {
		fmt.Fprintf(&b, "  - id: folder-%d\n    title: Folder %d\n", i, i)
	}
	b.WriteString("services:\n")
	for i := 0; i < services; i++ {
		fmt.Fprintf(&b, "  - id: svc-%02d\n    title: Service %d\n    folderId: folder-%d\n    serviceType: FeatureServer\n    dataSourceId: pg\n    ogc:\n      collectionsEnabled: true\n      itemLimit: 1000\n", i, i, i%4)
	}
	return b.String()
}

// Layer returns the YAML of generated layer i.
func Layer(i int, geometryType, titleSuffix string) string {
	return fmt.Sprintf(`id: layer-%05d
serviceId: svc-%02d
title: Layer %d%s
description: Generated layer %d for benchmarks.
geometryType: %s
idField: objectid
displayField: name
geometryField: geom
crs: [EPSG:4326, EPSG:3857]
extent:
  bbox: [[-157.78, 21.36, -157.70, 21.43]]
  crs: http://www.opengis.net/def/crs/OGC/1.3/CRS84
query:
  maxRecordCount: 1000
storage:
  table: gis.layer_%05d
  geometryColumn: geom
  primaryKey: objectid
  srid: 4326
  crs: EPSG:4326
fields:
  - {name: objectid, type: int64, storageType: bigint, nullable: false}
  - {name: name, type: string, storageType: text, maxLength: 120}
  - {name: category, type: string, storageType: text}
  - {name: area_m2, type: double, storageType: double precision}
  - {name: updated_at, type: date, storageType: timestamp}
styles:
  defaultStyleId: style-%02d
  styleIds: [style-%02d]
minScale: 100000
maxScale: 0
`, i, i%services, i, titleSuffix, i, geometryType, i, i%services, i%services)
}

func write(dir, p, content string) error {
	full := filepath.Join(dir, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	return os.WriteFile(full, []byte(content), 0o644)
}

func commit(dir, msg string) (string, error) {
	if err := git(dir, "add", "-A"); err != nil {
		return "", err
	}
	if err := git(dir, "commit", "-q", "-m", msg); err != nil {
		return "", err
	}
	out, err := gitOut(dir, "rev-parse", "HEAD")
	return strings.TrimSpace(out), err
}

func git(dir string, args ...string) error {
	_, err := gitOut(dir, args...)
	return err
}

func gitOut(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@example.com",
		"GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// DiffTree runs `git diff-tree -r` between the two commits: the floor the
// plan is measured against.
func (r *Repo) DiffTree() (string, error) {
	return gitOut(r.Dir, "diff-tree", "-r", r.Base, r.Head)
}
