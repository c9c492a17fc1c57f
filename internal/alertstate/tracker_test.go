package alertstate

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// tick emits alerts as an emitter does at time now and returns its scope metrics.
func tick(tr *Tracker, now pcommon.Timestamp, alerts ...Alert) pmetric.ScopeMetrics {
	sm := pmetric.NewScopeMetrics()
	g := NewGauge(sm)
	for _, a := range alerts {
		Append(g, now, a)
	}
	tr.End(sm, g, now)
	return sm
}

// endedSeries lists the series the tick ended, as "alertname/alertstate/slo", checking that each
// sits alone in its own amas_alerts metric.
func endedSeries(t *testing.T, sm pmetric.ScopeMetrics) []string {
	t.Helper()
	var out []string
	for i := 0; i < sm.Metrics().Len(); i++ {
		m := sm.Metrics().At(i)
		require.Equal(t, MetricName, m.Name())
		dps := m.Gauge().DataPoints()
		for j := 0; j < dps.Len(); j++ {
			dp := dps.At(j)
			if !Ended(dp) {
				continue
			}
			require.Equal(t, 1, dps.Len(), "an end point is alone in its metric: the prometheus exporter stops at the first one")
			_, ok := FromPoint(dp)
			assert.False(t, ok, "an end point carries no alert state")
			name, _ := dp.Attributes().Get(LabelAlertName)
			state, _ := dp.Attributes().Get(LabelAlertState)
			slo, _ := dp.Attributes().Get(LabelSLO)
			out = append(out, name.Str()+"/"+state.Str()+"/"+slo.Str())
		}
	}
	return out
}

func burn(state, slo string) Alert {
	return Alert{Name: AlertSLOBurnRate, State: state, Severity: SeverityCritical,
		Labels: map[string]string{LabelSLO: slo, LabelLongWindow: "1h", LabelShortWindow: "5m"}}
}

func TestTheTrackerEndsEverySeriesTheEmitterStopsWriting(t *testing.T) {
	var tr Tracker
	assert.Empty(t, endedSeries(t, tick(&tr, 1, burn(StatePending, "a"))))
	assert.Empty(t, endedSeries(t, tick(&tr, 2, burn(StatePending, "a"))), "nothing changed")
	assert.Equal(t, []string{"SLOErrorBudgetBurn/pending/a"}, endedSeries(t, tick(&tr, 3, burn(StateFiring, "a"))),
		"the pending series ends when the alert fires")
	assert.Equal(t, []string{"SLOErrorBudgetBurn/firing/a"}, endedSeries(t, tick(&tr, 4, burn(StateResolved, "a"))),
		"the firing series ends when the alert resolves")
	assert.Empty(t, endedSeries(t, tick(&tr, 5, burn(StateResolved, "a"))))
	assert.Equal(t, []string{"SLOErrorBudgetBurn/resolved/a"}, endedSeries(t, tick(&tr, 6)),
		"the resolved series ends when its retention is over")
	assert.Empty(t, endedSeries(t, tick(&tr, 7)), "an ended series is ended once")
}

func TestTheTrackerEndsSeveralSeriesOfOneTickEachInItsOwnMetricWithTheirLabels(t *testing.T) {
	var tr Tracker
	tick(&tr, 1, burn(StateFiring, "a"), burn(StateFiring, "b"), burn(StateFiring, "c"))
	sm := tick(&tr, 2, burn(StateResolved, "a"), burn(StateFiring, "b"), burn(StateResolved, "c"))
	assert.ElementsMatch(t, []string{"SLOErrorBudgetBurn/firing/a", "SLOErrorBudgetBurn/firing/c"}, endedSeries(t, sm))
	assert.Equal(t, 3, sm.Metrics().Len(), "this tick's gauge, then one metric per ended series")

	// The end point has exactly the labels of the series it ends (the prometheus exporter
	// identifies a series by them) and the tick's timestamp.
	want := pmetric.NewScopeMetrics()
	Append(NewGauge(want), 1, burn(StateFiring, "a"))
	wantAttrs := want.Metrics().At(0).Gauge().DataPoints().At(0).Attributes().AsRaw()
	var found bool
	for i := 1; i < sm.Metrics().Len(); i++ {
		dp := sm.Metrics().At(i).Gauge().DataPoints().At(0)
		if dp.Attributes().AsRaw()[LabelSLO] == "a" {
			found = true
			assert.Equal(t, wantAttrs, dp.Attributes().AsRaw())
			assert.EqualValues(t, 2, dp.Timestamp())
		}
	}
	assert.True(t, found)
}

func TestTheTrackerOutputDoesNotDependOnMapOrder(t *testing.T) {
	var first []string
	for range 20 {
		var tr Tracker
		tick(&tr, 1, burn(StateFiring, "a"), burn(StateFiring, "b"), burn(StateFiring, "c"), burn(StateFiring, "d"))
		got := endedSeries(t, tick(&tr, 2))
		if first == nil {
			first = got
		}
		require.Equal(t, first, got)
	}
	assert.Len(t, first, 4)
}

func TestTheTrackerKeepsLabelsItCopiedWhenTheSentBatchIsReused(t *testing.T) {
	var tr Tracker
	sm := tick(&tr, 1, burn(StateFiring, "a"))
	// A downstream consumer may change the batch once it is sent.
	sm.Metrics().At(0).Gauge().DataPoints().At(0).Attributes().PutStr(LabelSLO, "changed")
	assert.Equal(t, []string{"SLOErrorBudgetBurn/firing/a"}, endedSeries(t, tick(&tr, 2)))
}
