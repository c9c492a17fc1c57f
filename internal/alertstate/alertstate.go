// Package alertstate is the contract between the processors that decide alerts (slo, regression)
// and the exporter that delivers them (alert): one gauge metric, amas_alerts, in the shape of
// Prometheus' ALERTS series, so the same data is graphed by Prometheus and acted on by the
// alert exporter.
//
// The contract:
//   - Metric name "amas_alerts", a Gauge with int values; one data point per alert per tick.
//   - Value 1 while the alert is pending or firing (alertstate "pending" / "firing"), as ALERTS.
//   - After an alert clears, the emitter keeps sending it with value 0 and alertstate "resolved"
//     for a retention period (the emitter's config), so a resolve survives a lost batch. An
//     exporter also resolves an alert it has not seen for its resolve timeout, as Alertmanager
//     does, so a removed or restarted emitter cannot leave an alert firing forever.
//   - The StartTimestamp of the point is when the alert became active (pending or firing);
//     Timestamp is the tick that produced it.
//   - Attributes are labels and must be stable for the life of an incident, because Prometheus
//     turns each distinct set into a series: alertname, alertstate, severity, and slo or
//     operation, plus the SLO's group_by labels and rule labels such as long_window/short_window.
//     Numbers that move (budget remaining, burn rate, baseline) are NOT attributes: they are the
//     emitter's own metrics in the same batch (amas_slo_error_budget_remaining_percent{slo,...},
//     amas_slo_error_budget_burn_rate{slo,window,...}, amas_performance_regression_*{operation,type}),
//     and the exporter joins them to an alert by its labels: a point joins when it carries the
//     alert's slo (else operation) label with the same value and agrees on every other label
//     they share (severity alone is not enough: amas_slo_violations carries it).
//   - An alert's identity is its attribute set without alertstate (see Fingerprint and
//     FingerprintAttrs).
//   - A series ends at once, as an ALERTS series goes stale in Prometheus: when an emitter stops
//     writing a series (the pending series of an alert that fires, the firing series of one that
//     resolves, the resolved series after its retention), its next tick carries one point of that
//     series flagged NoRecordedValue, each in an amas_alerts metric of its own (see Tracker). The
//     prometheus exporter drops a series at such a point instead of serving its last value until
//     its metric_expiration, so the next scrape lacks it and Prometheus marks it stale. The point
//     carries no state: consumers of amas_alerts ignore flagged points.
package alertstate // import "github.com/otelcol-amas/otelcol-amas/internal/alertstate"

