package spanmetrics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/open-telemetry/opentelemetry-collector-contrib/connector/spanmetricsconnector"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// newContribConnector builds contrib's span_metrics with its default configuration on a fake clock
// (its flush ticker only fires when the clock is advanced).
func newContribConnector(tb testing.TB, next consumer.Metrics, clock *clockwork.FakeClock) connector.Traces {
	tb.Helper()
	f := spanmetricsconnector.NewFactory()
	ctx := clockwork.AddToContext(context.Background(), clock)
	c, err := f.CreateTracesToMetrics(ctx, connectortest.NewNopSettings(f.Type()), f.CreateDefaultConfig(), next)
	require.NoError(tb, err)
	return c
}

type contribPoint struct {
	calls    int64
	durCount uint64
	durSumMs float64
}

// contribBySpan indexes contrib's calls and duration by (span.name, status.code).
func contribBySpan(md pmetric.Metrics) map[[2]string]*contribPoint {
	out := map[[2]string]*contribPoint{}
	get := func(attrs map[string]any) *contribPoint {
		k := [2]string{attrs["span.name"].(string), attrs["status.code"].(string)}
		if out[k] == nil {
			out[k] = &contribPoint{}
		}
		return out[k]
	}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		ms := rms.At(i).ScopeMetrics().At(0).Metrics()
		for j := 0; j < ms.Len(); j++ {
			m := ms.At(j)
			switch {
			case strings.HasSuffix(m.Name(), ".calls"):
				for k := 0; k < m.Sum().DataPoints().Len(); k++ {
					dp := m.Sum().DataPoints().At(k)
					get(dp.Attributes().AsRaw()).calls += dp.IntValue()
				}
			case strings.HasSuffix(m.Name(), ".duration"):
				for k := 0; k < m.Histogram().DataPoints().Len(); k++ {
					dp := m.Histogram().DataPoints().At(k)
					p := get(dp.Attributes().AsRaw())
					p.durCount += dp.Count()
					p.durSumMs += dp.Sum()
				}
			}
		}
	}
	return out
}

// TestAgreesWithContribSpanMetrics feeds the same agent runs to contrib's span_metrics and to
// amas_spanmetrics. Every span of the fixture is named "<operation> ... <agent>", so contrib's
// per-span-name calls and duration counts must equal ours per (agent, operation, status) — which
// also checks that the unnamed chat spans were charged to the right agent.
func TestAgreesWithContribSpanMetrics(t *testing.T) {
	ctx := context.Background()
	const agents = 5
	batches := []int{7, 30, 13}

	contribSink := new(consumertest.MetricsSink)
	clock := clockwork.NewFakeClockAt(goldenNow)
	contrib := newContribConnector(t, contribSink, clock)
	require.NoError(t, contrib.Start(ctx, componenttest.NewNopHost()))
	ours := newTestConnector(t, createDefaultConfig().(*Config))

	offset := 0
	for _, runs := range batches {
		td := agentRuns(runs, agents, offset)
		offset += runs
		require.NoError(t, contrib.ConsumeTraces(ctx, td))
		require.NoError(t, ours.c.ConsumeTraces(ctx, td))
	}
	ours.c.flush(ctx)
	// contrib's default flush interval is 60 s, and its first cumulative export of a new counter
	// is deliberately 0 (so Prometheus keeps the first increment): compare its second export.
	for i := 1; i <= 2; i++ {
		clock.BlockUntil(1)
		clock.Advance(time.Minute)
		require.Eventually(t, func() bool { return len(contribSink.AllMetrics()) >= i }, 10*time.Second, 5*time.Millisecond)
	}
	require.NoError(t, contrib.Shutdown(ctx))

	theirs := contribBySpan(contribSink.AllMetrics()[1])
	md := lastMetrics(t, ours)
	require.NotEmpty(t, theirs)
	compared := 0
	for key, p := range theirs {
		name, code := key[0], key[1]
		agent := name[strings.LastIndexByte(name, ' ')+1:]
		op := name[:strings.IndexByte(name, ' ')]
		status := statusOK
		if code == "STATUS_CODE_ERROR" {
			status = statusError
		}
		want := map[string]string{"agent": agent, "operation": op, "status": status}
		calls, ok := sumValue(t, md, "amas.agent.requests", want)
		require.True(t, ok, "no amas series for %v", want)
		assert.Equal(t, float64(p.calls), calls, "requests of %v", want)
		count, ok := sumValue(t, md, "amas.agent.duration", want)
		require.True(t, ok)
		assert.Equal(t, float64(p.durCount), count, "duration count of %v", want)
		compared++
	}
	assert.Equal(t, agents*3+1, compared, "5 agents × (invoke_agent, chat, ok tool call) + the failing tool calls of agent-4")
}
