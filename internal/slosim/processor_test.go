package slosim_test

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/internal/slosim"
	"github.com/otelcol-amas/otelcol-amas/internal/storagetest"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor"
)

// processorRun drives the slo processor, built by its factory with its default configuration
// (the default SLOs, rules and thresholds; storage through an in-memory file_storage stand-in),
// through a scenario on a fake clock: every tick's spans and metrics go in through the
// processor's ConsumeTraces/ConsumeMetrics, the clock advances one evaluation interval, the
// processor's own ticker evaluates and emits, and the emitted amas_alerts series are read as the
// alert exporter reads them. A collector restart is a Shutdown (checkpoint written), the
// silence, and a new instance restoring from the same storage.
type processorRun struct {
	t       testing.TB
	clock   *clockwork.FakeClock
	store   *storagetest.Storage
	host    *host
	tp      processor.Traces
	mp      processor.Metrics
	sink    *alertSink
	firings []slosim.Firing

	costCum, reqOK, reqErr map[string]float64
	counterStart           pcommon.Timestamp
	// Samples of the processor's own memory_usage SLI, per window label, for the rules side
	// (the generated memory rules read the processor's amas_slo_sli_ratio).
	MemorySLI []memorySample
}

type memorySample struct {
	At  time.Time
	SLI map[string]float64
}

type host struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h *host) GetExtensions() map[component.ID]component.Component { return h.exts }

// alertSink reads amas_alerts from each emitted batch and signals every batch.
type alertSink struct {
	state   map[string]string // alert identity → last alertstate
	firings []slosim.Firing
	batches chan struct{}
	memory  *[]memorySample
}

func (s *alertSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (s *alertSink) ConsumeMetrics(_ context.Context, md pmetric.Metrics) error {
	var at time.Time
	mem := map[string]float64{}
	evaluated := false
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				switch m.Name() {
				case "amas_slo_compliance":
					evaluated = true // an evaluation's batch, not the input passing through
				case alertstate.MetricName:
					dps := m.Gauge().DataPoints()
					for d := 0; d < dps.Len(); d++ {
						dp := dps.At(d)
						if dp.Flags().NoRecordedValue() {
							continue // the end of a series the tick stopped writing (a staleness marker)
						}
						at = dp.Timestamp().AsTime()
						s.observe(dp)
					}
				case "amas_slo_sli_ratio":
					dps := m.Gauge().DataPoints()
					for d := 0; d < dps.Len(); d++ {
						dp := dps.At(d)
						if v, _ := dp.Attributes().Get("slo"); v.Str() == slosim.SLOMemory {
							w, _ := dp.Attributes().Get("window")
							mem[w.Str()] = dp.DoubleValue()
							at = dp.Timestamp().AsTime()
						}
					}
				}
			}
		}
	}
	if !evaluated {
		return nil
	}
	if s.memory != nil && len(mem) > 0 {
		*s.memory = append(*s.memory, memorySample{At: at, SLI: mem})
	}
	s.batches <- struct{}{}
	return nil
}

func (s *alertSink) observe(dp pmetric.NumberDataPoint) {
	var keys []string
	var state, slo, name, sev string
	var windows [2]string
	var group []string
	for k, v := range dp.Attributes().All() {
		switch k {
		case alertstate.LabelAlertState:
			state = v.Str()
			continue
		case alertstate.LabelSLO:
			slo = v.Str()
		case alertstate.LabelAlertName:
			name = v.Str()
		case alertstate.LabelSeverity:
			sev = v.Str()
		case alertstate.LabelLongWindow:
			windows[0] = v.Str()
		case alertstate.LabelShortWindow:
			windows[1] = v.Str()
		default:
			group = append(group, k+"="+v.AsString())
		}
		keys = append(keys, k+"="+v.AsString())
	}
	slices.Sort(keys)
	id := strings.Join(keys, ",")
	prev := s.state[id]
	s.state[id] = state
	if state == alertstate.StateFiring && prev != alertstate.StateFiring {
		slices.Sort(group)
		labels := strings.Join(group, ",")
		if windows[0] != "" {
			labels = strings.TrimPrefix(labels+" "+windows[0]+"∧"+windows[1], " ")
		}
		s.firings = append(s.firings, slosim.Firing{At: dp.Timestamp().AsTime(), SLO: slo, Name: name, Severity: sev, Labels: labels})
	}
}

var storageID = component.MustNewID("file_storage")

func newProcessorRun(t testing.TB, start time.Time, keepMemory bool) *processorRun {
	r := &processorRun{
		t: t, clock: clockwork.NewFakeClockAt(start), store: storagetest.New(),
		sink:    &alertSink{state: map[string]string{}, batches: make(chan struct{}, 4)},
		costCum: map[string]float64{}, reqOK: map[string]float64{}, reqErr: map[string]float64{},
		counterStart: pcommon.NewTimestampFromTime(start),
	}
	if keepMemory {
		r.sink.memory = &r.MemorySLI
	}
	r.host = &host{exts: map[component.ID]component.Component{storageID: r.store}}
	r.start()
	return r
}

