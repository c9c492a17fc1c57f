package spanmetrics

import (
	"encoding/binary"
	"strconv"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var fixtureStart = pcommon.Timestamp(1_700_000_000_000_000_000)

// agentRuns builds runs agent runs of three spans each — invoke_agent (named agent-<i>), chat
// (no agent name: charged to its parent; token usage on gpt-4o) and execute_tool (every tenth
// one fails) — with agent names cycling over `agents` distinct values from offset.
func agentRuns(runs, agents, offset int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "agents-svc")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	spans.EnsureCapacity(runs * 3)
	for r := range runs {
		n := offset + r
		agent := "agent-" + strconv.Itoa(n%agents)
		var tid pcommon.TraceID
		binary.BigEndian.PutUint64(tid[8:], uint64(n)+1)
		sid := func(k int) pcommon.SpanID {
			var s pcommon.SpanID
			binary.BigEndian.PutUint64(s[:], uint64(n)*4+uint64(k)+1)
			return s
		}
		start := fixtureStart + pcommon.Timestamp(n)*1000

		root := spans.AppendEmpty()
		root.SetTraceID(tid)
		root.SetSpanID(sid(0))
		root.SetName("invoke_agent " + agent)
		root.SetKind(ptrace.SpanKindInternal)
		root.SetStartTimestamp(start)
		root.SetEndTimestamp(start + pcommon.Timestamp(1_200_000_000+(n%7)*100_000_000))
		root.Attributes().PutStr("gen_ai.operation.name", "invoke_agent")
		root.Attributes().PutStr("gen_ai.agent.name", agent)

		chat := spans.AppendEmpty()
		chat.SetTraceID(tid)
		chat.SetSpanID(sid(1))
		chat.SetParentSpanID(sid(0))
		chat.SetName("chat " + agent)
		chat.SetKind(ptrace.SpanKindClient)
		chat.SetStartTimestamp(start + 1_000_000)
		chat.SetEndTimestamp(start + 800_000_000)
		chat.Attributes().PutStr("gen_ai.operation.name", "chat")
		chat.Attributes().PutStr("gen_ai.request.model", "gpt-4o")
		chat.Attributes().PutInt("gen_ai.usage.input_tokens", 1000)
		chat.Attributes().PutInt("gen_ai.usage.output_tokens", 200)

		tool := spans.AppendEmpty()
		tool.SetTraceID(tid)
		tool.SetSpanID(sid(2))
		tool.SetParentSpanID(sid(0))
		tool.SetName("execute_tool search " + agent)
		tool.SetKind(ptrace.SpanKindInternal)
		tool.SetStartTimestamp(start + 810_000_000)
		tool.SetEndTimestamp(start + 1_000_000_000)
		tool.Attributes().PutStr("gen_ai.operation.name", "execute_tool")
		tool.Attributes().PutStr("gen_ai.tool.name", "search")
		if n%10 == 9 {
			tool.Status().SetCode(ptrace.StatusCodeError)
			tool.Attributes().PutStr("error.type", "TimeoutError")
		}
	}
	return td
}

type hostWithExtensions map[component.ID]component.Component

func (h hostWithExtensions) GetExtensions() map[component.ID]component.Component { return h }
