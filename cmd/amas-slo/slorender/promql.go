package slorender

import (
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
	"github.com/otelcol-amas/otelcol-amas/internal/slopromql"
)

// Names of the recorded series. They mirror the processor's amas_slo_* metrics with Prometheus'
// level:metric:operation naming, so both can be graphed side by side.
const (
	recSliceBad   = "amas_slo:slice_bad" // 1/0 per slice (timeslices SLOs)
	recFirstSlice = "amas_slo:first_slice:timestamp"
	recEvents     = "amas_slo:sli_events:count" // events (or slices) per window
	recBad        = "amas_slo:sli_bad:count"    // bad events (or bad slices) per window
	recErrorRatio = "amas_slo:sli_error:ratio"  // bad/total per window
	recBurnRate   = "amas_slo:burn_rate:ratio"  // error ratio / (1 − objective) per window
	recBudget     = "amas_slo:error_budget_remaining:ratio"
	recObjective  = "amas_slo:objective:ratio"
	// ModeCentral: events and bad events of each hour, recorded once an hour.
	recEventsHourly = "amas_slo:sli_events:increase1h"
	recBadHourly    = "amas_slo:sli_bad:increase1h"
	processorSLI    = "amas_slo_sli_ratio"
	processorBudg   = "amas_slo_error_budget_remaining_percent"
	processorObj    = "amas_slo_objective_ratio"
	promAlertsName  = "ALERTS"
)

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// dur is a Prometheus duration.
func dur(d time.Duration) string { return slomath.FormatWindow(d) }

// sloSel is name{slo="x"[,window="w"]}.
func sloSel(name, slo string, window time.Duration) string {
	if window == 0 {
		return name + `{slo=` + strconv.Quote(slo) + `}`
	}
	return name + `{slo=` + strconv.Quote(slo) + `,window="` + dur(window) + `"}`
}

// sumBy is sum by (labels) (expr), or sum(expr) without labels.
func sumBy(by []string, expr string) string { return slopromql.SumBy(by, expr) }

func aggBy(op string, by []string, expr string) string {
	if len(by) == 0 {
		return op + "(" + expr + ")"
	}
	return op + " by (" + strings.Join(by, ", ") + ") (" + expr + ")"
}

// renamed moves connector labels to the processor's group label names.
func (src Source) renamed(expr string) string {
	for _, r := range src.rename {
		expr = `label_replace(label_replace(` + expr + `, "` + r[1] + `", "$1", "` + r[0] + `", "(.*)"), "` + r[0] + `", "", "` + r[0] + `", ".*")`
	}
	return expr
}

func increase(sel string, w time.Duration) string { return slopromql.Increase(sel, w) }

// counts are the event counters of the source, for the expression builder the slo processor's
// history bootstrap shares (internal/slopromql): the connector's counters, or the processor's
// own event counters for a processor-origin SLO.
func (src Source) counts(s SLO) slopromql.Counts {
	if src.kind == kindProcessor {
		return slopromql.ProcessorCounts(s.Config.Name, src.groupLabels)
	}
	return slopromql.Counts{Total: src.total, Bad: src.bad, Bucket: src.bucket, By: src.by}
}

// spanEvents is the number of counted spans over w, per group (connector labels).
func (src Source) spanEvents(w time.Duration) string {
	return slopromql.Counts{Total: src.total, By: src.by}.Events(w)
}

// spanBad is the number of bad spans over w, per group; 0 (not absent) when there were none.
func (src Source) spanBad(w time.Duration) string {
	return slopromql.Counts{Total: src.total, Bad: src.bad, Bucket: src.bucket, By: src.by}.BadEvents(w)
}

// badOp is the comparison that makes a value bad, the negation of the good comparison.
func badOp(c slomath.Comparison) string {
	switch c {
	case slomath.LessOrEqual:
		return ">"
	case slomath.Less:
		return ">="
	case slomath.GreaterOrEqual:
		return "<"
	}
	return "<="
}

// sliceBadExpr is 1 when the last slice was bad, 0 when good, absent when it had no events.
func (src Source) sliceBadExpr(s SLO) string {
	slice := s.Config.Budgeting.Slice
	switch src.kind {
	case kindSpans:
		return src.renamed(src.spanBad(slice) + " / (" + src.spanEvents(slice) + " > 0) > bool " + num(s.Config.Budgeting.MaxBadRatio))
	case kindRatio:
		den := sumBy(src.by, increase(src.den, slice))
		n := "(" + sumBy(src.by, increase(src.num, slice)) + " or 0 * " + den + ")"
		return src.renamed("(" + n + " / (" + den + " > 0)) " + badOp(src.cmp) + " bool " + num(src.threshold))
	case kindGauge:
		op, agg := "max", "max_over_time"
		if src.cmp == slomath.GreaterOrEqual || src.cmp == slomath.Greater {
			op, agg = "min", "min_over_time"
		}
		return src.renamed(aggBy(op, src.by, agg+"("+src.gauge+"["+dur(slice)+"])") + " " + badOp(src.cmp) + " bool " + num(src.threshold))
	}
	return ""
}