import (
	"sort"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Metric and label names of the contract.
const (
	MetricName = "amas_alerts"

	LabelAlertName   = "alertname"
	LabelAlertState  = "alertstate"
	LabelSeverity    = "severity"
	LabelSLO         = "slo"
	LabelOperation   = "operation"
	LabelType        = "type" // regression type: latency_regression, error_rate_regression, cost_regression
	LabelLongWindow  = "long_window"
	LabelShortWindow = "short_window"
	// LabelThreshold names the budget threshold (critical, high, warning) of an
	// SLOErrorBudgetLow alert, whose severity (page or ticket) is configured apart.
	LabelThreshold = "threshold"
)

// Alert states.
const (
	StatePending  = "pending"
	StateFiring   = "firing"
	StateResolved = "resolved"
)

// Severities, from most to least urgent. Burn-rate pages are critical, tickets warning; the
// budget-remaining thresholds map to critical (<5%), high (<15%), warning (<25%).
const (
	SeverityCritical = "critical"
	SeverityHigh     = "high"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Alert names the emitters use.
const (
	AlertSLOBurnRate        = "SLOErrorBudgetBurn"
	AlertSLOBudgetExhausted = "SLOErrorBudgetLow"
	AlertSLONoData          = "SLONoData"
	AlertRegression         = "PerformanceRegression"
)

// Alert is one alert as the emitters describe it.
type Alert struct {
	Name     string
	State    string
	Severity string
	// Labels are the other stable labels (slo or operation, group_by values, window pair...).
	Labels map[string]string
	// ActiveSince is when the alert became pending or firing.
	ActiveSince pcommon.Timestamp
}

// NewGauge adds an empty amas_alerts gauge to sm.
func NewGauge(sm pmetric.ScopeMetrics) pmetric.Gauge {
	m := sm.Metrics().AppendEmpty()
	m.SetName(MetricName)
	m.SetDescription("Alert state of SLO and regression rules: 1 while pending or firing, 0 for a while after resolving (like Prometheus' ALERTS).")
	return m.SetEmptyGauge()
}

// Append adds a point for a to the gauge at time now.
func Append(g pmetric.Gauge, now pcommon.Timestamp, a Alert) {
	dp := g.DataPoints().AppendEmpty()
	dp.SetTimestamp(now)
	dp.SetStartTimestamp(a.ActiveSince)
	if a.State == StateResolved {
		dp.SetIntValue(0)
	} else {
		dp.SetIntValue(1)
	}
	attrs := dp.Attributes()
	attrs.EnsureCapacity(len(a.Labels) + 3)
	for k, v := range a.Labels {
		attrs.PutStr(k, v)
	}
	attrs.PutStr(LabelAlertName, a.Name)
	attrs.PutStr(LabelAlertState, a.State)
	attrs.PutStr(LabelSeverity, a.Severity)
}

// FromPoint reads an alert back from a point of the amas_alerts gauge. ok is false when the
// point lacks alertname or alertstate, or only ends its series (see Ended).
func FromPoint(dp pmetric.NumberDataPoint) (a Alert, ok bool) {
	if Ended(dp) {
		return Alert{}, false
	}
	a.Labels = make(map[string]string, dp.Attributes().Len())
	dp.Attributes().Range(func(k string, v pcommon.Value) bool {
		switch k {
		case LabelAlertName:
			a.Name = v.AsString()
		case LabelAlertState:
			a.State = v.AsString()
		case LabelSeverity:
			a.Severity = v.AsString()
		default:
			a.Labels[k] = v.AsString()
		}
		return true
	})
	a.ActiveSince = dp.StartTimestamp()
	return a, a.Name != "" && a.State != ""
}

// Fingerprint identifies an alert across ticks and restarts: a hash (FNV-1a 64) of alertname,
// severity and the labels sorted by name, each string followed by a 0 byte, without alertstate.
func Fingerprint(a Alert) uint64 {
	keys := make([]string, 0, len(a.Labels))
	for k := range a.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := fnvOffset
	h = fnvString(h, a.Name)
	h = fnvString(h, a.Severity)
	for _, k := range keys {
		h = fnvString(h, k)
		h = fnvString(h, a.Labels[k])
	}
	return h
}

// maxStackLabels is how many labels FingerprintAttrs sorts without allocating.
const maxStackLabels = 32

// FingerprintAttrs is Fingerprint of the alert a point with these attributes describes
// (FingerprintAttrs(dp.Attributes()) == Fingerprint(FromPoint(dp))), computed without building
// the Alert: it does not allocate for up to 32 string-valued labels.
func FingerprintAttrs(attrs pcommon.Map) uint64 {
	var stack [maxStackLabels]string
	keys := stack[:0]
	var name, sev string
	attrs.Range(func(k string, v pcommon.Value) bool {
		switch k {
		case LabelAlertName:
			name = valueString(v)
		case LabelSeverity:
			sev = valueString(v)
		case LabelAlertState:
		default:
			keys = append(keys, k)
		}
		return true
	})
	// Insertion sort: label sets are small, and sort.Strings would move keys to the heap.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	h := fnvOffset
	h = fnvString(h, name)
	h = fnvString(h, sev)
	for _, k := range keys {
		v, _ := attrs.Get(k)
		h = fnvString(h, k)
		h = fnvString(h, valueString(v))
	}
	return h
}

// valueString is v.AsString() without the allocation for the common string value.
func valueString(v pcommon.Value) string {
	if v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return v.AsString()
}

const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h * fnvPrime // the 0 separator: h ^= 0 is a no-op
}
