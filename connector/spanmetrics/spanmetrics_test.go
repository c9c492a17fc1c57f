package spanmetrics

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-amas/otelcol-amas/internal/storagetest"
)

func lastMetrics(t *testing.T, h *harness) pmetric.Metrics {
	t.Helper()
	all := h.sink.AllMetrics()
	require.NotEmpty(t, all)
	return all[len(all)-1]
}

func requestsOf(t *testing.T, md pmetric.Metrics, agent, op, status string) float64 {
	t.Helper()
	v, ok := sumValue(t, md, "amas.agent.requests", map[string]string{"agent": agent, "operation": op, "status": status})
	require.True(t, ok, "no requests series for %s/%s/%s", agent, op, status)
	return v
}

func startOf(t *testing.T, md pmetric.Metrics, name string) pcommon.Timestamp {
	t.Helper()
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := 0; i < ms.Len(); i++ {
		if ms.At(i).Name() == name {
			return ms.At(i).Sum().DataPoints().At(0).StartTimestamp()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func TestCumulativeCountersKeepTheirStartAcrossFlushes(t *testing.T) {
	h := newTestConnector(t, createDefaultConfig().(*Config))
	ctx := context.Background()
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(2, 1, 0)))
	h.c.flush(ctx)
	first := lastMetrics(t, h)
	h.clock.Advance(time.Minute)
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(3, 1, 0)))
	h.c.flush(ctx)
	second := lastMetrics(t, h)

	assert.Equal(t, 2.0, requestsOf(t, first, "agent-0", "invoke_agent", "ok"))
	assert.Equal(t, 5.0, requestsOf(t, second, "agent-0", "invoke_agent", "ok"))
	assert.Equal(t, startOf(t, first, "amas.agent.requests"), startOf(t, second, "amas.agent.requests"))
	tokens, ok := sumValue(t, second, "amas.tokens.used", map[string]string{"agent": "agent-0", "model": "gpt-4o", "token_type": "input"})
	require.True(t, ok)
	assert.Equal(t, 5000.0, tokens, "the chat spans carry no agent name: their tokens are charged to the invoke_agent parent")
}

func TestDeltaEmitsOnlyNewDataWithContiguousStartTimestamps(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.AggregationTemporality = temporalityDelta
	h := newTestConnector(t, cfg)
	ctx := context.Background()

	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(2, 2, 0))) // agent-0, agent-1
	h.c.flush(ctx)
	firstFlush := pcommon.NewTimestampFromTime(h.clock.Now())
	h.clock.Advance(time.Minute)
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(1, 2, 0))) // agent-0 only
	h.c.flush(ctx)
	md := lastMetrics(t, h)

	assert.Equal(t, 1.0, requestsOf(t, md, "agent-0", "invoke_agent", "ok"), "delta counts only what arrived since the last flush")
	_, ok := sumValue(t, md, "amas.agent.requests", map[string]string{"agent": "agent-1"})
	assert.False(t, ok, "a series without new data is not sent in delta")
	assert.Equal(t, firstFlush, startOf(t, md, "amas.agent.requests"), "a delta point starts where the previous one ended")
}

func TestSeriesExpireAfterTheConfiguredIdleTime(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.SeriesExpiration = 10 * time.Minute
	h := newTestConnector(t, cfg)
	ctx := context.Background()
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(1, 1, 0)))
	h.clock.Advance(9 * time.Minute)
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(1, 2, 1))) // agent-1 only
	h.clock.Advance(2 * time.Minute)
	h.c.flush(ctx)
	md := lastMetrics(t, h)

	_, ok := sumValue(t, md, "amas.agent.requests", map[string]string{"agent": "agent-0"})
	assert.False(t, ok, "agent-0 was idle for 11 minutes")
	assert.Equal(t, 1.0, requestsOf(t, md, "agent-1", "invoke_agent", "ok"))
	active, _ := sumValue(t, md, "amas.active_agents.current", nil)
	assert.Equal(t, 1.0, active, "only agent-1 had a span within the 5 minute window")
	h.clock.Advance(5 * time.Minute)
	h.c.flush(ctx)
	active, _ = sumValue(t, lastMetrics(t, h), "amas.active_agents.current", nil)
	assert.Equal(t, 0.0, active, "no agent had a span within the window")
}