// sliceRange is the range that holds w/slice recorded slices: Prometheus 2 selects both ends of
// a range, and slices are recorded exactly one interval apart.
func sliceRange(w time.Duration) string { return dur(w - time.Second) }

// firstSliceExpr is the time of the first recorded slice of each series: the previous value of
// the rule itself while it lasts, else the timestamp of the slice just recorded. It keeps itself
// alive by being recorded every slice (a gap of more than two slices in rule evaluation starts
// it over, an approximation of the processor, which keeps it in its checkpoint).
func (src Source) firstSliceExpr(s SLO) string {
	self := sloSel(recFirstSlice, s.Config.Name, 0)
	return "last_over_time(" + self + "[" + dur(2*s.Config.Budgeting.Slice) + "])\nor timestamp(" + sloSel(recSliceBad, s.Config.Name, 0) + ")"
}

// hourly reports whether window w of s is built from the hourly records (ModeCentral).
func (src Source) hourly(s SLO, w time.Duration) bool {
	return src.hourlyFrom > 0 && src.kind == kindSpans && !s.Timeslices() && w >= src.hourlyFrom
}

// hourlySum is the sum of the hourly records of rec over w: exactly w/1h records once the SLO has
// that much history (a range of w − 1s, as Prometheus 2 selects both ends of a range).
func hourlySum(rec string, s SLO, w time.Duration) string {
	return "sum_over_time(" + sloSel(rec, s.Config.Name, 0) + "[" + sliceRange(w) + "])"
}

// eventsExpr is the number of events (slices) over w; "" when the source has no counts. For
// timeslices every slice counts, with or without events (an empty slice is a good one): w/slice,
// or the slices since the series' first one when fewer, as the processor counts them.
func (src Source) eventsExpr(s SLO, w time.Duration) string {
	switch {
	case src.kind == kindProcessor:
		// The processor's own counters: events, or (timeslices) the closed slices that saw
		// events; the processor counts the empty ones as good slices on top.
		return src.counts(s).Events(w)
	case s.Timeslices():
		sl := s.Config.Budgeting.Slice
		return "clamp_max(floor((time() - " + sloSel(recFirstSlice, s.Config.Name, 0) + ") / " + num(sl.Seconds()) + ") + 1, " + num(float64(w/sl)) + ")"
	case src.hourly(s, w):
		return hourlySum(recEventsHourly, s, w)
	}
	return src.renamed(src.spanEvents(w))
}

// badExpr is the number of bad events (bad slices) over w, 0 when there were none; "" when the
// source has no counts.
func (src Source) badExpr(s SLO, w time.Duration) string {
	switch {
	case src.kind == kindProcessor:
		return src.counts(s).BadEvents(w)
	case s.Timeslices():
		return "sum_over_time(" + sloSel(recSliceBad, s.Config.Name, 0) + "[" + sliceRange(w) + "])\nor 0 * " + sloSel(recFirstSlice, s.Config.Name, 0)
	case src.hourly(s, w):
		return hourlySum(recBadHourly, s, w)
	}
	return src.renamed(src.spanBad(w))
}

// errorRatioExpr is bad/total over w; absent with no events.
func (src Source) errorRatioExpr(s SLO, w time.Duration) string {
	switch {
	case src.kind == kindProcessor:
		by := append([]string{"slo"}, src.groupLabels...)
		return aggBy("max", by, "1 - "+sloSel(processorSLI, s.Config.Name, w))
	case s.Timeslices():
		// Recorded bad slices over recorded slices (empty ones included): a sum of 0s and 1s
		// is exact, and a ratio on a rule's threshold must compare as the processor's does.
		return sloSel(recBad, s.Config.Name, w) + " / " + sloSel(recEvents, s.Config.Name, w)
	case src.hourly(s, w):
		return sloSel(recBad, s.Config.Name, w) + " / (" + sloSel(recEvents, s.Config.Name, w) + " > 0)"
	}
	return src.renamed(src.spanBad(w) + " / (" + src.spanEvents(w) + " > 0)")
}

// recentExpr is present (per group) when the SLO saw events within the last d; "" when not
// expressible.
func (src Source) recentExpr(s SLO, d time.Duration) string {
	switch src.kind {
	case kindSpans:
		return src.renamed(src.spanEvents(d) + " > 0")
	case kindRatio:
		// The processor counts a point of either counter that increased as an event.
		return src.renamed(sumBy(src.by, increase(src.den, d)) + " > 0 or " + sumBy(src.by, increase(src.num, d)) + " > 0")
	case kindGauge:
		return "count_over_time(" + sloSel(recSliceBad, s.Config.Name, 0) + "[" + dur(d+s.Config.Budgeting.Slice) + "]) > 0"
	}
	return ""
}
