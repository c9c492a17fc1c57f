package sloprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/internal/storagetest"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor/internal/metadata"
)

func TestLifecycle(t *testing.T) {
	f := NewFactory()
	assert.Equal(t, metadata.Type, f.Type())
	assert.Equal(t, metadata.TracesStability, f.TracesStability())
	assert.Equal(t, metadata.MetricsStability, f.MetricsStability())
	require.NoError(t, componenttest.CheckConfigStruct(f.CreateDefaultConfig()))
	for range 2 { // create → start → shutdown, twice: a reloaded config gets a fresh instance
		cfg := f.CreateDefaultConfig()
		require.NoError(t, cfg.(*Config).Validate())
		set := processortest.NewNopSettings(metadata.Type)
		tp, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
		require.NoError(t, err)
		mp, err := f.CreateMetrics(context.Background(), set, cfg, consumertest.NewNop())
		require.NoError(t, err)
		shared, err := instances.LoadOrStore(cfg.(*Config), func() (*sloProcessor, error) { panic("must exist") })
		require.NoError(t, err)
		p := shared.Unwrap()
		assert.True(t, p.tracesUsed && p.metricsUsed, "one instance serves both pipelines")
		host := componenttest.NewNopHost()
		require.NoError(t, tp.Start(context.Background(), host))
		require.NoError(t, mp.Start(context.Background(), host))
		assert.Contains(t, Running(), set.ID)
		require.NoError(t, tp.Shutdown(context.Background()))
		require.NoError(t, mp.Shutdown(context.Background()))
		assert.NotContains(t, Running(), set.ID)
	}
}

func TestTracesPassThroughUnchangedAndMetricsToo(t *testing.T) {
	f := NewFactory()
	cfg := f.CreateDefaultConfig()
	set := processortest.NewNopSettings(metadata.Type)
	tsink, msink := new(consumertest.TracesSink), new(consumertest.MetricsSink)
	tp, err := f.CreateTraces(context.Background(), set, cfg, tsink)
	require.NoError(t, err)
	mp, err := f.CreateMetrics(context.Background(), set, cfg, msink)
	require.NoError(t, err)
	require.NoError(t, tp.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()

	td := makeSpans(spanSpec{agent: "a", op: "invoke_agent"}, spanSpec{agent: "a", op: "execute_tool", err: true})
	want := ptrace.NewTraces()
	td.CopyTo(want)
	require.NoError(t, tp.ConsumeTraces(context.Background(), td))
	require.Len(t, tsink.AllTraces(), 1)
	assert.Equal(t, want, tsink.AllTraces()[0])

	md := gaugeMetrics("process.memory.utilization", 0.5, nil)
	wantMD := pmetric.NewMetrics()
	md.CopyTo(wantMD)
	require.NoError(t, mp.ConsumeMetrics(context.Background(), md))
	require.NotEmpty(t, msink.AllMetrics())
	assert.Equal(t, wantMD, msink.AllMetrics()[0])
}

func TestTracesOnlyLogsThatResultsHaveNowhereToGo(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	set := processortest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	f := NewFactory()
	cfg := f.CreateDefaultConfig()
	tp, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, tp.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, tp.Shutdown(context.Background()))
	assert.Equal(t, 1, logs.FilterMessageSnippet("nowhere to go").Len())
}

func TestEmitsBeforeAnyTraffic(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config), nil, nil)
	defer h.shutdown()
	md := h.tick(10 * time.Second)
	v, ok := point(t, md, metricObjective, map[string]string{"slo": "agent_availability"})
	require.True(t, ok)
	assert.Equal(t, 0.995, v)
	v, _ = point(t, md, metricBudgetRemaining, map[string]string{"slo": "queue_depth"})
	assert.Equal(t, 100.0, v)
	v, _ = point(t, md, metricCompliance, map[string]string{"slo": "cost_efficiency"})
	assert.Equal(t, 1.0, v)
	_, ok = point(t, md, metricBurnRate, map[string]string{"slo": "agent_availability", "window": "5m"})
	assert.True(t, ok)
	_, ok = point(t, md, metricSLI, map[string]string{"slo": "agent_availability", "window": "30d"})
	assert.True(t, ok)
}

