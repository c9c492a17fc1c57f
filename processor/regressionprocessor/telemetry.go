package regressionprocessor // import "github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor/internal/metadata"
)

// telemetry is the processor's small, fixed set of internal instruments (declared in
// metadata.yaml, built by the generated metadata.TelemetryBuilder; none is asynchronous, so
// nothing needs unregistering). Attribute sets are built once so that recording allocates nothing.
type telemetry struct {
	operations  metric.Int64Gauge
	evicted     metric.Int64Counter
	skipped     metric.Int64Counter
	fired       metric.Int64Counter
	rebaselines metric.Int64Counter
	checkpoint  metric.Int64Counter
	emitErrors  metric.Int64Counter
	forged      metric.Int64Counter
	sanitized   metric.Int64Counter

	skipDuration, skipCost metric.MeasurementOption
	firedType              [numKinds]metric.MeasurementOption
	rebaselineAuto         metric.MeasurementOption
	rebaselineManual       metric.MeasurementOption
	checkpointSaved        metric.MeasurementOption
	checkpointFailed       metric.MeasurementOption
	checkpointRestored     metric.MeasurementOption
	checkpointDiscarded    metric.MeasurementOption
	checkpointEntrySkipped metric.MeasurementOption
	sanitizedAction        [2]metric.AddOption // truncated, replaced
}

func newTelemetry(set component.TelemetrySettings) (*telemetry, error) {
	tb, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, err
	}
	t := &telemetry{
		operations:  tb.ProcessorRegressionOperations,
		evicted:     tb.ProcessorRegressionOperationsEvicted,
		skipped:     tb.ProcessorRegressionSpansSkipped,
		fired:       tb.ProcessorRegressionAlertsFired,
		rebaselines: tb.ProcessorRegressionRebaselines,
		checkpoint:  tb.ProcessorRegressionCheckpoints,
		forged:      tb.ProcessorRegressionReservedPointsDropped,
		sanitized:   tb.ProcessorRegressionLabelsSanitized,
		emitErrors:  tb.ProcessorRegressionEmitErrors,
	}

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
	t.checkpointEntrySkipped = opt("result", "entry_skipped")
	t.sanitizedAction = [2]metric.AddOption{
		metric.WithAttributeSet(attribute.NewSet(attribute.String("action", "truncated"))),
		metric.WithAttributeSet(attribute.NewSet(attribute.String("action", "replaced"))),
	}
	return t, nil
}

func (t *telemetry) count(c metric.Int64Counter, n int64, opts ...metric.AddOption) {
	if n != 0 {
		c.Add(context.Background(), n, opts...)
	}
}
