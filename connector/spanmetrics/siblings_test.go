package spanmetrics

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-amas/otelcol-amas/internal/storagetest"
)

// pointOf returns the latest point (for a histogram, its count) of the first series of metric
// name whose attributes include want, with its start timestamp: a stream's first flush may send
// a 0 before its value (zero_points).
func pointOf(t *testing.T, md pmetric.Metrics, name string, want map[string]string) (v float64, start pcommon.Timestamp, ok bool) {
	t.Helper()
	pts := streamOf(md, name, func(attrs pcommon.Map) bool { return attrsMatch(attrs.AsRaw(), want) })
	if len(pts) == 0 {
		return 0, 0, false
	}
	last := pts[len(pts)-1]
	return last.value, last.start, true
}

func TestTheErrorSiblingOfANewSeriesIsEmittedAtZeroAndCountsTheFirstErrorFromThere(t *testing.T) {
	h := newTestConnector(t, createDefaultConfig().(*Config))
	ctx := context.Background()
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(2, 1, 0))) // runs 0 and 1: no error
	h.c.flush(ctx)
	first := lastMetrics(t, h)

	for _, c := range []struct{ metric, op, opLabel string }{
		{"amas.agent.requests", "invoke_agent", "operation"},
		{"amas.agent.duration", "invoke_agent", "operation"},
		{"amas.agent.requests", "execute_tool", "operation"},
		{"amas.tool.calls", "search", "tool"},
	} {
		ok, _, found := pointOf(t, first, c.metric, map[string]string{"agent": "agent-0", c.opLabel: c.op, "status": "ok"})
		require.True(t, found, c.metric+" "+c.op)
		assert.Equal(t, 2.0, ok, c.metric+" "+c.op)
		errs, _, found := pointOf(t, first, c.metric, map[string]string{"agent": "agent-0", c.opLabel: c.op, "status": "error"})
		require.True(t, found, "%s %s: the status=error sibling is emitted before any error", c.metric, c.op)
		assert.Zero(t, errs, c.metric+" "+c.op)
	}
	_, _, found := pointOf(t, first, "amas.agent.errors", map[string]string{"agent": "agent-0"})
	assert.False(t, found, "errors by error_type have no sibling: the type is unknown before the error")

	_, errStart, _ := pointOf(t, first, "amas.tool.calls", map[string]string{"agent": "agent-0", "status": "error"})
	h.clock.Advance(time.Minute)
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(8, 1, 2))) // runs 2..9: run 9's tool fails
	h.c.flush(ctx)
	second := lastMetrics(t, h)
	errs, start, _ := pointOf(t, second, "amas.tool.calls", map[string]string{"agent": "agent-0", "status": "error"})
	assert.Equal(t, 1.0, errs)
	assert.Equal(t, errStart, start, "one counter from 0 to 1: Prometheus' increase() sees the first error")
	ok, _, _ := pointOf(t, second, "amas.tool.calls", map[string]string{"agent": "agent-0", "status": "ok"})
	assert.Equal(t, 9.0, ok)
}

func TestAnErrorFirstSeriesGetsItsOkSiblingAtZero(t *testing.T) {
	h := newTestConnector(t, createDefaultConfig().(*Config))
	ctx := context.Background()
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(1, 1, 9))) // run 9 alone: its tool fails
	h.c.flush(ctx)
	md := lastMetrics(t, h)
	errs, _, found := pointOf(t, md, "amas.tool.calls", map[string]string{"agent": "agent-0", "tool": "search", "status": "error"})
	require.True(t, found)
	assert.Equal(t, 1.0, errs)
	ok, _, found := pointOf(t, md, "amas.tool.calls", map[string]string{"agent": "agent-0", "tool": "search", "status": "ok"})
	require.True(t, found, "the ok sibling exists from the first error on")
	assert.Zero(t, ok)
}

func TestASiblingThatWouldPassTheCardinalityLimitIsNotCreated(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	// agent-0's run fills 6 request series (invoke_agent, chat, execute_tool, each ok + error);
	// agent-1's invoke_agent ok series takes the 7th and last slot.
	cfg.AggregationCardinalityLimit = 7
	h := newTestConnector(t, cfg)
	ctx := context.Background()
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(2, 2, 0))) // agent-0 then agent-1, no errors
	h.c.flush(ctx)
	md := lastMetrics(t, h)

	for _, c := range []struct {
		agent, status string
		present       bool
	}{{"agent-0", "ok", true}, {"agent-0", "error", true}, {"agent-1", "ok", true}, {"agent-1", "error", false}} {
		_, _, found := pointOf(t, md, "amas.agent.requests", map[string]string{"agent": c.agent, "operation": "invoke_agent", "status": c.status})
		assert.Equal(t, c.present, found, "%s %s", c.agent, c.status)
	}
	assert.Equal(t, 7, h.c.requests.slots(), "the limit holds, siblings included")
	assert.Len(t, h.c.requests.series, 4, "a zero sibling holds a slot but no series")
	require.NotNil(t, h.c.requests.overflow)
	assert.Equal(t, uint64(2), h.c.requests.overflow.count,
		"the overflow series holds agent-1's chat and tool spans, and nothing for the sibling left out")
	assert.Equal(t, int64(2), h.internalCount(t, "otelcol_connector_amas_spanmetrics_series_overflowed", "metric", "requests"))
}

