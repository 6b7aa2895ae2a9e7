package githubsim

import (
	"fmt"
	"maps"
	"os"
	"sort"

	"gopkg.in/yaml.v3"
)

// manifestPermissions are the permissions of the repository's app.yml, the
// App's grant when Options.Permissions is nil. TestDefaultPermissionsMatchManifest
// keeps the two in step.
var manifestPermissions = map[string]string{
	"checks": "write", "deployments": "write", "pull_requests": "write", "issues": "write",
	"contents": "read", "metadata": "read", "actions": "write", "members": "read",
}

// manifestEvents are the events app.yml subscribes to, the App's
// subscription when Options.Events is nil.
var manifestEvents = []string{"check_run", "check_suite", "deployment_protection_rule", "deployment_review", "deployment_status", "issue_comment", "pull_request", "pull_request_review", "push", "workflow_run"}

// DefaultPermissions returns the permissions the emulator grants the App
// when Options.Permissions is nil: those of the repository's app.yml.
func DefaultPermissions() map[string]string { return maps.Clone(manifestPermissions) }

// DefaultEvents returns the events the App is subscribed to when
// Options.Events is nil: those of the repository's app.yml.
func DefaultEvents() []string { return append([]string(nil), manifestEvents...) }

type manifest struct {
	DefaultPermissions map[string]string `yaml:"default_permissions"`
	DefaultEvents      []string          `yaml:"default_events"`
}

func readManifest(path string) (*manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading App manifest: %w", err)
	}
	var m manifest
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parsing App manifest %s: %w", path, err)
	}
	return &m, nil
}

// ManifestPermissions reads default_permissions from a GitHub App manifest
// (the YAML of GitHub's manifest flow, such as the repository's app.yml).
func ManifestPermissions(path string) (map[string]string, error) {
	m, err := readManifest(path)
	if err != nil {
		return nil, err
	}
	if err := checkPermissions(m.DefaultPermissions); err != nil {
		return nil, fmt.Errorf("App manifest %s: %w", path, err)
	}
	return m.DefaultPermissions, nil
}

// ManifestEvents reads default_events from a GitHub App manifest, sorted.
func ManifestEvents(path string) ([]string, error) {
	m, err := readManifest(path)
	if err != nil {
		return nil, err
	}
	ev := append([]string(nil), m.DefaultEvents...)
	sort.Strings(ev)
	return ev, nil
}

// checkPermissions refuses levels GitHub does not have.
func checkPermissions(p map[string]string) error {
	for name, level := range p {
		if levelRank(level) == 0 {
			return fmt.Errorf("permission %s: level %q, want read, write or admin", name, level)
		}
	}
	return nil
}
