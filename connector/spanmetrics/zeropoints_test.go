package spanmetrics

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// streamPoint is one point of a stream: when it was taken, its start, and its value (a
// histogram's count).
type streamPoint struct {
	at, start pcommon.Timestamp
	value     float64
}

// stream returns, in payload order, the points of metric name whose attributes are exactly want.
func stream(md pmetric.Metrics, name string, want map[string]string) []streamPoint {
	return streamOf(md, name, func(attrs pcommon.Map) bool { return attrs.Len() == len(want) && attrsMatch(attrs.AsRaw(), want) })
}

// streamOf returns, in payload order, the points of the first series of metric name (a sum or
// a histogram) whose attributes match.
func streamOf(md pmetric.Metrics, name string, match func(pcommon.Map) bool) []streamPoint {
	var out []streamPoint
	var first pcommon.Map
	same := func(attrs pcommon.Map) bool {
		if !match(attrs) || (out != nil && !attrs.Equal(first)) {
			return false
		}
		first = attrs
		return true
	}
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := 0; i < ms.Len(); i++ {
		m := ms.At(i)
		if m.Name() != name {
			continue
		}
		switch m.Type() {
		case pmetric.MetricTypeSum:
			for j := 0; j < m.Sum().DataPoints().Len(); j++ {
				dp := m.Sum().DataPoints().At(j)
				if same(dp.Attributes()) {
					v := dp.DoubleValue()
					if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
						v = float64(dp.IntValue())
					}
					out = append(out, streamPoint{dp.Timestamp(), dp.StartTimestamp(), v})
				}
			}
		case pmetric.MetricTypeHistogram:
			for j := 0; j < m.Histogram().DataPoints().Len(); j++ {
				dp := m.Histogram().DataPoints().At(j)
				if same(dp.Attributes()) {
					out = append(out, streamPoint{dp.Timestamp(), dp.StartTimestamp(), float64(dp.Count())})
				}
			}
		}
	}
	return out
}

var (
	agentOK   = map[string]string{"agent": "agent-0", "operation": "invoke_agent", "status": "ok"}
	toolOK    = map[string]string{"agent": "agent-0", "tool": "search", "status": "ok"}
	toolError = map[string]string{"agent": "agent-0", "tool": "search", "status": "error"}
	inputTok  = map[string]string{"agent": "agent-0", "model": "gpt-4o", "token_type": "input"}
	cacheTok  = map[string]string{"agent": "agent-0", "model": "gpt-4o", "token_type": "cache_read"}
	costs     = map[string]string{"agent": "agent-0", "model": "gpt-4o"}
)

func ms(ts pcommon.Timestamp) pcommon.Timestamp { return ts / 1e6 * 1e6 }

func TestANewStreamIsFirstSentAsAZeroAtItsStartThenItsValue(t *testing.T) {
	h := newTestConnector(t, createDefaultConfig().(*Config))
	ctx := context.Background()
	born := pcommon.NewTimestampFromTime(h.clock.Now())
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(3, 1, 0)))
	h.clock.Advance(time.Second)
	now := pcommon.NewTimestampFromTime(h.clock.Now())
	h.c.flush(ctx)
	md := lastMetrics(t, h)

	for _, c := range []struct {
		name  string
		attrs map[string]string
		value float64
	}{
		{"amas.agent.requests", agentOK, 3},
		{"amas.agent.duration", agentOK, 3},
		{"amas.tool.calls", toolOK, 3},
		{"amas.tokens.used", inputTok, 3000},
	} {
		assert.Equal(t, []streamPoint{{born, born, 0}, {now, born, c.value}}, stream(md, c.name, c.attrs),
			"%s: a 0 at its start, then its value, so increase() over the remote-written samples counts the first flush", c.name)
	}
	cost := stream(md, "amas.cost.usd", costs)
	require.Len(t, cost, 2)
	assert.Equal(t, streamPoint{born, born, 0}, cost[0])
	assert.Positive(t, cost[1].value)
	// A zero sibling is sent at 0 anyway: it needs no 0 before it.
	assert.Equal(t, []streamPoint{{now, born, 0}}, stream(md, "amas.tool.calls", toolError))

	h.clock.Advance(time.Second)
	later := pcommon.NewTimestampFromTime(h.clock.Now())
	h.c.flush(ctx)
	assert.Equal(t, []streamPoint{{later, born, 3}}, stream(lastMetrics(t, h), "amas.agent.requests", agentOK),
		"only a stream's first flush has a 0 before it")
}

