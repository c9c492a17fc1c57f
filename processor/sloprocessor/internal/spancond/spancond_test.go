package spancond

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottlspan"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var conditions = []string{
	`attributes["gen_ai.operation.name"] == "invoke_agent"`,
	`attributes["gen_ai.operation.name"] != "invoke_agent"`,
	`resource.attributes["service.name"] == "planner"`,
	`name == "chat"`,
	`name != "chat"`,
	`status.code == STATUS_CODE_ERROR`,
	`status.code != STATUS_CODE_OK`,
	`kind == SPAN_KIND_SERVER`,
	`end_time_unix_nano - start_time_unix_nano > 1500000000`,
	`end_time_unix_nano - start_time_unix_nano <= 1500000000`,
	`attributes["amas.cost.usd"] > 0.05`,
	`attributes["amas.cost.usd"] >= 1`,
	`attributes["count"] < 3`,
	`attributes["gen_ai.operation.name"] == "invoke_agent" and status.code == STATUS_CODE_ERROR`,
	`name == "chat" and end_time_unix_nano - start_time_unix_nano > 1000 and attributes["count"] <= 2`,
	`attributes["gen_ai.operation.name"] == nil`,
	`attributes["gen_ai.operation.name"] != nil`,
	`attributes["gen_ai.operation.name"] == nil and attributes["openinference.span.kind"] == "AGENT" and name != "chat"`,
}