func TestFlushLoopRunsOnTheInjectedClock(t *testing.T) {
	h := newTestConnector(t, createDefaultConfig().(*Config))
	ctx := context.Background()
	require.NoError(t, h.c.Start(ctx, hostWithExtensions{}))
	t.Cleanup(func() { require.NoError(t, h.c.Shutdown(ctx)) })
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(1, 1, 0)))
	h.clock.BlockUntil(1) // the flush ticker exists
	assert.Empty(t, h.sink.AllMetrics(), "nothing is sent before the flush interval")
	h.clock.Advance(h.c.cfg.MetricsFlushInterval)
	require.Eventually(t, func() bool { return len(h.sink.AllMetrics()) > 0 }, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, 1.0, requestsOf(t, lastMetrics(t, h), "agent-0", "invoke_agent", "ok"))
}

func TestExemplarsKeepTheSlowestSpansUntilNewerSpansReplaceThem(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Exemplars.MaxPerDataPoint = 2
	h := newTestConnector(t, cfg)
	ctx := context.Background()
	values := func() []float64 {
		var got []float64
		for _, ex := range invokeAgentExemplars(t, lastMetrics(t, h)) {
			assert.False(t, ex.TraceID().IsEmpty())
			assert.False(t, ex.SpanID().IsEmpty())
			got = append(got, ex.DoubleValue())
		}
		return sorted(got)
	}
	// 7 runs of agent-0: invoke_agent durations are 1.2 s + (n%7)*0.1 s; the slowest are n=6 and n=5.
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(7, 1, 0)))
	h.c.flush(ctx)
	assert.InDeltaSlice(t, []float64{1.7, 1.8}, values(), 1e-9)

	h.c.flush(ctx)
	assert.InDeltaSlice(t, []float64{1.7, 1.8}, values(), 1e-9,
		"the exporter shows only the latest point: exemplars outlive a flush without new spans")

	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(1, 1, 7))) // n=7: 1.2 s
	h.c.flush(ctx)
	assert.InDeltaSlice(t, []float64{1.2, 1.8}, values(), 1e-9, "a newer span replaces an exemplar of an earlier flush first")
}

func sorted(v []float64) []float64 {
	out := append([]float64(nil), v...)
	sort.Float64s(out)
	return out
}

func invokeAgentExemplars(t *testing.T, md pmetric.Metrics) []pmetric.Exemplar {
	t.Helper()
	var out []pmetric.Exemplar
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	found := false
	for i := 0; i < ms.Len(); i++ {
		if ms.At(i).Name() != "amas.agent.duration" {
			continue
		}
		found = true
		dps := ms.At(i).Histogram().DataPoints()
		for j := 0; j < dps.Len(); j++ {
			if op, _ := dps.At(j).Attributes().Get("operation"); op.Str() == "invoke_agent" {
				for k := 0; k < dps.At(j).Exemplars().Len(); k++ {
					out = append(out, dps.At(j).Exemplars().At(k))
				}
			}
		}
	}
	require.True(t, found, "no duration histogram")
	return out
}

func TestConcurrentBatchesAndFlushesAreSafe(t *testing.T) {
	h := newTestConnector(t, createDefaultConfig().(*Config))
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				assert.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(4, 4, w*100+i*4)))
				if i%5 == 0 {
					h.c.flush(ctx)
				}
			}
		}()
	}
	wg.Wait()
	h.c.flush(ctx)
	md := lastMetrics(t, h)
	var total float64
	for a := range 4 {
		total += requestsOf(t, md, "agent-"+string(rune('0'+a)), "invoke_agent", "ok")
	}
	assert.Equal(t, 400.0, total, "4 workers × 25 batches × 4 runs")
}

