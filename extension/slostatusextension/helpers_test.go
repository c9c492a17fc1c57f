package slostatusextension

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-amas/otelcol-amas/extension/slostatusextension/internal/metadata"
	"github.com/otelcol-amas/otelcol-amas/internal/spanclass"
	"github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeSource hands out fixed snapshots.
type fakeSource struct {
	mu         sync.Mutex
	slo        []sloprocessor.Status
	reg        []regressionprocessor.Status
	missingSLO []string
	missingReg []string
	classes    []spanclass.Snapshot
}

func (f *fakeSource) Classification() []spanclass.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.classes
}

func (f *fakeSource) SLO() ([]sloprocessor.Status, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.slo, f.missingSLO
}

func (f *fakeSource) Regression() ([]regressionprocessor.Status, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reg, f.missingReg
}

func (f *fakeSource) set(fn func(f *fakeSource)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

var defaultRules = []sloprocessor.RuleStatus{
	{Severity: "critical", LongWindow: "5m", ShortWindow: "1m", BurnRate: 43.2, MinEvents: 10},
	{Severity: "critical", LongWindow: "1h", ShortWindow: "5m", BurnRate: 14.4, MinEvents: 10},
	{Severity: "critical", LongWindow: "6h", ShortWindow: "30m", BurnRate: 6, MinEvents: 10},
	{Severity: "warning", LongWindow: "1d", ShortWindow: "2h", BurnRate: 3, MinEvents: 10},
	{Severity: "warning", LongWindow: "3d", ShortWindow: "6h", BurnRate: 1, MinEvents: 10},
}

var defaultThresholds = sloprocessor.BudgetThresholdStatus{Critical: 0.05, High: 0.15, Warning: 0.25}

// windows builds the default windows with one error ratio for the short ones (≤ 5m) and another
// for the long ones.
func windows(objective, shortRatio, longRatio float64, events uint64) []sloprocessor.WindowStatus {
	var out []sloprocessor.WindowStatus
	for i, w := range []string{"1m", "5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"} {
		r := longRatio
		if i < 2 {
			r = shortRatio
		}
		out = append(out, sloprocessor.WindowStatus{Window: w, SLI: 1 - r, BurnRate: r / (1 - objective), Events: events})
	}
	return out
}

// sampleStatus is a processor with: a burning availability SLO (page firing), a healthy latency
// SLO grouped by agent, and an SLO without data.
func sampleStatus(now time.Time) sloprocessor.Status {
	return sloprocessor.Status{
		ID: "slo", LastTick: now.Add(-4 * time.Second), EvaluationInterval: 10 * time.Second,
		Checkpoint: sloprocessor.CheckpointStatus{Enabled: true, Storage: "file_storage", Restored: true, RestoredSLOs: 6, LastSaved: now.Add(-30 * time.Second)},
		SLOs: []sloprocessor.SLOStatus{
			{
				Name: "agent_availability", Description: "Agent request success rate ≥ 99.5%", Objective: 0.995, Window: 720 * time.Hour,
				Budgeting: "occurrences", Rules: defaultRules, BudgetThresholds: defaultThresholds,
				Groups: []sloprocessor.GroupStatus{{
					Labels: map[string]string{}, Windows: windows(0.995, 0.5, 0.008, 4000), Events: 4000, BadEvents: 32,
					BudgetRemainingPercent: -60, Compliant: false,
					Alerts: []sloprocessor.AlertStatus{
						{Name: "SLOErrorBudgetBurn", State: "firing", Severity: "critical", LongWindow: "5m", ShortWindow: "1m", ActiveSince: now.Add(-90 * time.Second)},
						{Name: "SLOErrorBudgetLow", State: "firing", Severity: "critical", ActiveSince: now.Add(-60 * time.Second)},
						{Name: "SLONoData", State: "resolved", Severity: "warning", ActiveSince: now.Add(-time.Hour)},
					},
					Violations: map[string]uint64{"critical": 2, "warning": 1},
				}},
			},
			{
				Name: "agent_latency_p95", Objective: 0.9, Window: 720 * time.Hour, Budgeting: "timeslices",
				Rules: defaultRules[2:], BudgetThresholds: defaultThresholds,
				Groups: []sloprocessor.GroupStatus{
					{Labels: map[string]string{"gen_ai.agent.name": "critic"}, Windows: windows(0.9, 0, 0, 60), Events: 60, BudgetRemainingPercent: 100, Compliant: true, Violations: map[string]uint64{}},
					{Labels: map[string]string{"gen_ai.agent.name": "planner"}, Windows: windows(0.9, 0.1, 0.08, 60), Events: 60, BadEvents: 5, BudgetRemainingPercent: 12.5, Compliant: true,
						Alerts:     []sloprocessor.AlertStatus{{Name: "SLOErrorBudgetBurn", State: "pending", Severity: "warning", LongWindow: "1d", ShortWindow: "2h", ActiveSince: now.Add(-20 * time.Second)}},
						Violations: map[string]uint64{}},
				},
			},
			{Name: "memory_usage", Objective: 0.85, Window: 720 * time.Hour, Budgeting: "timeslices", Rules: defaultRules, BudgetThresholds: defaultThresholds},
		},
	}
}

func sampleRegressions(now time.Time) regressionprocessor.Status {
	return regressionprocessor.Status{
		ID: "regression", LastEvaluation: now.Add(-20 * time.Second), EvaluationInterval: time.Minute,
		OperationKey: []string{"service.name", "gen_ai.agent.name", "gen_ai.operation.name|span.name"}, Operations: 3,
		Regressions: []regressionprocessor.RegressionStatus{
			{Operation: "shop/critic/chat", Type: "cost_regression", State: "pending", Severity: "warning", ActiveSince: now.Add(-time.Minute),
				Figures: []regressionprocessor.FigureStatus{{Baseline: 0.01, Current: 0.03}}, Ratio: 3},
			{Operation: "shop/planner/invoke_agent", Type: "latency_regression", State: "firing", Severity: "warning",
				ActiveSince: now.Add(-5 * time.Minute), FiringSince: now.Add(-3 * time.Minute),
				Figures: []regressionprocessor.FigureStatus{{Quantile: "0.95", Baseline: 0.9, Current: 1.8}, {Quantile: "0.99", Baseline: 1.2, Current: math.NaN()}}, Ratio: 2},
		},
	}
}

// newTestExtension serves an extension on a fake clock and source with httptest.
func newTestExtension(t *testing.T, mutate func(*Config)) (*statusExtension, *fakeSource, *clockwork.FakeClock, *httptest.Server) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	if mutate != nil {
		mutate(cfg)
	}
	require.NoError(t, cfg.Validate())
	clock := clockwork.NewFakeClockAt(epoch)
	src := &fakeSource{slo: []sloprocessor.Status{sampleStatus(epoch)}, reg: []regressionprocessor.Status{sampleRegressions(epoch)}, classes: sampleClassification()}
	e := newExtension(extensiontest.NewNopSettings(metadata.Type), cfg, src, clock)
	e.startedAt = epoch.Add(-5 * time.Second)
	srv := httptest.NewServer(e.handler())
	t.Cleanup(srv.Close)
	return e, src, clock, srv
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func sampleClassification() []spanclass.Snapshot {
	return []spanclass.Snapshot{{
		Component:   "amas_spanmetrics",
		MaxServices: 1000,
		Services: []spanclass.Service{
			{Name: "agents-svc", Classified: 90, Unclassified: 10},
			{Name: "lost-svc", Classified: 0, Unclassified: 40},
		},
	}}
}
