// Package samples embeds the sample config repositories: samples/config, a
// city's Honua configuration, and samples/config-next, the same repository
// after a pull request. The CLI, the demo and the tests use them.
package samples

import (
	"embed"
	"io/fs"
)

//go:embed all:config all:config-next
var files embed.FS

// Names lists the embedded samples.
var Names = []string{"config", "config-next"}

// FS returns the embedded sample called name ("config" or "config-next").
func FS(name string) (fs.FS, error) {
	return fs.Sub(files, name)
}
