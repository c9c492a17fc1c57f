package alertexporter // import "github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"

import (
	"context"
	"time"

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
	// An alert is small and must not be lost: keep retrying until delivered or rejected.
	retry.MaxElapsedTime = 0
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

func createMetricsExporter(ctx context.Context, set exporter.Settings, c component.Config) (exporter.Metrics, error) {
	cfg := c.(*Config)
	return newExporter(ctx, set, cfg, realClock{})
}

func newExporter(ctx context.Context, set exporter.Settings, cfg *Config, clk clock) (*alertExporter, error) {
	e, err := newAlertExporter(cfg, set, clk)
	if err != nil {
		return nil, err
	}
	sender, err := xexporterhelper.NewMetricsRequest(ctx, set, convertFromContext, e.push,
		exporterhelper.WithTimeout(cfg.TimeoutConfig),
		exporterhelper.WithRetry(cfg.BackOffConfig),
		xexporterhelper.WithQueueBatch(cfg.QueueConfig, xexporterhelper.QueueBatchSettings{Encoding: notificationEncoding{}}),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
	)
	if err != nil {
		return nil, err
	}
	e.sender = sender
	return e, nil
}
