package sloprocessor

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// Two SLOs grouped by the same attribute share one group-key hash per span; each span must still
// land in its own group in both.
func TestSLOsSharingAGroupByCountEachSpanInItsOwnGroup(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.SLOs = DefaultSLOs()[:3] // availability and latency (same spans), tool calls
	for i := range cfg.SLOs {
		cfg.SLOs[i].GroupBy = []string{"gen_ai.agent.name"}
	}
	h := newHarness(t, cfg, nil, nil)
	defer h.shutdown()
	h.spans(makeSpans(
		spanSpec{agent: "a", op: "invoke_agent", err: true},
		spanSpec{agent: "b", op: "invoke_agent", dur: 2 * time.Second},
		spanSpec{agent: "a", op: "execute_tool"},
		spanSpec{agent: "c", op: "execute_tool", err: true},
		spanSpec{agent: "b", op: "invoke_agent"},
	))
	h.tick(time.Minute)
	h.tick(time.Minute) // the latency slice closes
	counts := map[string][2]uint64{}
	for _, name := range []string{"agent_availability", "agent_latency_p95", "tool_call_success_rate"} {
		for _, g := range sloStatus(t, h.p.Status(), name).Groups {
			counts[name+"/"+g.Labels["gen_ai.agent.name"]] = [2]uint64{g.Events, g.BadEvents}
		}
	}
	require.NotEmpty(t, counts)
	assert.Equal(t, map[string][2]uint64{
		"agent_availability/a":     {1, 1},
		"agent_availability/b":     {2, 0},
		"agent_latency_p95/a":      {1, 0}, // one good slice
		"agent_latency_p95/b":      {1, 1}, // one of two spans slow: over 5%, a bad slice
		"tool_call_success_rate/a": {1, 0},
		"tool_call_success_rate/c": {1, 1},
	}, counts)
}

// Past the group bound (a cardinality explosion, when the collector is busiest) a span still
// allocates nothing: the overflow count reaches telemetry at the tick.
func TestOverflowSpansAllocateNothing(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxGroupsPerSLO = 1
	slo := DefaultSLOs()[0]
	slo.GroupBy = []string{"gen_ai.agent.name"}
	cfg.SLOs = []SLOConfig{slo}
	h := newHarness(t, cfg, nil, nil)
	defer h.shutdown()
	td := makeSpans(spanSpec{agent: "a", op: "invoke_agent"}, spanSpec{agent: "b", op: "invoke_agent"}, spanSpec{agent: "c", op: "invoke_agent"})
	h.spans(td) // a takes the one group, b and c make the overflow series
	allocs := testing.AllocsPerRun(50, func() { h.spans(td) })
	assert.Zero(t, allocs)
	h.p.mu.Lock()
	assert.Equal(t, int64(2*51+2), h.p.slos[0].dropped, "every overflowed span is counted for the tick")
	h.p.mu.Unlock()
}

func TestStatusListsGroupsInLabelOrder(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	slo := DefaultSLOs()[0]
	slo.GroupBy = []string{"gen_ai.agent.name"}
	cfg.SLOs = []SLOConfig{slo}
	h := newHarness(t, cfg, nil, nil)
	defer h.shutdown()
	for _, a := range []string{"delta", "alpha", "charlie", "bravo"} {
		h.spans(makeSpans(spanSpec{agent: a, op: "invoke_agent", err: a == "charlie"}))
	}
	h.tick(10 * time.Second)
	var got []string
	for _, g := range sloStatus(t, h.p.Status(), "agent_availability").Groups {
		got = append(got, g.Labels["gen_ai.agent.name"])
		assert.Equal(t, g.Labels["gen_ai.agent.name"] == "charlie", g.BadEvents == 1, "each group keeps its own figures")
		require.Len(t, g.Windows, 9)
		assert.Equal(t, "1m", g.Windows[0].Window)
		assert.Equal(t, "30d", g.Windows[8].Window)
	}
	assert.Equal(t, []string{"alpha", "bravo", "charlie", "delta"}, got)
}

func TestInertBurnRulesAreLoggedAtStart(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	h := newHarness(t, createDefaultConfig().(*Config), zap.New(core), nil)
	defer h.shutdown()
	inert := logs.FilterMessageSnippet("can never fire").All()
	var got []string
	for _, e := range inert {
		f := e.ContextMap()
		for _, r := range f["rules"].([]any) {
			got = append(got, fmt.Sprintf("%s %s", f["slo"], r))
		}
	}
	assert.Len(t, inert, 4, "one line per SLO")
	// The burn rate cannot exceed 1/(1 − objective): 10 at 0.90 (latency), 6.67 at 0.85 (memory),
	// 5 at 0.80 (cost), 4 at 0.75 (queue), against page factors 43.2, 14.4 and 6: those SLOs
	// page only through the rules below their ceiling; cost and queue depth only ticket.
	assert.Equal(t, []string{
		"agent_latency_p95 5m∧1m", "agent_latency_p95 1h∧5m",
		"memory_usage 5m∧1m", "memory_usage 1h∧5m",
		"cost_efficiency 5m∧1m", "cost_efficiency 1h∧5m", "cost_efficiency 6h∧30m",
		"queue_depth 5m∧1m", "queue_depth 1h∧5m", "queue_depth 6h∧30m",
	}, got)
}
