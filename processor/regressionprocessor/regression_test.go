package regressionprocessor

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
)

// warmUp runs the streams long enough that the default warm-up (1 h) has passed and the
// baseline holds enough samples.
func warmUp(s *sim, streams ...*stream) {
	for range 80 {
		s.interval(streams...)
	}
}

func TestStationaryLatencyForAMillionSpansRaisesNoRegression(t *testing.T) {
	s := newSim(t, createDefaultConfig().(*Config))
	busy := newStream(1, "planner") // 20 spans/s: p95 and p99 judged
	quiet := newStream(2, "critic") // 1 span/s: 600 per window, only p95 judged, the noisiest case
	quiet.rate = 1
	streams := []*stream{busy, quiet}
	spans, evals := 0, 0
	worst := map[string]phase{}
	for spans < 1_000_000 {
		s.interval(streams...)
		evals++
		for _, st := range streams {
			spans += st.rate * int(s.p.cfg.EvaluationInterval.Seconds())
			for k := range numKinds {
				key := st.agent + " " + kindNames[k]
				worst[key] = max(worst[key], s.phase(st.label(), k))
			}
		}
	}
	for key, ph := range worst {
		assert.Equal(t, phaseInactive, ph, "%s never even went pending over %d evaluations", key, evals)
	}
	t.Logf("%d spans, %d evaluations", spans, evals)
	for _, st := range streams {
		op := s.op(st.label())
		require.NotNil(t, op)
		require.True(t, op.judged, "the operation is past its warm-up")
		// The learnt baseline p95 is the true p95 of the log-normal within the sketch's accuracy
		// plus sampling noise.
		trueP95 := st.median.Seconds() * math.Exp(1.6448536*st.sigma)
		assert.InEpsilon(t, trueP95, op.fig[kindLatency].baseline[0], 0.06, st.agent)
		assert.InEpsilon(t, 0.01, op.fig[kindErrorRate].baseline[0], 0.25, st.agent)
		assert.InEpsilon(t, 0.01, op.fig[kindCost].baseline[0], 0.02, st.agent)
	}
	assert.True(t, math.IsNaN(s.op(quiet.label()).fig[kindLatency].current[1]), "p99 needs 2000 samples in the window: not judged at 1 span/s")
}

func TestStepsAreDetectedWithinBoundedEvaluationsAndRecoveryResolves(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	windowEvals := int(cfg.CurrentWindow / cfg.EvaluationInterval)
	fireBound := windowEvals + cfg.FireAfter
	resolveBound := windowEvals + cfg.ResolveAfter
	tests := []struct {
		name   string
		kind   kind
		change func(*stream)
		revert func(*stream)
	}{
		{"a 1.5x shift of the latency distribution is a latency regression", kindLatency,
			func(s *stream) { s.scale = 1.5 }, func(s *stream) { s.scale = 1 }},
		{"an error rate stepping from 1% to 10% is an error-rate regression", kindErrorRate,
			func(s *stream) { s.errRate = 0.10 }, func(s *stream) { s.errRate = 0.01 }},
		{"a model change doubling the cost per request is a cost regression", kindCost,
			func(s *stream) { s.cost = 0.02 }, func(s *stream) { s.cost = 0.01 }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, cfg)
			st := newStream(uint64(10+i), "planner")
			warmUp(s, st)
			require.Equal(t, phaseInactive, s.phase(st.label(), tt.kind), "no alert before the change")

			tt.change(st)
			fired := 0
			for n := 1; n <= fireBound && fired == 0; n++ {
				s.interval(st)
				if s.phase(st.label(), tt.kind) == phaseFiring {
					fired = n
				}
			}
			require.NotZero(t, fired, "fires within %d evaluations", fireBound)
			assert.GreaterOrEqual(t, fired, cfg.FireAfter, "needs fire_after breaching evaluations")
			for k := range numKinds {
				if k != tt.kind {
					assert.NotEqual(t, phaseFiring, s.phase(st.label(), k), "%s does not fire", kindNames[k])
				}
			}
			assertRegressionSeries(t, s.sink.AllMetrics()[len(s.sink.AllMetrics())-1], st.label(), tt.kind, "firing")

			tt.revert(st)
			resolved := 0
			for n := 1; n <= resolveBound && resolved == 0; n++ {
				s.interval(st)
				if s.phase(st.label(), tt.kind) == phaseResolved {
					resolved = n
				}
			}
			require.NotZero(t, resolved, "resolves within %d evaluations of recovery", resolveBound)
			assert.GreaterOrEqual(t, resolved, cfg.ResolveAfter, "needs resolve_after clean evaluations")
			last := s.sink.AllMetrics()[len(s.sink.AllMetrics())-1]
			assertRegressionSeries(t, last, st.label(), tt.kind, "resolved")
			assert.Equal(t, []string{"firing"}, endedStates(last, st.label(), tt.kind),
				"the tick that resolves ends the firing series, so Prometheus drops it at the next scrape")
			t.Logf("fired after %d evaluations (bound %d), resolved %d evaluations after recovery (bound %d)", fired, fireBound, resolved, resolveBound)
		})
	}
}

