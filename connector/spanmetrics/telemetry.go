package spanmetrics // import "github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"

import (
	"context"
	"errors"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-amas/otelcol-amas/connector/spanmetrics/internal/metadata"
)

// skipReason says why a span (or one of its values) was counted and skipped.
type skipReason int

const (
	skipInvalidTimestamps skipReason = iota // end before start, or a zero timestamp
	skipDurationTooLong                     // longer than limits.max_span_duration
	skipInvalidTokens                       // non-numeric, negative, NaN or > limits.max_tokens_per_span
	skipInvalidCost                         // non-numeric, negative, NaN or > limits.max_cost_per_span
	skipInvalidQueueDepth                   // non-numeric, negative, NaN or > limits.max_queue_depth
	skipIndexFull                           // batch larger than limits.max_batch_index_spans: no ancestor lookup
	numSkipReasons
)

var skipReasonNames = [numSkipReasons]string{
	"invalid_timestamps", "duration_too_long", "invalid_tokens", "invalid_cost", "invalid_queue_depth", "index_full",
}

// overflowMetric names the metric whose cardinality limit was reached.
type overflowMetric int

const (
	ovRequests overflowMetric = iota
	ovErrors
	ovTools
	ovUsage
	ovActiveAgents
	ovQueues
	ovServices // unclassified.max_services: the service's classification share is not tracked
	numOverflowMetrics
)

var overflowMetricNames = [numOverflowMetrics]string{"requests", "errors", "tool_calls", "usage", "active_agents", "queue_depth", "services"}

// sanitizeAction says what safelabel changed in a label value.
type sanitizeAction int

const (
	sanitizeTruncated sanitizeAction = iota // longer than limits.max_label_length
	sanitizeReplaced                        // control characters or invalid UTF-8 replaced
	numSanitizeActions
)

var sanitizeActionNames = [numSanitizeActions]string{"truncated", "replaced"}

// batchStats are counted under the aggregation lock and recorded once per batch after it.
type batchStats struct {
	spans         int64
	skipped       [numSkipReasons]int64
	overflowed    [numOverflowMetrics]int64
	unknownModels int64
	unclassified  [numUnclassifiedReasons]int64
	sanitized     [numSanitizeActions]int64
}

// telemetry is the connector's small, named set of internal instruments with precomputed
// attribute sets.
type telemetry struct {
	spans         metric.Int64Counter
	skipped       metric.Int64Counter
	overflowed    metric.Int64Counter
	unknownModels metric.Int64Counter
	checkpoints   metric.Int64Counter
	unclassified  metric.Int64Counter
	sanitized     metric.Int64Counter
	seriesActive  metric.Int64ObservableGauge
	registration  metric.Registration

	// Option slices, built once: passing a prebuilt slice to the variadic Add allocates nothing
	// (a single option argument is boxed into a new slice at every call).
	skipOpts     [numSkipReasons][]metric.AddOption
	overflowOpts [numOverflowMetrics][]metric.AddOption
	reasonOpts   [numUnclassifiedReasons][]metric.AddOption
	actionOpts   [numSanitizeActions][]metric.AddOption
	okOpt        metric.AddOption
	failOpt      metric.AddOption

	activeSeries atomic.Int64
}

func newTelemetry(mp metric.MeterProvider) (*telemetry, error) {
	m := mp.Meter(metadata.ScopeName)
	t := &telemetry{}
	var errs, err error
	t.spans, err = m.Int64Counter("otelcol_amas_spanmetrics_spans_seen",
		metric.WithDescription("Spans received by the amas_spanmetrics connector."), metric.WithUnit("{span}"))
	errs = errors.Join(errs, err)
	t.skipped, err = m.Int64Counter("otelcol_amas_spanmetrics_spans_skipped",
		metric.WithDescription("Spans or span values skipped as bad input, by reason."), metric.WithUnit("{span}"))
	errs = errors.Join(errs, err)
	t.overflowed, err = m.Int64Counter("otelcol_amas_spanmetrics_series_overflowed",
		metric.WithDescription("Data points routed to the overflow series because the cardinality limit was reached, by metric."), metric.WithUnit("{datapoint}"))
	errs = errors.Join(errs, err)
	t.unknownModels, err = m.Int64Counter("otelcol_amas_spanmetrics_unknown_models",
		metric.WithDescription("Model spans whose model has no price: no cost was added."), metric.WithUnit("{span}"))
	errs = errors.Join(errs, err)
	t.checkpoints, err = m.Int64Counter("otelcol_amas_spanmetrics_checkpoints",
		metric.WithDescription("Checkpoints written to or restored from the storage extension, by outcome."), metric.WithUnit("{checkpoint}"))
	errs = errors.Join(errs, err)
	t.unclassified, err = m.Int64Counter("otelcol_amas_spanmetrics_spans_unclassified",
		metric.WithDescription("Spans that no instrumentation profile or request rule classified (not counted as requests), by reason."), metric.WithUnit("{span}"))
	errs = errors.Join(errs, err)
	t.sanitized, err = m.Int64Counter("otelcol_amas_spanmetrics_labels_sanitized",
		metric.WithDescription("Label values taken from telemetry that were truncated to limits.max_label_length or had control characters replaced, by action."), metric.WithUnit("{value}"))
	errs = errors.Join(errs, err)
	t.seriesActive, err = m.Int64ObservableGauge("otelcol_amas_spanmetrics_series_active",
		metric.WithDescription("Series held by the amas_spanmetrics connector."), metric.WithUnit("{series}"))
	errs = errors.Join(errs, err)
	if errs != nil {
		return nil, errs
	}
	t.registration, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(t.seriesActive, t.activeSeries.Load())
		return nil
	}, t.seriesActive)
	if err != nil {
		return nil, err
	}
	for i := range skipReasonNames {
		t.skipOpts[i] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", skipReasonNames[i])))}
	}
	for i := range overflowMetricNames {
		t.overflowOpts[i] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("metric", overflowMetricNames[i])))}
	}
	for i := range unclassifiedReasonNames {
		t.reasonOpts[i] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", unclassifiedReasonNames[i])))}
	}
	for i := range sanitizeActionNames {
		t.actionOpts[i] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("action", sanitizeActionNames[i])))}
	}
	t.okOpt = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "ok")))
	t.failOpt = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "failed")))
	return t, nil
}

func (t *telemetry) record(ctx context.Context, s *batchStats) {
	if s.spans > 0 {
		t.spans.Add(ctx, s.spans)
	}
	for i, n := range s.skipped {
		if n > 0 {
			t.skipped.Add(ctx, n, t.skipOpts[i]...)
		}
	}
	for i, n := range s.overflowed {
		if n > 0 {
			t.overflowed.Add(ctx, n, t.overflowOpts[i]...)
		}
	}
	if s.unknownModels > 0 {
		t.unknownModels.Add(ctx, s.unknownModels)
	}
	for i, n := range s.unclassified {
		if n > 0 {
			t.unclassified.Add(ctx, n, t.reasonOpts[i]...)
		}
	}
	for i, n := range s.sanitized {
		if n > 0 {
			t.sanitized.Add(ctx, n, t.actionOpts[i]...)
		}
	}
}

func (t *telemetry) checkpoint(ctx context.Context, ok bool) {
	if ok {
		t.checkpoints.Add(ctx, 1, t.okOpt)
	} else {
		t.checkpoints.Add(ctx, 1, t.failOpt)
	}
}

func (t *telemetry) shutdown() {
	if t.registration != nil {
		_ = t.registration.Unregister()
	}
}
