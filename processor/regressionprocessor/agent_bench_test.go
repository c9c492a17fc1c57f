package regressionprocessor

import (
	"context"
	"encoding/binary"
	"runtime"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// runBatches builds batches of agent runs as SDKs export them: per run a chat and an
// execute_tool span without gen_ai.agent.name, then their invoke_agent parent (10 agents).
func runBatches(n int, now time.Time) []ptrace.Traces {
	end := pcommon.NewTimestampFromTime(now)
	out := make([]ptrace.Traces, n)
	for b := range out {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "shop")
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		for r := range benchBatch / 3 {
			run := uint64(b*benchBatch + r)
			sid := func(k uint64) pcommon.SpanID {
				var s pcommon.SpanID
				binary.BigEndian.PutUint64(s[:], run*4+k+1)
				return s
			}
			for k, op := range []string{"chat", "execute_tool", "invoke_agent"} {
				sp := spans.AppendEmpty()
				sp.SetName(op)
				sp.SetSpanID(sid(uint64(k)))
				if op != "invoke_agent" {
					sp.SetParentSpanID(sid(2))
				} else {
					sp.Attributes().PutStr("gen_ai.agent.name", "agent-"+strconv.Itoa(int(run%10)))
				}
				sp.SetStartTimestamp(end - pcommon.Timestamp(time.Duration(200+r%300)*time.Millisecond))
				sp.SetEndTimestamp(end)
				sp.Attributes().PutStr("gen_ai.operation.name", op)
			}
		}
		out[b] = td
	}
	return out
}

// BenchmarkProcessTracesAgentRuns: two spans in three take their agent from their parent.
func BenchmarkProcessTracesAgentRuns(b *testing.B) {
	p, clock := benchProcessor(b, 100)
	batches := runBatches(4, clock.Now())
	ctx := context.Background()
	for _, td := range batches {
		_, _ = p.processTraces(ctx, td)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_, _ = p.processTraces(ctx, batches[i%len(batches)])
		i++
	}
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&after)
	spans := float64(i * batches[0].SpanCount())
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/spans, "ns/span")
	b.ReportMetric(float64(cpu.Nanoseconds())/spans, "cpu-ns/span")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/spans, "allocs/span")
}