func TestTotalFailurePagesWithinTwoMinutesAndRecovers(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config), nil, nil)
	defer h.shutdown()
	good := makeSpans(repeat(100, spanSpec{agent: "planner", op: "invoke_agent"})...)
	bad := makeSpans(repeat(100, spanSpec{agent: "planner", op: "invoke_agent", err: true})...)
	var md pmetric.Metrics
	for range 60 { // ten minutes at 10 spans/s
		h.spans(good)
		md = h.tick(10 * time.Second)
	}
	budgetBefore, _ := point(t, md, metricBudgetRemaining, map[string]string{"slo": "agent_availability"})
	assert.Equal(t, 100.0, budgetBefore)
	page := map[string]string{"alertname": alertstate.AlertSLOBurnRate, "slo": "agent_availability", "severity": "critical", "alertstate": "firing", "long_window": "1m"}
	var pagedAfter time.Duration
	for i := 1; i <= 18; i++ { // three minutes of total failure
		h.spans(bad)
		md = h.tick(10 * time.Second)
		if _, ok := point(t, md, alertstate.MetricName, page); ok && pagedAfter == 0 {
			pagedAfter = time.Duration(i) * 10 * time.Second
		}
	}
	require.NotZero(t, pagedAfter, "a total failure pages")
	assert.LessOrEqual(t, pagedAfter, 2*time.Minute)
	budgetAfter, _ := point(t, md, metricBudgetRemaining, map[string]string{"slo": "agent_availability"})
	assert.Less(t, budgetAfter, budgetBefore, "the breach moves the budget at once")
	v, _ := point(t, md, metricViolations, map[string]string{"slo": "agent_availability", "severity": "critical"})
	assert.GreaterOrEqual(t, v, 1.0)
	v, _ = point(t, md, metricCompliance, map[string]string{"slo": "agent_availability"})
	assert.Equal(t, 0.0, v, "1800 failures in 7800 requests break 99.5%")
	burn, _ := point(t, md, metricBurnRate, map[string]string{"slo": "agent_availability", "window": "1m"})
	assert.InDelta(t, 200, burn, 1e-9, "every request failing burns at 1/(1-0.995)")
	_, ok := point(t, md, alertstate.MetricName, map[string]string{"alertname": alertstate.AlertSLOBurnRate, "severity": "warning", "alertstate": "firing"})
	assert.False(t, ok, "the page suppresses the ticket")

	for range 30 { // five minutes of recovery
		h.spans(good)
		md = h.tick(10 * time.Second)
	}
	_, ok = point(t, md, alertstate.MetricName, map[string]string{"alertname": alertstate.AlertSLOBurnRate, "slo": "agent_availability",
		"long_window": "1m", "short_window": "1m", "alertstate": "resolved"})
	assert.True(t, ok, "the hard-down page resolves and is still sent as resolved for the retention")
}

func TestTrafficStopRaisesNoData(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config), nil, nil)
	defer h.shutdown()
	for range 60 { // ten minutes of 2 tool calls a second
		h.spans(makeSpans(repeat(20, spanSpec{agent: "a", op: "execute_tool"})...))
		h.tick(10 * time.Second)
	}
	var md pmetric.Metrics
	for range 9 {
		md = h.tick(10 * time.Second)
	}
	_, ok := point(t, md, alertstate.MetricName, map[string]string{"alertname": alertstate.AlertSLONoData, "slo": "tool_call_success_rate", "alertstate": "firing"})
	assert.True(t, ok, "90 s of silence after traffic raises no-data")
	_, ok = point(t, md, alertstate.MetricName, map[string]string{"alertname": alertstate.AlertSLONoData, "slo": "agent_availability"})
	assert.False(t, ok, "an SLO that never had traffic raises no no-data alert")
}

func TestMalformedSpansAreSkippedWithoutHarmingNeighbours(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config), nil, nil)
	defer h.shutdown()
	td := makeSpans(spanSpec{agent: "a", op: "invoke_agent"}, spanSpec{agent: "a", op: "invoke_agent"})
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	sp.SetEndTimestamp(sp.StartTimestamp() - 1) // ends before it starts
	h.spans(td)
	h.tick(10 * time.Second)
	st := sloStatus(t, h.p.Status(), "agent_availability")
	require.Len(t, st.Groups, 1)
	assert.Equal(t, uint64(1), st.Groups[0].Events)
}