// assertRegressionSeries checks the amas_alerts point and the 0/1 flag of one (operation, type).
func assertRegressionSeries(t *testing.T, md pmetric.Metrics, label string, k kind, state string) {
	t.Helper()
	wantFlag := int64(0)
	if state == "firing" {
		wantFlag = 1
	}
	var sawAlert, sawFlag bool
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := range ms.Len() {
		m := ms.At(i)
		dps := m.Gauge().DataPoints()
		for j := range dps.Len() {
			dp := dps.At(j)
			op, _ := dp.Attributes().Get("operation")
			typ, _ := dp.Attributes().Get("type")
			if op.Str() != label || typ.Str() != kindNames[k] {
				continue
			}
			switch m.Name() {
			case "amas_alerts":
				if alertstate.Ended(dp) {
					continue // the end of the previous state's series, not a state
				}
				sawAlert = true
				st, _ := dp.Attributes().Get("alertstate")
				name, _ := dp.Attributes().Get("alertname")
				assert.Equal(t, state, st.Str())
				assert.Equal(t, "PerformanceRegression", name.Str())
			case metricRegression:
				sawFlag = true
				assert.Equal(t, wantFlag, dp.IntValue())
			}
		}
	}
	assert.True(t, sawAlert, "an amas_alerts point for %s %s", label, kindNames[k])
	assert.True(t, sawFlag, "an amas_performance_regression point for %s %s", label, kindNames[k])
}

// endedStates lists the alertstate of every amas_alerts series of (operation, type) that md ends.
func endedStates(md pmetric.Metrics, label string, k kind) []string {
	var out []string
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := range ms.Len() {
		if ms.At(i).Name() != alertstate.MetricName {
			continue
		}
		dps := ms.At(i).Gauge().DataPoints()
		for j := range dps.Len() {
			attrs := dps.At(j).Attributes().AsRaw()
			if alertstate.Ended(dps.At(j)) && attrs["operation"] == label && attrs["type"] == kindNames[k] {
				out = append(out, attrs["alertstate"].(string))
			}
		}
	}
	return out
}

func TestASingleSlowOutlierDoesNotFire(t *testing.T) {
	s := newSim(t, createDefaultConfig().(*Config))
	st := newStream(20, "tool-runner")
	st.rate = 2 // low traffic: one outlier weighs the most
	warmUp(s, st)
	st.outliers, st.outlierScale = 1, 200
	for range 30 {
		s.interval(st)
		assert.Equal(t, phaseInactive, s.phase(st.label(), kindLatency), "evaluation %d", s.evals)
	}
	op := s.op(st.label())
	require.NotNil(t, op)
	assert.False(t, math.IsNaN(op.fig[kindLatency].current[0]), "p95 was judged, so the outlier was in scope")
}

