package slosim_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
)

// An alert that fires, resolves (its firing series ended with a staleness marker) and stays
// resolved is one notification; firing again after that is a second one.
func TestTheSinkCountsAFiringOnceAcrossItsStalenessMarker(t *testing.T) {
	s := &alertSink{state: map[string]string{}, batches: make(chan struct{}, 8)}
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	batch := func(states ...string) pmetric.Metrics {
		md := pmetric.NewMetrics()
		sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
		sm.Metrics().AppendEmpty().SetName("amas_slo_compliance")
		g := alertstate.NewGauge(sm)
		for _, st := range states {
			stale := st == "stale firing"
			if stale {
				st = alertstate.StateFiring
				g = alertstate.NewGauge(sm) // a marker is a metric of its own
			}
			alertstate.Append(g, pcommon.NewTimestampFromTime(at), alertstate.Alert{
				Name: alertstate.AlertSLOBurnRate, State: st, Severity: alertstate.SeverityCritical,
				Labels: map[string]string{"slo": "agent_availability", "long_window": "1m", "short_window": "1m"},
			})
			if stale {
				dps := g.DataPoints()
				dps.At(dps.Len() - 1).SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
			}
		}
		at = at.Add(10 * time.Second)
		return md
	}
	for _, md := range []pmetric.Metrics{
		batch(alertstate.StateFiring),
		batch(alertstate.StateResolved, "stale firing"),
		batch(alertstate.StateResolved),
		batch(alertstate.StateFiring),
	} {
		require.NoError(t, s.ConsumeMetrics(context.Background(), md))
	}
	require.Len(t, s.firings, 2)
	assert.Equal(t, "1m∧1m", s.firings[0].Labels)
	assert.Equal(t, "critical", s.firings[1].Severity)
}
