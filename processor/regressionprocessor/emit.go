package regressionprocessor // import "github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor"

import (
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor/internal/metadata"
)

// Metric names as Prometheus shows them. The figures carry no OTLP unit on purpose: one metric
// holds seconds (latency), a ratio (error rate) and USD per request (cost), told apart by the
// type label, and an empty unit keeps the Prometheus exporter from appending a unit suffix
// (unit "1" would append _ratio, "s" _seconds) — so the names below are exactly what Prometheus
// shows, and the alert exporter can join them to an amas_alerts point by {operation, type}.
const (
	metricRegression = "amas_performance_regression"
	metricBaseline   = "amas_performance_regression_baseline"
	metricCurrent    = "amas_performance_regression_current"
	metricRatio      = "amas_performance_regression_ratio"

	labelQuantile = "quantile"
)

func newGauge(sm pmetric.ScopeMetrics, name, desc string) pmetric.Gauge {
	m := sm.Metrics().AppendEmpty()
	m.SetName(name)
	m.SetDescription(desc)
	return m.SetEmptyGauge()
}

// putInstance adds the instance label, when set, to the attributes of an emitted point.
func (p *regressionProcessor) putInstance(attrs pcommon.Map) {
	if p.instance[0] != "" {
		attrs.PutStr(p.instance[0], p.instance[1])
	}
}

func (p *regressionProcessor) enabled(k kind) bool {
	switch k {
	case kindLatency:
		return p.cfg.Latency.Enabled
	case kindErrorRate:
		return p.cfg.ErrorRate.Enabled
	default:
		return p.cfg.Cost.Enabled
	}
}

// buildMetrics renders the state after an evaluation. Called with p.mu held.
func (p *regressionProcessor) buildMetrics(now time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(metadata.ScopeName)
	ts := pcommon.NewTimestampFromTime(now)

	reg := newGauge(sm, metricRegression,
		"1 while a regression of the type fires for the operation, else 0; emitted once the operation is past its warm-up.")
	base := newGauge(sm, metricBaseline,
		"Baseline figure of the operation: latency quantile in seconds (quantile label), error ratio (0-1), or cost in USD per request, by type.")
	cur := newGauge(sm, metricCurrent,
		"Current-window figure of the operation, in the units of amas_performance_regression_baseline.")
	ratio := newGauge(sm, metricRatio,
		"Current over baseline figure (for latency the largest over the quantiles); absent when the baseline is 0.")
	alerts := alertstate.NewGauge(sm)

	point := func(g pmetric.Gauge, op *operation, k kind, v float64) pcommon.Map {
		dp := g.DataPoints().AppendEmpty()
		dp.SetTimestamp(ts)
		dp.SetDoubleValue(v)
		attrs := dp.Attributes()
		attrs.PutStr(alertstate.LabelOperation, op.label)
		attrs.PutStr(alertstate.LabelType, kindNames[k])
		p.putInstance(attrs)
		return attrs
	}

	tr := p.tr
	for op := tr.head; op != nil; op = op.next {
		for k := range numKinds {
			if !p.enabled(k) {
				continue
			}
			a := &op.alerts[k]
			f := &op.fig[k]
			if op.judged {
				dp := reg.DataPoints().AppendEmpty()
				dp.SetTimestamp(ts)
				if a.phase == phaseFiring {
					dp.SetIntValue(1)
				} else {
					dp.SetIntValue(0)
				}
				dp.Attributes().PutStr(alertstate.LabelOperation, op.label)
				dp.Attributes().PutStr(alertstate.LabelType, kindNames[k])
				p.putInstance(dp.Attributes())

				if k == kindLatency {
					for i := range tr.quantiles {
						if math.IsNaN(f.baseline[i]) {
							continue
						}
						point(base, op, k, f.baseline[i]).PutStr(labelQuantile, tr.qLabels[i])
						point(cur, op, k, f.current[i]).PutStr(labelQuantile, tr.qLabels[i])
					}
				} else if !math.IsNaN(f.baseline[0]) {
					point(base, op, k, f.baseline[0])
					point(cur, op, k, f.current[0])
				}
				if finite(f.ratio) {
					point(ratio, op, k, f.ratio)
				}
			}
			if a.phase == phaseInactive {
				continue
			}
			state := alertstate.StatePending
			switch a.phase {
			case phaseFiring:
				state = alertstate.StateFiring
			case phaseResolved:
				state = alertstate.StateResolved
			}
			labels := map[string]string{alertstate.LabelOperation: op.label, alertstate.LabelType: kindNames[k]}
			if p.instance[0] != "" {
				labels[p.instance[0]] = p.instance[1]
			}
			alertstate.Append(alerts, ts, alertstate.Alert{
				Name:        alertstate.AlertRegression,
				State:       state,
				Severity:    p.cfg.Severity,
				Labels:      labels,
				ActiveSince: pcommon.Timestamp(a.activeSince),
			})
		}
	}
	p.alertSeries.End(sm, alerts, ts)
	sm.Metrics().RemoveIf(func(m pmetric.Metric) bool { return m.Gauge().DataPoints().Len() == 0 })
	return md
}
