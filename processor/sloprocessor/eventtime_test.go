package sloprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// endedAt makes n failing agent spans that ended at end.
func endedAt(n int, end time.Time) ptrace.Traces {
	td := makeSpans(repeat(n, spanSpec{agent: "a", op: "invoke_agent", err: true})...)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := 0; i < spans.Len(); i++ {
		spans.At(i).SetStartTimestamp(pcommon.NewTimestampFromTime(end.Add(-time.Second)))
		spans.At(i).SetEndTimestamp(pcommon.NewTimestampFromTime(end))
	}
	return td
}

func windowEvents(t *testing.T, h *harness, window string) (total, bad uint64) {
	t.Helper()
	g := sloStatus(t, h.p.Status(), "agent_availability").Groups[0]
	for _, w := range g.Windows {
		if w.Window == window {
			return w.Events, w.Events - uint64(float64(w.Events)*w.SLI+0.5)
		}
	}
	t.Fatalf("no window %s", window)
	return 0, 0
}

func TestEventTime(t *testing.T) {
	run := func(t *testing.T, eventTime string, lateness time.Duration) *harness {
		cfg := availabilityOnly()
		cfg.EventTime, cfg.MaxLateness = eventTime, lateness
		h := newHarness(t, cfg, nil, nil)
		t.Cleanup(h.shutdown)
		for range 30 { // five minutes of good traffic
			h.spans(makeSpans(repeat(10, spanSpec{agent: "a", op: "invoke_agent"})...))
			h.tick(10 * time.Second)
		}
		// A batch held back by a 3-minute network blip: 50 failures that ended 3 minutes ago.
		h.spans(endedAt(50, h.clock.Now().Add(-3*time.Minute)))
		h.tick(time.Second)
		return h
	}
	t.Run("At arrival (the default) a delayed batch lands in the 1m window as a fresh burst.", func(t *testing.T) {
		h := run(t, eventTimeArrival, time.Minute)
		_, bad := windowEvents(t, h, "1m")
		assert.Equal(t, uint64(50), bad)
	})
	t.Run("At span end, clamped to 1m, the same batch stays out of the 1m window but counts in the 5m one.", func(t *testing.T) {
		h := run(t, eventTimeSpanEnd, time.Minute)
		_, bad := windowEvents(t, h, "1m")
		assert.Zero(t, bad)
		_, bad = windowEvents(t, h, "5m")
		assert.Equal(t, uint64(50), bad)
		_, bad = windowEvents(t, h, "30d")
		assert.Equal(t, uint64(50), bad, "nothing is lost")
	})
	t.Run("At span end, a span from the future counts now and one older than max_lateness at the bound.", func(t *testing.T) {
		cfg := availabilityOnly()
		cfg.EventTime, cfg.MaxLateness = eventTimeSpanEnd, 10*time.Minute
		h := newHarness(t, cfg, nil, nil)
		defer h.shutdown()
		h.clock.Advance(time.Hour)
		h.spans(endedAt(3, h.clock.Now().Add(time.Hour)))      // skewed clock: at arrival
		h.spans(endedAt(4, h.clock.Now().Add(-7*time.Minute))) // within the lateness: 7 minutes ago
		h.spans(endedAt(5, h.clock.Now().Add(-48*time.Hour)))  // far too old: 10 minutes ago
		h.tick(time.Second)
		_, bad := windowEvents(t, h, "1m")
		assert.Equal(t, uint64(3), bad)
		_, bad = windowEvents(t, h, "30m")
		assert.Equal(t, uint64(12), bad)
		ser := h.p.slos[0].series[0]
		require.NotNil(t, ser)
		assert.Equal(t, h.clock.Now().Add(-time.Second).UnixNano(), ser.s.LastEvent)
	})
	t.Run("An unknown event_time is refused with its path.", func(t *testing.T) {
		cfg := availabilityOnly()
		cfg.EventTime, cfg.MaxLateness = "span_start", -time.Second
		err := cfg.Validate()
		require.Error(t, err)
		assert.Contains(t, err.Error(), `event_time: must be "arrival" or "span_end", got "span_start"`)
		assert.Contains(t, err.Error(), "max_lateness: must be ≥ 0, got -1s")
	})
}
