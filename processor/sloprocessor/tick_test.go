package sloprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Building the batch of a tick over many series takes most of the tick; spans must not wait for
// it. The hook runs while the batch is built and takes the lock every span takes.
func TestSpansFlowWhileATickBuildsItsBatch(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	slo := DefaultSLOs()[0]
	slo.GroupBy = []string{"gen_ai.agent.name"}
	cfg.SLOs = []SLOConfig{slo}
	h := newHarness(t, cfg, nil, nil)
	defer h.shutdown()
	h.spans(makeSpans(spanSpec{agent: "a", op: "invoke_agent", err: true}))

	var lockFree, consumed bool
	h.p.testHookBuilding = func() {
		if h.p.mu.TryLock() {
			lockFree = true
			h.p.mu.Unlock()
		}
		// A span arriving now is counted (for the next tick) and does not disturb this batch.
		_, err := h.p.consumeTraces(context.Background(), makeSpans(spanSpec{agent: "b", op: "invoke_agent"}))
		consumed = err == nil
	}
	md := h.tick(10 * time.Second)
	h.p.testHookBuilding = nil
	assert.True(t, lockFree, "the span lock is free while the batch is built")
	assert.True(t, consumed)
	v, ok := point(t, md, metricSLI, map[string]string{"slo": "agent_availability", "gen_ai.agent.name": "a", "window": "1m"})
	require.True(t, ok)
	assert.Equal(t, 0.0, v)
	_, ok = point(t, md, metricSLI, map[string]string{"slo": "agent_availability", "gen_ai.agent.name": "b", "window": "1m"})
	assert.False(t, ok, "the span that arrived during the build belongs to the next tick")

	md = h.tick(10 * time.Second)
	v, ok = point(t, md, metricSLI, map[string]string{"slo": "agent_availability", "gen_ai.agent.name": "b", "window": "1m"})
	require.True(t, ok)
	assert.Equal(t, 1.0, v)
}