// start creates and starts a processor instance (a new one after a restart) at the clock's time.
func (r *processorRun) start() {
	f := sloprocessor.NewFactory()
	cfg := f.CreateDefaultConfig().(*sloprocessor.Config)
	cfg.Storage = &storageID // as config/otelcol-amas.yaml sets it
	ctx := clockwork.AddToContext(context.Background(), r.clock)
	set := processortest.NewNopSettings(f.Type())
	var err error
	r.tp, err = f.CreateTraces(ctx, set, cfg, consumertest.NewNop())
	require.NoError(r.t, err)
	r.mp, err = f.CreateMetrics(ctx, set, cfg, r.sink)
	require.NoError(r.t, err)
	require.NoError(r.t, r.tp.Start(ctx, r.host))
	require.NoError(r.t, r.mp.Start(ctx, r.host))
	// The evaluation ticker exists once Start returns; wait until it waits on the fake clock.
	bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(r.t, r.clock.BlockUntilContext(bctx, 1))
}

func (r *processorRun) stop() {
	require.NoError(r.t, r.tp.Shutdown(context.Background()))
	require.NoError(r.t, r.mp.Shutdown(context.Background()))
	r.tp, r.mp = nil, nil
}

// Run plays the scenario and returns the firings.
func (r *processorRun) Run(s slosim.Scenario) []slosim.Firing {
	ctx := context.Background()
	s.Run(func(tk *slosim.Tick) {
		if !tk.CollectorUp {
			if r.tp != nil {
				r.stop()
			}
			r.clock.Advance(slosim.TickLength)
			return
		}
		if r.tp == nil {
			r.start()
		}
		require.NoError(r.t, r.tp.ConsumeTraces(ctx, r.spans(tk)))
		require.NoError(r.t, r.mp.ConsumeMetrics(ctx, r.metrics(tk)))
		r.clock.Advance(slosim.TickLength)
		select {
		case <-r.sink.batches:
		case <-time.After(30 * time.Second):
			r.t.Fatalf("no evaluation at %s", tk.At)
		}
	})
	if r.tp != nil {
		r.stop()
	}
	return r.sink.firings
}

func (r *processorRun) spans(tk *slosim.Tick) ptrace.Traces {
	td := ptrace.NewTraces()
	end := pcommon.NewTimestampFromTime(r.clock.Now())
	for _, a := range tk.Agents {
		if a.Runs == 0 && a.Tools == 0 {
			continue
		}
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", a.Name)
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		spans.EnsureCapacity(a.Runs + a.Tools)
		add := func(op string, failed bool, dur time.Duration) {
			sp := spans.AppendEmpty()
			sp.SetName(op + " " + a.Name)
			sp.SetStartTimestamp(end - pcommon.Timestamp(dur))
			sp.SetEndTimestamp(end)
			sp.Attributes().PutStr("gen_ai.operation.name", op)
			sp.Attributes().PutStr("gen_ai.agent.name", a.Name)
			if failed {
				sp.Status().SetCode(ptrace.StatusCodeError)
			}
		}
		for i := range a.Runs {
			dur := 600 * time.Millisecond
			if i >= a.Failed && i < a.Failed+a.Slow {
				dur = 2500 * time.Millisecond
			}
			if i < a.Failed {
				dur = 200 * time.Millisecond
			}
			add("invoke_agent", i < a.Failed, dur)
		}
		for i := range a.Tools {
			add("execute_tool", i < a.ToolsFailed, 300*time.Millisecond)
		}
	}
	return td
}

// metrics are what the amas_spanmetrics connector and a host metrics receiver would send: the
// cumulative cost and agent-run counters (every tick; the connector flushes every 15 s), the queue
// depth gauge and the collector's memory utilisation.
func (r *processorRun) metrics(tk *slosim.Tick) pmetric.Metrics {
	md := pmetric.NewMetrics()
	now := pcommon.NewTimestampFromTime(r.clock.Now())
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "otelcol-amas")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	sum := func(name string) pmetric.NumberDataPointSlice {
		m := ms.AppendEmpty()
		m.SetName(name)
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		return s.DataPoints()
	}
	cost, reqs := sum("amas.cost.usd"), sum("amas.agent.requests")
	for _, a := range tk.Agents {
		r.costCum[a.Name] += a.CostUSD
		r.reqOK[a.Name] += float64(a.Runs - a.Failed)
		r.reqErr[a.Name] += float64(a.Failed)
		if r.reqOK[a.Name]+r.reqErr[a.Name] == 0 {
			continue // the connector has no series for an agent that never ran
		}
		dp := cost.AppendEmpty()
		dp.SetStartTimestamp(r.counterStart)
		dp.SetTimestamp(now)
		dp.SetDoubleValue(r.costCum[a.Name])
		dp.Attributes().PutStr("agent", a.Name)
		for _, st := range []struct {
			status string
			v      float64
		}{{"ok", r.reqOK[a.Name]}, {"error", r.reqErr[a.Name]}} {
			dp := reqs.AppendEmpty()
			dp.SetStartTimestamp(r.counterStart)
			dp.SetTimestamp(now)
			dp.SetDoubleValue(st.v)
			dp.Attributes().PutStr("agent", a.Name)
			dp.Attributes().PutStr("operation", "invoke_agent")
			dp.Attributes().PutStr("status", st.status)
		}
	}
	gauge := func(name string, v float64) {
		if math.IsNaN(v) {
			return
		}
		m := ms.AppendEmpty()
		m.SetName(name)
		dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetTimestamp(now)
		dp.SetDoubleValue(v)
	}
	gauge("amas.queue_depth.current", tk.Queue)
	gauge("process.memory.utilization", tk.Memory)
	return md
}
