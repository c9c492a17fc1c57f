package alertexporter

import (
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
)

// emitterTick builds one emitter tick as the slo and regression processors do: the amas_alerts
// gauge of this tick, then the end points of the series the previous tick wrote and this one
// does not (alertstate.Tracker).
func emitterTick(tr *alertstate.Tracker, now time.Time, pts ...point) pmetric.Metrics {
	md := batch(now, pts)
	sm := md.ResourceMetrics().At(0).ScopeMetrics().At(0)
	tr.End(sm, sm.Metrics().At(0).Gauge(), pcommon.NewTimestampFromTime(now))
	return md
}

func TestEndPointsOfAnEmitterNeitherResolveNorReviveAnAlert(t *testing.T) {
	r := newRecorder(t)
	clk := clockwork.NewFakeClockAt(t0)
	e, tt := startExporterT(t, testConfig(r.srv.URL), clk, nil)
	var tr alertstate.Tracker
	step := func(state string) {
		var pts []point
		if state != "" {
			pts = []point{burn("agent_availability", t0, state)}
		}
		md := emitterTick(&tr, clk.Now(), pts...)
		consume(t, e, md)
		if state != "" {
			e.mu.Lock()
			rec := e.alerts[alertstate.Fingerprint(alertstate.Alert{Name: alertstate.AlertSLOBurnRate, Severity: alertstate.SeverityCritical,
				Labels: burn("agent_availability", t0, state).labels})]
			require.NotNil(t, rec)
			assert.Equal(t, state, rec.state, "the exporter holds the state the emitter wrote, whatever series that tick ended")
			e.mu.Unlock()
		}
		e.tick(ctx())
		clk.Advance(10 * time.Second)
	}

	step(alertstate.StatePending)
	step(alertstate.StateFiring) // ends the pending series: its end point (value 0) comes after the firing point
	for range 6 {
		step(alertstate.StateFiring)
	}
	waitCount(t, r, 1)
	msgs := r.webhookMessages(t)
	assert.Equal(t, "firing", msgs[0].Status)

	step(alertstate.StateResolved) // ends the firing series
	for range 12 {
		step(alertstate.StateResolved)
	}
	step("") // retention over: ends the resolved series
	for range 12 {
		step("")
	}
	waitCount(t, r, 2)
	msgs = r.webhookMessages(t)
	require.Len(t, msgs, 2, "one page, one resolve: no end point resolved the alert early or revived it")
	assert.Equal(t, "resolved", msgs[1].Status)
	assert.Equal(t, int64(2), counter(t, tt, "otelcol_exporter_alert_notifications_enqueued", nil))
	assert.Zero(t, counter(t, tt, "otelcol_exporter_alert_points_invalid", nil), "end points are part of the contract, not invalid")
}
