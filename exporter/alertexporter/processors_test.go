package alertexporter

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
)

// The golden outputs of the slo and regression processors: what they emit on a tick where
// alerts fire (each processor's own test compares its output with these files, so they are the
// processors' real output, sibling metrics and amas_alerts together in one batch).
var processorGoldens = []string{
	filepath.Join("..", "..", "processor", "sloprocessor", "testdata", "golden", "tick.yaml"),
	filepath.Join("..", "..", "processor", "regressionprocessor", "testdata", "golden", "two_regressions.yaml"),
}

func slackFields(att slackAttachment) map[string]string {
	out := map[string]string{}
	for _, f := range att.Fields {
		out[f.Title] = f.Value
	}
	return out
}

// TestTheProcessorsRealOutputBecomesSlackMessagesWithTheirNumbers feeds the processors' output,
// as the default pipeline hands it to the exporter, and reads the Slack messages.
func TestTheProcessorsRealOutputBecomesSlackMessagesWithTheirNumbers(t *testing.T) {
	r := newRecorder(t)
	clk := clockwork.NewFakeClockAt(t0)
	cfg := testConfig(r.srv.URL)
	cfg.Receivers = []ReceiverConfig{{Name: "chat", Slack: &SlackConfig{WebhookURL: configopaque.String(r.srv.URL + "/services/T/B/X")}}}
	cfg.Route.Receiver = "chat"
	e := startExporter(t, cfg, clk, nil)
	for _, path := range processorGoldens {
		md, err := golden.ReadMetrics(path)
		require.NoError(t, err, path)
		consume(t, e, md)
	}
	clk.Advance(cfg.Route.GroupWait)
	e.tick(ctx())
	require.Eventually(t, func() bool { return len(r.received()) == len(e.groups) && len(e.groups) > 0 }, 10*time.Second, 5*time.Millisecond)

	byTitle := map[string][]slackAttachment{}
	for _, b := range r.received() {
		var m slackMessage
		require.NoError(t, json.Unmarshal(b, &m))
		for _, att := range m.Attachments {
			byTitle[att.Title] = append(byTitle[att.Title], att)
		}
	}

	burnAtts := byTitle["Firing: SLOErrorBudgetBurn for SLO agent_availability (critical)"]
	require.Len(t, burnAtts, 3, "the three burn-rate rules firing for the coder agent: %v", keys(byTitle))
	var burnRates []string
	for _, att := range burnAtts {
		f := slackFields(att)
		assert.Equal(t, "agent_availability", f["SLO"])
		assert.Equal(t, "critical", f["Severity"])
		assert.Equal(t, "-19900.00%", f["Budget remaining"], "joined from amas_slo_error_budget_remaining_percent{slo, gen_ai.agent.name=coder}")
		assert.Contains(t, att.Text, "Error budget remaining: -19900.00%.")
		assert.Contains(t, att.Text, "Burn rate: "+f["Burn rate"]+".")
		burnRates = append(burnRates, f["Burn rate"])
	}
	// Joined from amas_slo_error_budget_burn_rate{slo, gen_ai.agent.name=coder, window}: each
	// rule shows the burn rates of its own two windows, not all nine the SLO has.
	// (the hard-down page has one window, 1m, as both of its windows).
	assert.ElementsMatch(t, []string{"1m: 200.00×", "5m: 200.00×, 1h: 200.00×", "30m: 200.00×, 6h: 200.00×"}, burnRates)
	low := byTitle["Firing: SLOErrorBudgetLow for SLO agent_availability (critical)"]
	require.Len(t, low, 1)
	assert.Equal(t, "-19900.00%", slackFields(low[0])["Budget remaining"])

	var regs []slackAttachment
	for title, atts := range byTitle {
		if strings.Contains(title, "PerformanceRegression") {
			regs = append(regs, atts...)
		}
	}
	require.Len(t, regs, 2, "latency for the planner, error rate for the critic: %v", keys(byTitle))
	figures := map[string]string{}
	for _, att := range regs {
		f := slackFields(att)
		assert.Equal(t, "warning", f["Severity"])
		figures[f["Operation"]] = f["Current vs baseline"]
	}
	// Joined from amas_performance_regression_{current,baseline,ratio}{operation, type[, quantile]}.
	assert.Equal(t, map[string]string{
		"shop/planner/invoke_agent": "p95 1.82s vs 0.886s, p99 2.51s vs 1.32s (2.06×)",
		"shop/critic/invoke_agent":  "21.2% vs 1.03% (20.60×)",
	}, figures)
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestInOneMergedBatchEachAlertJoinsOnlyItsOwnProcessorsValues: the default pipeline's batch
// processor merges the slo and regression processors' outputs into one batch. A regression
// alert (severity warning) must not pick up amas_slo_violations{slo, …, severity="warning"}
// points just because they share the severity label.
func TestInOneMergedBatchEachAlertJoinsOnlyItsOwnProcessorsValues(t *testing.T) {
	e := startExporter(t, testConfig("http://127.0.0.1:1/"), clockwork.NewFakeClockAt(t0), nil)
	merged := pmetric.NewMetrics()
	for _, path := range processorGoldens {
		md, err := golden.ReadMetrics(path)
		require.NoError(t, err, path)
		md.ResourceMetrics().MoveAndAppendTo(merged.ResourceMetrics())
	}
	consume(t, e, merged)
	var regressions int
	for _, rec := range e.alerts {
		for k := range rec.values {
			if rec.labels["alertname"] == alertstate.AlertRegression {
				assert.True(t, strings.HasPrefix(k, "amas_performance_regression"), "%v got %s", rec.labels, k)
			} else {
				assert.True(t, strings.HasPrefix(k, "amas_slo_"), "%v got %s", rec.labels, k)
			}
		}
		if rec.labels["alertname"] == alertstate.AlertRegression {
			regressions++
			assert.NotEmpty(t, regressionFigures(rec.values, rec.labels), "%v", rec.labels)
		}
	}
	assert.Equal(t, 2, regressions)
}
