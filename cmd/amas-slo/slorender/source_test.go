package slorender

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor"
)

func defaultConnector() *spanmetrics.Config {
	return spanmetrics.NewFactory().CreateDefaultConfig().(*spanmetrics.Config)
}

func spanSLO(conds, bad []string, groupBy ...string) SLO {
	return SLO{Config: sloprocessor.SLOConfig{
		Name: "x", Objective: 0.99, Window: 720 * time.Hour, GroupBy: groupBy,
		SLI: sloprocessor.SLIConfig{Spans: &sloprocessor.SpansSLIConfig{Conditions: conds, BadConditions: bad}},
	}}
}

const (
	agentSpans = `attributes["gen_ai.operation.name"] == "invoke_agent"`
	errStatus  = `status.code == STATUS_CODE_ERROR`
)

func TestEachDefaultSLOMapsWhereTheReadmeSays(t *testing.T) {
	c := loadFile(t, "../../../config/otelcol-amas.yaml")
	want := map[string]struct {
		origin Origin
		exact  bool
	}{
		"agent_availability":     {FromConnector, true},
		"agent_latency_p95":      {FromConnector, false},
		"tool_call_success_rate": {FromConnector, true},
		"memory_usage":           {FromProcessor, false},
		"cost_efficiency":        {FromConnector, false},
		"queue_depth":            {FromConnector, false},
	}
	require.Len(t, c.SLOs, len(want))
	for _, s := range c.SLOs {
		src := mapSource(s, c.Connector)
		assert.Equal(t, want[s.Config.Name].origin, src.Origin, s.Config.Name)
		assert.Equal(t, want[s.Config.Name].exact, src.Exact, s.Config.Name)
		if !src.Exact {
			assert.NotEmpty(t, src.Notes, "%s: an approximation says why", s.Config.Name)
		}
	}
}

func TestSpanConditionsMapToConnectorLabelsOrFallBack(t *testing.T) {
	noBucket := defaultConnector()
	noBucket.Histogram.Explicit.Buckets = []time.Duration{time.Second, 2 * time.Second}
	cases := []struct {
		name      string
		slo       SLO
		conn      *spanmetrics.Config
		origin    Origin
		total     string
		note      string
		groupLbls []string
	}{
		{
			name: "an operation filter and the error status count requests by status",
			slo:  spanSLO([]string{agentSpans}, []string{errStatus}), conn: defaultConnector(),
			origin: FromConnector, total: `amas_agent_requests_total{operation="invoke_agent"}`,
		},
		{
			name: "a duration above a bucket bound reads the histogram",
			slo:  spanSLO([]string{agentSpans}, []string{`end_time_unix_nano - start_time_unix_nano > 1500000000`}), conn: defaultConnector(),
			origin: FromConnector, total: `amas_agent_duration_seconds_count{operation="invoke_agent"}`,
		},
		{
			name: "a duration that is not a bucket bound falls back to the processor's series",
			slo:  spanSLO([]string{agentSpans}, []string{`end_time_unix_nano - start_time_unix_nano > 1500000000`}), conn: noBucket,
			origin: FromProcessor, note: "not a bucket bound",
		},
		{
			name: "an OTTL converter has no counter and falls back",
			slo:  spanSLO([]string{agentSpans}, []string{`IsMatch(attributes["error.type"], "timeout.*")`}), conn: defaultConnector(),
			origin: FromProcessor, note: "has no equivalent on the connector's metrics",
		},
		{
			name: "several bad conditions overlap and fall back",
			slo:  spanSLO([]string{agentSpans}, []string{errStatus, `end_time_unix_nano - start_time_unix_nano > 1500000000`}), conn: defaultConnector(),
			origin: FromProcessor, note: "overlap",
		},
		{
			name: "every span (no condition) is more than the connector counts and falls back",
			slo:  spanSLO(nil, []string{errStatus}), conn: defaultConnector(),
			origin: FromProcessor, note: "one condition naming the operation",
		},
		{
			name: "the operation's instrumentation-profile equivalents are spans the connector already counts under it",
			slo:  spanSLO(append([]string{agentSpans}, sloprocessor.ProfileConditions("invoke_agent")...), []string{errStatus}), conn: defaultConnector(),
			origin: FromConnector, total: `amas_agent_requests_total{operation="invoke_agent"}`,
		},
		{
			name: "another operation's profile equivalents are not the same spans and fall back",
			slo:  spanSLO(append([]string{agentSpans}, sloprocessor.ProfileConditions("execute_tool")...), []string{errStatus}), conn: defaultConnector(),
			origin: FromProcessor, note: "instrumentation-profile equivalents",
		},
		{
			name: "an operation the connector does not classify falls back",
			slo:  spanSLO([]string{`attributes["gen_ai.operation.name"] == "retrieve"`}, []string{errStatus}), conn: defaultConnector(),
			origin: FromProcessor, note: `operation "retrieve"`,
		},
		{
			name: "an agent filter is approximated by the connector's agent label",
			slo:  spanSLO([]string{agentSpans + ` and attributes["gen_ai.agent.name"] == "planner"`}, []string{errStatus}), conn: defaultConnector(),
			origin: FromConnector, total: `amas_agent_requests_total{agent="planner",operation="invoke_agent"}`, note: "nearest ancestor",
		},
		{
			name: "group_by the agent name is renamed to the processor's group label",
			slo:  spanSLO([]string{agentSpans}, []string{errStatus}, "gen_ai.agent.name"), conn: defaultConnector(),
			origin: FromConnector, total: `amas_agent_requests_total{operation="invoke_agent"}`, groupLbls: []string{"gen_ai_agent_name"},
		},
		{
			name: "group_by an attribute the connector has no label for falls back",
			slo:  spanSLO([]string{agentSpans}, []string{errStatus}, "tenant"), conn: defaultConnector(),
			origin: FromProcessor, note: `"tenant" is not a label`, groupLbls: []string{"tenant"},
		},
		{
			name: "without a connector everything is read from the processor",
			slo:  spanSLO([]string{agentSpans}, []string{errStatus}), conn: nil,
			origin: FromProcessor, note: "no amas_spanmetrics connector",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := mapSource(tc.slo, tc.conn)
			assert.Equal(t, tc.origin, src.Origin)
			assert.Equal(t, tc.total, src.total)
			if tc.note != "" {
				assert.Contains(t, joinNotes(src.Notes), tc.note)
			}
			assert.Equal(t, tc.groupLbls, src.groupLabels)
		})
	}
}

func joinNotes(n []string) string {
	out := ""
	for _, s := range n {
		out += s + "\n"
	}
	return out
}

func TestBucketBoundsMatchBothExpositionFormats(t *testing.T) {
	assert.Equal(t, `le="1.5"`, leMatcher(1.5))
	assert.Equal(t, `le=~"2(\\.0)?"`, leMatcher(2))
}