func sloStatus(t *testing.T, s Status, name string) SLOStatus {
	t.Helper()
	for _, st := range s.SLOs {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no SLO %q in status", name)
	return SLOStatus{}
}

func gaugeMetrics(name string, v float64, attrs map[string]string) pmetric.Metrics {
	md := pmetric.NewMetrics()
	addGauge(md.ResourceMetrics().AppendEmpty(), name, v, attrs)
	return md
}

func addGauge(rm pmetric.ResourceMetrics, name string, v float64, attrs map[string]string) {
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(name)
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetDoubleValue(v)
	for k, val := range attrs {
		dp.Attributes().PutStr(k, val)
	}
}

func TestMemoryGaugePrefersProcessUtilisation(t *testing.T) {
	tests := []struct {
		name    string
		build   func() pmetric.Metrics
		wantBad uint64
	}{
		{"A resource with both gauges is judged by process.memory.utilization.", func() pmetric.Metrics {
			md := pmetric.NewMetrics()
			rm := md.ResourceMetrics().AppendEmpty()
			addGauge(rm, "process.memory.utilization", 0.9, nil)
			addGauge(rm, "system.memory.utilization", 0.5, map[string]string{"system.memory.state": "used"})
			return md
		}, 1},
		{"A resource with only the system gauge falls back to its used state.", func() pmetric.Metrics {
			md := pmetric.NewMetrics()
			rm := md.ResourceMetrics().AppendEmpty()
			addGauge(rm, "system.memory.utilization", 0.95, map[string]string{"system.memory.state": "free"})
			addGauge(rm, "system.memory.utilization", 0.5, map[string]string{"system.memory.state": "used"})
			return md
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, createDefaultConfig().(*Config), nil, nil)
			defer h.shutdown()
			h.metricsIn(tt.build())
			h.tick(time.Minute) // closes the slice
			h.tick(time.Second)
			st := sloStatus(t, h.p.Status(), "memory_usage")
			require.Len(t, st.Groups, 1)
			assert.Equal(t, uint64(1), st.Groups[0].Events, "one one-minute slice")
			assert.Equal(t, tt.wantBad, st.Groups[0].BadEvents)
		})
	}
}

func sumMetrics(name string, v float64, startOffset time.Duration) pmetric.Metrics {
	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(name)
	s := m.SetEmptySum()
	s.SetIsMonotonic(true)
	s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dp := s.DataPoints().AppendEmpty()
	dp.SetStartTimestamp(1000 + pcommonTimestamp(startOffset))
	dp.SetDoubleValue(v)
	dp.Attributes().PutStr("agent", "planner")
	return md
}

func TestCostPerRequestIsJudgedPerSlice(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config), nil, nil)
	defer h.shutdown()
	feed := func(cost, requests float64) {
		h.metricsIn(sumMetrics(defaultCostMetric, cost, 0))
		md := sumMetrics(defaultRequestsMetric, requests, 0)
		md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints().At(0).Attributes().PutStr("operation", "invoke_agent")
		h.metricsIn(md)
	}
	feed(1.0, 10) // baseline of the cumulative streams
	h.tick(time.Minute)
	feed(1.4, 20) // $0.04 per request: a good slice
	h.tick(time.Minute)
	feed(2.4, 30) // $0.10 per request: a bad slice
	h.tick(time.Minute)
	feed(0.01, 1) // the counters restarted: $0.01 per request, good
	h.tick(time.Minute)
	h.tick(time.Minute)
	st := sloStatus(t, h.p.Status(), "cost_efficiency")
	require.Len(t, st.Groups, 1)
	// Four slices have closed since the first increase: good, bad, good, and an empty (good) one.
	assert.Equal(t, uint64(4), st.Groups[0].Events)
	assert.Equal(t, uint64(1), st.Groups[0].BadEvents)
}

func TestGroupsAreBoundedWithAnOverflowSeries(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxGroupsPerSLO = 2
	slo := DefaultSLOs()[0]
	slo.GroupBy = []string{"gen_ai.agent.name"}
	cfg.SLOs = []SLOConfig{slo}
	h := newHarness(t, cfg, nil, nil)
	defer h.shutdown()
	h.spans(makeSpans(spanSpec{agent: "a", op: "invoke_agent"}, spanSpec{agent: "b", op: "invoke_agent"},
		spanSpec{agent: "c", op: "invoke_agent", err: true}, spanSpec{agent: "d", op: "invoke_agent"}))
	md := h.tick(10 * time.Second)
	for _, agent := range []string{"a", "b"} {
		v, ok := point(t, md, metricSLI, map[string]string{"slo": "agent_availability", "gen_ai.agent.name": agent, "window": "1m"})
		require.True(t, ok, agent)
		assert.Equal(t, 1.0, v)
	}
	v, ok := point(t, md, metricSLI, map[string]string{"slo": "agent_availability", labelOverflow: "true", "window": "1m"})
	require.True(t, ok, "agents past the bound share the overflow series")
	assert.Equal(t, 0.5, v)
}

