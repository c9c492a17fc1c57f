package sloprocessor

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Where a span's event is placed in time (event_time).
//
// arrival (the default) counts a span when it arrives, as Prometheus counts a counter increment
// when it is scraped: the rings only move forward and an alert reacts to what the collector sees
// now, but a batch held back by a network blip lands in the short windows as a fresh burst.
// span_end places it at the span's end time, clamped to [arrival − max_lateness, arrival]: a
// delayed batch goes back to when its spans ended (up to max_lateness), so a 3-minute-old batch
// of errors stays out of the 1m window with the default 1m lateness; a span stamped in the future
// (a skewed agent clock) counts at arrival, and one older than max_lateness at arrival −
// max_lateness, so no event falls outside the windows being evaluated. Metric SLIs (gauges and
// counters) are always counted at arrival, and a timeslices SLO counts a late span in its open
// slice (a closed slice is never reopened).
const (
	eventTimeArrival = "arrival"
	eventTimeSpanEnd = "span_end"
)

func (c *Config) validateEventTime() []error {
	var errs []error
	switch c.EventTime {
	case eventTimeArrival, eventTimeSpanEnd:
	default:
		errs = append(errs, fmt.Errorf("event_time: must be %q or %q, got %q", eventTimeArrival, eventTimeSpanEnd, c.EventTime))
	}
	if c.MaxLateness < 0 {
		errs = append(errs, fmt.Errorf("max_lateness: must be ≥ 0, got %s", c.MaxLateness))
	}
	return errs
}

// eventTime is the time (Unix ns) a span counts at, given its arrival now.
func (p *sloProcessor) eventTime(span ptrace.Span, now int64) int64 {
	if !p.spanEnd {
		return now
	}
	return min(max(int64(span.EndTimestamp()), now-int64(p.cfg.MaxLateness)), now)
}
