package slorender

import (
	"fmt"
	"strings"
	"time"

	"github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"
	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
)

// The processor's no-data rule (slomath.NoData) in PromQL. What the rules mirror: for a silence
// d of `after`, 2×, 4×… up to the lookback, the rule fires when nothing came in d and the events
// of the lookback that ended d ago (slices for a timeslices SLO; events for the per-group
// no-data), scaled to d, reach min_predicted, and so do those of its last quarter (a falling rate
// is judged on what it is now) — so sparse traffic is judged on a longer silence,
// as the processor does — per group where the processor keeps one (group_by, or
// no_data_group_by mapped to the connector's labels). What they cannot: silences between the
// doubling steps (the rule may fire up to twice as late as the processor), the gap check (twice
// the longest recent gap), the grace after a restart, and retirement — the rules' alert resolves
// once every clause's lookback is empty (about twice the lookback after the traffic stopped),
// where the processor's fires until retire_after.

// mapNoDataGroups maps no_data_group_by of a span SLO without group_by to the connector's
// labels, as group_by would be; nil when there is none or it has no PromQL equivalent.
func mapNoDataGroups(s SLO, conn *spanmetrics.Config) *Source {
	if len(s.Config.NoDataGroupBy) == 0 || len(s.Config.GroupBy) > 0 || s.Config.SLI.Spans == nil {
		return nil
	}
	g := s
	g.Config.GroupBy = s.Config.NoDataGroupBy
	g.Config.Budgeting.Method = "occurrences" // the per-group series count events, not slices
	src := mapEvents(g, conn)
	if src.kind != kindSpans {
		return nil
	}
	return &src
}

func noDataRule(s SLO, src Source) (rule, bool) {
	nd := s.NoData
	if !nd.Enabled {
		return rule{}, false
	}
	name := s.Config.Name
	r := rule{
		alert:  alertstate.AlertSLONoData,
		forDur: nd.For,
		labels: [][2]string{{"severity", nd.Severity}, {"slo", name}},
		annotations: [][2]string{
			{"summary", "SLO {{ $labels.slo }} receives no events"},
			{"description", fmt.Sprintf("No events for %s after having had some within %s: the agents may be down.", dur(nd.After), dur(s.Config.Window))},
		},
	}
	if src.kind == kindProcessor {
		if len(src.groupLabels) > 0 {
			return rule{}, false
		}
		r.expr = "absent_over_time(" + sloSel(processorObj, name, 0) + "[" + dur(nd.After) + "])"
		r.comment = "no data (approximated): fires when no collector has reported the SLO for " + dur(nd.After) + "; a stop of its traffic is not visible in the processor's exported series"
		return r, true
	}
	lookback := min(nd.Lookback, s.Config.Window)
	if nd.MinPredicted <= 0 || lookback <= 0 {
		r.expr = "max without (window) (" + sloSel(recEvents, name, s.Config.Window) + ") > 0\nunless " + src.on() + " (" + src.recentExpr(s, nd.After) + ")"
		r.comment = fmt.Sprintf("no data: events within %s, none in the last %s", dur(s.Config.Window), dur(nd.After))
		if src.kind == kindGauge {
			r.comment += " (approximated from the recorded slices: a gauge keeps its last value in the exporter until it expires)"
		}
		return r, true
	}
	// One clause per silence d = after × 2^k up to the lookback: the events of the lookback that
	// ended d ago, scaled to d, predicted min_predicted, and none came in d.
	var clauses []string
	for d := nd.After; ; d *= 2 {
		clauses = append(clauses, noDataClause(s, src, lookback, d))
		if d*2 > lookback {
			break
		}
	}
	what := "events"
	switch {
	case src.noDataBy != nil:
		what = "events per " + strings.Join(src.noDataBy.groupLabels, ", ")
	case s.Timeslices():
		what = "slices"
	}
	r.expr = strings.Join(clauses, "\nor\n")
	// The clauses carry the group labels only: the summary names the SLO itself.
	r.annotations[0][1] = "SLO " + name + " receives no events"
	r.annotations[1][1] = fmt.Sprintf("No events where the recent rate predicted at least %s (silent for at least %s): the agents may be down.", num(nd.MinPredicted), dur(nd.After))
	r.comment = fmt.Sprintf("no data: none in the last d, where the %s of the %s that ended d ago, and of its last quarter, scaled to d, predicted at least %s, "+
		"for d = %s doubling up to the lookback (approximated: the processor judges every silence, ignores gaps shorter than half "+
		"of it and restarts, and fires until retire_after %s; this resolves about %s after the traffic stopped)",
		what, dur(lookback), num(nd.MinPredicted), dur(nd.After), dur(retireAfter(s)), dur(2*lookback))
	return r, true
}

func noDataClause(s SLO, src Source, lookback, d time.Duration) string {
	// The processor predicts from the whole lookback and from its last quarter
	// (slomath.RecentShare), and needs both to reach min_predicted.
	quarter := lookback / slomath.RecentShare
	var recent string
	switch {
	case src.noDataBy != nil:
		recent = src.noDataBy.on() + " (" + src.noDataBy.recentExpr(s, d) + ")"
	default:
		recent = src.on() + " (" + src.recentExpr(s, d) + ")"
	}
	return "(" + noDataBefore(s, src, lookback, d) + ") * " + num(round(float64(d)/float64(lookback))) + " >= " + num(s.NoData.MinPredicted) +
		" and (" + noDataBefore(s, src, quarter, d) + ") * " + num(round(float64(d)/float64(quarter))) + " >= " + num(s.NoData.MinPredicted) +
		" unless " + recent
}

// noDataBefore is the events (slices) of the span lookback that ended d ago.
func noDataBefore(s SLO, src Source, lookback, d time.Duration) string {
	switch {
	case src.noDataBy != nil:
		g := *src.noDataBy
		return g.renamed(sumBy(g.by, "increase("+g.total+"["+dur(lookback)+"] offset "+dur(d)+")"))
	case s.Timeslices():
		return "count_over_time(" + sloSel(recSliceBad, s.Config.Name, 0) + "[" + sliceRange(lookback) + "] offset " + dur(d) + ")"
	default:
		return src.renamed(sumBy(src.by, "increase("+src.total+"["+dur(lookback)+"] offset "+dur(d)+")"))
	}
}

func retireAfter(s SLO) time.Duration {
	if s.NoData.RetireAfter > 0 {
		return min(s.NoData.RetireAfter, s.Config.Window)
	}
	return s.Config.Window
}
