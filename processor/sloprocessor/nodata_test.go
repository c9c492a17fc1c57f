package sloprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/internal/storagetest"
)

// noDataAlerts lists the SLONoData series of a batch as "slo/agent=state" ("slo=state" without an
// agent label).
func noDataAlerts(md pmetric.Metrics) []string {
	var out []string
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				if m.Name() != alertstate.MetricName {
					continue
				}
				dps := m.Gauge().DataPoints()
				for l := 0; l < dps.Len(); l++ {
					a := dps.At(l).Attributes()
					if n, _ := a.Get(alertstate.LabelAlertName); n.AsString() != alertstate.AlertSLONoData {
						continue
					}
					slo, _ := a.Get(labelSLO)
					state, _ := a.Get(alertstate.LabelAlertState)
					s := slo.AsString()
					if agent, ok := a.Get("gen_ai.agent.name"); ok {
						s += "/" + agent.AsString()
					}
					out = append(out, s+"="+state.AsString())
				}
			}
		}
	}
	return out
}

// agentsFor sends, per tick of 10 s, two invoke_agent and two execute_tool spans of each agent
// (720 an hour: an hour of it, or its last 15 minutes, predicts 18 events in 90 s of silence, at
// least min_predicted = 10; at 360 an hour no-data would come at 100 s), and returns the no-data
// alerts seen.
func (h *harness) agentsFor(d time.Duration, agents ...string) []string {
	var seen []string
	for end := h.clock.Now().Add(d); h.clock.Now().Before(end); {
		var specs []spanSpec
		for _, a := range agents {
			specs = append(specs, spanSpec{agent: a, op: "invoke_agent"}, spanSpec{agent: a, op: "execute_tool"},
				spanSpec{agent: a, op: "invoke_agent"}, spanSpec{agent: a, op: "execute_tool"})
		}
		h.spans(makeSpans(specs...))
		seen = append(seen, noDataAlerts(h.tick(10*time.Second))...)
	}
	return seen
}

func (h *harness) silentFor(d time.Duration) []string {
	var seen []string
	for end := h.clock.Now().Add(d); h.clock.Now().Before(end); {
		seen = append(seen, noDataAlerts(h.tick(10*time.Second))...)
	}
	return seen
}

