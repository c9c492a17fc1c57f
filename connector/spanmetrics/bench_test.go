package spanmetrics

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-amas/otelcol-amas/internal/storagetest"
)

// benchFixture is a set of batches of agent runs (3 spans each) that together touch every one of
// `series` agents; a fixture series is one agent (its invoke_agent, chat and tool spans).
func benchFixture(spansPerBatch, series int) []ptrace.Traces {
	runs := spansPerBatch / 3
	n := (series + runs - 1) / runs
	out := make([]ptrace.Traces, n)
	for i := range out {
		out[i] = agentRuns(runs, series, i*runs)
	}
	return out
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkConsume feeds the same fixture to contrib's span_metrics (default config: no
// exemplars) and to amas_spanmetrics (default config: exemplars on, plus tokens, cost, tools,
// errors and active agents). All series exist before timing starts (steady state). Reported:
// ns/span, allocs/span, and B/series (heap held per fixture series after the warm-up).
func BenchmarkConsume(b *testing.B) {
	impls := []struct {
		name string
		make func(b *testing.B, next consumer.Metrics) consumer.Traces
	}{
		{"contrib", func(b *testing.B, next consumer.Metrics) consumer.Traces {
			return newContribConnector(b, next, clockwork.NewFakeClock())
		}},
		{"amas", func(b *testing.B, next consumer.Metrics) consumer.Traces {
			cfg := createDefaultConfig().(*Config)
			cfg.AggregationCardinalityLimit = 1 << 20
			return newBenchConnector(b, cfg, next)
		}},
	}
	for _, spans := range []int{100, 1000} {
		for _, series := range []int{10, 1000, 100_000} {
			fixture := benchFixture(spans, series)
			spansPerBatch := fixture[0].SpanCount()
			for _, impl := range impls {
				b.Run("impl="+impl.name+"/spans="+strconv.Itoa(spans)+"/series="+strconv.Itoa(series), func(b *testing.B) {
					ctx := context.Background()
					before := heapInUse()
					c := impl.make(b, consumertest.NewNop())
					for _, td := range fixture {
						if err := c.ConsumeTraces(ctx, td); err != nil {
							b.Fatal(err)
						}
					}
					perSeries := float64(heapInUse()-before) / float64(series)
					var ms0, ms1 runtime.MemStats
					runtime.ReadMemStats(&ms0)
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						_ = c.ConsumeTraces(ctx, fixture[i%len(fixture)])
						i++
					}
					runtime.ReadMemStats(&ms1)
					total := float64(i * spansPerBatch)
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/span")
					b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/total, "allocs/span")
					b.ReportMetric(perSeries, "B/series")
					runtime.KeepAlive(c)
				})
			}
		}
	}
}

// BenchmarkConsumeParallel measures amas_spanmetrics under concurrent batches (one lock).
func BenchmarkConsumeParallel(b *testing.B) {
	fixture := benchFixture(1000, 1000)
	cfg := createDefaultConfig().(*Config)
	c := newBenchConnector(b, cfg, consumertest.NewNop())
	ctx := context.Background()
	for _, td := range fixture {
		_ = c.ConsumeTraces(ctx, td)
	}
	// RunParallel, unlike b.Loop, does not reset the timer: without this the warm-up above
	// (creating every series) was measured too, and showed up as ~20 allocs per batch.
	b.ResetTimer()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_ = c.ConsumeTraces(ctx, fixture[i%len(fixture)])
			i++
		}
	})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*fixture[0].SpanCount()), "ns/span")
}

// BenchmarkFlush measures building the payload of 1000 agents (the work done under the lock at
// each flush interval).
func BenchmarkFlush(b *testing.B) {
	fixture := benchFixture(1000, 1000)
	c := newBenchConnector(b, createDefaultConfig().(*Config), consumertest.NewNop())
	ctx := context.Background()
	for _, td := range fixture {
		_ = c.ConsumeTraces(ctx, td)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.flush(ctx)
	}
}

// BenchmarkFlushWithCheckpoint is BenchmarkFlush with storage: each flush after new spans also
// encodes the checkpoint under the lock and writes it (to memory here).
func BenchmarkFlushWithCheckpoint(b *testing.B) {
	fixture := benchFixture(1000, 1000)
	cfg := createDefaultConfig().(*Config)
	id := component.MustNewID("file_storage")
	cfg.Storage = &id
	c := newBenchConnector(b, cfg, consumertest.NewNop())
	ctx := context.Background()
	if err := c.openStorage(ctx, hostWithExtensions{id: storagetest.New()}); err != nil {
		b.Fatal(err)
	}
	for _, td := range fixture {
		_ = c.ConsumeTraces(ctx, td)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.lock.Lock()
		c.dirty = true
		c.lock.Unlock()
		c.flush(ctx)
	}
}

func newBenchConnector(b *testing.B, cfg *Config, next consumer.Metrics) *spanMetricsConnector {
	b.Helper()
	h := newTestConnectorTB(b, cfg)
	h.c.next = next
	return h.c
}
