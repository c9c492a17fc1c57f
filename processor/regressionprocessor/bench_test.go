package regressionprocessor

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor/internal/metadata"
)

const benchBatch = 1000

// benchBatches builds batches of benchBatch spans that together cover ops operations, with
// attributes like a real agent span (GenAI attributes, tokens, cost).
func benchBatches(ops int, now time.Time) []ptrace.Traces {
	n := max(1, ops/benchBatch)
	out := make([]ptrace.Traces, n)
	end := pcommon.NewTimestampFromTime(now)
	for b := range out {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "shop")
		rs.Resource().Attributes().PutStr("service.version", "1.2.3")
		rs.Resource().Attributes().PutStr("host.name", "node-1")
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		for i := range benchBatch {
			sp := spans.AppendEmpty()
			sp.SetName("invoke_agent")
			sp.SetStartTimestamp(end - pcommon.Timestamp(time.Duration(200+i%300)*time.Millisecond))
			sp.SetEndTimestamp(end)
			a := sp.Attributes()
			a.PutStr("gen_ai.operation.name", "invoke_agent")
			a.PutStr("gen_ai.agent.name", "agent-"+strconv.Itoa((b*benchBatch+i)%ops))
			a.PutStr("gen_ai.request.model", "gpt-4o")
			a.PutInt("gen_ai.usage.input_tokens", 1200)
			a.PutInt("gen_ai.usage.output_tokens", 300)
			a.PutDouble(DefaultCostAttribute, 0.0123)
			a.PutStr("http.route", "/v1/agents/run")
			if i%50 == 0 {
				sp.Status().SetCode(ptrace.StatusCodeError)
			}
		}
		out[b] = td
	}
	return out
}

func benchProcessor(b *testing.B, ops int) (*regressionProcessor, *fakeClock) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxOperations = max(ops, 1000)
	set := processortest.NewNopSettings(metadata.Type)
	set.Logger = zap.NewNop()
	clock := newFakeClock(epoch)
	p, err := newRegressionProcessor(set, cfg, clock)
	require.NoError(b, err)
	return p, clock
}

func BenchmarkProcessTraces(b *testing.B) {
	for _, tc := range []struct {
		ops    int
		marked bool
	}{{10, false}, {10_000, false}, {10, true}} {
		name := fmt.Sprintf("operations=%d", tc.ops)
		if tc.marked {
			name += "/all_regressed_marking"
		}
		b.Run(name, func(b *testing.B) {
			p, clock := benchProcessor(b, tc.ops)
			batches := benchBatches(tc.ops, clock.Now())
			ctx := context.Background()
			for _, td := range batches { // create the operations: steady state from here on
				_, _ = p.processTraces(ctx, td)
			}
			require.Len(b, p.tr.ops, tc.ops)
			if tc.marked {
				for _, op := range p.tr.ops {
					op.alerts[kindLatency].phase = phaseFiring
					op.fig[kindLatency].baseline[0], op.fig[kindLatency].current[0], op.fig[kindLatency].ratio = 0.3, 0.6, 2
					p.tr.refreshFlags(op)
				}
				for _, td := range batches { // first marks add the attributes; later ones overwrite
					_, _ = p.processTraces(ctx, td)
				}
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
			spans := float64(i * benchBatch)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/spans, "ns/span")
			// CPU time of the process: on a shared machine wall time also counts the time the
			// benchmark waited for a core.
			b.ReportMetric(float64(cpu.Nanoseconds())/spans, "cpu-ns/span")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/spans, "allocs/span")
		})
	}
}

func BenchmarkProcessTracesParallel(b *testing.B) {
	p, clock := benchProcessor(b, 10)
	ctx := context.Background()
	for _, td := range benchBatches(10, clock.Now()) {
		_, _ = p.processTraces(ctx, td)
	}
	// One batch per goroutine, built before the timer is reset: RunParallel, unlike b.Loop, does
	// not reset it, so the warm-up and the building were measured too.
	var pool [8]ptrace.Traces // goroutines beyond 8 share one: no marking here, so spans are only read
	for i := range pool {
		pool[i] = benchBatches(10, clock.Now())[0]
	}
	var next atomic.Int32
	b.ResetTimer()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		td := pool[int(next.Add(1)-1)%len(pool)]
		for pb.Next() {
			_, _ = p.processTraces(ctx, td)
		}
	})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/span")
}

// BenchmarkEvaluate is the tick: roll, judge and render 10k operations.
func BenchmarkEvaluate(b *testing.B) {
	p, clock := benchProcessor(b, 10_000)
	ctx := context.Background()
	for _, td := range benchBatches(10_000, clock.Now()) {
		_, _ = p.processTraces(ctx, td)
	}
	b.ReportAllocs()
	for b.Loop() {
		clock.Advance(time.Minute)
		p.mu.Lock()
		p.tr.evaluate(clock.Now().UnixNano())
		_ = p.buildMetrics(clock.Now())
		p.mu.Unlock()
	}
}

// BenchmarkMemoryPerOperation reports the heap held per tracked operation.
func BenchmarkMemoryPerOperation(b *testing.B) {
	const ops = 10_000
	var perOp float64
	for b.Loop() {
		p, clock := benchProcessor(b, ops)
		batches := benchBatches(ops, clock.Now())
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for _, td := range batches {
			_, _ = p.processTraces(context.Background(), td)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perOp = float64(after.HeapAlloc-before.HeapAlloc) / ops
		runtime.KeepAlive(p)
		runtime.KeepAlive(batches)
	}
	b.ReportMetric(perOp, "bytes/operation")
}

// cpuTime is the user+system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestAnOperationFitsInEightKiB(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(operation{}), uintptr(8192))
	t.Logf("operation struct: %d bytes", unsafe.Sizeof(operation{}))
}
