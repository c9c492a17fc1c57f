package sloprocessor

import (
	"context"
	"strconv"
	"testing"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

// BenchmarkConsumeMetrics: the metrics side of the six default SLOs on a batch shaped like the
// connector's output (30 metrics of 10 points, with the memory gauge and the cost and request
// counters the SLIs read), as it arrives from a receiver (no emitter mark), steady state.
func BenchmarkConsumeMetrics(b *testing.B) {
	p := benchProcessor(b, createDefaultConfig().(*Config))
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "agents")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	names := []string{defaultCostMetric, defaultRequestsMetric, "process.memory.utilization"}
	for i := range 27 {
		names = append(names, "amas_agent_metric_"+strconv.Itoa(i))
	}
	for _, name := range names {
		m := ms.AppendEmpty()
		m.SetName(name)
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for j := range 10 {
			dp := s.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(1000)
			dp.SetDoubleValue(float64(j + 1))
			dp.Attributes().PutStr("agent", "agent-"+strconv.Itoa(j))
		}
	}
	ctx := context.Background()
	n := md.DataPointCount()
	_, _ = p.consumeMetrics(ctx, md)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_, _ = p.consumeMetrics(ctx, md)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/point")
}
