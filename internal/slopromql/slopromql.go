// Package slopromql builds the PromQL of an SLO's event counts: how many events (or slices) and
// how many bad ones over a range, summed per group. It is the one code path behind both the
// recording rules that amas-slo renders and the slo processor's history bootstrap, so the
// numbers a replica seeds its rings with are the numbers the rules compute. It depends on
// nothing but the standard library and slomath's window format.
package slopromql

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
)

// Prometheus names of the slo processor's event counters (monotonic sums named amas_slo_events
// and amas_slo_bad_events, with the _total suffix the prometheus and prometheusremotewrite
// exporters add). They count what the processor's rings count: events for occurrences SLOs,
// closed slices that saw events for timeslices SLOs.
const (
	EventsMetric    = "amas_slo_events_total"
	BadEventsMetric = "amas_slo_bad_events_total"
)

// Counts are the selectors of an SLO's counters and the labels its groups are summed by.
type Counts struct {
	// Total selects the counter of all events; Bad the counter of bad events. When Bucket is
	// set, bad events are Total − Bucket (a histogram's bucket below the threshold) instead.
	Total, Bad, Bucket string
	// By are the labels the events are aggregated by (the groups); none sums everything.
	By []string
}

// ProcessorCounts are the counters the slo processor exports for the SLO named slo, grouped by
// its group_by labels (their Prometheus names, see Label).
func ProcessorCounts(slo string, groupLabels []string) Counts {
	sel := [][2]string{{"slo", slo}}
	return Counts{Total: Selector(EventsMetric, sel), Bad: Selector(BadEventsMetric, sel), By: groupLabels}
}

// Events is the number of events over w, per group.
func (c Counts) Events(w time.Duration) string { return SumBy(c.By, Increase(c.Total, w)) }

// BadEvents is the number of bad events over w, per group; 0 (not absent) where a group had
// events but no bad counter yet.
func (c Counts) BadEvents(w time.Duration) string {
	if c.Bucket != "" {
		return "(" + c.Events(w) + " - " + SumBy(c.By, Increase(c.Bucket, w)) + ")"
	}
	return "(" + SumBy(c.By, Increase(c.Bad, w)) + " or 0 * " + c.Events(w) + ")"
}

// Match returns c with the label matchers added to every selector (one group, or this
// collector's own series).
func (c Counts) Match(matchers [][2]string) Counts {
	if len(matchers) == 0 {
		return c
	}
	c.Total = AddMatchers(c.Total, matchers)
	c.Bad = AddMatchers(c.Bad, matchers)
	c.Bucket = AddMatchers(c.Bucket, matchers)
	return c
}

// Increase is increase(sel[w]).
func Increase(sel string, w time.Duration) string {
	return "increase(" + sel + "[" + slomath.FormatWindow(w) + "])"
}

// SumBy is sum by (labels) (expr), or sum(expr) without labels.
func SumBy(by []string, expr string) string {
	if len(by) == 0 {
		return "sum(" + expr + ")"
	}
	return "sum by (" + strings.Join(by, ", ") + ") (" + expr + ")"
}

// Selector writes name{k="v",...} with the labels in the given order; the keys must already be
// label names.
func Selector(name string, labels [][2]string) string {
	if len(labels) == 0 {
		return name
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, kv := range labels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(strconv.Quote(kv[1]))
	}
	b.WriteByte('}')
	return b.String()
}

// AddMatchers appends equality matchers (sorted by label, keys made label names) to a selector
// written by Selector; "" stays "".
func AddMatchers(sel string, matchers [][2]string) string {
	if sel == "" || len(matchers) == 0 {
		return sel
	}
	ms := slices.Clone(matchers)
	for i := range ms {
		ms[i][0] = Label(ms[i][0])
	}
	slices.SortFunc(ms, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	extra := Selector("", ms) // {k="v",...}
	if strings.HasSuffix(sel, "}") {
		return strings.TrimSuffix(sel, "}") + "," + extra[1:]
	}
	return sel + extra
}

// AddNotEqual appends the matcher label!="value" (label made a label name) to a selector
// written by Selector; "" stays "". It selects the series of every other value, e.g. the
// counters of every replica but this one.
func AddNotEqual(sel, label, value string) string {
	if sel == "" {
		return sel
	}
	m := Label(label) + "!=" + strconv.Quote(value) + "}"
	if strings.HasSuffix(sel, "}") {
		return strings.TrimSuffix(sel, "}") + "," + m
	}
	return sel + "{" + m
}

// Label is the Prometheus label name the prometheus and prometheusremotewrite exporters give an
// attribute key: every character outside [a-zA-Z0-9_] becomes _, and a leading digit gets key_.
func Label(key string) string {
	s := strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, key)
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		s = "key_" + s
	}
	return s
}