func TestASiblingLivesAsLongAsItsSeriesAndExpiresWithIt(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.SeriesExpiration = 10 * time.Minute
	h := newTestConnector(t, cfg)
	ctx := context.Background()
	errSeries := map[string]string{"agent": "agent-0", "operation": "invoke_agent", "status": "error"}
	for range 3 { // a span every 9 minutes: the ok series never idles 10 minutes, its sibling never sees a span
		require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(1, 1, 0)))
		h.clock.Advance(9 * time.Minute)
		h.c.flush(ctx)
		_, _, found := pointOf(t, lastMetrics(t, h), "amas.agent.requests", errSeries)
		require.True(t, found, "the zero sibling of a live series stays")
	}
	h.clock.Advance(2 * time.Minute)
	h.c.flush(ctx)
	_, _, found := pointOf(t, lastMetrics(t, h), "amas.agent.requests", errSeries)
	assert.False(t, found, "11 minutes after the last span both expire")
	assert.Zero(t, h.c.requests.len())
	assert.Zero(t, h.c.requests.slots(), "the zero siblings' slots are freed with their series")
}

func TestAnErrorSeriesLivesAsLongAsItsOkSeries(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.SeriesExpiration = 10 * time.Minute
	h := newTestConnector(t, cfg)
	ctx := context.Background()
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(1, 1, 9))) // run 9: the tool call fails
	toolErr := map[string]string{"agent": "agent-0", "tool": "search", "status": "error"}
	for range 3 { // then only good runs, every 9 minutes
		h.clock.Advance(9 * time.Minute)
		require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(1, 1, 0)))
		h.c.flush(ctx)
		v, _, found := pointOf(t, lastMetrics(t, h), "amas.tool.calls", toolErr)
		require.True(t, found, "the error series stays while its ok series is live")
		assert.Equal(t, 1.0, v)
	}
	h.clock.Advance(11 * time.Minute)
	h.c.flush(ctx)
	assert.Zero(t, h.c.tools.slots(), "both expire once neither had a span for 10 minutes")
}

func TestSiblingsSurviveARestartWithTheirCountsAndStarts(t *testing.T) {
	ctx := context.Background()
	st := storagetest.New()
	id := component.MustNewID("file_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &id

	before := newTestConnector(t, cfg)
	require.NoError(t, before.c.Start(ctx, hostWithExtensions{id: st}))
	require.NoError(t, before.c.ConsumeTraces(ctx, agentRuns(10, 1, 0))) // run 9's tool fails
	require.NoError(t, before.c.Shutdown(ctx))
	okBefore, okStart, _ := pointOf(t, lastMetrics(t, before), "amas.agent.requests", map[string]string{"agent": "agent-0", "operation": "invoke_agent", "status": "ok"})

	after := newTestConnector(t, cfg)
	after.clock.Advance(time.Hour)
	require.NoError(t, after.c.Start(ctx, hostWithExtensions{id: st}))
	after.c.flush(ctx)
	md := lastMetrics(t, after)

	invokeErr := map[string]string{"agent": "agent-0", "operation": "invoke_agent", "status": "error"}
	v, start, found := pointOf(t, md, "amas.agent.requests", invokeErr)
	require.True(t, found, "the zero sibling is back after the restart")
	assert.Zero(t, v)
	assert.Equal(t, okStart, start, "with the start of its restored series")
	v, _, _ = pointOf(t, md, "amas.tool.calls", map[string]string{"agent": "agent-0", "status": "error"})
	assert.Equal(t, 1.0, v, "a sibling with data is a checkpointed series and keeps its count")
	v, _, _ = pointOf(t, md, "amas.agent.requests", map[string]string{"agent": "agent-0", "operation": "invoke_agent", "status": "ok"})
	assert.Equal(t, okBefore, v)

	// The first error after the restart continues the zero sibling's counter.
	failed := agentRuns(1, 1, 0)
	failed.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Status().SetCode(ptrace.StatusCodeError)
	require.NoError(t, after.c.ConsumeTraces(ctx, failed))
	after.c.flush(ctx)
	require.NoError(t, after.c.Shutdown(ctx))
	v, start, _ = pointOf(t, lastMetrics(t, after), "amas.agent.requests", invokeErr)
	assert.Equal(t, 1.0, v)
	assert.Equal(t, okStart, start, "one counter from 0 to 1")
	assert.Equal(t, 1, after.c.requests.zeroSiblings,
		"of the request siblings only chat's error one is still zero (execute_tool's had run 9's error before the restart)")
	assert.Zero(t, after.c.tools.zeroSiblings)
}
