package regressionprocessor // import "github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor"

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor/internal/metadata"
)

// telemetry is the processor's small, fixed set of internal instruments. Attribute sets are
// built once so that recording allocates nothing.
type telemetry struct {
	operations  metric.Int64Gauge
	evicted     metric.Int64Counter
	skipped     metric.Int64Counter
	fired       metric.Int64Counter
	rebaselines metric.Int64Counter
	checkpoint  metric.Int64Counter
	emitErrors  metric.Int64Counter
	forged      metric.Int64Counter

	skipDuration, skipCost metric.MeasurementOption
	firedType              [numKinds]metric.MeasurementOption
	rebaselineAuto         metric.MeasurementOption
	rebaselineManual       metric.MeasurementOption
	checkpointSaved        metric.MeasurementOption
	checkpointFailed       metric.MeasurementOption
	checkpointRestored     metric.MeasurementOption
	checkpointDiscarded    metric.MeasurementOption
}

func newTelemetry(mp metric.MeterProvider) (*telemetry, error) {
	m := mp.Meter(metadata.ScopeName)
	t := &telemetry{}
	var err, e error
	t.operations, e = m.Int64Gauge("otelcol_processor_regression_operations",
		metric.WithDescription("Operations the regression processor tracks (bounded by max_operations)."), metric.WithUnit("{operation}"))
	err = errors.Join(err, e)
	t.evicted, e = m.Int64Counter("otelcol_processor_regression_operations_evicted",
		metric.WithDescription("Operations evicted, least recently seen first, because max_operations was reached."), metric.WithUnit("{operation}"))
	err = errors.Join(err, e)
	t.skipped, e = m.Int64Counter("otelcol_processor_regression_spans_skipped",
		metric.WithDescription("Spans or span values skipped as malformed, by reason (invalid_duration: span skipped; invalid_cost: cost ignored)."), metric.WithUnit("{span}"))
	err = errors.Join(err, e)
	t.fired, e = m.Int64Counter("otelcol_processor_regression_alerts_fired",
		metric.WithDescription("Regression alerts that started firing, by type."), metric.WithUnit("{alert}"))
	err = errors.Join(err, e)
	t.rebaselines, e = m.Int64Counter("otelcol_processor_regression_rebaselines",
		metric.WithDescription("Baselines dropped to be learnt again, by cause (auto: rebaseline_after; manual: baseline_resets)."), metric.WithUnit("{operation}"))
	err = errors.Join(err, e)
	t.checkpoint, e = m.Int64Counter("otelcol_processor_regression_checkpoints",
		metric.WithDescription("Checkpoint operations on the storage extension, by result (saved, failed, restored, discarded)."), metric.WithUnit("{checkpoint}"))
	err = errors.Join(err, e)
	t.forged, e = m.Int64Counter("otelcol_processor_regression_reserved_points_dropped",
		metric.WithDescription("Points of amas_alerts, amas_slo_* or amas_performance_regression* that arrived from a receiver, not from an emitter, and were dropped."), metric.WithUnit("{point}"))
	err = errors.Join(err, e)
	t.emitErrors, e = m.Int64Counter("otelcol_processor_regression_emit_errors",
		metric.WithDescription("Ticks whose metrics the next consumer of a metrics pipeline refused."), metric.WithUnit("{batch}"))
	err = errors.Join(err, e)

	opt := func(k, v string) metric.MeasurementOption {
		return metric.WithAttributeSet(attribute.NewSet(attribute.String(k, v)))
	}
	t.skipDuration = opt("reason", "invalid_duration")
	t.skipCost = opt("reason", "invalid_cost")
	for k := range numKinds {
		t.firedType[k] = opt("type", kindNames[k])
	}
	t.rebaselineAuto = opt("cause", "auto")
	t.rebaselineManual = opt("cause", "manual")
	t.checkpointSaved = opt("result", "saved")
	t.checkpointFailed = opt("result", "failed")
	t.checkpointRestored = opt("result", "restored")
	t.checkpointDiscarded = opt("result", "discarded")
	return t, err
}

func (t *telemetry) count(c metric.Int64Counter, n int64, opts ...metric.AddOption) {
	if n != 0 {
		c.Add(context.Background(), n, opts...)
	}
}
