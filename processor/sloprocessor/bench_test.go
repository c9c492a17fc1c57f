package sloprocessor

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor/internal/metadata"
)

// agentBatch is 100 spans the way an agent run emits them: invoke_agent, execute_tool and chat
// spans, some failing, some slow, over the given number of agents.
func agentBatch(agents int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "agents")
	ss := rs.ScopeSpans().AppendEmpty()
	ops := []string{"invoke_agent", "execute_tool", "chat", "execute_tool"}
	start := pcommon.NewTimestampFromTime(epoch)
	for i := range 100 {
		sp := ss.Spans().AppendEmpty()
		op := ops[i%len(ops)]
		sp.SetName(op)
		sp.Attributes().PutStr("gen_ai.operation.name", op)
		sp.Attributes().PutStr("gen_ai.agent.name", fmt.Sprintf("agent-%d", i%agents))
		sp.SetStartTimestamp(start)
		sp.SetEndTimestamp(start + pcommon.Timestamp(time.Duration(100+i*20)*time.Millisecond))
		if i%37 == 0 {
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
	}
	return td
}

func benchProcessor(b *testing.B, cfg *Config) *sloProcessor {
	b.Helper()
	p, err := newSLOProcessor(processortest.NewNopSettings(metadata.Type), cfg, clockwork.NewRealClock())
	require.NoError(b, err)
	return p
}

func benchSpans(b *testing.B, p *sloProcessor, td ptrace.Traces) {
	ctx := context.Background()
	n := td.SpanCount()
	_, _ = p.consumeTraces(ctx, td) // create the series: the steady state is what is measured
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_, _ = p.consumeTraces(ctx, td)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/span")
	b.ReportMetric(0, "ns/op")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	allocs := testing.AllocsPerRun(20, func() { _, _ = p.consumeTraces(ctx, td) })
	b.ReportMetric(allocs/float64(n), "allocs/span")
}

// BenchmarkConsumeTraces: the six default SLOs, steady state, and per agent with 1k groups.
func BenchmarkConsumeTraces(b *testing.B) {
	b.Run("default_six_slos", func(b *testing.B) {
		benchSpans(b, benchProcessor(b, createDefaultConfig().(*Config)), agentBatch(10))
	})
	b.Run("default_six_slos_1k_groups", func(b *testing.B) {
		cfg := createDefaultConfig().(*Config)
		cfg.SLOs = DefaultSLOs()
		for i := range cfg.SLOs {
			cfg.SLOs[i].GroupBy = []string{"gen_ai.agent.name"}
		}
		p := benchProcessor(b, cfg)
		for g := range 10 { // create 1k groups first
			td := agentBatch(100)
			spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
			for i := 0; i < spans.Len(); i++ {
				spans.At(i).Attributes().PutStr("gen_ai.agent.name", fmt.Sprintf("agent-%d", g*100+i))
			}
			_, _ = p.consumeTraces(context.Background(), td)
		}
		benchSpans(b, p, agentBatch(1000))
	})
	b.Run("ottl_condition", func(b *testing.B) {
		cfg := createDefaultConfig().(*Config)
		cfg.SLOs = DefaultSLOs()[:1]
		cfg.SLOs[0].SLI.Spans.BadConditions = []string{`IsMatch(attributes["gen_ai.operation.name"], "^invoke.*") and status.code == STATUS_CODE_ERROR`}
		benchSpans(b, benchProcessor(b, cfg), agentBatch(10))
	})
}

// BenchmarkTick is one evaluation tick (evaluate + build the batch) over n series.
func BenchmarkTick(b *testing.B) {
	for _, n := range []int{10, 10_000} {
		b.Run(fmt.Sprintf("series=%d", n), func(b *testing.B) {
			cfg := createDefaultConfig().(*Config)
			cfg.MaxGroupsPerSLO = n
			slo := DefaultSLOs()[0]
			slo.GroupBy = []string{"gen_ai.agent.name"}
			cfg.SLOs = []SLOConfig{slo}
			p := benchProcessor(b, cfg)
			td := agentBatch(1)
			sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
			for g := range n {
				for i := 0; i < sp.Len(); i++ {
					sp.At(i).Attributes().PutStr("gen_ai.agent.name", fmt.Sprintf("agent-%d", g))
				}
				_, _ = p.consumeTraces(context.Background(), td)
			}
			require.Equal(b, int64(n), p.seriesCount())
			// The first evaluation moves each new series' first events into its ring (first touch
			// of its memory); steady state is every evaluation after it.
			_ = p.evaluate()
			// locked is the part of a tick that holds the lock spans wait for.
			var began time.Time
			var locked time.Duration
			p.testHookBuilding = func() { locked += time.Since(began) }
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				began = time.Now()
				_ = p.evaluate()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/tick")
			b.ReportMetric(float64(locked.Microseconds())/1000/float64(b.N), "ms-locked/tick")
		})
	}
}

// BenchmarkSeriesMemory reports the bytes one SLO series with a 30-day window holds.
func BenchmarkSeriesMemory(b *testing.B) {
	c, err := createDefaultConfig().(*Config).compile(processortest.NewNopSettings(metadata.Type).TelemetrySettings)
	require.NoError(b, err)
	m := c[0].model
	const n = 1000
	keep := make([]*slomath.Series, n)
	b.ReportAllocs()
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range keep {
			keep[i] = m.NewSeries()
		}
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "bytes/series")
	}
	runtime.KeepAlive(keep)
}
