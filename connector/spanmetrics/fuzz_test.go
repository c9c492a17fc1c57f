package spanmetrics

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// FuzzConsumeSpan: one span with fuzzed names, token counts, cost, status, kind and timestamps
// sits in a batch between two good agent runs. Nothing panics, and the good runs are counted
// whatever the hostile span holds (a malformed span never drops its neighbours).
func FuzzConsumeSpan(f *testing.F) {
	f.Add("invoke_agent x", "invoke_agent", "x", "gpt-4o", "search", "TimeoutError", int64(10), int64(5), 0.01, int32(2), int32(1), uint64(1), uint64(2), true)
	f.Add("chat", "chat", "", "gpt-4o", "", "", int64(-1), int64(math.MaxInt64), math.NaN(), int32(7), int32(9), uint64(5), uint64(1), false)
	f.Add("execute_tool", "execute_tool", "a\r\nb", "m\x00", "t\x1b[31m", "e", int64(math.MinInt64), int64(0), math.Inf(1), int32(-1), int32(100), uint64(math.MaxUint64), uint64(0), true)
	f.Add("", "", "", "", "", "", int64(0), int64(0), -1.0, int32(0), int32(0), uint64(0), uint64(0), false)
	cfg := createDefaultConfig().(*Config)
	f.Fuzz(func(t *testing.T, name, op, agent, model, tool, errType string, in, out int64, cost float64,
		status, kind int32, start, end uint64, parented bool,
	) {
		h := newTestConnectorTB(t, cfg)
		good := agentRuns(2, 1, 0) // agent-0, twice
		spans := good.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
		hostile := ptrace.NewSpanSlice()
		s := hostile.AppendEmpty()
		s.SetTraceID(pcommon.TraceID{0xfe})
		s.SetSpanID(pcommon.SpanID{0xfe})
		if parented {
			s.SetParentSpanID(spans.At(0).SpanID())
			s.SetTraceID(spans.At(0).TraceID())
		}
		s.SetName(name)
		s.SetKind(ptrace.SpanKind(kind))
		s.Status().SetCode(ptrace.StatusCode(status))
		s.SetStartTimestamp(pcommon.Timestamp(start))
		s.SetEndTimestamp(pcommon.Timestamp(end))
		a := s.Attributes()
		a.PutStr("gen_ai.operation.name", op)
		a.PutStr("gen_ai.agent.name", agent)
		a.PutStr("gen_ai.request.model", model)
		a.PutStr("gen_ai.tool.name", tool)
		a.PutStr("error.type", errType)
		a.PutInt("gen_ai.usage.input_tokens", in)
		a.PutInt("gen_ai.usage.output_tokens", out)
		a.PutDouble("amas.cost.usd", cost)
		// The hostile span sits between the two good runs.
		merged := ptrace.NewSpanSlice()
		for i := 0; i < 3; i++ {
			spans.At(i).CopyTo(merged.AppendEmpty())
		}
		s.CopyTo(merged.AppendEmpty())
		for i := 3; i < spans.Len(); i++ {
			spans.At(i).CopyTo(merged.AppendEmpty())
		}
		merged.CopyTo(spans)
		require.NoError(t, h.c.ConsumeTraces(context.Background(), good))
		h.c.flush(context.Background())
		md := lastMetrics(t, h)
		v, ok := sumValue(t, md, "amas.agent.requests", map[string]string{"agent": "agent-0", "operation": "invoke_agent", "status": "ok"})
		require.True(t, ok, "the good runs' agent has no requests series")
		require.GreaterOrEqual(t, v, 2.0, "a good run next to the hostile span was not counted")
	})
}
