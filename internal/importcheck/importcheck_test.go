package importcheck

import (
	"bytes"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/otelcol-amas/otelcol-amas"

// componentRoots are the folders whose packages shared code must not import.
var componentRoots = []string{"connector/", "processor/", "exporter/", "extension/"}

// violations reads `go list -f '{{.ImportPath}} {{join .Deps " "}}'` output and returns, sorted,
// "pkg imports dep" for every internal package that depends on a component package.
func violations(listing string) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(fields[0], module+"/internal/") {
			continue
		}
		for _, dep := range fields[1:] {
			rel, ok := strings.CutPrefix(dep, module+"/")
			if !ok {
				continue
			}
			for _, root := range componentRoots {
				if strings.HasPrefix(rel, root) {
					out = append(out, fields[0]+" imports "+dep)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestInternalImportsNoComponent(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, module+"/internal/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	require.Contains(t, string(out), module+"/internal/slomath ", "the listing covers the internal packages")
	assert.Empty(t, violations(string(out)), "shared packages under internal/ must not import components")
}

func TestViolationsFindsDirectAndTransitiveComponentImports(t *testing.T) {
	listing := strings.Join([]string{
		module + "/internal/a fmt " + module + "/internal/b " + module + "/processor/sloprocessor",
		module + "/internal/b " + module + "/connector/spanmetrics/internal/metadata",
		module + "/internal/c fmt " + module + "/internal/slomath",
		module + "/cmd/amas-slo/slorender " + module + "/processor/sloprocessor",
		module + "/internal/d " + module + "/exporter/alertexporter " + module + "/extension/slostatusextension",
	}, "\n")
	assert.Equal(t, []string{
		module + "/internal/a imports " + module + "/processor/sloprocessor",
		module + "/internal/b imports " + module + "/connector/spanmetrics/internal/metadata",
		module + "/internal/d imports " + module + "/exporter/alertexporter",
		module + "/internal/d imports " + module + "/extension/slostatusextension",
	}, violations(listing))
}
