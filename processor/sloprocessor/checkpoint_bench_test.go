package sloprocessor

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-amas/otelcol-amas/internal/storagetest"
)

// BenchmarkSaveCheckpoint is one checkpoint of every SLO (encode under the lock, then the
// storage write, here in memory): the cost that checkpoint_interval multiplies. default is the
// six default SLOs with traffic; agents=1000 is the availability SLO grouped by 1000 agents.
// CPU share of a cadence = ns/op ÷ interval (10 s = 1e10 ns).
func BenchmarkSaveCheckpoint(b *testing.B) {
	for _, agents := range []int{0, 1000} {
		name := "default"
		if agents > 0 {
			name = fmt.Sprintf("agents=%d", agents)
		}
		b.Run(name, func(b *testing.B) {
			cfg := createDefaultConfig().(*Config)
			td := agentBatch(1)
			if agents > 0 {
				cfg.MaxGroupsPerSLO = agents
				slo := DefaultSLOs()[0]
				slo.GroupBy = []string{"gen_ai.agent.name"}
				cfg.SLOs = []SLOConfig{slo}
				td = agentBatch(agents)
			}
			p := benchProcessor(b, cfg)
			ctx := context.Background()
			for range 10 {
				_, _ = p.consumeTraces(ctx, td)
			}
			if agents > 100 {
				sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
				for g := range agents {
					sp.At(0).Attributes().PutStr("gen_ai.agent.name", fmt.Sprintf("agent-%d", g))
					_, _ = p.consumeTraces(ctx, td)
				}
			}
			_ = p.evaluate()
			cl, err := storagetest.New().GetClient(ctx, component.KindProcessor, component.MustNewID("slo"), "")
			require.NoError(b, err)
			p.storage = cl
			var bytes int
			b.ReportAllocs()
			for b.Loop() {
				p.saveCheckpoint(ctx)
			}
			for _, st := range p.slos {
				bytes += len(encodeCheckpoint(st))
			}
			b.ReportMetric(float64(bytes), "bytes/checkpoint")
		})
	}
}