func TestEveryShapeIsRecognisedNatively(t *testing.T) {
	set := componenttest.NewNopTelemetrySettings()
	for _, c := range conditions {
		s, err := Compile([]string{c}, set, false)
		require.NoError(t, err, c)
		assert.True(t, s.Native(), c)
	}
	tests := []struct {
		name string
		cond string
	}{
		{"A converter call falls back to OTTL.", `IsMatch(name, "ch.*")`},
		{"An or falls back to OTTL.", `name == "a" or name == "b"`},
		{"A quoted value containing and falls back to OTTL.", `name == "x and y"`},
		{"A value with an escaped quote falls back to OTTL.", `name == "say \"hi\""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Compile([]string{tt.cond}, set, false)
			require.NoError(t, err)
			assert.False(t, s.Native())
		})
	}
	_, err := Compile([]string{`attributes["x"] === "y"`}, set, false)
	assert.Error(t, err, "a syntax error is reported at compile time")
}

// TestNativeAgreesWithOTTL evaluates every recognised condition both ways on random spans.
func TestNativeAgreesWithOTTL(t *testing.T) {
	set := componenttest.NewNopTelemetrySettings()
	rng := rand.New(rand.NewPCG(7, 11))
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	ss := rs.ScopeSpans().AppendEmpty()
	for range 400 {
		sp := ss.Spans().AppendEmpty()
		sp.SetName([]string{"chat", "invoke_agent planner", "x and y", ""}[rng.IntN(4)])
		switch rng.IntN(4) {
		case 0:
			sp.Attributes().PutStr("gen_ai.operation.name", "invoke_agent")
		case 1:
			sp.Attributes().PutStr("gen_ai.operation.name", "execute_tool")
		case 2:
			sp.Attributes().PutInt("gen_ai.operation.name", 3)
		case 3:
			if rng.IntN(2) == 0 {
				sp.Attributes().PutEmpty("gen_ai.operation.name")
			}
		}
		if rng.IntN(2) == 0 {
			sp.Attributes().PutStr("openinference.span.kind", "AGENT")
		}
		switch rng.IntN(5) {
		case 0:
			sp.Attributes().PutDouble("amas.cost.usd", rng.Float64()*0.1)
		case 1:
			sp.Attributes().PutInt("amas.cost.usd", int64(rng.IntN(3)))
		case 2:
			sp.Attributes().PutStr("amas.cost.usd", "0.07")
		}
		if rng.IntN(2) == 0 {
			sp.Attributes().PutInt("count", int64(rng.IntN(5)))
		}
		sp.SetKind(ptrace.SpanKind(rng.IntN(6)))
		sp.Status().SetCode(ptrace.StatusCode(rng.IntN(3)))
		start := pcommon.Timestamp(1_700_000_000_000_000_000 + rng.Int64N(1e9))
		sp.SetStartTimestamp(start)
		sp.SetEndTimestamp(start + pcommon.Timestamp(rng.Int64N(3e9)))
	}
	ctx := context.Background()
	for i, svc := range []string{"planner", "other"} {
		rs.Resource().Attributes().PutStr("service.name", svc)
		for _, c := range conditions {
			native, err := Compile([]string{c}, set, false)
			require.NoError(t, err)
			viaOTTL, err := Compile([]string{c}, set, true)
			require.NoError(t, err)
			require.True(t, native.Native())
			require.True(t, viaOTTL.NeedsOTTL())
			for k := 0; k < ss.Spans().Len(); k++ {
				sp := ss.Spans().At(k)
				tctx := ottlspan.NewTransformContext(rs, ss, sp)
				want := viaOTTL.Eval(ctx, rs.Resource(), sp, tctx)
				got := native.Eval(ctx, rs.Resource(), sp, nil)
				tctx.Close()
				assert.Equal(t, want, got, "resource %d, span %d, condition %s", i, k, c)
			}
		}
	}
}

// TestBoundSetsAgreeWithUnbound evaluates every condition, all bound to one Lookups, span after
// span in a shuffled order, against the same sets unbound: a cached value never leaks from one
// span to the next or from one key to another.
func TestBoundSetsAgreeWithUnbound(t *testing.T) {
	set := componenttest.NewNopTelemetrySettings()
	rng := rand.New(rand.NewPCG(3, 5))
	var l Lookups
	var plain, bound []*Set
	for _, c := range append(conditions, `attributes["gen_ai.operation.name"] == nil and attributes["openinference.span.kind"] == "AGENT"`) {
		s, err := Compile([]string{c}, set, false)
		require.NoError(t, err)
		plain, bound = append(plain, s), append(bound, l.Bind(s))
	}
	require.NotEmpty(t, l.keys, "span attribute conditions take slots")
	rs := ptrace.NewResourceSpans()
	rs.Resource().Attributes().PutStr("service.name", "planner")
	for k := range 500 {
		sp := ptrace.NewSpan()
		ops := []string{"invoke_agent", "execute_tool", "chat"}
		if op := rng.IntN(4); op < 3 {
			sp.Attributes().PutStr("gen_ai.operation.name", ops[op])
		}
		if rng.IntN(2) == 0 {
			sp.Attributes().PutStr("openinference.span.kind", "AGENT")
		}
		if rng.IntN(2) == 0 {
			sp.Attributes().PutInt("count", int64(rng.IntN(5)))
		}
		sp.Status().SetCode(ptrace.StatusCode(rng.IntN(3)))
		l.Reset()
		for _, i := range rng.Perm(len(plain)) {
			want := plain[i].Eval(context.Background(), rs.Resource(), sp, nil)
			got := bound[i].EvalWith(context.Background(), rs.Resource(), sp, nil, &l)
			assert.Equal(t, want, got, "span %d, set %d", k, i)
		}
	}
}

func TestEmptySetMatchesEverySpan(t *testing.T) {
	s, err := Compile(nil, componenttest.NewNopTelemetrySettings(), false)
	require.NoError(t, err)
	assert.True(t, s.Eval(context.Background(), pcommon.NewResource(), ptrace.NewSpan(), nil))
}

// TestOperationClassificationAgreesWithTheConditions checks the one-pass classification that
// replaces OperationConditions against evaluating the same conditions atom by atom and through
// OTTL, on every combination of the attributes it reads.
func TestOperationClassificationAgreesWithTheConditions(t *testing.T) {
	set := componenttest.NewNopTelemetrySettings()
	type val struct {
		put func(m pcommon.Map, k string)
	}
	str := func(s string) val { return val{func(m pcommon.Map, k string) { m.PutStr(k, s) }} }
	missing := val{func(pcommon.Map, string) {}}
	empty := val{func(m pcommon.Map, k string) { m.PutEmpty(k) }}
	num := val{func(m pcommon.Map, k string) { m.PutInt(k, 3) }}
	ops := []val{missing, empty, num, str(""), str("invoke_agent"), str("execute_tool"), str("chat")}
	ois := []val{missing, empty, num, str("AGENT"), str("TOOL"), str("LLM"), str("agent")}
	tls := []val{missing, empty, num, str("agent"), str("tool"), str("task"), str("AGENT")}
	rs := ptrace.NewResourceSpans()
	ss := rs.ScopeSpans().AppendEmpty()
	for _, op := range ops {
		for _, oi := range ois {
			for _, tl := range tls {
				for _, name := range []string{"Agent workflow", "planner"} {
					sp := ss.Spans().AppendEmpty()
					sp.SetName(name)
					op.put(sp.Attributes(), "gen_ai.operation.name")
					oi.put(sp.Attributes(), "openinference.span.kind")
					tl.put(sp.Attributes(), "traceloop.span.kind")
				}
			}
		}
	}
	ctx := context.Background()
	for _, operation := range []string{"invoke_agent", "execute_tool"} {
		conds := OperationConditions(operation)
		classified, err := Compile(conds, set, false)
		require.NoError(t, err)
		require.Equal(t, operation, classified.operation, "the list is recognised")
		generic := *classified
		generic.operation = ""
		viaOTTL, err := Compile(conds, set, true)
		require.NoError(t, err)
		var l Lookups
		bound := l.Bind(classified)
		matched := 0
		for k := 0; k < ss.Spans().Len(); k++ {
			sp := ss.Spans().At(k)
			tctx := ottlspan.NewTransformContext(rs, ss, sp)
			want := viaOTTL.Eval(ctx, rs.Resource(), sp, tctx)
			tctx.Close()
			l.Reset()
			assert.Equal(t, want, generic.Eval(ctx, rs.Resource(), sp, nil), "atoms, %s, span %d", operation, k)
			assert.Equal(t, want, classified.Eval(ctx, rs.Resource(), sp, nil), "classified, %s, span %d", operation, k)
			assert.Equal(t, want, bound.EvalWith(ctx, rs.Resource(), sp, nil, &l), "classified and bound, %s, span %d", operation, k)
			if want {
				matched++
			}
		}
		assert.Positive(t, matched, "some spans are selected")
	}
	other, err := Compile(OperationConditions("invoke_agent")[:2], set, false)
	require.NoError(t, err)
	assert.Empty(t, other.operation, "only the whole list is classified")
}
