//go:build unix

package spanmetrics

import (
	"context"
	"strconv"
	"syscall"
	"testing"

	"go.opentelemetry.io/collector/consumer/consumertest"
)

func cpuNanos() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkCPUConsume is the steady state of BenchmarkConsume (amas only) reporting process CPU
// time per span, and the program the README runs under callgrind to count instructions per span
// (deterministic where wall time on a shared machine is not).
func BenchmarkCPUConsume(b *testing.B) {
	for _, spans := range []int{100, 1000} {
		for _, series := range []int{10, 1000, 100_000} {
			fixture := benchFixture(spans, series)
			per := fixture[0].SpanCount()
			b.Run("spans="+strconv.Itoa(spans)+"/series="+strconv.Itoa(series), func(b *testing.B) {
				cfg := createDefaultConfig().(*Config)
				cfg.AggregationCardinalityLimit = 1 << 20
				c := newBenchConnector(b, cfg, consumertest.NewNop())
				ctx := context.Background()
				for _, td := range fixture {
					_ = c.ConsumeTraces(ctx, td)
				}
				i := 0
				start := cpuNanos()
				for b.Loop() {
					_ = c.ConsumeTraces(ctx, fixture[i%len(fixture)])
					i++
				}
				b.ReportMetric(float64(cpuNanos()-start)/float64(i*per), "cpu-ns/span")
			})
		}
	}
}