func TestASingleAbsurdlyLongSpanDoesNotFire(t *testing.T) {
	s := newSim(t, createDefaultConfig().(*Config))
	st := newStream(22, "planner")
	st.rate = 2
	warmUp(s, st)
	// One span 100,000× the median (a span left open for hours): beyond the factor of ~28,000 the
	// sketch's bins span. It must not shift the bins so far that the bulk reads 2-3× slower.
	st.outliers, st.outlierScale = 1, 100_000
	for range 30 {
		s.interval(st)
		assert.Equal(t, phaseInactive, s.phase(st.label(), kindLatency), "evaluation %d", s.evals)
		if op := s.op(st.label()); op != nil && !math.IsNaN(op.fig[kindLatency].ratio) {
			assert.Less(t, op.fig[kindLatency].ratio, 1.3, "evaluation %d: the p95/p99 ratio stays near 1", s.evals)
		}
	}
}

func TestASingleVeryExpensiveRunDoesNotFireACostRegression(t *testing.T) {
	s := newSim(t, createDefaultConfig().(*Config))
	st := newStream(23, "researcher")
	st.rate = 1 // 600 requests per current window: one $5 run would raise the mean by 80%
	warmUp(s, st)
	st.costOutliers, st.costOutlierScale = 1, 500
	for range 15 {
		s.interval(st)
		assert.Equal(t, phaseInactive, s.phase(st.label(), kindCost), "evaluation %d", s.evals)
	}
}

func TestCostsAboveTheLimitAreSkippedAsBadInput(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	s := newSim(t, cfg)
	st := newStream(24, "researcher")
	st.cost = 1e300
	s.interval(st)
	op := s.op(st.label())
	require.NotNil(t, op)
	var costN uint64
	for i := range op.cur {
		costN += op.cur[i].costN
	}
	assert.Zero(t, costN, "no absurd cost enters the window")
	assert.Positive(t, s.counter("otelcol_processor_regression_spans_skipped", "reason", "invalid_cost"))
}

func TestATooSmallAbsoluteChangeIsNotPaged(t *testing.T) {
	s := newSim(t, createDefaultConfig().(*Config))
	st := newStream(21, "cache")
	st.median = 2 * time.Millisecond // a 2 ms operation going to 3 ms: +50% but +1 ms
	st.sigma = 0.1
	warmUp(s, st)
	st.scale = 1.5
	maxRatio := 0.0
	for range 20 {
		s.interval(st)
		assert.Equal(t, phaseInactive, s.phase(st.label(), kindLatency))
		if op := s.op(st.label()); op != nil && op.fig[kindLatency].ratio > maxRatio {
			maxRatio = op.fig[kindLatency].ratio
		}
	}
	assert.Greater(t, maxRatio, 1.3, "the relative margin alone would have fired")
}

func TestSpansOfARegressedOperationAreMarked(t *testing.T) {
	s := newSim(t, createDefaultConfig().(*Config))
	slow := newStream(30, "planner")
	calm := newStream(31, "critic")
	warmUp(s, slow, calm)

	probe := func(st *stream) ptrace.Span {
		td := ptrace.NewTraces()
		st.fill(td, 1, s.clock.Now())
		_, err := s.p.processTraces(context.Background(), td)
		require.NoError(t, err)
		return td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	}
	_, marked := probe(slow).Attributes().Get(markDetected)
	require.False(t, marked, "no mark before a regression")

	slow.scale = 2
	for range 15 {
		s.interval(slow, calm)
	}
	require.Equal(t, phaseFiring, s.phase(slow.label(), kindLatency))

	attrs := probe(slow).Attributes()
	detected, ok := attrs.Get(markDetected)
	require.True(t, ok)
	assert.True(t, detected.Bool())
	typ, _ := attrs.Get(markType)
	assert.Equal(t, "latency_regression", typ.Str())
	base, ok := attrs.Get("regression.baseline_p95_ms")
	require.True(t, ok)
	cur, ok := attrs.Get("regression.current_p95_ms")
	require.True(t, ok)
	ratio, ok := attrs.Get(markLatencyRatio)
	require.True(t, ok)
	trueP95ms := 400 * math.Exp(1.6448536*0.5)
	assert.InEpsilon(t, trueP95ms, base.Double(), 0.08)
	assert.Greater(t, cur.Double(), base.Double()*1.3)
	assert.Greater(t, ratio.Double(), 1.3)
	_, ok = attrs.Get(markBaselineErrorRate)
	assert.False(t, ok, "only the firing type's figures are written")

	_, marked = probe(calm).Attributes().Get(markDetected)
	assert.False(t, marked, "spans of other operations stay unmarked")
}

