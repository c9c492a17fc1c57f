package sloprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor/internal/metadata"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func testTelemetry(t *testing.T) component.TelemetrySettings {
	t.Helper()
	return componenttest.NewNopTelemetrySettings()
}

// harness is one processor on a fake clock, with sinks, started on a host with optional
// extensions.
type harness struct {
	t       *testing.T
	clock   *clockwork.FakeClock
	p       *sloProcessor
	metrics *consumertest.MetricsSink
}

func newHarness(t *testing.T, cfg *Config, logger *zap.Logger, exts map[component.ID]component.Component) *harness {
	t.Helper()
	return newHarnessAt(t, cfg, logger, exts, clockwork.NewFakeClockAt(epoch))
}

func newHarnessAt(t *testing.T, cfg *Config, logger *zap.Logger, exts map[component.ID]component.Component, clock *clockwork.FakeClock) *harness {
	t.Helper()
	set := processortest.NewNopSettings(metadata.Type)
	if logger != nil {
		set.Logger = logger
	}
	return newHarnessWith(t, cfg, set, exts, clock)
}

// newHarnessWith is newHarnessAt with the processor's settings (a meter provider to read).
func newHarnessWith(t *testing.T, cfg *Config, set processor.Settings, exts map[component.ID]component.Component, clock *clockwork.FakeClock) *harness {
	t.Helper()
	p, err := newSLOProcessor(set, cfg, clock)
	require.NoError(t, err)
	h := &harness{t: t, clock: clock, p: p, metrics: new(consumertest.MetricsSink)}
	p.metricsUsed = true
	p.nextMetrics = h.metrics
	p.manualTicks = true
	require.NoError(t, p.Start(context.Background(), &testHost{exts: exts}))
	return h
}

func (h *harness) shutdown() { require.NoError(h.t, h.p.Shutdown(context.Background())) }

// tick advances the fake clock by d and runs one evaluation directly. The harness starts no
// evaluation loop (manualTicks), so every evaluation is one the test asked for.
func (h *harness) tick(d time.Duration) pmetric.Metrics {
	h.clock.Advance(d)
	h.metrics.Reset()
	h.p.tick(context.Background())
	all := h.metrics.AllMetrics()
	require.NotEmpty(h.t, all)
	return all[len(all)-1]
}

func (h *harness) spans(td ptrace.Traces) {
	_, err := h.p.consumeTraces(context.Background(), td)
	require.NoError(h.t, err)
}

func (h *harness) metricsIn(md pmetric.Metrics) {
	_, err := h.p.consumeMetrics(context.Background(), md)
	require.NoError(h.t, err)
}

type testHost struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h *testHost) GetExtensions() map[component.ID]component.Component { return h.exts }

// spanSpec describes one test span.
type spanSpec struct {
	agent, op string
	err       bool
	dur       time.Duration
}

func makeSpans(specs ...spanSpec) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "agents")
	ss := rs.ScopeSpans().AppendEmpty()
	for _, s := range specs {
		sp := ss.Spans().AppendEmpty()
		sp.SetName(s.op)
		sp.Attributes().PutStr("gen_ai.operation.name", s.op)
		sp.Attributes().PutStr("gen_ai.agent.name", s.agent)
		start := pcommon.NewTimestampFromTime(epoch)
		sp.SetStartTimestamp(start)
		d := s.dur
		if d == 0 {
			d = 100 * time.Millisecond
		}
		sp.SetEndTimestamp(start + pcommon.Timestamp(d))
		if s.err {
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
	}
	return td
}

func repeat(n int, s spanSpec) []spanSpec {
	out := make([]spanSpec, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// point finds the value of a data point of metric name whose attributes include want.
func point(t *testing.T, md pmetric.Metrics, name string, want map[string]string) (float64, bool) {
	t.Helper()
	var found []float64
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				if m.Name() != name {
					continue
				}
				var dps pmetric.NumberDataPointSlice
				if m.Type() == pmetric.MetricTypeGauge {
					dps = m.Gauge().DataPoints()
				} else {
					dps = m.Sum().DataPoints()
				}
				for l := 0; l < dps.Len(); l++ {
					dp := dps.At(l)
					if dp.Flags().NoRecordedValue() {
						continue // ends a series (see alertstate.Tracker): no value
					}
					ok := true
					for k, v := range want {
						got, has := dp.Attributes().Get(k)
						if !has || got.AsString() != v {
							ok = false
						}
					}
					if !ok {
						continue
					}
					if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
						found = append(found, float64(dp.IntValue()))
					} else {
						found = append(found, dp.DoubleValue())
					}
				}
			}
		}
	}
	if len(found) > 1 {
		t.Fatalf("%s%v matches %d points", name, want, len(found))
	}
	if len(found) == 0 {
		return 0, false
	}
	return found[0], true
}

func pcommonTimestamp(d time.Duration) pcommon.Timestamp { return pcommon.Timestamp(d) }
