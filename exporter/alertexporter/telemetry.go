package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-amas/otelcol-amas/exporter/alertexporter/internal/metadata"
)

// telemetry is the exporter's small, fixed set of instruments (declared in metadata.yaml, built
// by the generated metadata.TelemetryBuilder; none is asynchronous) with attribute sets
// precomputed per (receiver, integration).
type telemetry struct {
	sentC, failedC, retriedC, droppedC, enqueuedC, supersededC metric.Int64Counter
	invalidC, alertsDroppedC, valuesDroppedC, checkpointC      metric.Int64Counter
	checkpointSkippedC                                         metric.Int64Counter
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
	tb, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, err
	}
	return &telemetry{
		sentC:              tb.ExporterAlertNotificationsSent,
		failedC:            tb.ExporterAlertNotificationsFailed,
		retriedC:           tb.ExporterAlertNotificationsRetried,
		droppedC:           tb.ExporterAlertNotificationsDropped,
		deadLetterC:        tb.ExporterAlertNotificationsDeadLetter,
		enqueuedC:          tb.ExporterAlertNotificationsEnqueued,
		supersededC:        tb.ExporterAlertNotificationsSuperseded,
		invalidC:           tb.ExporterAlertPointsInvalid,
		alertsDroppedC:     tb.ExporterAlertAlertsDropped,
		valuesDroppedC:     tb.ExporterAlertValuesDropped,
		checkpointC:        tb.ExporterAlertCheckpointFailures,
		checkpointSkippedC: tb.ExporterAlertCheckpointEntriesSkipped,
		attrs:              map[string]*integrationAttrs{},
		none:               metric.WithAttributeSet(attribute.NewSet()),
	}, nil
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

func (t *telemetry) checkpointSkipped(n int) { t.checkpointSkippedC.Add(bg, int64(n), t.none) }
