package sloprocessor

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-amas/otelcol-amas/internal/storagetest"
)

// restartWith runs cfg on store with 990 good and 10 bad agent runs, shuts down, and starts
// next on the same store (and clock); it returns the new harness and its warnings and infos.
func restartWith(t *testing.T, cfg, next *Config) (*harness, *observer.ObservedLogs) {
	t.Helper()
	store := storagetest.New()
	storageID := component.MustNewID("file_storage")
	exts := map[component.ID]component.Component{storageID: store}
	cfg.Storage, next.Storage = &storageID, &storageID
	h := newHarness(t, cfg, nil, exts)
	h.spans(makeSpans(append(repeat(990, spanSpec{agent: "a", op: "invoke_agent"}), repeat(10, spanSpec{agent: "a", op: "invoke_agent", err: true})...)...))
	h.tick(10 * time.Second)
	h.shutdown()
	core, logs := observer.New(zapcore.InfoLevel)
	h2 := newHarnessAt(t, next, zap.New(core), exts, h.clock)
	t.Cleanup(h2.shutdown)
	h2.clock.Advance(10 * time.Second)
	h2.p.tick(context.Background()) // a grouped SLO with no group yet emits nothing
	return h2, logs
}

func availabilityOnly() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.SLOs = []SLOConfig{DefaultSLOs()[0]}
	return cfg
}

func events(t *testing.T, h *harness) (total, bad uint64) {
	t.Helper()
	var n, b uint64
	for _, g := range sloStatus(t, h.p.Status(), "agent_availability").Groups {
		n += g.Events
		b += g.BadEvents
	}
	return n, b
}

