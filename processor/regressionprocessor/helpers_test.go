package regressionprocessor

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/internal/sharedcomponent"
	"github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor/internal/metadata"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeClock is clockwork's fake clock whose tickers never fire: tests that drive the ticks
// themselves (sim.interval) advance it without a started processor's tick loop running an
// evaluation of its own in between.
type fakeClock struct {
	*clockwork.FakeClock
}

func newFakeClock(at time.Time) *fakeClock {
	return &fakeClock{FakeClock: clockwork.NewFakeClockAt(at)}
}

func (c *fakeClock) NewTicker(time.Duration) clockwork.Ticker { return silentTicker{} }

// set moves the clock to at (a restarted process whose clock goes on from where another stopped).
func (c *fakeClock) set(at time.Time) { c.Advance(at.Sub(c.Now())) }

type silentTicker struct{}

func (silentTicker) Chan() <-chan time.Time { return nil }
func (silentTicker) Reset(time.Duration)    {}
func (silentTicker) Stop()                  {}

// stream is a seeded synthetic operation: log-normal latency, a Bernoulli error rate, a cost
// per request with ±20% uniform jitter.
type stream struct {
	service, agent, operation string
	rate                      int // spans per second
	median                    time.Duration
	sigma                     float64
	scale                     float64 // latency multiplier (the regression knob)
	errRate                   float64
	cost                      float64 // USD per request; 0: no cost attribute
	r                         *rand.Rand
	// outliers: the next n spans take outlierScale × the median.
	outliers     int
	outlierScale float64
	// costOutliers: the next n spans cost costOutlierScale × cost.
	costOutliers     int
	costOutlierScale float64

	batch  ptrace.Traces // reused between rounds for speed
	batchN int
}

func newStream(seed uint64, agent string) *stream {
	return &stream{
		service: "shop", agent: agent, operation: "invoke_agent",
		rate: 20, median: 400 * time.Millisecond, sigma: 0.5, scale: 1,
		errRate: 0.01, cost: 0.01,
		r: rand.New(rand.NewPCG(seed, seed*7+1)),
	}
}

func (s *stream) label() string { return s.service + "/" + s.agent + "/" + s.operation }

func (s *stream) duration() time.Duration {
	if s.outliers > 0 {
		s.outliers--
		return time.Duration(float64(s.median) * s.outlierScale)
	}
	return time.Duration(float64(s.median) * s.scale * math.Exp(s.sigma*s.r.NormFloat64()))
}

// fill writes n spans ending at now into td (fresh when td is empty).
func (s *stream) fill(td ptrace.Traces, n int, now time.Time) {
	if td.ResourceSpans().Len() == 0 {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", s.service)
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		for range n {
			sp := spans.AppendEmpty()
			sp.SetName("agent run")
			sp.Attributes().PutStr("gen_ai.agent.name", s.agent)
			sp.Attributes().PutStr("gen_ai.operation.name", s.operation)
		}
	}
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	end := pcommon.NewTimestampFromTime(now)
	for i := range spans.Len() {
		sp := spans.At(i)
		sp.SetEndTimestamp(end)
		sp.SetStartTimestamp(end - pcommon.Timestamp(s.duration()))
		if s.r.Float64() < s.errRate {
			sp.Status().SetCode(ptrace.StatusCodeError)
		} else {
			sp.Status().SetCode(ptrace.StatusCodeOk)
		}
		if s.cost > 0 {
			c := s.cost * (0.8 + 0.4*s.r.Float64())
			if s.costOutliers > 0 {
				s.costOutliers--
				c = s.cost * s.costOutlierScale
			}
			sp.Attributes().PutDouble(DefaultCostAttribute, c)
		}
	}
}

// sim drives a processor on a fake clock: traffic in 4 batches per evaluation interval, then a tick.
type sim struct {
	t      *testing.T
	p      *regressionProcessor
	clock  *fakeClock
	sink   *consumertest.MetricsSink
	reader *sdkmetric.ManualReader
	evals  int
}

func newSim(t *testing.T, cfg *Config) *sim {
	t.Helper()
	require.NoError(t, cfg.Validate())
	reader := sdkmetric.NewManualReader()
	set := processortest.NewNopSettings(metadata.Type)
	set.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	set.Logger = zap.NewNop()
	clock := newFakeClock(epoch)
	p, err := newRegressionProcessor(set, cfg, clock)
	require.NoError(t, err)
	sink := &consumertest.MetricsSink{}
	p.addMetricsConsumer(sink)
	return &sim{t: t, p: p, clock: clock, sink: sink, reader: reader}
}

// interval sends one evaluation interval of traffic from the streams and ticks.
func (s *sim) interval(streams ...*stream) {
	const rounds = 4
	step := s.p.cfg.EvaluationInterval / rounds
	for range rounds {
		s.clock.Advance(step)
		for _, st := range streams {
			n := int(float64(st.rate) * step.Seconds())
			if n == 0 {
				continue
			}
			if st.batchN != n {
				st.batch, st.batchN = ptrace.NewTraces(), n
			}
			st.fill(st.batch, n, s.clock.Now())
			_, err := s.p.processTraces(context.Background(), st.batch)
			require.NoError(s.t, err)
		}
	}
	s.p.tick(context.Background())
	s.evals++
}

func (s *sim) op(label string) *operation {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	for _, op := range s.p.tr.ops {
		if op.label == label {
			return op
		}
	}
	return nil
}

func (s *sim) phase(label string, k kind) phase {
	op := s.op(label)
	if op == nil {
		return phaseInactive
	}
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return op.alerts[k].phase
}

// counter returns the sum of an internal counter's points whose attributes include kv.
func (s *sim) counter(name string, kv ...string) int64 {
	var rm metricdata.ResourceMetrics
	require.NoError(s.t, s.reader.Collect(context.Background(), &rm))
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
			points:
				for _, dp := range sum.DataPoints {
					for i := 0; i+1 < len(kv); i += 2 {
						if v, ok := dp.Attributes.Value(attribute.Key(kv[i])); !ok || v.AsString() != kv[i+1] {
							continue points
						}
					}
					total += dp.Value
				}
			}
		}
	}
	return total
}

type hostWithExtensions struct {
	ext map[component.ID]component.Component
}

func (h hostWithExtensions) GetExtensions() map[component.ID]component.Component { return h.ext }

func sharedcomponentMap() *sharedcomponent.Map[*Config, *regressionProcessor] {
	return sharedcomponent.NewMap[*Config, *regressionProcessor]()
}