func TestAStreamThatAppearsLaterStartsFromZeroAtThePreviousFlush(t *testing.T) {
	h := newTestConnector(t, createDefaultConfig().(*Config))
	ctx := context.Background()
	born := pcommon.NewTimestampFromTime(h.clock.Now())
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(1, 1, 0)))
	h.clock.Advance(time.Hour) // longer than Prometheus keeps a series' head open for old samples
	h.c.flush(ctx)
	flushed := pcommon.NewTimestampFromTime(h.clock.Now())

	// The same agent and model, now with cache reads: a token stream of an old series.
	td := agentRuns(1, 1, 1)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := 0; i < spans.Len(); i++ {
		if sp := spans.At(i); sp.Kind() == ptrace.SpanKindClient {
			sp.Attributes().PutInt("gen_ai.usage.cache_read_input_tokens", 400)
		}
	}
	require.NoError(t, h.c.ConsumeTraces(ctx, td))
	h.clock.Advance(15 * time.Second)
	now := pcommon.NewTimestampFromTime(h.clock.Now())
	h.c.flush(ctx)

	assert.Equal(t, []streamPoint{{flushed, born, 0}, {now, born, 400}}, stream(lastMetrics(t, h), "amas.tokens.used", cacheTok),
		"the stream was 0 at the previous flush, which is recent enough for Prometheus to take")
	assert.Equal(t, []streamPoint{{now, born, 2000}}, stream(lastMetrics(t, h), "amas.tokens.used", inputTok))
}

func TestAZeroSiblingThatBecomesASeriesGetsNoZeroBehindItsSentZeros(t *testing.T) {
	h := newTestConnector(t, createDefaultConfig().(*Config))
	ctx := context.Background()
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(1, 1, 0)))
	h.clock.Advance(time.Second)
	h.c.flush(ctx)                                                 // the error sibling is sent at 0
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(1, 1, 9))) // run 9: the tool call fails
	h.clock.Advance(time.Second)
	now := pcommon.NewTimestampFromTime(h.clock.Now())
	h.c.flush(ctx)
	got := stream(lastMetrics(t, h), "amas.tool.calls", toolError)
	require.Len(t, got, 1, "a 0 at its start would be older than the zeros Prometheus holds: out of order")
	assert.Equal(t, streamPoint{now, got[0].start, 1}, got[0])
}

func TestARestoredSeriesGetsNoZero(t *testing.T) {
	cfg := storageCfg()
	h, _ := restartWith(t, cfg, checkpointAfter(t, cfg))
	md := h.sink.AllMetrics()[0]
	assert.Len(t, stream(md, "amas.agent.requests", agentOK), 1, "Prometheus holds its samples from before the restart")
	assert.Len(t, stream(md, "amas.tokens.used", inputTok), 1)
}

func TestNoZeroWhenItWouldShareTheValuesMillisecond(t *testing.T) {
	h := newTestConnector(t, createDefaultConfig().(*Config))
	ctx := context.Background()
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(1, 1, 0)))
	h.clock.Advance(999 * time.Microsecond)
	require.Equal(t, ms(pcommon.NewTimestampFromTime(h.clock.Now())), ms(h.c.requests.series[h.c.kb.key([]string{"agent-0", "invoke_agent", "ok"})].start),
		"the test needs the flush in the series' millisecond")
	h.c.flush(ctx)
	assert.Len(t, stream(lastMetrics(t, h), "amas.agent.requests", agentOK), 1,
		"Prometheus would refuse the whole remote-write request for two samples in one millisecond")
}

func TestZeroPointsOffOrDeltaSendNone(t *testing.T) {
	for name, set := range map[string]func(*Config){
		"zero_points false": func(c *Config) { c.ZeroPoints = false },
		"delta":             func(c *Config) { c.AggregationTemporality = temporalityDelta },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			set(cfg)
			h := newTestConnector(t, cfg)
			ctx := context.Background()
			require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(3, 1, 0)))
			h.clock.Advance(time.Second)
			h.c.flush(ctx)
			got := stream(lastMetrics(t, h), "amas.agent.requests", agentOK)
			require.Len(t, got, 1)
			assert.Equal(t, 3.0, got[0].value)
		})
	}
}
