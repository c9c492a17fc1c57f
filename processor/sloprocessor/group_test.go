package sloprocessor

import (
	"github.com/otelcol-amas/otelcol-amas/internal/slomath"

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
		"agent_availability/a": {1, 1},
		"agent_availability/b": {2, 0},
		// Two slices have closed since each latency group began: the one with its spans and an
		// empty one, which is good.
		"agent_latency_p95/a":      {2, 0},
		"agent_latency_p95/b":      {2, 1}, // one of two spans slow: over 5%, a bad slice
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

func TestDefaultTablesLeaveOutRulesThatCannotFire(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	h := newHarness(t, createDefaultConfig().(*Config), zap.New(core), nil)
	defer h.shutdown()
	assert.Zero(t, logs.FilterMessageSnippet("can never fire").Len(), "nothing inert is left to log")
	got := map[string][]string{}
	for _, st := range h.p.slos {
		for _, r := range st.c.model.Rules {
			got[st.name] = append(got[st.name], fmt.Sprintf("%s %s∧%s", r.Severity, slomath.FormatWindow(r.LongWindow), slomath.FormatWindow(r.ShortWindow)))
		}
	}
	// The burn rate cannot exceed 1/(1 − objective): 10 at 0.90 (latency), 6.67 at 0.85 (memory),
	// 5 at 0.80 (cost), 4 at 0.75 (queue), against page factors 14.4 and 6. The hard-down page
	// (1m, 25% errors) is for the occurrences SLOs.
	all := []string{"page 1h∧5m", "page 6h∧30m", "ticket 1d∧2h", "ticket 3d∧6h"}
	assert.Equal(t, map[string][]string{
		"agent_availability":     append([]string{"page 1m∧1m"}, all...),
		"tool_call_success_rate": append([]string{"page 1m∧1m"}, all...),
		"agent_latency_p95":      all[1:],
		"memory_usage":           all[1:],
		"cost_efficiency":        all[2:],
		"queue_depth":            all[2:],
	}, got)
}
