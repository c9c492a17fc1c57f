// Package sloprocessor evaluates Service Level Objectives as spans and metrics stream through
// the collector: rolling error budgets, burn rates and multi-window multi-burn-rate alerts, emitted
// as amas_slo_* metrics and amas_alerts alert-state series.
package sloprocessor // import "github.com/otelcol-amas/otelcol-amas/processor/sloprocessor"

import (
	"context"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/internal/safelabel"
	"github.com/otelcol-amas/otelcol-amas/internal/sharedcomponent"
	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor/internal/metadata"
)

// instances holds one processor per configuration, shared by its traces and metrics pipelines.
var instances = sharedcomponent.NewMap[*Config, *sloProcessor]()

// NewFactory returns the slo processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(createTraces, metadata.TracesStability),
		processor.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		EvaluationInterval: 10 * time.Second,
		MaxGroupsPerSLO:    1000,
		MaxRatioStreams:    10000,
		MaxLabelLength:     safelabel.DefaultMax,
		ResolvedRetention:  5 * time.Minute,
		CheckpointInterval: 10 * time.Second,
		EventTime:          eventTimeArrival,
		MaxLateness:        time.Minute,
		Bootstrap:          defaultBootstrapConfig(),
		InstanceLabel:      alertstate.InstanceLabel{Name: alertstate.LabelInstance},
		Alerting: AlertingConfig{
			MinBadEvents: slomath.DefaultMinBadEvents,
			BudgetThresholds: &BudgetThresholdsConfig{
				Critical: 0.05, High: 0.15, Warning: 0.25,
				Severity: BudgetSeverityConfig{Critical: "ticket", High: "ticket", Warning: "ticket"},
			},
			HardDown: &HardDownConfig{
				Enabled: true, Window: slomath.DefaultHardDownWindow, ErrorRatio: slomath.DefaultHardDownRatio,
				MinBadEvents: slomath.DefaultHardDownMinBad,
			},
			NoData: &NoDataConfig{
				Enabled: true, After: 90 * time.Second, Severity: "warning",
				Lookback: time.Hour, MinPredicted: 10, RetireAfter: 24 * time.Hour,
			},
		},
	}
}

func getOrCreate(ctx context.Context, set processor.Settings, cfg component.Config) (*sharedcomponent.Component[*sloProcessor], error) {
	c := cfg.(*Config)
	return instances.LoadOrStore(c, func() (*sloProcessor, error) {
		return newSLOProcessor(set, c, clockwork.FromContext(ctx))
	})
}

func createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	shared, err := getOrCreate(ctx, set, cfg)
	if err != nil {
		return nil, err
	}
	p := shared.Unwrap()
	p.mu.Lock()
	p.tracesUsed = true
	p.mu.Unlock()
	return processorhelper.NewTraces(ctx, set, cfg, next, p.consumeTraces,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		processorhelper.WithStart(shared.Start),
		processorhelper.WithShutdown(shared.Shutdown))
}

func createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	shared, err := getOrCreate(ctx, set, cfg)
	if err != nil {
		return nil, err
	}
	p := shared.Unwrap()
	p.mu.Lock()
	p.metricsUsed = true
	p.nextMetrics = next
	p.mu.Unlock()
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.consumeMetrics,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		processorhelper.WithStart(shared.Start),
		processorhelper.WithShutdown(shared.Shutdown))
}
