package regressionprocessor // import "github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor"

import (
	"context"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/otelcol-amas/otelcol-amas/internal/sharedcomponent"
	"github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor/internal/metadata"
)

// The traces side writes regression marks on spans in place.
var (
	tracesCapabilities  = consumer.Capabilities{MutatesData: true}
	metricsCapabilities = consumer.Capabilities{MutatesData: false}
)

type factory struct {
	// One instance per configured component ID, shared by its traces and metrics pipelines
	// (keyed by the *Config the collector hands to every create call), as memory_limiter does.
	instances *sharedcomponent.Map[*Config, *regressionProcessor]
}

// NewFactory returns the factory of the regression processor.
func NewFactory() processor.Factory {
	f := &factory{instances: sharedcomponent.NewMap[*Config, *regressionProcessor]()}
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(f.createTraces, metadata.TracesStability),
		processor.WithMetrics(f.createMetrics, metadata.MetricsStability),
	)
}

// instance is the processor of cfg, created on first use with the clock of ctx
// (clockwork.FromContext: the real clock unless a test put a fake one there).
func (f *factory) instance(ctx context.Context, set processor.Settings, cfg component.Config) (*sharedcomponent.Component[*regressionProcessor], error) {
	c := cfg.(*Config)
	return f.instances.LoadOrStore(c, func() (*regressionProcessor, error) {
		return newRegressionProcessor(set, c, clockwork.FromContext(ctx))
	})
}

func (f *factory) createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	inst, err := f.instance(ctx, set, cfg)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewTraces(ctx, set, cfg, next, inst.Unwrap().processTraces,
		processorhelper.WithCapabilities(tracesCapabilities),
		processorhelper.WithStart(inst.Start),
		processorhelper.WithShutdown(inst.Shutdown))
}

func (f *factory) createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	inst, err := f.instance(ctx, set, cfg)
	if err != nil {
		return nil, err
	}
	inst.Unwrap().addMetricsConsumer(next)
	return processorhelper.NewMetrics(ctx, set, cfg, next, inst.Unwrap().processMetrics,
		processorhelper.WithCapabilities(metricsCapabilities),
		processorhelper.WithStart(inst.Start),
		processorhelper.WithShutdown(inst.Shutdown))
}
