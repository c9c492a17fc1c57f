package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"context"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"

	"github.com/otelcol-amas/otelcol-amas/exporter/alertexporter/internal/metadata"
)

// NewFactory returns the factory of the alert exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(metadata.Type, createDefaultConfig,
		exporter.WithMetrics(createMetricsExporter, metadata.MetricsStability))
}

func createDefaultConfig() component.Config {
	timeout := exporterhelper.NewDefaultTimeoutConfig()
	timeout.Timeout = 10 * time.Second
	retry := configretry.NewDefaultBackOffConfig()
	// Bounded, so a receiver that is gone for good cannot hold a notification (and, with a
	// persistent queue, its disk space) forever: after this a notification is dead-lettered
	// (counted), and the group's next flush announces its alerts again.
	retry.MaxElapsedTime = defaultMaxElapsedTime
	return &Config{
		TimeoutConfig:       timeout,
		QueueConfig:         configoptional.Some(exporterhelper.NewDefaultQueueConfig()),
		BackOffConfig:       retry,
		ResolveTimeout:      5 * time.Minute,
		ResendInterval:      time.Minute,
		MaxAlerts:           10000,
		ValueMetricPrefixes: []string{"amas_slo_", "amas_performance_regression"},
		MaxValuesPerAlert:   32,
		CheckpointInterval:  10 * time.Second,
		Annotations:         defaultAnnotations(),
		Route: RouteConfig{
			GroupBy:        []string{"alertname", "slo", "operation"},
			GroupWait:      30 * time.Second,
			GroupInterval:  5 * time.Minute,
			RepeatInterval: 4 * time.Hour,
		},
	}
}

const defaultMaxElapsedTime = 30 * time.Minute

func createMetricsExporter(ctx context.Context, set exporter.Settings, c component.Config) (exporter.Metrics, error) {
	cfg := c.(*Config)
	return newExporter(ctx, set, cfg, clockwork.FromContext(ctx))
}

func newExporter(ctx context.Context, set exporter.Settings, cfg *Config, clk clockwork.Clock) (*alertExporter, error) {
	e, err := newAlertExporter(cfg, set, clk)
	if err != nil {
		return nil, err
	}
	// max_elapsed_time is enforced by push on the exporter's clock, where giving up can be
	// counted and undone in the notification log; exporterhelper retries until push says stop.
	retry := cfg.BackOffConfig
	retry.MaxElapsedTime = 0
	// One sender (queue, consumers, retries) per receiver integration: a receiver that hangs
	// or fails for good fills and blocks only its own queue and workers.
	for _, key := range e.integrationKeys() {
		in := e.integrations[key]
		sset := set
		sset.ID = senderID(set.ID, in.receiver(), in.kind())
		sender, err := xexporterhelper.NewMetricsRequest(ctx, sset, convertFromContext, e.push,
			exporterhelper.WithTimeout(cfg.TimeoutConfig),
			exporterhelper.WithRetry(retry),
			xexporterhelper.WithQueueBatch(cfg.QueueConfig, xexporterhelper.QueueBatchSettings{Encoding: notificationEncoding{}}),
			exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		)
		if err != nil {
			return nil, err
		}
		e.senders[key] = sender
	}
	if e.persistentQueue() {
		// Versions before the per-integration queues kept one persistent queue under the
		// exporter's own ID. A sender on that ID, with one worker and never fed, delivers what
		// such a queue still holds after an upgrade (each notification names its receiver).
		q := *cfg.QueueConfig.Get()
		q.NumConsumers = 1
		legacy, err := xexporterhelper.NewMetricsRequest(ctx, set, convertFromContext, e.push,
			exporterhelper.WithTimeout(cfg.TimeoutConfig),
			exporterhelper.WithRetry(retry),
			xexporterhelper.WithQueueBatch(configoptional.Some(q), xexporterhelper.QueueBatchSettings{Encoding: notificationEncoding{}}),
			exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		)
		if err != nil {
			return nil, err
		}
		e.legacy = legacy
	}
	return e, nil
}

// senderID names the sender of one receiver integration: the exporter's ID with the receiver
// and integration appended to its name (alert/x → alert/x__pages_webhook). The persistent
// queue keys its storage by this ID, so each integration has its own on-disk queue; a queued
// notification names its receiver itself, so one found in another queue is still delivered
// to the right place.
func senderID(id component.ID, receiver, kind string) component.ID {
	var b strings.Builder
	b.WriteString(id.Name())
	b.WriteString("__")
	for _, r := range receiver {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	b.WriteByte('_')
	b.WriteString(kind)
	return component.NewIDWithName(id.Type(), b.String())
}
