package acceptance

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
	"github.com/otelcol-amas/otelcol-amas/test/e2e/acceptance/agentsim"
)

// Criterion 3: "Trace a slow request → see exactly where time was spent."
//
// Among steady fast runs, one run's second tool call (web_fetch) takes 2.5 s. The test finds
// that run only from the amas_agent_duration_seconds histogram's exemplars in Prometheus (the
// exemplars above the 1.5 s latency objective), fetches its trace from Jaeger's API with every
// child span, and the slowest child is the tool call the test slowed.
func TestASlowRequestIsFoundFromTheHistogramExemplarAndItsSlowToolInJaeger(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOptions{jaeger: true})
	agent := s.client(t, "research-desk")
	stop := agent.Steady(100*time.Millisecond, func(i int) agentsim.Run {
		return agentsim.Run{Agent: "researcher", Tools: []agentsim.Tool{{Name: "search"}, {Name: "web_fetch"}}}
	})
	defer stop()

	// Let fast traffic flow, then the slow run.
	harness.Eventually(t, 30*time.Second, 100*time.Millisecond, func() (bool, string) {
		n := agent.Totals().Runs
		return n >= 30, fmt.Sprintf("%d fast runs sent, want 30", n)
	})
	slowTool := 2500 * time.Millisecond
	slow, err := agent.Send(context.Background(), agentsim.Run{Agent: "researcher", Tools: []agentsim.Tool{
		{Name: "search", Duration: 40 * time.Millisecond},
		{Name: "web_fetch", Duration: slowTool},
		{Name: "calculator", Duration: 20 * time.Millisecond},
	}})
	require.NoError(t, err)

	// Find it as a user would: the exemplars of the slow buckets of the agent latency histogram.
	var found harness.Exemplar
	harness.Eventually(t, 90*time.Second, 500*time.Millisecond, func() (bool, string) {
		exs, err := s.prom.QueryExemplars(`amas_agent_duration_seconds_bucket{agent="researcher",operation="invoke_agent"}`, 10*time.Minute)
		if err != nil {
			return false, err.Error()
		}
		var slowOnes []harness.Exemplar
		for _, e := range exs {
			if e.Value > 1.5 {
				slowOnes = append(slowOnes, e)
			}
		}
		if len(slowOnes) == 0 {
			return false, fmt.Sprintf("no exemplar above 1.5 s among %d", len(exs))
		}
		found = slowOnes[0]
		return true, ""
	})
	require.Equal(t, slow.TraceID.String(), found.Labels["trace_id"], "the slow exemplar is the slow run's trace")
	assert.Equal(t, slow.Root.String(), found.Labels["span_id"], "the exemplar names the invoke_agent span")
	assert.InDelta(t, slow.Durations[slow.Root].Seconds(), found.Value, 0.001, "the exemplar value is the run's duration")

	// Fetch the trace from Jaeger with all its child spans.
	var tr harness.JaegerTrace
	want := map[string]bool{}
	for _, id := range slow.SpanIDs() {
		want[id.String()] = true
	}
	harness.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		var err error
		tr, err = s.jaeger.Trace(found.Labels["trace_id"])
		if err != nil {
			return false, err.Error()
		}
		return len(tr.Spans) == len(want), fmt.Sprintf("trace has %d spans, want %d", len(tr.Spans), len(want))
	})
	var children []harness.JaegerSpan
	for _, sp := range tr.Spans {
		assert.True(t, want[sp.SpanID], "span %s (%s) was sent in the slow run", sp.SpanID, sp.OperationName)
		if sp.ParentSpanID() == slow.Root.String() {
			children = append(children, sp)
		}
	}
	require.Len(t, children, 4, "chat and three tool calls are children of invoke_agent")
	sort.Slice(children, func(i, j int) bool { return children[i].Duration > children[j].Duration })
	slowest := children[0]
	assert.Equal(t, slow.Tools[1].String(), slowest.SpanID, "the slowest child is the tool call the test slowed")
	assert.Equal(t, "execute_tool web_fetch", slowest.OperationName)
	assert.Equal(t, slowTool.Microseconds(), slowest.Duration, "Jaeger shows the tool's own duration")
	report(t, "criterion 3: exemplar %.3f s -> trace %s in Jaeger with %d spans; slowest child %q took %.3f s of the run",
		found.Value, found.Labels["trace_id"], len(tr.Spans), slowest.OperationName, float64(slowest.Duration)/1e6)
	assert.Zero(t, agent.Totals().ExportErrors)
}