func TestCheckpointIdentity(t *testing.T) {
	t.Run("An unchanged definition restores every count.", func(t *testing.T) {
		h, logs := restartWith(t, availabilityOnly(), availabilityOnly())
		n, b := events(t, h)
		assert.Equal(t, [2]uint64{1000, 10}, [2]uint64{n, b})
		assert.Zero(t, logs.FilterMessageSnippet("definition").Len())
	})
	t.Run("A new objective keeps the counts (same events, same SLI) with a warning naming it.", func(t *testing.T) {
		next := availabilityOnly()
		next.SLOs[0].Objective = 0.999
		h, logs := restartWith(t, availabilityOnly(), next)
		n, b := events(t, h)
		assert.Equal(t, [2]uint64{1000, 10}, [2]uint64{n, b})
		st := sloStatus(t, h.p.Status(), "agent_availability")
		assert.InDelta(t, 100*(1-10/(0.001*1000)), st.Groups[0].BudgetRemainingPercent, 1e-9, "the budget is recomputed at the new objective")
		w := logs.FilterMessageSnippet("migrated").All()
		require.Len(t, w, 1)
		assert.Equal(t, "agent_availability", w[0].ContextMap()["slo"])
		assert.Contains(t, fmt.Sprint(w[0].ContextMap()["changed"]), "objective: 0.995 → 0.999")
	})
	t.Run("New rules with other windows keep the counts, re-bucketed.", func(t *testing.T) {
		next := availabilityOnly()
		next.SLOs[0].Alerting = &AlertingConfig{BurnRateRules: []BurnRateRuleConfig{
			{Severity: "page", LongWindow: time.Hour, ShortWindow: 5 * time.Minute, BudgetConsumed: 0.02},
			{Severity: "ticket", LongWindow: 24 * time.Hour, ShortWindow: 2 * time.Hour, BudgetConsumed: 0.1},
		}}
		h, logs := restartWith(t, availabilityOnly(), next)
		n, b := events(t, h)
		assert.Equal(t, [2]uint64{1000, 10}, [2]uint64{n, b})
		assert.Equal(t, 1, logs.FilterMessageSnippet("migrated").Len())
		assert.Zero(t, logs.FilterMessageSnippet("unreadable").Len())
	})
	for _, c := range []struct {
		name, field string
		change      func(*SLOConfig)
	}{
		{"A new group_by starts fresh with a warning naming the SLO and the change.", `group_by: [] → ["gen_ai.agent.name"]`,
			func(s *SLOConfig) { s.GroupBy = []string{"gen_ai.agent.name"} }},
		{"Another budgeting method starts fresh.", "budgeting.method: occurrences → timeslices",
			func(s *SLOConfig) { s.Budgeting = BudgetingConfig{Method: methodTimeslices, Slice: time.Minute} }},
		{"Another SLI starts fresh.", "sli.spans.bad_conditions:",
			func(s *SLOConfig) { s.SLI.Spans.BadConditions = []string{condSlow} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			next := availabilityOnly()
			c.change(&next.SLOs[0])
			h, logs := restartWith(t, availabilityOnly(), next)
			n, _ := events(t, h)
			assert.Zero(t, n, "the old counts meant something else")
			w := logs.FilterMessageSnippet("starts fresh").All()
			require.Len(t, w, 1)
			assert.Equal(t, zapcore.WarnLevel, w[0].Level)
			assert.Equal(t, "agent_availability", w[0].ContextMap()["slo"])
			assert.Contains(t, fmt.Sprint(w[0].ContextMap()["changed"]), c.field)
			assert.Equal(t, []string{"agent_availability"}, h.p.Status().Checkpoint.DefinitionChanged)
		})
	}
	t.Run("A removed SLO's checkpoint is deleted at the next start.", func(t *testing.T) {
		store := storagetest.New()
		storageID := component.MustNewID("file_storage")
		exts := map[component.ID]component.Component{storageID: store}
		cfg := createDefaultConfig().(*Config)
		cfg.Storage = &storageID
		h := newHarness(t, cfg, nil, exts)
		h.spans(makeSpans(spanSpec{agent: "a", op: "execute_tool"}))
		h.tick(10 * time.Second)
		h.shutdown()
		require.NotEmpty(t, store.Value(checkpointKey("tool_call_success_rate")))
		next := availabilityOnly()
		next.Storage = &storageID
		h2 := newHarnessAt(t, next, nil, exts, h.clock)
		h2.shutdown()
		assert.Empty(t, store.Value(checkpointKey("tool_call_success_rate")))
		assert.NotEmpty(t, store.Value(checkpointKey("agent_availability")))
	})
	t.Run("A checkpoint of the previous version (no definition) still loads, as identity unknown.", func(t *testing.T) {
		store := storagetest.New()
		storageID := component.MustNewID("file_storage")
		exts := map[component.ID]component.Component{storageID: store}
		cfg := createDefaultConfig().(*Config)
		cfg.SLOs = []SLOConfig{DefaultSLOs()[2]}
		cfg.Storage = &storageID
		h := newHarness(t, cfg, nil, exts)
		h.spans(makeSpans(repeat(7, spanSpec{agent: "a", op: "execute_tool", err: true})...))
		h.tick(10 * time.Second)
		h.shutdown()
		// Version 2 framing: magic, fingerprint, definition, series, no-data series (none here).
		// Version 1 was the magic and the series.
		v2 := store.Value(checkpointKey("tool_call_success_rate"))
		rest := v2[len(checkpointMagic)+8:]
		n, k := binary.Uvarint(rest)
		require.Positive(t, k)
		rest = rest[k+int(n):]
		require.Equal(t, byte(0), rest[len(rest)-1])
		store.Put(checkpointKey("tool_call_success_rate"), append([]byte(checkpointMagicV1), rest[:len(rest)-1]...))

		core, logs := observer.New(zapcore.InfoLevel)
		h2 := newHarnessAt(t, cfg, zap.New(core), exts, h.clock)
		defer h2.shutdown()
		h2.tick(10 * time.Second)
		g := sloStatus(t, h2.p.Status(), "tool_call_success_rate").Groups[0]
		assert.Equal(t, uint64(7), g.BadEvents)
		assert.Equal(t, 1, logs.FilterMessageSnippet("before checkpoints recorded").Len())
	})
	t.Run("Groups above a lowered max_groups_per_slo are dropped, least recently active first.", func(t *testing.T) {
		store := storagetest.New()
		storageID := component.MustNewID("file_storage")
		exts := map[component.ID]component.Component{storageID: store}
		cfg := availabilityOnly()
		cfg.SLOs[0].GroupBy = []string{"gen_ai.agent.name"}
		cfg.Storage = &storageID
		h := newHarness(t, cfg, nil, exts)
		for _, a := range []string{"old", "mid", "new"} {
			h.spans(makeSpans(spanSpec{agent: a, op: "invoke_agent"}))
			h.tick(10 * time.Second)
		}
		h.shutdown()
		next := *cfg
		next.MaxGroupsPerSLO = 2
		h2 := newHarnessAt(t, &next, nil, exts, h.clock)
		defer h2.shutdown()
		h2.tick(10 * time.Second)
		var agents []string
		for _, g := range sloStatus(t, h2.p.Status(), "agent_availability").Groups {
			agents = append(agents, g.Labels["gen_ai.agent.name"])
		}
		assert.Equal(t, []string{"mid", "new"}, agents)
	})
}
