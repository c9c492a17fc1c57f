package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const defaultConfig = "../../config/otelcol-amas.yaml"

func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCommands(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"rules prints the Prometheus rule groups", []string{"rules", "--config", defaultConfig}, 0, "- alert: SLOErrorBudgetBurn"},
		{"definitions prints the resolved SLOs", []string{"definitions", "--config", defaultConfig}, 0, "name: agent_availability"},
		{"dashboards prints the dashboards as a JSON array", []string{"dashboards", "--config", defaultConfig}, 0, `"uid": "amas-slo-overview"`},
		{"a Jaeger URL flag goes into the trace links", []string{"dashboards", "--config", defaultConfig, "--jaeger-url", "https://jaeger.example"}, 0, "https://jaeger.example/trace/"},
		{"import-openslo prints processor configuration", []string{"import-openslo", "testdata/openslo_latency.yaml"}, 0, "end_time_unix_nano - start_time_unix_nano > 2000000000"},
		{"a missing configuration fails", []string{"rules", "--config", "nowhere.yaml"}, 1, ""},
		{"an unknown command fails with the usage", []string{"frobnicate"}, 2, ""},
		{"no command prints the usage", nil, 2, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, _ := runCLI(tc.args...)
			assert.Equal(t, tc.code, code)
			assert.Contains(t, out, tc.contains)
		})
	}
}

func TestRenderThenCheckDetectsADrift(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := runCLI("render", "--config", defaultConfig, "--out", dir)
	require.Equal(t, 0, code, errOut)
	for _, f := range []string{"slo_definitions.yaml", "prometheus_alerts.yaml", "grafana_dashboards.json", "grafana_datasource.yaml", "dashboards/amas-slo-overview.json"} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	code, _, errOut = runCLI("check", "--config", defaultConfig, "--out", dir)
	assert.Equal(t, 0, code, errOut)

	p := filepath.Join(dir, "prometheus_alerts.yaml")
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, []byte(strings.Replace(string(data), "14.4", "14", 1)), 0o644))
	code, _, errOut = runCLI("check", "--config", defaultConfig, "--out", dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "prometheus_alerts.yaml: differs")
}

func TestSeveralConfigFilesMergeInOrder(t *testing.T) {
	overlay := filepath.Join(t.TempDir(), "overlay.yaml")
	require.NoError(t, os.WriteFile(overlay, []byte(`
processors:
  slo:
    slos:
      - name: only_this_one
        objective: 0.99
        window: 168h
        sli:
          spans:
            conditions: ['attributes["gen_ai.operation.name"] == "execute_tool"']
            bad_conditions: ['status.code == STATUS_CODE_ERROR']
exporters:
  alert:
    jaeger_url: https://jaeger.overlay.example
`), 0o644))
	code, out, errOut := runCLI("definitions", "--config", defaultConfig, "--config", overlay)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "name: only_this_one")
	assert.NotContains(t, out, "agent_availability", "the overlay's slos list replaces the default six")
	assert.Contains(t, out, "source: connector", "maps merge: the base's amas_spanmetrics connector is still there")

	code, out, errOut = runCLI("dashboards", "--config", defaultConfig, "--config", overlay)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "https://jaeger.overlay.example/trace/", "the overlay's jaeger_url wins")
}