func TestRestartWithStorageKeepsTheBudget(t *testing.T) {
	store := storagetest.New()
	storageID := component.MustNewID("file_storage")
	exts := map[component.ID]component.Component{storageID: store}
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID
	h := newHarness(t, cfg, nil, exts)
	h.spans(makeSpans(append(repeat(990, spanSpec{agent: "a", op: "invoke_agent"}), repeat(3, spanSpec{agent: "a", op: "invoke_agent", err: true})...)...))
	h.tick(10 * time.Second)
	before := sloStatus(t, h.p.Status(), "agent_availability").Groups[0]
	require.Less(t, before.BudgetRemainingPercent, 100.0)
	stateAt := h.p.Status().Checkpoint.StateAt
	assert.True(t, stateAt.Equal(h.clock.Now()), "the tick's checkpoint holds the state as of the tick, got %v", stateAt)
	h.spans(makeSpans(repeat(7, spanSpec{agent: "a", op: "invoke_agent"})...)) // after the checkpoint: lost by a kill
	h.p.mu.Lock()
	h.p.storage = nil // the process dies before it saves again (Shutdown would write the 7)
	h.p.mu.Unlock()
	h.shutdown()

	h2 := newHarnessAt(t, cfg, nil, exts, h.clock)
	defer h2.shutdown()
	status := h2.p.Status()
	assert.True(t, status.Checkpoint.Restored)
	h2.tick(0)
	after := sloStatus(t, h2.p.Status(), "agent_availability").Groups[0]
	assert.Equal(t, before.BudgetRemainingPercent, after.BudgetRemainingPercent)
	assert.Equal(t, before.Events, after.Events)
	assert.Equal(t, before.BadEvents, after.BadEvents)

	t.Run("A corrupt checkpoint is logged and the SLO starts fresh.", func(t *testing.T) {
		bad := storagetest.New()
		bad.Put(checkpointKey("agent_availability"), []byte("AMASSLO1\x05garbage"))
		bad.Put(checkpointKey("queue_depth"), []byte("an older format"))
		core, logs := observer.New(zapcore.WarnLevel)
		h3 := newHarness(t, cfg, zap.New(core), map[component.ID]component.Component{storageID: bad})
		defer h3.shutdown()
		assert.Equal(t, 2, logs.FilterMessageSnippet("unreadable").Len())
		h3.tick(10 * time.Second)
		assert.Equal(t, uint64(0), sloStatus(t, h3.p.Status(), "agent_availability").Groups[0].Events)
	})
	t.Run("A missing storage extension fails the start with its name.", func(t *testing.T) {
		set := processortest.NewNopSettings(metadata.Type)
		p, err := newSLOProcessor(set, cfg, h.clock)
		require.NoError(t, err)
		err = p.Start(context.Background(), &testHost{exts: map[component.ID]component.Component{}})
		assert.EqualError(t, err, `storage: extension "file_storage" is not configured`)
	})
}

func TestStatusRegistry(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config), nil, nil)
	id := h.p.id
	src, ok := Lookup(id)
	require.True(t, ok)
	h.spans(makeSpans(spanSpec{agent: "a", op: "invoke_agent", err: true}))
	h.tick(10 * time.Second)
	s := src.Status()
	assert.Equal(t, epoch.Add(10*time.Second), s.LastTick)
	st := sloStatus(t, s, "agent_availability")
	assert.Equal(t, 0.995, st.Objective)
	assert.Equal(t, "occurrences", st.Budgeting)
	require.Len(t, st.Groups, 1)
	assert.Equal(t, uint64(1), st.Groups[0].BadEvents)
	assert.Equal(t, "1m", st.Groups[0].Windows[0].Window)
	assert.Equal(t, 10*time.Second, s.EvaluationInterval)
	assert.Equal(t, BudgetThresholdStatus{Critical: 0.05, High: 0.15, Warning: 0.25}, st.BudgetThresholds)
	require.Len(t, st.Rules, 5)
	hd := st.Rules[0]
	assert.InDelta(t, 50, hd.BurnRate, 1e-9, "the hard-down page: 25% over 1m is a 50× burn at 99.5%")
	hd.BurnRate = 0
	assert.Equal(t, RuleStatus{Severity: "critical", LongWindow: "1m", ShortWindow: "1m", MinBadEvents: 5, ErrorRatio: 0.25}, hd)
	assert.Equal(t, RuleStatus{Severity: "critical", LongWindow: "1h", ShortWindow: "5m", BurnRate: 14.4, MinEvents: 10, MinBadEvents: 5}, st.Rules[1])
	h.shutdown()
	_, ok = Lookup(id)
	assert.False(t, ok)
}
