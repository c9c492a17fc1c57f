package main

import (
	"bytes"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// centralRules is the rule file of the central Prometheus in docs/deploy.md, rendered with
// --mode central from the replicas' configuration.
const centralRules = "deploy/central/prometheus_rules.yaml"

var centralConfigs = []string{"config/otelcol-amas.yaml", "deploy/replica/slo-by-service.yaml"}

// TestCentralRulesAreUpToDate holds deploy/central/prometheus_rules.yaml to what
// `amas-slo rules --mode central` writes for the replicas' configuration and checks it with
// promtool; -update rewrites it.
func TestCentralRulesAreUpToDate(t *testing.T) {
	// From the repository root, as `make generate-observability` runs it: the header names the
	// configurations as given.
	t.Chdir("../..")
	var stdout, stderr bytes.Buffer
	args := []string{"rules", "--mode", "central"}
	for _, c := range centralConfigs {
		args = append(args, "--config", c)
	}
	require.Equal(t, 0, run(args, &stdout, &stderr), stderr.String())
	want := stdout.Bytes()
	path := centralRules
	if *update {
		require.NoError(t, writeFile(path, want))
	}
	have, err := os.ReadFile(path)
	require.NoError(t, err, "%s is missing: run `go test ./cmd/amas-slo -run TestCentralRulesAreUpToDate -update`", centralRules)
	assert.Equal(t, string(want), string(have),
		"%s is out of date with %v: run `go test ./cmd/amas-slo -run TestCentralRulesAreUpToDate -update` and commit the diff", centralRules, centralConfigs)

	promtool, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool is needed: apt-get install prometheus")
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	assert.NoError(t, err, "promtool check rules:\n%s", out)
}

func TestAnUnknownModeIsRefused(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 1, run([]string{"rules", "--mode", "sloth", "--config", "../../config/otelcol-amas.yaml"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), `mode: must be "direct" or "central", got "sloth"`)
}
