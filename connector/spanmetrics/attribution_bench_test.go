package spanmetrics

import (
	"context"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// splitRuns moves the spans of td into two batches: the agent spans, and the others (their
// model and tool children), as an SDK exports a long run: children first, the agent span later.
func splitRuns(td ptrace.Traces) (children, agents ptrace.Traces) {
	children, agents = ptrace.NewTraces(), ptrace.NewTraces()
	td.CopyTo(children)
	td.CopyTo(agents)
	isAgent := func(s ptrace.Span) bool { return strAttr(s.Attributes(), "gen_ai.operation.name") == "invoke_agent" }
	children.ResourceSpans().At(0).ScopeSpans().At(0).Spans().RemoveIf(isAgent)
	agents.ResourceSpans().At(0).ScopeSpans().At(0).Spans().RemoveIf(func(s ptrace.Span) bool { return !isAgent(s) })
	return children, agents
}

// BenchmarkAttribution measures the cross-batch path in steady state: each round sends the model
// and tool spans of `spans/3` agent runs (held: their agent is not in the batch), then the agent
// spans (which settle them). Reported: ns/span, cpu-ns/span and allocs/span over all spans, and
// B/pending, the
// heap held per waiting contribution (measured once, holding every child of 10 000 runs).
// BenchmarkAttributionInBatch is the same fixture with each round's runs whole in one batch (the
// common case, nothing held), for comparison on one machine in one run.
func BenchmarkAttribution(b *testing.B) {
	for _, spans := range []int{100, 1000} {
		b.Run("spans="+strconv.Itoa(spans), func(b *testing.B) {
			const agents = 1000
			var rounds [][2]ptrace.Traces
			for i := range 10 {
				c, a := splitRuns(agentRuns(spans/3, agents, i*spans/3))
				rounds = append(rounds, [2]ptrace.Traces{c, a})
			}
			perRound := rounds[0][0].SpanCount() + rounds[0][1].SpanCount()
			cfg := createDefaultConfig().(*Config)
			c := newBenchConnector(b, cfg, consumertest.NewNop())
			ctx := context.Background()
			for _, r := range rounds { // every series exists before timing
				_ = c.ConsumeTraces(ctx, r[0])
				_ = c.ConsumeTraces(ctx, r[1])
			}
			if c.att.n != 0 {
				b.Fatalf("%d contributions still wait after the warm-up", c.att.n)
			}
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			cpu0 := cpuTime()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r := rounds[i%len(rounds)]
				_ = c.ConsumeTraces(ctx, r[0])
				_ = c.ConsumeTraces(ctx, r[1])
				i++
			}
			cpu := cpuTime() - cpu0
			runtime.ReadMemStats(&ms1)
			total := float64(i * perRound)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/span")
			// Process CPU time: on a shared machine wall time also counts waiting for a core.
			b.ReportMetric(float64(cpu.Nanoseconds())/total, "cpu-ns/span")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/total, "allocs/span")
			b.ReportMetric(pendingBytes(b), "B/pending")
		})
	}
}

func BenchmarkAttributionInBatch(b *testing.B) {
	for _, spans := range []int{100, 1000} {
		b.Run("spans="+strconv.Itoa(spans), func(b *testing.B) {
			var rounds []ptrace.Traces
			for i := range 10 {
				rounds = append(rounds, agentRuns(spans/3, 1000, i*spans/3))
			}
			c := newBenchConnector(b, createDefaultConfig().(*Config), consumertest.NewNop())
			ctx := context.Background()
			for _, r := range rounds {
				_ = c.ConsumeTraces(ctx, r)
			}
			cpu0 := cpuTime()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_ = c.ConsumeTraces(ctx, rounds[i%len(rounds)])
				i++
			}
			cpu := cpuTime() - cpu0
			total := float64(i * rounds[0].SpanCount())
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/span")
			b.ReportMetric(float64(cpu.Nanoseconds())/total, "cpu-ns/span")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pendingBytes is the heap held per waiting contribution (with its wait-list and link entries):
// the 20 000 model and tool spans of 10 000 runs whose agent spans have not arrived, sent to a
// connector whose series already exist (warmed with whole runs, which hold nothing).
func pendingBytes(b *testing.B) float64 {
	const runs = 10_000
	cfg := createDefaultConfig().(*Config)
	c := newBenchConnector(b, cfg, consumertest.NewNop())
	ctx := context.Background()
	_ = c.ConsumeTraces(ctx, agentRuns(runs, 1000, 0))
	children, _ := splitRuns(agentRuns(runs, 1000, runs)) // other trace ids, the same series
	before := heapInUse()
	_ = c.ConsumeTraces(ctx, children)
	held := c.att.n
	after := heapInUse()
	runtime.KeepAlive(children)
	runtime.KeepAlive(c)
	if held != 2*runs {
		b.Fatalf("held %d contributions, want %d", held, 2*runs)
	}
	return float64(int64(after)-int64(before)) / float64(held)
}