func TestCheckpointRestoresCumulativeStateAcrossARestart(t *testing.T) {
	ctx := context.Background()
	st := storagetest.New()
	id := component.MustNewID("file_storage")
	host := hostWithExtensions{id: st}
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &id

	before := newTestConnector(t, cfg)
	require.NoError(t, before.c.Start(ctx, host))
	require.NoError(t, before.c.ConsumeTraces(ctx, agentRuns(10, 2, 0)))
	require.NoError(t, before.c.Shutdown(ctx)) // flushes and saves
	firstRun := lastMetrics(t, before)

	after := newTestConnector(t, cfg)
	after.clock.Advance(time.Hour / 2)
	require.NoError(t, after.c.Start(ctx, host))
	require.NoError(t, after.c.ConsumeTraces(ctx, agentRuns(2, 2, 0)))
	after.c.flush(ctx)
	md := lastMetrics(t, after)
	require.NoError(t, after.c.Shutdown(ctx))

	assert.Equal(t, 6.0, requestsOf(t, md, "agent-0", "invoke_agent", "ok"), "5 before the restart + 1 after")
	assert.Equal(t, startOf(t, firstRun, "amas.agent.requests"), startOf(t, md, "amas.agent.requests"),
		"the restored series keep their start: Prometheus sees one continuous counter")
	d, ok := sumValue(t, md, "amas.agent.duration", map[string]string{"agent": "agent-0", "operation": "invoke_agent", "status": "ok"})
	require.True(t, ok)
	assert.Equal(t, 6.0, d, "histograms are restored too")
	errs, ok := sumValue(t, md, "amas.agent.errors", map[string]string{"agent": "agent-1", "error_type": "TimeoutError"})
	require.True(t, ok)
	assert.Equal(t, 1.0, errs)
	c0, _ := sumValue(t, firstRun, "amas.cost.usd", map[string]string{"agent": "agent-0"})
	c1, _ := sumValue(t, md, "amas.cost.usd", map[string]string{"agent": "agent-0"})
	assert.InDelta(t, c0*6/5, c1, 1e-12, "cost continues from the checkpoint")
	assert.Positive(t, after.internalCount(t, "otelcol_connector_amas_spanmetrics_checkpoints", "outcome", "ok"))
}

func TestARestartAfterACrashNeverLowersACounterBelowItsLastExportedValue(t *testing.T) {
	ctx := context.Background()
	st := storagetest.New()
	id := component.MustNewID("file_storage")
	host := hostWithExtensions{id: st}
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &id

	before := newTestConnector(t, cfg)
	require.NoError(t, before.c.Start(ctx, host))
	require.NoError(t, before.c.ConsumeTraces(ctx, agentRuns(10, 2, 0)))
	before.clock.Advance(cfg.MetricsFlushInterval)
	before.c.flush(ctx)
	require.NoError(t, before.c.ConsumeTraces(ctx, agentRuns(10, 2, 0)))
	before.clock.Advance(cfg.MetricsFlushInterval)
	before.c.flush(ctx)
	exported := lastMetrics(t, before) // what Prometheus scraped last
	// The process is killed here: no Shutdown, so no final checkpoint. Stop the loop goroutine
	// without the shutdown path's flush.
	close(before.c.done)
	before.c.wg.Wait()

	after := newTestConnector(t, cfg)
	after.clock.Advance(time.Minute)
	require.NoError(t, after.c.Start(ctx, host))
	require.NoError(t, after.c.ConsumeTraces(ctx, agentRuns(2, 2, 0)))
	after.c.flush(ctx)
	md := lastMetrics(t, after)
	require.NoError(t, after.c.Shutdown(ctx))

	last := requestsOf(t, exported, "agent-0", "invoke_agent", "ok")
	require.Equal(t, 10.0, last)
	assert.Equal(t, last+1, requestsOf(t, md, "agent-0", "invoke_agent", "ok"),
		"the counter continues from its last exported value: a lower value with the same start would be read as a reset and its whole value as new traffic")
	assert.Equal(t, startOf(t, exported, "amas.agent.requests"), startOf(t, md, "amas.agent.requests"))
}

func TestAFlushWithoutNewSpansWritesNoCheckpoint(t *testing.T) {
	ctx := context.Background()
	st := storagetest.New()
	id := component.MustNewID("file_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &id
	h := newTestConnector(t, cfg)
	require.NoError(t, h.c.Start(ctx, hostWithExtensions{id: st}))
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(3, 1, 0)))
	h.c.flush(ctx)
	require.Equal(t, int64(1), h.internalCount(t, "otelcol_connector_amas_spanmetrics_checkpoints", "outcome", "ok"))
	h.c.flush(ctx)
	h.c.flush(ctx)
	assert.Equal(t, int64(1), h.internalCount(t, "otelcol_connector_amas_spanmetrics_checkpoints", "outcome", "ok"), "an idle collector does not rewrite the same state")
	require.NoError(t, h.c.Shutdown(ctx))
}