func TestOperationKeyFallsBackToTheSpanNameAndSkipsAbsentParts(t *testing.T) {
	s := newSim(t, createDefaultConfig().(*Config))
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "shop")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	now := pcommon.NewTimestampFromTime(s.clock.Now())
	add := func(name string, attrs map[string]string) {
		sp := spans.AppendEmpty()
		sp.SetName(name)
		sp.SetStartTimestamp(now - 1e6)
		sp.SetEndTimestamp(now)
		for k, v := range attrs {
			sp.Attributes().PutStr(k, v)
		}
	}
	add("GET /cart", nil)
	add("chat gpt-4o", map[string]string{"gen_ai.agent.name": "planner", "gen_ai.operation.name": "chat"})
	add("tool", map[string]string{"gen_ai.agent.name": "planner", "service.name": "override"})
	_, err := s.p.processTraces(context.Background(), td)
	require.NoError(t, err)
	for _, label := range []string{"shop/GET /cart", "shop/planner/chat", "override/planner/tool"} {
		assert.NotNil(t, s.op(label), "operation %q", label)
	}
	assert.Len(t, s.p.tr.ops, 3)
}

func TestOperationsAreBoundedAndTheLeastRecentlySeenIsEvicted(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxOperations = 3
	s := newSim(t, cfg)
	var streams []*stream
	for i, agent := range []string{"a", "b", "c", "d", "e"} {
		st := newStream(uint64(40+i), agent)
		st.rate = 1
		streams = append(streams, st)
	}
	s.interval(streams[0], streams[1], streams[2])
	s.interval(streams[0]) // a is now the most recent; b the least
	s.interval(streams[3], streams[4])
	assert.Len(t, s.p.tr.ops, 3)
	for _, st := range []*stream{streams[0], streams[3], streams[4]} {
		assert.NotNil(t, s.op(st.label()), "%s is kept", st.agent)
	}
	for _, st := range []*stream{streams[1], streams[2]} {
		assert.Nil(t, s.op(st.label()), "%s is evicted", st.agent)
	}
	assert.Equal(t, int64(2), s.counter("otelcol_processor_regression_operations_evicted"))
}

func TestMalformedSpansAreCountedAndSkippedWithoutHarmingNeighbours(t *testing.T) {
	s := newSim(t, createDefaultConfig().(*Config))
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "shop")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	now := pcommon.NewTimestampFromTime(s.clock.Now())
	good := func() ptrace.Span {
		sp := spans.AppendEmpty()
		sp.SetName("ok")
		sp.SetStartTimestamp(now - 5e8)
		sp.SetEndTimestamp(now)
		return sp
	}
	good()
	bad := spans.AppendEmpty() // ends before it starts
	bad.SetName("ok")
	bad.SetStartTimestamp(now)
	bad.SetEndTimestamp(now - 1)
	spans.AppendEmpty().SetName("ok") // no timestamps at all
	good().Attributes().PutDouble(DefaultCostAttribute, math.NaN())
	good().Attributes().PutDouble(DefaultCostAttribute, -3)
	good().Attributes().PutStr(DefaultCostAttribute, "cheap") // wrong type: ignored, not counted
	good().Attributes().PutInt(DefaultCostAttribute, 2)

	_, err := s.p.processTraces(context.Background(), td)
	require.NoError(t, err)
	op := s.op("shop/ok")
	require.NotNil(t, op)
	var n, costN uint64
	for i := range op.cur {
		n += op.cur[i].lat.Count()
		costN += op.cur[i].costN
	}
	assert.Equal(t, uint64(5), n, "the five well-formed spans count")
	assert.Equal(t, uint64(1), costN, "only the valid integer cost counts")
	assert.Equal(t, int64(2), s.counter("otelcol_processor_regression_spans_skipped", "reason", "invalid_duration"))
	assert.Equal(t, int64(2), s.counter("otelcol_processor_regression_spans_skipped", "reason", "invalid_cost"))
}

