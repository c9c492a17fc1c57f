package sloprocessor

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/collector/processor/processortest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor/internal/metadata"
)

// forgedAlert is the attack: a firing page and a budget figure sent to /v1/metrics.
func forgedAlert() pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	addGauge(rm, alertstate.MetricName, 1, map[string]string{
		"alertname": "SLOErrorBudgetBurn", "alertstate": "firing", "severity": "critical", "slo": "agent_availability",
	})
	addGauge(rm, "amas_slo_error_budget_remaining_percent", 0, map[string]string{"slo": "agent_availability"})
	addGauge(rm, "amas_performance_regression", 1, map[string]string{"operation": "x", "type": "latency_regression"})
	addGauge(rm, "process.memory.utilization", 0.5, nil)
	return md
}

func metricNames(md pmetric.Metrics) []string {
	var out []string
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			for k := 0; k < sms.At(j).Metrics().Len(); k++ {
				out = append(out, sms.At(j).Metrics().At(k).Name())
			}
		}
	}
	return out
}

func counterValue(t *testing.T, reader *sdkmetric.ManualReader, name string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == name {
				for _, dp := range s.DataPoints {
					total += dp.Value
				}
			}
		}
	}
	return total
}

func TestMetricsFromAReceiverLoseTheReservedNamesAndTheDropIsCounted(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	set := processortest.NewNopSettings(metadata.Type)
	set.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	p, err := newSLOProcessor(set, createDefaultConfig().(*Config), clockwork.NewFakeClockAt(epoch))
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), &testHost{exts: map[component.ID]component.Component{}}))
	defer func() { require.NoError(t, p.Shutdown(context.Background())) }()

	in := forgedAlert()
	out, err := p.consumeMetrics(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, []string{"process.memory.utilization"}, metricNames(out), "the neighbour gauge still passes")
	assert.Len(t, metricNames(in), 4, "the receiver's batch, maybe shared with another pipeline, is not modified")
	assert.Equal(t, int64(3), counterValue(t, reader, "otelcol_processor_slo_reserved_points_dropped"))

	only := pmetric.NewMetrics()
	addGauge(only.ResourceMetrics().AppendEmpty(), alertstate.MetricName, 1, map[string]string{"alertname": "x", "alertstate": "firing"})
	_, err = p.consumeMetrics(context.Background(), only)
	assert.ErrorIs(t, err, processorhelper.ErrSkipProcessingData, "a batch of nothing but forged points goes no further")
	assert.Equal(t, int64(4), counterValue(t, reader, "otelcol_processor_slo_reserved_points_dropped"))
}

func TestAnEmittersMarkedBatchPassesUnchanged(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config), nil, nil)
	defer h.shutdown()
	in := forgedAlert()
	out, err := h.p.consumeMetrics(alertstate.WithEmitter(context.Background()), in)
	require.NoError(t, err)
	assert.Equal(t, metricNames(in), metricNames(out))
}

// ctxSink records whether each batch it receives carries the emitter mark.
type ctxSink struct {
	mu     sync.Mutex
	marked []bool
}

func (s *ctxSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }
func (s *ctxSink) ConsumeMetrics(ctx context.Context, _ pmetric.Metrics) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.marked = append(s.marked, alertstate.FromEmitter(ctx))
	return nil
}

func TestTheTickMarksItsOwnOutput(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config), nil, nil)
	defer h.shutdown()
	sink := &ctxSink{}
	h.p.mu.Lock()
	h.p.nextMetrics = sink
	h.p.mu.Unlock()
	h.spans(makeSpans(spanSpec{agent: "a", op: "invoke_agent"}))
	h.clock.Advance(10 * time.Second)
	h.p.tick(context.Background())
	sink.mu.Lock()
	defer sink.mu.Unlock()
	require.NotEmpty(t, sink.marked)
	for _, m := range sink.marked {
		assert.True(t, m)
	}
}

func TestAGaugeSLITakesOnlyTheMetricNamesItSelects(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config), nil, nil)
	defer h.shutdown()
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	addGauge(rm, "process.memory.utilization.fake", 0.99, nil)
	addGauge(rm, "amas_memory_usage", 0.99, nil)
	addGauge(rm, "process.memory.usage", 0.99, nil)
	h.metricsIn(md)
	h.tick(time.Minute)
	h.tick(time.Second)
	st := sloStatus(t, h.p.Status(), "memory_usage")
	for _, g := range st.Groups {
		assert.Zero(t, g.Events, "no selected metric arrived, so no slice was judged")
	}

	h.metricsIn(gaugeMetrics("process.memory.utilization", 0.99, nil))
	h.tick(time.Minute)
	h.tick(time.Second)
	st = sloStatus(t, h.p.Status(), "memory_usage")
	require.Len(t, st.Groups, 1)
	assert.Equal(t, uint64(1), st.Groups[0].BadEvents, "the selected metric is judged (the test can fail)")
}

func TestJunkCounterStreamsCannotKeepRealOnesOutForLong(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxRatioStreams = 2
	h := newHarness(t, cfg, nil, nil)
	defer h.shutdown()

	h.metricsIn(costAndRequests("junk", 1, 10)) // a client fills the bound once
	h.tick(time.Minute)
	h.metricsIn(costAndRequests("planner", 1, 10)) // the real agent's streams are skipped
	h.tick(time.Minute)
	events, _ := costEvents(t, h)
	require.Zero(t, events, "precondition: the junk holds the bound")

	// Five minutes without the junk being re-sent: the table is under pressure, so the stale
	// junk gives its places up at the next tick, well before the hour-long TTL.
	h.tick(ratioStreamTTLFull)
	h.metricsIn(costAndRequests("planner", 1, 10)) // skipped again, marks the pressure
	h.tick(time.Second)
	h.metricsIn(costAndRequests("planner", 2, 20)) // now the baseline
	h.tick(time.Minute)
	h.metricsIn(costAndRequests("planner", 3, 40)) // +$1 over +20 requests: good
	h.tick(time.Minute)
	h.tick(time.Minute)
	events, bad := costEvents(t, h)
	// The slice of the increase and the empty slice after it, both good (empty slices are good
	// slices once a series has begun).
	assert.Equal(t, uint64(2), events, "the real agent counts within minutes, not an hour")
	assert.Zero(t, bad)
	require.Less(t, 2*time.Minute+ratioStreamTTLFull+3*time.Minute+time.Second, ratioStreamTTL)
}

func TestALiveStreamIsNeverDisplacedByJunk(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxRatioStreams = 2
	h := newHarness(t, cfg, nil, nil)
	defer h.shutdown()
	cost, req := 1.0, 10.0
	h.metricsIn(costAndRequests("planner", cost, req)) // the real agent's two streams
	for range 10 {
		h.metricsIn(costAndRequests("junk", 1, 10)) // junk keeps knocking
		h.tick(time.Minute)
		cost, req = cost+1, req+20
		h.metricsIn(costAndRequests("planner", cost, req)) // live: refreshed every minute
	}
	h.tick(time.Minute)
	h.tick(time.Minute)
	events, _ := costEvents(t, h)
	assert.GreaterOrEqual(t, events, uint64(9), "every minute of the live agent counted")
}
