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

func TestEmptySetMatchesEverySpan(t *testing.T) {
	s, err := Compile(nil, componenttest.NewNopTelemetrySettings(), false)
	require.NoError(t, err)
	assert.True(t, s.Eval(context.Background(), pcommon.NewResource(), ptrace.NewSpan(), nil))
}
