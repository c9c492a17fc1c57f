package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-amas/otelcol-amas/exporter/alertexporter/internal/metadata"
)

// telemetry is the exporter's small, fixed set of instruments with attribute sets precomputed
// per (receiver, integration).
type telemetry struct {
	sentC, failedC, retriedC, droppedC, enqueuedC, supersededC metric.Int64Counter
	invalidC, alertsDroppedC, valuesDroppedC, checkpointC      metric.Int64Counter
	deadLetterC                                                metric.Int64Counter

	mu    sync.RWMutex
	attrs map[string]*integrationAttrs
	none  metric.MeasurementOption
}

type integrationAttrs struct {
	base    metric.MeasurementOption
	reasons map[string]metric.MeasurementOption
}

func newTelemetry(set component.TelemetrySettings) (*telemetry, error) {
	m := set.MeterProvider.Meter(metadata.ScopeName)
	t := &telemetry{attrs: map[string]*integrationAttrs{}, none: metric.WithAttributeSet(attribute.NewSet())}
	var err error
	counter := func(name, desc string) metric.Int64Counter {
		if err != nil {
			return nil
		}
		var c metric.Int64Counter
		c, err = m.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit("{notifications}"))
		return c
	}
	t.sentC = counter("otelcol_alert_notifications_sent", "Notifications a receiver accepted.")
	t.failedC = counter("otelcol_alert_notifications_failed", "Delivery attempts that failed (retryable or not).")
	t.retriedC = counter("otelcol_alert_notifications_retried", "Failed delivery attempts handed back for retry.")
	t.droppedC = counter("otelcol_alert_notifications_dropped", "Notifications given up: rejected by the receiver (4xx other than 429), queue full, or receiver gone.")
	t.deadLetterC = counter("otelcol_alert_notifications_dead_letter", "Queued notifications given up, by reason: permanent (the receiver refused it) or expired (retry_on_failure.max_elapsed_time passed); the group's next flush announces their alerts again.")
	t.enqueuedC = counter("otelcol_alert_notifications_enqueued", "Notifications queued for delivery whose delivery state is checkpointed.")
	t.supersededC = counter("otelcol_alert_notifications_superseded", "Queued notifications skipped because a newer one for the same group was already delivered.")
	t.invalidC = counter("otelcol_alert_points_invalid", "amas_alerts points skipped: missing alertname or alertstate, unknown state, NaN.")
	t.alertsDroppedC = counter("otelcol_alert_alerts_dropped", "New alerts not tracked because max_alerts was reached.")
	t.valuesDroppedC = counter("otelcol_alert_values_dropped", "Sibling values not joined because max_values_per_alert was reached.")
	t.checkpointC = counter("otelcol_alert_checkpoint_failures", "Failed writes of the delivery-state checkpoint.")
	return t, err
}

func (t *telemetry) register(receiver, integ string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	base := []attribute.KeyValue{attribute.String("receiver", receiver), attribute.String("integration", integ)}
	ia := &integrationAttrs{base: metric.WithAttributeSet(attribute.NewSet(base...)), reasons: map[string]metric.MeasurementOption{}}
	for _, r := range []string{reasonPermanent, reasonExpired, reasonQueueFull, reasonNoReceiver} {
		ia.reasons[r] = metric.WithAttributeSet(attribute.NewSet(append(base[:2:2], attribute.String("reason", r))...))
	}
	t.attrs[receiver+"|"+integ] = ia
}

func (t *telemetry) get(receiver, integ string) *integrationAttrs {
	t.mu.RLock()
	ia := t.attrs[receiver+"|"+integ]
	t.mu.RUnlock()
	if ia == nil {
		// A queued notification for a receiver that is no longer configured.
		t.register(receiver, integ)
		t.mu.RLock()
		ia = t.attrs[receiver+"|"+integ]
		t.mu.RUnlock()
	}
	return ia
}

var bg = context.Background()

func (t *telemetry) sent(r, i string)     { t.sentC.Add(bg, 1, t.get(r, i).base) }
func (t *telemetry) failed(r, i string)   { t.failedC.Add(bg, 1, t.get(r, i).base) }
func (t *telemetry) retried(r, i string)  { t.retriedC.Add(bg, 1, t.get(r, i).base) }
func (t *telemetry) enqueued(r, i string) { t.enqueuedC.Add(bg, 1, t.get(r, i).base) }
func (t *telemetry) superseded(r, i string) {
	t.supersededC.Add(bg, 1, t.get(r, i).base)
}
func (t *telemetry) dropped(r, i, reason string) { t.droppedC.Add(bg, 1, t.get(r, i).reasons[reason]) }
func (t *telemetry) deadLettered(r, i, reason string) {
	t.deadLetterC.Add(bg, 1, t.get(r, i).reasons[reason])
}
func (t *telemetry) invalidPoint()     { t.invalidC.Add(bg, 1, t.none) }
func (t *telemetry) alertDropped()     { t.alertsDroppedC.Add(bg, 1, t.none) }
func (t *telemetry) valueDropped()     { t.valuesDroppedC.Add(bg, 1, t.none) }
func (t *telemetry) checkpointFailed() { t.checkpointC.Add(bg, 1, t.none) }
