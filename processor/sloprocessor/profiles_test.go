package sloprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// librarySpan is one span as an instrumentation library exports it: a name and its own attributes.
type librarySpan struct {
	name  string
	attrs map[string]string
	err   bool
}

func librarySpans(specs ...librarySpan) ptrace.Traces {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for _, s := range specs {
		sp := ss.Spans().AppendEmpty()
		sp.SetName(s.name)
		for k, v := range s.attrs {
			sp.Attributes().PutStr(k, v)
		}
		start := pcommon.NewTimestampFromTime(epoch)
		sp.SetStartTimestamp(start)
		sp.SetEndTimestamp(start + pcommon.Timestamp(100*time.Millisecond))
		if s.err {
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
	}
	return td
}

// The default span SLOs recognise agent and tool spans as the connector's profiles do, so a
// fleet instrumented with OpenInference or Traceloop has availability and tool SLOs too.
func TestTheDefaultSpanSLOsReadEveryInstrumentationProfile(t *testing.T) {
	tests := []struct {
		name        string
		span        librarySpan
		agent, tool bool
	}{
		{"A GenAI invoke_agent span is an agent request.", librarySpan{name: "invoke_agent planner", attrs: map[string]string{"gen_ai.operation.name": "invoke_agent"}}, true, false},
		{"An OpenInference AGENT span is an agent request.", librarySpan{name: "planner", attrs: map[string]string{"openinference.span.kind": "AGENT"}}, true, false},
		{"The OpenAI Agents SDK's workflow root is not an agent request.", librarySpan{name: "Agent workflow", attrs: map[string]string{"openinference.span.kind": "AGENT"}}, false, false},
		{"A Traceloop agent span is an agent request.", librarySpan{name: "planner.agent", attrs: map[string]string{"traceloop.span.kind": "agent", "gen_ai.agent.name": "planner"}}, true, false},
		{"A Traceloop workflow span is not an agent request.", librarySpan{name: "run.workflow", attrs: map[string]string{"traceloop.span.kind": "workflow"}}, false, false},
		{"A chat span below a Traceloop agent is judged by its GenAI operation.", librarySpan{name: "chat gpt-4o", attrs: map[string]string{"gen_ai.operation.name": "chat", "traceloop.span.kind": "agent"}}, false, false},
		{"An OpenInference TOOL span is a tool call.", librarySpan{name: "lookup_order", attrs: map[string]string{"openinference.span.kind": "TOOL"}}, false, true},
		{"A Traceloop tool span is a tool call.", librarySpan{name: "lookup_order.tool", attrs: map[string]string{"traceloop.span.kind": "tool"}}, false, true},
		{"An OpenInference LLM span is neither.", librarySpan{name: "OpenAI Chat Completions", attrs: map[string]string{"openinference.span.kind": "LLM"}}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, createDefaultConfig().(*Config), nil, nil)
			defer h.shutdown()
			bad := tt.span
			bad.err = true
			h.spans(librarySpans(tt.span, bad))
			h.tick(10 * time.Second)
			count := func(slo string) (events, badEvents uint64) {
				for _, g := range sloStatus(t, h.p.Status(), slo).Groups {
					events += g.Events
					badEvents += g.BadEvents
				}
				return events, badEvents
			}
			want := func(counted bool) [2]uint64 {
				if counted {
					return [2]uint64{2, 1}
				}
				return [2]uint64{0, 0}
			}
			e, b := count("agent_availability")
			assert.Equal(t, want(tt.agent), [2]uint64{e, b}, "agent_availability events, bad")
			e, b = count("tool_call_success_rate")
			assert.Equal(t, want(tt.tool), [2]uint64{e, b}, "tool_call_success_rate events, bad")
		})
	}
}
