package spancond

import (
	"context"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottlspan"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// FuzzCompile: any condition text compiles or is refused with an error, never panics; a set that
// compiles also evaluates on a span without panicking, and a condition that runs natively gives
// the same answer as OTTL on that span.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`attributes["gen_ai.operation.name"] == "invoke_agent"`,
		`status.code == STATUS_CODE_ERROR`,
		`attributes["gen_ai.agent.name"] == "a" and kind == SPAN_KIND_SERVER`,
		`end_time_unix_nano - start_time_unix_nano > 1500000000`,
		`IsMatch(name, "^chat.*")`,
		`attributes["x"] != nil or attributes["y"] > 3.5`,
		`"`,
		`attributes[`,
	} {
		f.Add(s)
	}
	set := componenttest.NewNopTelemetrySettings()
	rs := ptrace.NewResourceSpans()
	rs.Resource().Attributes().PutStr("service.name", "planner")
	ss := rs.ScopeSpans().AppendEmpty()
	span := ss.Spans().AppendEmpty()
	span.SetName("chat gpt-4o")
	span.SetKind(ptrace.SpanKindServer)
	span.SetStartTimestamp(1_000_000_000)
	span.SetEndTimestamp(3_000_000_000)
	span.Status().SetCode(ptrace.StatusCodeError)
	span.Attributes().PutStr("gen_ai.operation.name", "invoke_agent")
	span.Attributes().PutStr("gen_ai.agent.name", "a")
	span.Attributes().PutInt("y", 4)
	span.Attributes().PutDouble("cost", 0.5)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, cond string) {
		viaOTTL, err := Compile([]string{cond}, set, true)
		if err != nil {
			return
		}
		tctx := ottlspan.NewTransformContext(rs, ss, span)
		defer tctx.Close()
		want := viaOTTL.Eval(ctx, rs.Resource(), span, tctx)
		native, err := Compile([]string{cond}, set, false)
		if err != nil {
			t.Fatalf("compiles through OTTL but not natively: %v", err)
		}
		if native.Native() {
			if got := native.Eval(ctx, rs.Resource(), span, nil); got != want {
				t.Fatalf("native %v, OTTL %v for %q", got, want, cond)
			}
		}
	})
}
