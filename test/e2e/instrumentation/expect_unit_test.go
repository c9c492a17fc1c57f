package instrumentation

import (
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The comparison itself must catch a miscount, a charge to the service name and a missing series,
// or every collector test could pass by accident.
func TestExpectationComparisonCatchesMiscountsAndPhantomAgents(t *testing.T) {
	sc := scenario{Service: "svc", Agents: []agentSpec{{Name: "triage", Model: "gpt-4o", Tool: "search", Runs: 2, FailTool: []int{1}}}}
	tallies := map[agentModel]tally{{Agent: "triage", Model: "gpt-4o"}: {ToolCalls: 2, Answers: 2, Usage: usage{Input: 660, Output: 120, Cached: 256, Reasoning: 36}}}
	e := newExpectation()
	e.expect(genAI, sc, tallies)

	exact := `# TYPE amas_agent_requests_total counter
amas_agent_requests_total{agent="triage",operation="invoke_agent",status="ok"} 2
amas_agent_requests_total{agent="triage",operation="chat",status="ok"} 4
amas_agent_requests_total{agent="triage",operation="execute_tool",status="ok"} 1
amas_agent_requests_total{agent="triage",operation="execute_tool",status="error"} 1
# TYPE amas_agent_errors_total counter
amas_agent_errors_total{agent="triage",operation="execute_tool",error_type="TimeoutError"} 1
# TYPE amas_tool_calls_total counter
amas_tool_calls_total{agent="triage",tool="search",status="ok"} 1
amas_tool_calls_total{agent="triage",tool="search",status="error"} 1
# TYPE amas_tokens_used_total counter
amas_tokens_used_total{agent="triage",model="gpt-4o",token_type="input"} 660
amas_tokens_used_total{agent="triage",model="gpt-4o",token_type="output"} 120
# TYPE amas_cost_usd_total counter
amas_cost_usd_total{agent="triage",model="gpt-4o"} 0.00285
# TYPE amas_active_agents_current gauge
amas_active_agents_current 1
`
	assert.Empty(t, compareText(t, e, exact), "the exact exposition for a GenAI-conventions client (no cached tokens: 660 × 2.50 + 120 × 10.00 per million)")

	for _, c := range []struct{ name, from, to, want string }{
		{"a token charged to the service name", `amas_tokens_used_total{agent="triage",model="gpt-4o",token_type="output"} 120`,
			`amas_tokens_used_total{agent="triage",model="gpt-4o",token_type="output"} 100
amas_tokens_used_total{agent="svc",model="gpt-4o",token_type="output"} 20`, `unexpected agent "svc"`},
		{"a missing tool error", `amas_tool_calls_total{agent="triage",tool="search",status="error"} 1`, ``, `status="error",tool="search"}: want 1, got 0`},
		{"a token type the library never sent", `# TYPE amas_cost_usd_total counter`,
			`amas_tokens_used_total{agent="triage",model="gpt-4o",token_type="cache_read"} 5
# TYPE amas_cost_usd_total counter`, `unexpected series amas_tokens_used_total{agent="triage",model="gpt-4o",token_type="cache_read"}`},
		{"an error not counted", `error_type="TimeoutError"} 1`, `error_type="TimeoutError"} 0`, `amas_agent_errors_total{agent="triage"}: want 1, got 0`},
		{"a model call counted twice", `operation="chat",status="ok"} 4`, `operation="chat",status="ok"} 5`, `want 4, got 5`},
		{"a phantom active agent", `amas_active_agents_current 1`, `amas_active_agents_current 2`, `amas_active_agents_current: want 1, got 2`},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := strings.Replace(exact, c.from, c.to, 1)
			require.NotEqual(t, exact, text)
			assert.Contains(t, strings.Join(compareText(t, e, text), "\n"), c.want)
		})
	}
}

func compareText(t *testing.T, e *expectation, text string) []string {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	require.NoError(t, err)
	return e.compare(fams)
}
