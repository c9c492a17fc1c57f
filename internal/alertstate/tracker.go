package alertstate // import "github.com/otelcol-amas/otelcol-amas/internal/alertstate"

import (
	"cmp"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// seriesID is one amas_alerts series: an alert's identity plus its alertstate.
type seriesID struct {
	fp    uint64
	state string
}

// Tracker remembers the amas_alerts series an emitter wrote at its previous tick, and ends the
// ones it no longer writes. Its size is the number of alert points of one tick, which the
// emitter bounds. The zero value is ready to use; a Tracker is not safe for concurrent use (an
// emitter calls it from its tick, under the lock that serialises ticks).
type Tracker struct {
	prev, cur map[seriesID]pcommon.Map
}

// End is called once per tick, after g (this tick's amas_alerts gauge, in sm) is complete. For
// every series written at the previous call and absent from g, it appends to sm an amas_alerts
// metric with one point of that series flagged NoRecordedValue, at time now.
//
// One point per metric, because the prometheus exporter (contrib v0.161.0, accumulateGauge)
// stops reading a metric's points at the first flagged one. The labels of a series are copied
// once, when it first appears.
func (t *Tracker) End(sm pmetric.ScopeMetrics, g pmetric.Gauge, now pcommon.Timestamp) {
	if t.cur == nil {
		t.cur = make(map[seriesID]pcommon.Map)
	}
	dps := g.DataPoints()
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		if dp.Flags().NoRecordedValue() {
			continue
		}
		attrs := dp.Attributes()
		id := seriesID{fp: FingerprintAttrs(attrs)}
		if v, ok := attrs.Get(LabelAlertState); ok {
			id.state = valueString(v)
		}
		if m, ok := t.prev[id]; ok {
			t.cur[id] = m
			continue
		}
		m := pcommon.NewMap()
		attrs.CopyTo(m)
		t.cur[id] = m
	}
	var ended []seriesID
	for id := range t.prev {
		if _, ok := t.cur[id]; !ok {
			ended = append(ended, id)
		}
	}
	// A stable order, so a tick's batch does not depend on map iteration.
	slices.SortFunc(ended, func(a, b seriesID) int {
		if c := cmp.Compare(a.fp, b.fp); c != 0 {
			return c
		}
		return cmp.Compare(a.state, b.state)
	})
	for _, id := range ended {
		dp := NewGauge(sm).DataPoints().AppendEmpty()
		dp.SetTimestamp(now)
		dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
		t.prev[id].CopyTo(dp.Attributes())
	}
	clear(t.prev)
	t.prev, t.cur = t.cur, t.prev
}

// Ended reports whether dp is the end-of-series point of the contract (flagged NoRecordedValue),
// which carries no alert state.
func Ended(dp pmetric.NumberDataPoint) bool { return dp.Flags().NoRecordedValue() }
