package sloprocessor

import (
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/golden from the current output")

// TestGoldenTick compares a whole evaluation batch with a reviewed file: one grouped SLO with two
// agents, one of them failing hard enough to page, after two minutes on the fake clock. Its
// budget alerts page and need 100 events, so the overspent budget of the failing agent raises
// one within the two minutes (the alert exporter's tests read this file too).
func TestGoldenTick(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Alerting.BudgetMinEvents = 100
	cfg.Alerting.BudgetThresholds.Severity = BudgetSeverityConfig{Critical: "page", High: "page", Warning: "ticket"}
	slo := DefaultSLOs()[0]
	slo.GroupBy = []string{"gen_ai.agent.name"}
	slo.Window = 7 * 24 * time.Hour
	cfg.SLOs = []SLOConfig{slo}
	h := newHarness(t, cfg, nil, nil)
	defer h.shutdown()
	for range 12 {
		h.spans(makeSpans(append(repeat(20, spanSpec{agent: "planner", op: "invoke_agent"}),
			repeat(10, spanSpec{agent: "coder", op: "invoke_agent", err: true})...)...))
		h.tick(10 * time.Second)
	}
	got := h.tick(0)
	file := filepath.Join("testdata", "golden", "tick.yaml")
	if *update {
		require.NoError(t, golden.WriteMetrics(t, file, got))
	}
	want, err := golden.ReadMetrics(file)
	require.NoError(t, err)
	require.NoError(t, pmetrictest.CompareMetrics(want, got,
		pmetrictest.IgnoreMetricDataPointsOrder(), pmetrictest.IgnoreTimestamp(), pmetrictest.IgnoreStartTimestamp()))
}
