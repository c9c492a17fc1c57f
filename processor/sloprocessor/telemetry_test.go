package sloprocessor

import (
	"context"
	"testing"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/processor/processortest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor/internal/metadata"
)

func TestInternalTelemetry(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	set := processortest.NewNopSettings(metadata.Type)
	set.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	cfg := createDefaultConfig().(*Config)
	cfg.MaxGroupsPerSLO = 1
	slo := DefaultSLOs()[0]
	slo.GroupBy = []string{"gen_ai.agent.name"}
	cfg.SLOs = []SLOConfig{slo}
	p, err := newSLOProcessor(set, cfg, clockwork.NewFakeClockAt(epoch))
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), &testHost{exts: map[component.ID]component.Component{}}))
	defer func() { require.NoError(t, p.Shutdown(context.Background())) }()

	td := makeSpans(spanSpec{agent: "a", op: "invoke_agent"}, spanSpec{agent: "b", op: "invoke_agent"})
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty()
	sp.SetStartTimestamp(10)
	sp.SetEndTimestamp(5) // malformed
	_, err = p.consumeTraces(context.Background(), td)
	require.NoError(t, err)
	p.tick(context.Background())

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					got[m.Name] += dp.Value
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					got[m.Name] += dp.Value
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					got[m.Name] += int64(dp.Count)
				}
			}
		}
	}
	assert.Equal(t, int64(1), got["otelcol_processor_slo_evaluations"])
	assert.Equal(t, int64(1), got["otelcol_processor_slo_evaluation_duration"], "one duration recorded")
	assert.Equal(t, int64(2), got["otelcol_processor_slo_series_active"], "one group and the overflow series")
	assert.Equal(t, int64(1), got["otelcol_processor_slo_groups_dropped"], "agent b went to the overflow series")
	assert.Equal(t, int64(1), got["otelcol_processor_slo_items_skipped"], "the malformed span")
}
