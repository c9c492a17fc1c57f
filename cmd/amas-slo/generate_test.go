package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "regenerate config/observability from config/otelcol-amas.yaml")

// TestGeneratedFilesAreUpToDate is the CI check of config/observability: the files must be what
// `amas-slo render` writes for the distribution's default configuration. -update rewrites them.
func TestGeneratedFilesAreUpToDate(t *testing.T) {
	const root = "../.."
	files, err := renderFiles([]string{filepath.Join(root, "config/otelcol-amas.yaml")}, "config/otelcol-amas.yaml", "")
	require.NoError(t, err)
	dir := filepath.Join(root, "config/observability")
	if *update {
		for name, data := range files {
			require.NoError(t, writeFile(filepath.Join(dir, name), data))
		}
	}
	for _, name := range sortedNames(files) {
		have, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err, "config/observability/%s is missing: run `go test ./cmd/amas-slo -run TestGeneratedFilesAreUpToDate -update` (or make generate-observability)", name)
		assert.Equal(t, string(files[name]), string(have),
			"config/observability/%s is out of date with config/otelcol-amas.yaml: run `go test ./cmd/amas-slo -run TestGeneratedFilesAreUpToDate -update` (or make generate-observability) and commit the diff", name)
	}
	assert.Empty(t, Diff(files, dir))
}