func TestRestartWithoutStorageStartsNewSeriesThatPrometheusReadsAsAReset(t *testing.T) {
	ctx := context.Background()
	before := newTestConnector(t, createDefaultConfig().(*Config))
	require.NoError(t, before.c.ConsumeTraces(ctx, agentRuns(10, 1, 0)))
	before.c.flush(ctx)

	after := newTestConnector(t, createDefaultConfig().(*Config))
	after.clock.Advance(time.Minute)
	require.NoError(t, after.c.ConsumeTraces(ctx, agentRuns(1, 1, 0)))
	after.c.flush(ctx)

	oldMD, newMD := lastMetrics(t, before), lastMetrics(t, after)
	assert.Less(t, requestsOf(t, newMD, "agent-0", "invoke_agent", "ok"), requestsOf(t, oldMD, "agent-0", "invoke_agent", "ok"),
		"the counter restarts below its last value: a reset, not a jump")
	assert.Greater(t, startOf(t, newMD, "amas.agent.requests"), startOf(t, oldMD, "amas.agent.requests"),
		"and carries a new start timestamp")
}

func TestCheckpointOfAnotherConfigurationIsDropped(t *testing.T) {
	ctx := context.Background()
	id := component.MustNewID("file_storage")
	st := storagetest.New()
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &id
	h := newTestConnector(t, cfg)
	require.NoError(t, h.c.Start(ctx, hostWithExtensions{id: st}))
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(3, 1, 0)))
	require.NoError(t, h.c.Shutdown(ctx))

	changed := createDefaultConfig().(*Config)
	changed.Storage = &id
	changed.Dimensions = []Dimension{{Name: "tenant"}}
	h2 := newTestConnector(t, changed)
	require.NoError(t, h2.c.Start(ctx, hostWithExtensions{id: st}))
	require.NoError(t, h2.c.ConsumeTraces(ctx, agentRuns(1, 1, 0)))
	h2.c.flush(ctx)
	require.NoError(t, h2.c.Shutdown(ctx))
	assert.Equal(t, 1.0, requestsOf(t, h2.sink.AllMetrics()[0], "agent-0", "invoke_agent", "ok"),
		"series saved with other labels restart instead of being mislabelled")
}

func TestStartFailsWhenTheStorageExtensionIsMissing(t *testing.T) {
	id := component.MustNewID("file_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &id
	h := newTestConnector(t, cfg)
	err := h.c.Start(context.Background(), hostWithExtensions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `storage: extension "file_storage" is not configured`)
}

func TestPriceLookup(t *testing.T) {
	p := priceTable(defaultPrices())
	tests := []struct {
		name  string
		model string
		found bool
		want  ModelPrice
	}{
		{"an exact model name is priced", "gpt-4o", true, p["gpt-4o"]},
		{"a dated snapshot (YYYY-MM-DD) is priced as its base model", "gpt-4o-2024-08-06", true, p["gpt-4o"]},
		{"a dated snapshot (YYYYMMDD) is priced as its base model", "claude-sonnet-4-20250514", true, p["claude-sonnet-4"]},
		{"a different model sharing a prefix is not guessed", "gpt-4o-mini-tts", false, ModelPrice{}},
		{"a newer version is not priced as an older one", "claude-opus-4-5", false, ModelPrice{}},
		{"a dated newer version is not priced as an older one", "claude-opus-4-5-20251101", false, ModelPrice{}},
		{"an unknown model has no price", "llama-3-70b", false, ModelPrice{}},
		{"an empty model has no price", "", false, ModelPrice{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := p.lookup(tt.model)
			assert.Equal(t, tt.found, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCostMovesCacheReadsToTheCachedPrice(t *testing.T) {
	p := ModelPrice{Input: 2, Output: 10, CachedInput: 1}
	assert.InDelta(t, (800*2+200*1+100*10)/1e6, costUSD(p, 1000, 100, 200), 1e-15)
	assert.InDelta(t, (300*1)/1e6, costUSD(p, 100, 0, 300), 1e-15, "cache reads above input never make a negative uncached count")
}

func TestShutdownSendsTheLastInterval(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.AggregationTemporality = temporalityDelta
	h := newTestConnector(t, cfg)
	ctx := context.Background()
	require.NoError(t, h.c.Start(ctx, hostWithExtensions{}))
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(3, 1, 0)))
	require.NoError(t, h.c.Shutdown(ctx))
	assert.Equal(t, 3.0, requestsOf(t, lastMetrics(t, h), "agent-0", "invoke_agent", "ok"),
		"delta data of the interval cut short by the shutdown is sent, not dropped")
}
