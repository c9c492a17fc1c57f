package alertstate // import "github.com/otelcol-amas/otelcol-amas/internal/alertstate"

import (
	"context"
	"strings"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Provenance: only the in-process emitters (the slo and regression processors) may write the
// reserved metrics below, because the alert exporter pages on amas_alerts and joins the
// amas_slo_* and amas_performance_regression* values to it. The emitters mark the context of
// their own evaluation output with WithEmitter. The key is unexported, so no receiver, client
// metadata or header can set it. Every metrics batch that enters an emitter without the mark
// has its reserved metrics removed (StripReserved) before anything else sees it: the emitter
// is the gate, so every pipeline that ends in the alert exporter must contain one.

// Reserved metric names and prefixes.
const (
	ReservedSLOPrefix        = "amas_slo_"
	ReservedRegressionPrefix = "amas_performance_regression"
)

type emitterKey struct{}

// WithEmitter marks ctx as carrying an emitter's own evaluation output.
func WithEmitter(ctx context.Context) context.Context {
	return context.WithValue(ctx, emitterKey{}, true)
}

// FromEmitter reports whether ctx was marked by WithEmitter.
func FromEmitter(ctx context.Context) bool {
	v, _ := ctx.Value(emitterKey{}).(bool)
	return v
}

// IsReserved reports whether only an emitter may write the metric name.
func IsReserved(name string) bool {
	return name == MetricName || strings.HasPrefix(name, ReservedSLOPrefix) || strings.HasPrefix(name, ReservedRegressionPrefix)
}

// StripReserved returns md without its reserved metrics and the number of data points removed.
// md itself is never modified (a receiver may share it with other pipelines): when something
// is removed the result is a copy, otherwise md itself. Scanning a batch without reserved
// names allocates nothing.
func StripReserved(md pmetric.Metrics) (pmetric.Metrics, int) {
	if !hasReserved(md) {
		return md, 0
	}
	out := pmetric.NewMetrics()
	md.CopyTo(out)
	dropped := 0
	rms := out.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			sms.At(j).Metrics().RemoveIf(func(m pmetric.Metric) bool {
				if !IsReserved(m.Name()) {
					return false
				}
				dropped += pointCount(m)
				return true
			})
		}
	}
	return out, dropped
}

func hasReserved(md pmetric.Metrics) bool {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				if IsReserved(ms.At(k).Name()) {
					return true
				}
			}
		}
	}
	return false
}

// pointCount is the number of data points of m; a metric without points still counts as one
// removed item, so a forged empty metric is visible in the count.
func pointCount(m pmetric.Metric) int {
	n := 0
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		n = m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		n = m.Sum().DataPoints().Len()
	case pmetric.MetricTypeHistogram:
		n = m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		n = m.ExponentialHistogram().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		n = m.Summary().DataPoints().Len()
	}
	if n == 0 {
		n = 1
	}
	return n
}
