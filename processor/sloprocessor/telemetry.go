package sloprocessor

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-amas/otelcol-amas/internal/safelabel"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor/internal/metadata"
)

// telemetry is the processor's small named set of internal instruments (declared in
// metadata.yaml, built by the generated metadata.TelemetryBuilder), with their attribute sets
// computed once.
type telemetry struct {
	builder        *metadata.TelemetryBuilder
	evaluations    metric.Int64Counter
	evalDuration   metric.Float64Histogram
	groupsDropped  metric.Int64Counter
	groupsMoved    metric.Int64Counter
	ckptFailures   metric.Int64Counter
	ckptSkipped    metric.Int64Counter
	itemsSkipped   metric.Int64Counter
	forged         metric.Int64Counter
	sanitized      metric.Int64Counter
	sanitizedAttrs [2]metric.AddOption // truncated, replaced
	skipAttrs      [numSkipReasons]metric.AddOption
	ckptSaveAttr   metric.AddOption
	ckptLoadAttr   metric.AddOption
	bootGroups     metric.Int64Counter
	bootGroupAttrs map[string]metric.AddOption // by outcome, built once
	bootQueries    metric.Int64Counter
	bootQueryAttrs [2]metric.AddOption // failed, ok
}

func newTelemetry(set component.TelemetrySettings) (*telemetry, error) {
	tb, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, err
	}
	t := &telemetry{
		builder:       tb,
		evaluations:   tb.ProcessorSloEvaluations,
		evalDuration:  tb.ProcessorSloEvaluationDuration,
		groupsDropped: tb.ProcessorSloGroupsDropped,
		groupsMoved:   tb.ProcessorSloGroupsMoved,
		ckptFailures:  tb.ProcessorSloCheckpointFailures,
		ckptSkipped:   tb.ProcessorSloCheckpointEntriesSkipped,
		itemsSkipped:  tb.ProcessorSloItemsSkipped,
		forged:        tb.ProcessorSloReservedPointsDropped,
		sanitized:     tb.ProcessorSloLabelsSanitized,
	}
	t.sanitizedAttrs[0] = metric.WithAttributeSet(attribute.NewSet(attribute.String("action", "truncated")))
	t.sanitizedAttrs[1] = metric.WithAttributeSet(attribute.NewSet(attribute.String("action", "replaced")))
	for i, r := range skipReasonNames {
		t.skipAttrs[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", r)))
	}
	t.bootGroups, t.bootQueries = tb.ProcessorSloBootstrapGroups, tb.ProcessorSloBootstrapQueries
	t.bootGroupAttrs = make(map[string]metric.AddOption, len(bootOutcomes))
	for _, o := range bootOutcomes {
		t.bootGroupAttrs[o] = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", o)))
	}
	t.bootQueryAttrs[0] = metric.WithAttributeSet(attribute.NewSet(attribute.String("result", "failed")))
	t.bootQueryAttrs[1] = metric.WithAttributeSet(attribute.NewSet(attribute.String("result", "ok")))
	t.ckptSaveAttr = metric.WithAttributeSet(attribute.NewSet(attribute.String("operation", "save")))
	t.ckptLoadAttr = metric.WithAttributeSet(attribute.NewSet(attribute.String("operation", "restore")))
	return t, nil
}

// observeSeries registers the series-active gauge's callback, read from count at collection time.
func (t *telemetry) observeSeries(count func() int64) {
	_ = t.builder.RegisterProcessorSloSeriesActiveCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(count())
		return nil
	})
}

func (t *telemetry) evaluated(ctx context.Context, d time.Duration) {
	t.evaluations.Add(ctx, 1)
	t.evalDuration.Record(ctx, d.Seconds())
}

// droppedAttr is the attribute set of an SLO's groups_dropped count, built once per SLO.
func droppedAttr(slo string) metric.AddOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("slo", slo)))
}

// groupsDroppedN adds the events an SLO sent to its overflow series since the last tick.
func (t *telemetry) groupsDroppedN(n int64, attr metric.AddOption) {
	t.groupsDropped.Add(context.Background(), n, attr)
}

func (t *telemetry) skip(r skipReason, n int64) {
	t.itemsSkipped.Add(context.Background(), n, t.skipAttrs[r])
}

func (t *telemetry) checkpointFailed(save bool) {
	if save {
		t.ckptFailures.Add(context.Background(), 1, t.ckptSaveAttr)
		return
	}
	t.ckptFailures.Add(context.Background(), 1, t.ckptLoadAttr)
}

func (t *telemetry) labelSanitized(res safelabel.Result) {
	if res.Has(safelabel.Truncated) {
		t.sanitized.Add(context.Background(), 1, t.sanitizedAttrs[0])
	}
	if res.Has(safelabel.Replaced) {
		t.sanitized.Add(context.Background(), 1, t.sanitizedAttrs[1])
	}
}

func (t *telemetry) checkpointSkipped(n int) {
	t.ckptSkipped.Add(context.Background(), int64(n))
}

func (t *telemetry) shutdown() {
	t.builder.Shutdown()
}

func (t *telemetry) bootstrapped(outcome string) {
	t.bootGroups.Add(context.Background(), 1, t.bootGroupAttrs[outcome])
}

func (t *telemetry) bootstrapQuery(ok bool) {
	i := 0
	if ok {
		i = 1
	}
	t.bootQueries.Add(context.Background(), 1, t.bootQueryAttrs[i])
}

func (t *telemetry) groupMoved() {
	t.groupsMoved.Add(context.Background(), 1)
}
