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

// telemetry is the processor's small named set of internal instruments, with their attribute
// sets computed once.
type telemetry struct {
	meter          metric.Meter
	evaluations    metric.Int64Counter
	evalDuration   metric.Float64Histogram
	groupsDropped  metric.Int64Counter
	ckptFailures   metric.Int64Counter
	ckptSkipped    metric.Int64Counter
	itemsSkipped   metric.Int64Counter
	forged         metric.Int64Counter
	sanitized      metric.Int64Counter
	sanitizedAttrs [2]metric.AddOption // truncated, replaced
	skipAttrs      [numSkipReasons]metric.AddOption
	ckptSaveAttr   metric.AddOption
	ckptLoadAttr   metric.AddOption
	seriesObserver metric.Registration
	bootGroups     metric.Int64Counter
	bootGroupAttrs map[string]metric.AddOption // by outcome, built once
	bootQueries    metric.Int64Counter
	bootQueryAttrs [2]metric.AddOption // failed, ok
}

func newTelemetry(set component.TelemetrySettings) (*telemetry, error) {
	t := &telemetry{meter: set.MeterProvider.Meter(metadata.ScopeName)}
	var err error
	if t.evaluations, err = t.meter.Int64Counter("otelcol_processor_slo_evaluations",
		metric.WithDescription("SLO evaluation ticks run."), metric.WithUnit("{tick}")); err != nil {
		return nil, err
	}
	if t.evalDuration, err = t.meter.Float64Histogram("otelcol_processor_slo_evaluation_duration",
		metric.WithDescription("Time one evaluation tick took, over every SLO series."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5)); err != nil {
		return nil, err
	}
	if t.groupsDropped, err = t.meter.Int64Counter("otelcol_processor_slo_groups_dropped",
		metric.WithDescription("Events that went to the overflow series because max_groups_per_slo was reached."), metric.WithUnit("{event}")); err != nil {
		return nil, err
	}
	if t.ckptFailures, err = t.meter.Int64Counter("otelcol_processor_slo_checkpoint_failures",
		metric.WithDescription("Checkpoints that could not be saved or restored."), metric.WithUnit("{checkpoint}")); err != nil {
		return nil, err
	}
	if t.ckptSkipped, err = t.meter.Int64Counter("otelcol_processor_slo_checkpoint_entries_skipped",
		metric.WithDescription("SLO checkpoint entries skipped at restore because they were damaged or did not decode; their groups start fresh, the rest is restored."), metric.WithUnit("{entry}")); err != nil {
		return nil, err
	}
	if t.itemsSkipped, err = t.meter.Int64Counter("otelcol_processor_slo_items_skipped",
		metric.WithDescription("Spans or points skipped as malformed or over a bound, by reason."), metric.WithUnit("{item}")); err != nil {
		return nil, err
	}
	if t.forged, err = t.meter.Int64Counter("otelcol_processor_slo_reserved_points_dropped",
		metric.WithDescription("Points of amas_alerts, amas_slo_* or amas_performance_regression* that arrived from a receiver, not from an emitter, and were dropped."), metric.WithUnit("{point}")); err != nil {
		return nil, err
	}
	if t.sanitized, err = t.meter.Int64Counter("otelcol_processor_slo_labels_sanitized",
		metric.WithDescription("group_by values taken from telemetry that were truncated to max_label_length or had control characters replaced, by action (counted once per new group)."), metric.WithUnit("{value}")); err != nil {
		return nil, err
	}
	t.sanitizedAttrs[0] = metric.WithAttributeSet(attribute.NewSet(attribute.String("action", "truncated")))
	t.sanitizedAttrs[1] = metric.WithAttributeSet(attribute.NewSet(attribute.String("action", "replaced")))
	for i, r := range skipReasonNames {
		t.skipAttrs[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", r)))
	}
	if t.bootGroups, err = t.meter.Int64Counter("otelcol_processor_slo_bootstrap_groups",
		metric.WithDescription("SLO groups that asked for their history from Prometheus (bootstrap), by outcome: restored, empty, partial, failed, dropped, discarded."), metric.WithUnit("{group}")); err != nil {
		return nil, err
	}
	if t.bootQueries, err = t.meter.Int64Counter("otelcol_processor_slo_bootstrap_queries",
		metric.WithDescription("Queries a bootstrap sent to the Prometheus query API, by result (ok, failed)."), metric.WithUnit("{query}")); err != nil {
		return nil, err
	}
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

// observeSeries registers the series-active gauge, read from count at collection time.
func (t *telemetry) observeSeries(count func() int64) {
	g, err := t.meter.Int64ObservableGauge("otelcol_processor_slo_series_active",
		metric.WithDescription("SLO series (one per SLO and group) held in memory."), metric.WithUnit("{series}"))
	if err != nil {
		return
	}
	t.seriesObserver, _ = t.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(g, count())
		return nil
	}, g)
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
	if t.seriesObserver != nil {
		_ = t.seriesObserver.Unregister()
	}
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
