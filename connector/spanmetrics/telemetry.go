package spanmetrics // import "github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"

import (
	"context"
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

// telemetry is the connector's small, named set of internal instruments (declared in
// metadata.yaml, built by the generated metadata.TelemetryBuilder) with precomputed attribute sets.
type telemetry struct {
	builder       *metadata.TelemetryBuilder
	spans         metric.Int64Counter
	skipped       metric.Int64Counter
	overflowed    metric.Int64Counter
	unknownModels metric.Int64Counter
	checkpoints   metric.Int64Counter
	ckptSkipped   metric.Int64Counter
	unclassified  metric.Int64Counter
	sanitized     metric.Int64Counter

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

// newTelemetry takes the instruments of the connector's main path from tb and registers the
// series-active callback on it (unregistered by shutdown).
func newTelemetry(tb *metadata.TelemetryBuilder) (*telemetry, error) {
	t := &telemetry{
		builder:       tb,
		spans:         tb.ConnectorAmasSpanmetricsSpansSeen,
		skipped:       tb.ConnectorAmasSpanmetricsSpansSkipped,
		overflowed:    tb.ConnectorAmasSpanmetricsSeriesOverflowed,
		unknownModels: tb.ConnectorAmasSpanmetricsUnknownModels,
		checkpoints:   tb.ConnectorAmasSpanmetricsCheckpoints,
		ckptSkipped:   tb.ConnectorAmasSpanmetricsCheckpointEntriesSkipped,
		unclassified:  tb.ConnectorAmasSpanmetricsSpansUnclassified,
		sanitized:     tb.ConnectorAmasSpanmetricsLabelsSanitized,
	}
	if err := tb.RegisterConnectorAmasSpanmetricsSeriesActiveCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(t.activeSeries.Load())
		return nil
	}); err != nil {
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
	t.builder.Shutdown()
}
