package sloprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
)

// alertSeriesOf lists the amas_alerts series in the batches of one tick (the background ticker
// may have evaluated too), as fingerprint → alertstate, and the series they end, the same way.
func alertSeriesOf(t *testing.T, h *harness) (written, ended map[uint64][]string) {
	t.Helper()
	written, ended = map[uint64][]string{}, map[uint64][]string{}
	for _, md := range h.metrics.AllMetrics() {
		ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
		for i := 0; i < ms.Len(); i++ {
			if ms.At(i).Name() != alertstate.MetricName {
				continue
			}
			dps := ms.At(i).Gauge().DataPoints()
			for j := 0; j < dps.Len(); j++ {
				dp := dps.At(j)
				st, _ := dp.Attributes().Get(alertstate.LabelAlertState)
				fp := alertstate.FingerprintAttrs(dp.Attributes())
				if alertstate.Ended(dp) {
					require.Equal(t, 1, dps.Len(), "an end point is alone in its metric")
					ended[fp] = append(ended[fp], st.Str())
				} else {
					written[fp] = append(written[fp], st.Str())
				}
			}
		}
	}
	return written, ended
}

func TestAResolvedAlertsFiringSeriesEndsAtTheTickThatResolvesIt(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.ResolvedRetention = time.Minute
	h := newHarness(t, cfg, nil, nil)
	defer h.shutdown()
	good := makeSpans(repeat(100, spanSpec{agent: "planner", op: "invoke_agent"})...)
	bad := makeSpans(repeat(100, spanSpec{agent: "planner", op: "invoke_agent", err: true})...)
	for range 60 {
		h.spans(good)
		h.tick(10 * time.Second)
	}
	// Total failure until some alert fires; remember one that does.
	var firing uint64
	for i := 0; i < 30 && firing == 0; i++ {
		h.spans(bad)
		h.tick(10 * time.Second)
		written, _ := alertSeriesOf(t, h)
		for fp, states := range written {
			if states[len(states)-1] == alertstate.StateFiring {
				firing = fp
			}
		}
	}
	require.NotZero(t, firing, "a total failure fires an alert")

	// Recovery: the tick that first writes the alert as resolved also ends its firing series,
	// and only that tick.
	resolvedAt, endedFiring := -1, 0
	for i := 0; i < 360 && resolvedAt < 0; i++ {
		h.spans(good)
		h.tick(10 * time.Second)
		written, ended := alertSeriesOf(t, h)
		for _, st := range ended[firing] {
			if st == alertstate.StateFiring {
				endedFiring++
			}
		}
		if states := written[firing]; len(states) > 0 && states[len(states)-1] == alertstate.StateResolved {
			resolvedAt = i
			assert.Contains(t, ended[firing], alertstate.StateFiring, "the firing series ends with the resolve")
		}
	}
	require.GreaterOrEqual(t, resolvedAt, 0, "the alert resolves within an hour of recovery")
	assert.Equal(t, 1, endedFiring, "the firing series is ended once")

	// After the retention the resolved series is not written any more, and is ended once.
	endedResolved := 0
	for range 12 { // two minutes
		h.spans(good)
		h.tick(10 * time.Second)
		written, ended := alertSeriesOf(t, h)
		for _, st := range ended[firing] {
			if st == alertstate.StateResolved {
				endedResolved++
			}
		}
		if endedResolved > 0 {
			assert.NotContains(t, written, firing, "an ended series is not written again")
		}
	}
	assert.Equal(t, 1, endedResolved, "the resolved series ends when its retention is over")
}
