package sloprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-amas/otelcol-amas/internal/storagetest"
)

// costAndRequests is one batch of the connector's cumulative cost and request counters for agent.
func costAndRequests(agent string, cost, requests float64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	for _, c := range []struct {
		name string
		v    float64
	}{{defaultCostMetric, cost}, {defaultRequestsMetric, requests}} {
		m := sm.Metrics().AppendEmpty()
		m.SetName(c.name)
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		dp := s.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(1000)
		dp.SetDoubleValue(c.v)
		dp.Attributes().PutStr("agent", agent)
		if c.name == defaultRequestsMetric {
			dp.Attributes().PutStr("operation", "invoke_agent")
		}
	}
	return md
}

func costEvents(t *testing.T, h *harness) (events, bad uint64) {
	t.Helper()
	st := sloStatus(t, h.p.Status(), "cost_efficiency")
	for _, g := range st.Groups {
		events += g.Events
		bad += g.BadEvents
	}
	return events, bad
}

func TestStoppedCounterStreamsAreForgottenSoNewOnesCount(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxRatioStreams = 2
	h := newHarness(t, cfg, nil, nil)
	defer h.shutdown()

	h.metricsIn(costAndRequests("old", 1, 10)) // two streams: the bound is reached
	h.tick(time.Minute)
	h.metricsIn(costAndRequests("new", 1, 10)) // past the bound: skipped
	h.metricsIn(costAndRequests("new", 2, 20))
	h.tick(time.Minute)
	events, _ := costEvents(t, h)
	require.Equal(t, uint64(0), events, "precondition: streams past the bound are not counted")

	// The old agent is gone; an hour later its streams are forgotten and the new agent counts.
	h.tick(ratioStreamTTL + time.Minute)
	h.metricsIn(costAndRequests("new", 2, 20)) // baseline
	h.tick(time.Minute)
	h.metricsIn(costAndRequests("new", 3, 40)) // +$1 over +20 requests: $0.05, good
	h.tick(time.Minute)
	h.tick(time.Minute)
	events, bad := costEvents(t, h)
	// The slice of the increase and the empty slice after it, both good.
	assert.Equal(t, uint64(2), events)
	assert.Equal(t, uint64(0), bad)
	h.p.mu.Lock()
	assert.Len(t, h.p.ratioPrev, 2, "only the live streams are remembered")
	h.p.mu.Unlock()
}

func TestRestartKeepsTheCounterBaselineOfRatioSLIs(t *testing.T) {
	store := storagetest.New()
	storageID := component.MustNewID("file_storage")
	exts := map[component.ID]component.Component{storageID: store}
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID

	h := newHarness(t, cfg, nil, exts)
	h.metricsIn(costAndRequests("planner", 1, 10)) // baseline
	h.tick(time.Minute)
	h.metricsIn(costAndRequests("planner", 2, 20)) // $0.10 per request: a bad slice once it closes
	h.tick(time.Minute)
	before, beforeBad := costEvents(t, h)
	require.Equal(t, uint64(1), before)
	require.Equal(t, uint64(1), beforeBad)
	h.shutdown()

	// The connector restored its counters too: the next point continues the same stream. Its
	// increase since the last point before the restart ($1.2 over 10 requests, bad) must count.
	h2 := newHarnessAt(t, cfg, nil, exts, h.clock)
	defer h2.shutdown()
	h2.metricsIn(costAndRequests("planner", 3.2, 30))
	h2.tick(time.Minute)
	h2.tick(time.Minute)
	after, afterBad := costEvents(t, h2)
	assert.Equal(t, beforeBad+1, afterBad, "the first point after the restart is an increase, not a baseline")
	// The restored slice, the slice of that increase and one empty (good) slice after it.
	assert.Equal(t, before+2, after)

	t.Run("A corrupt ratio checkpoint is logged and the streams start from their next point.", func(t *testing.T) {
		bad := storagetest.New()
		bad.Put(ratioStreamsKey, []byte(ratioStreamsMagic+"\x05garbage"))
		core, logs := observer.New(zapcore.WarnLevel)
		h3 := newHarness(t, cfg, zap.New(core), map[component.ID]component.Component{storageID: bad})
		defer h3.shutdown()
		assert.Equal(t, 1, logs.FilterMessageSnippet("ratio SLI checkpoint is unreadable").Len())
		h3.metricsIn(costAndRequests("planner", 5, 50))
		h3.tick(time.Minute)
		h3.tick(time.Minute)
		events, _ := costEvents(t, h3)
		assert.Equal(t, uint64(0), events, "the first point is a baseline")
	})
	t.Run("The encoding round-trips and respects a smaller bound.", func(t *testing.T) {
		m := map[uint64]ratioPoint{1: {value: 1.5, start: 7}, 2: {value: 0, start: 9}, 3: {value: 2, start: 11}}
		got, err := decodeRatioStreams(encodeRatioStreams(m), 42, 10)
		require.NoError(t, err)
		assert.Equal(t, map[uint64]ratioPoint{1: {value: 1.5, start: 7, seen: 42}, 2: {value: 0, start: 9, seen: 42}, 3: {value: 2, start: 11, seen: 42}}, got)
		got, err = decodeRatioStreams(encodeRatioStreams(m), 42, 2)
		require.NoError(t, err)
		assert.Len(t, got, 2)
		_, err = decodeRatioStreams(encodeRatioStreams(m)[:30], 42, 10)
		assert.Error(t, err, "a truncated checkpoint is refused")
	})
}