func TestAutomaticRebaselineAcceptsALastingRegression(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.RebaselineAfter = 30 * time.Minute
	s := newSim(t, cfg)
	st := newStream(50, "planner")
	warmUp(s, st)
	st.scale = 2
	for range 15 {
		s.interval(st)
	}
	require.Equal(t, phaseFiring, s.phase(st.label(), kindLatency))
	for range 30 {
		s.interval(st)
	}
	assert.Equal(t, phaseResolved, s.phase(st.label(), kindLatency), "re-baselining resolves the alert")
	assert.Equal(t, int64(1), s.counter("otelcol_processor_regression_rebaselines", "cause", "auto"))
	// The new normal is learnt: after another warm-up, the doubled latency is the baseline.
	for range 80 {
		s.interval(st)
	}
	op := s.op(st.label())
	require.NotNil(t, op)
	assert.True(t, op.judged)
	assert.Equal(t, phaseInactive, s.phase(st.label(), kindLatency))
	trueP95 := 2 * st.median.Seconds() * math.Exp(1.6448536*st.sigma)
	assert.InEpsilon(t, trueP95, op.fig[kindLatency].baseline[0], 0.08)
}

func TestTheAgentPartOfASpanWithoutAnAgentComesFromItsNearestAncestorInTheBatch(t *testing.T) {
	s := newSim(t, createDefaultConfig().(*Config))
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "shop")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	now := pcommon.NewTimestampFromTime(s.clock.Now())
	id := func(n byte) pcommon.SpanID { return pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, n} }
	add := func(n, parent byte, attrs map[string]string) {
		sp := spans.AppendEmpty()
		sp.SetName("span")
		sp.SetSpanID(id(n))
		if parent != 0 {
			sp.SetParentSpanID(id(parent))
		}
		sp.SetStartTimestamp(now - 1e6)
		sp.SetEndTimestamp(now)
		for k, v := range attrs {
			sp.Attributes().PutStr(k, v)
		}
	}
	// The children come before their agent span in the batch, as SDKs export them.
	add(3, 2, map[string]string{"gen_ai.operation.name": "chat"}) // under a chain span (2) under the agent (1)
	add(2, 1, nil)
	add(4, 1, map[string]string{"gen_ai.operation.name": "execute_tool"})
	add(1, 0, map[string]string{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"})
	add(6, 9, map[string]string{"gen_ai.operation.name": "chat"})                                // its parent is in another batch
	add(7, 1, map[string]string{"gen_ai.operation.name": "chat", "gen_ai.agent.name": "critic"}) // its own name wins
	_, err := s.p.processTraces(context.Background(), td)
	require.NoError(t, err)
	for _, label := range []string{"shop/planner/chat", "shop/planner/execute_tool", "shop/planner/invoke_agent", "shop/planner/span", "shop/chat", "shop/critic/chat"} {
		assert.NotNil(t, s.op(label), "operation %q", label)
	}
	assert.Len(t, s.p.tr.ops, 6)

	cfg := createDefaultConfig().(*Config)
	cfg.MaxBatchIndexSpans = 0
	off := newSim(t, cfg)
	_, err = off.p.processTraces(context.Background(), td)
	require.NoError(t, err)
	assert.NotNil(t, off.op("shop/chat"), "max_batch_index_spans 0 turns the lookup off")
	assert.Nil(t, off.op("shop/planner/chat"))
}