func TestNoDataAtTheProcessor(t *testing.T) {
	t.Run("A cron agent running every 10 minutes with 8 tool calls a run never raises no-data.", func(t *testing.T) {
		h := newHarness(t, createDefaultConfig().(*Config), nil, nil)
		defer h.shutdown()
		var seen []string
		for range 18 { // three hours
			h.spans(makeSpans(append(repeat(8, spanSpec{agent: "cron", op: "execute_tool"}), spanSpec{agent: "cron", op: "invoke_agent"})...))
			seen = append(seen, noDataAlerts(h.tick(10*time.Second))...)
			seen = append(seen, h.silentFor(9*time.Minute+50*time.Second)...)
		}
		assert.Empty(t, seen)
	})
	t.Run("One dead agent among healthy ones raises no-data for agent_availability with its agent label.", func(t *testing.T) {
		h := newHarness(t, createDefaultConfig().(*Config), nil, nil)
		defer h.shutdown()
		require.Empty(t, h.agentsFor(time.Hour, "a", "b"))
		// b's last span went in before the last tick: 10 s of silence so far, 80 s after 7 ticks.
		seen := h.agentsFor(70*time.Second, "a")
		assert.Empty(t, seen, "not before 90 s")
		h.spans(makeSpans(spanSpec{agent: "a", op: "invoke_agent"}, spanSpec{agent: "a", op: "execute_tool"}))
		md := h.tick(10 * time.Second)
		assert.Equal(t, []string{"agent_availability/b=firing"}, noDataAlerts(md),
			"the dead agent alerts on its own; the SLO as a whole still has traffic")
		st := sloStatus(t, h.p.Status(), "agent_availability")
		require.Len(t, st.Groups, 1, "the budget stays one series")
		var alerts []string
		for _, a := range st.Groups[0].Alerts {
			alerts = append(alerts, a.Name+" "+a.State+" "+labelString(a.Group))
		}
		assert.Equal(t, []string{"SLONoData firing gen_ai.agent.name=b,"}, alerts, "the status lists the agent's no-data")

		h.agentsFor(30*time.Second, "a", "b")
		assert.Equal(t, []string{"agent_availability/b=resolved"}, noDataAlerts(h.tick(10*time.Second)), "the agent's traffic resolves it")
	})
	t.Run("All agents dead: one no-data per agent, and each SLO without per-agent no-data alerts once.", func(t *testing.T) {
		h := newHarness(t, createDefaultConfig().(*Config), nil, nil)
		defer h.shutdown()
		h.agentsFor(time.Hour, "a", "b")
		assert.Empty(t, h.silentFor(70*time.Second))
		assert.ElementsMatch(t, []string{"agent_availability/a=firing", "agent_availability/b=firing", "tool_call_success_rate=firing"}, noDataAlerts(h.tick(10*time.Second)))
	})
	t.Run("A restart of 3 minutes raises nothing at the first tick, nor once traffic is back.", func(t *testing.T) {
		store := storagetest.New()
		storageID := component.MustNewID("file_storage")
		exts := map[component.ID]component.Component{storageID: store}
		cfg := createDefaultConfig().(*Config)
		cfg.Storage = &storageID
		h := newHarness(t, cfg, nil, exts)
		require.Empty(t, h.agentsFor(time.Hour, "a", "b"))
		h.shutdown()
		h.clock.Advance(3 * time.Minute)
		h2 := newHarnessAt(t, cfg, nil, exts, h.clock)
		defer h2.shutdown()
		require.True(t, h2.p.Status().Checkpoint.Restored)
		assert.Empty(t, noDataAlerts(h2.tick(10*time.Second)), "the first tick after the restart")
		assert.Empty(t, h2.agentsFor(10*time.Minute, "a", "b"))

		t.Run("If the agents stay silent, no-data comes `after` the restart.", func(t *testing.T) {
			h2.shutdown()
			h2.clock.Advance(3 * time.Minute)
			h3 := newHarnessAt(t, cfg, nil, exts, h2.clock)
			defer h3.shutdown()
			assert.Empty(t, h3.silentFor(80*time.Second))
			assert.ElementsMatch(t, []string{"agent_availability/a=firing", "agent_availability/b=firing", "tool_call_success_rate=firing"}, noDataAlerts(h3.tick(10*time.Second)))
		})
	})
	t.Run("A retired group stops alerting after retire_after and is evicted once its window is empty.", func(t *testing.T) {
		cfg := createDefaultConfig().(*Config)
		slo := DefaultSLOs()[0]
		slo.GroupBy = []string{"gen_ai.agent.name"}
		slo.NoDataGroupBy = nil
		slo.Window = 7 * 24 * time.Hour
		cfg.SLOs = []SLOConfig{slo}
		h := newHarness(t, cfg, nil, nil)
		defer h.shutdown()
		h.agentsFor(time.Hour, "a", "b")
		assert.Equal(t, []string{"agent_availability/b=firing"}, h.agentsFor(2*time.Minute, "a")[:1])
		for range 23 {
			h.spans(makeSpans(spanSpec{agent: "a", op: "invoke_agent"}))
			h.tick(time.Hour)
		}
		assert.Contains(t, noDataAlerts(h.tick(10*time.Second)), "agent_availability/b=firing", "silent for 23 h: still dead")
		h.tick(time.Hour)
		assert.Equal(t, []string{"agent_availability/b=resolved"}, noDataAlerts(h.tick(10*time.Second)), "silent for 24 h: retired")
		require.Len(t, sloStatus(t, h.p.Status(), "agent_availability").Groups, 2, "its window still holds its events")
		// Not h.tick: the tick that evicts both groups may emit nothing, and the background ticker
		// may be the one that does it.
		h.clock.Advance(7 * 24 * time.Hour)
		h.p.tick(context.Background())
		assert.Len(t, sloStatus(t, h.p.Status(), "agent_availability").Groups, 0, "both silent a whole window: evicted")
	})
}
