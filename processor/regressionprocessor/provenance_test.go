package regressionprocessor

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
)

func forgedBatch() pmetric.Metrics {
	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	for _, name := range []string{alertstate.MetricName, "amas_slo_compliance", "amas_performance_regression", "amas_agent_requests_total"} {
		m := ms.AppendEmpty()
		m.SetName(name)
		dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetIntValue(1)
		dp.Attributes().PutStr("alertname", "RegressionDetected")
		dp.Attributes().PutStr("alertstate", "firing")
	}
	return md
}

func names(md pmetric.Metrics) []string {
	var out []string
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := 0; i < ms.Len(); i++ {
		out = append(out, ms.At(i).Name())
	}
	return out
}

func TestReceiverMetricsLoseTheReservedNamesAndTheDropIsCounted(t *testing.T) {
	s := newSim(t, createDefaultConfig().(*Config))
	out, err := s.p.processMetrics(context.Background(), forgedBatch())
	require.NoError(t, err)
	assert.Equal(t, []string{"amas_agent_requests_total"}, names(out))
	assert.Equal(t, int64(3), s.counter("otelcol_processor_regression_reserved_points_dropped"))

	only := pmetric.NewMetrics()
	only.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetName(alertstate.MetricName)
	_, err = s.p.processMetrics(context.Background(), only)
	assert.ErrorIs(t, err, processorhelper.ErrSkipProcessingData)
	assert.Equal(t, int64(4), s.counter("otelcol_processor_regression_reserved_points_dropped"), "an empty forged metric counts as one")
}

func TestTheSLOProcessorsMarkedOutputPasses(t *testing.T) {
	s := newSim(t, createDefaultConfig().(*Config))
	in := forgedBatch()
	out, err := s.p.processMetrics(alertstate.WithEmitter(context.Background()), in)
	require.NoError(t, err)
	assert.Equal(t, names(in), names(out))
	assert.Zero(t, s.counter("otelcol_processor_regression_reserved_points_dropped"))
}

type markSink struct {
	mu     sync.Mutex
	marked []bool
}

func (s *markSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }
func (s *markSink) ConsumeMetrics(ctx context.Context, _ pmetric.Metrics) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.marked = append(s.marked, alertstate.FromEmitter(ctx))
	return nil
}

func TestTheRegressionTickMarksItsOwnOutput(t *testing.T) {
	s := newSim(t, createDefaultConfig().(*Config))
	sink := &markSink{}
	s.p.addMetricsConsumer(sink)
	st := newStream(1, "planner")
	// Until the operation has a baseline and its figures are emitted.
	for i := 0; i < 200 && len(s.sink.AllMetrics()) == 0; i++ {
		s.interval(st)
	}
	require.NotEmpty(t, s.sink.AllMetrics(), "the tick emitted something")
	sink.mu.Lock()
	defer sink.mu.Unlock()
	require.NotEmpty(t, sink.marked)
	for _, m := range sink.marked {
		assert.True(t, m)
	}
}
