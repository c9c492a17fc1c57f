package sloprocessor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"
)

// agentRunsWithCost is n agent runs, each an invoke_agent span and a chat span whose cost the
// agent reported.
func agentRunsWithCost(n int, costPerRun float64) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "planner-agent")
	ss := rs.ScopeSpans().AppendEmpty()
	start := pcommon.NewTimestampFromTime(epoch)
	for i := range n {
		tid := pcommon.TraceID{byte(i + 1), 1}
		run := ss.Spans().AppendEmpty()
		run.SetTraceID(tid)
		run.SetSpanID(pcommon.SpanID{byte(i + 1), 1})
		run.SetName("invoke_agent planner")
		run.Attributes().PutStr("gen_ai.operation.name", "invoke_agent")
		run.Attributes().PutStr("gen_ai.agent.name", "planner")
		run.SetStartTimestamp(start)
		run.SetEndTimestamp(start + pcommon.Timestamp(time.Second))
		chat := ss.Spans().AppendEmpty()
		chat.SetTraceID(tid)
		chat.SetSpanID(pcommon.SpanID{byte(i + 1), 2})
		chat.SetParentSpanID(run.SpanID())
		chat.SetName("chat gpt-4o-mini")
		chat.Attributes().PutStr("gen_ai.operation.name", "chat")
		chat.Attributes().PutStr("gen_ai.request.model", "gpt-4o-mini")
		chat.Attributes().PutDouble("amas.cost.usd", costPerRun)
		chat.SetStartTimestamp(start)
		chat.SetEndTimestamp(start + pcommon.Timestamp(500*time.Millisecond))
	}
	return td
}

// TestCostEfficiencyFromTheConnectorsCounters runs the real amas_spanmetrics connector into the
// slo processor's metrics side on one fake clock: the cost SLO reads the connector's cost and
// request counters by their real names.
func TestCostEfficiencyFromTheConnectorsCounters(t *testing.T) {
	clock := clockwork.NewFakeClockAt(epoch)
	h := newHarnessAt(t, createDefaultConfig().(*Config), nil, nil, clock)
	defer h.shutdown()

	seen := make(chan int, 100)
	next, err := consumer.NewMetrics(func(ctx context.Context, md pmetric.Metrics) error {
		_, err := h.p.consumeMetrics(ctx, md)
		seen <- md.DataPointCount()
		return err
	})
	require.NoError(t, err)
	f := spanmetrics.NewFactory()
	cfg := f.CreateDefaultConfig().(*spanmetrics.Config)
	cfg.MetricsFlushInterval = 15 * time.Second
	conn, err := f.CreateTracesToMetrics(clockwork.AddToContext(context.Background(), clock), connectortest.NewNopSettings(f.Type()), cfg, next)
	require.NoError(t, err)
	require.NoError(t, conn.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, conn.Shutdown(context.Background())) }()

	// flush advances the fake clock past one connector flush and waits for its batch to arrive.
	flush := func() {
		t.Helper()
		require.NoError(t, clock.BlockUntilContext(context.Background(), 1)) // the connector's ticker waits (the harness runs the processor's ticks)
		clock.Advance(15 * time.Second)
		select {
		case <-seen:
		case <-time.After(10 * time.Second):
			t.Fatal("the connector did not flush")
		}
	}
	send := func(n int, cost float64) {
		require.NoError(t, conn.ConsumeTraces(context.Background(), agentRunsWithCost(n, cost)))
	}

	send(10, 0.02)
	flush() // 00:15 baseline of the cumulative streams
	send(10, 0.03)
	flush() // 00:30 +$0.30 over +10 runs: $0.03 per run
	flush() // 00:45
	flush() // 01:00 the first slice is closed at the next evaluation
	send(10, 0.09)
	flush() // 01:15 $0.09 per run
	flush() // 01:30
	flush() // 01:45
	flush() // 02:00
	h.tick(0)
	st := sloStatus(t, h.p.Status(), "cost_efficiency")
	require.Len(t, st.Groups, 1)
	g := st.Groups[0]
	assert.Equal(t, uint64(2), g.Events, "two one-minute slices with agent runs")
	assert.Equal(t, uint64(1), g.BadEvents, fmt.Sprintf("the $0.09 slice is over $0.05 per request: %+v", g))
}
