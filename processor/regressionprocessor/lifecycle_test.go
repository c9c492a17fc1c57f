package regressionprocessor

import (
	"context"
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor/internal/metadata"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite the golden files under testdata/golden")

func TestFactoryTypeAndDefaultConfig(t *testing.T) {
	f := NewFactory()
	assert.Equal(t, metadata.Type, f.Type())
	cfg := f.CreateDefaultConfig()
	require.NoError(t, componenttest.CheckConfigStruct(cfg))
	assert.NoError(t, cfg.(*Config).Validate())
	assert.Equal(t, metadata.TracesStability, f.TracesStability())
	assert.Equal(t, metadata.MetricsStability, f.MetricsStability())
}

func TestLifecycleCreateStartShutdownTwice(t *testing.T) {
	f := NewFactory()
	for round := range 2 {
		cfg := f.CreateDefaultConfig()
		set := processortest.NewNopSettings(metadata.Type)
		tp, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
		require.NoError(t, err, "round %d", round)
		mp, err := f.CreateMetrics(context.Background(), set, cfg, consumertest.NewNop())
		require.NoError(t, err)
		assert.True(t, tp.Capabilities().MutatesData, "the traces side marks spans")
		assert.False(t, mp.Capabilities().MutatesData)
		host := componenttest.NewNopHost()
		require.NoError(t, tp.Start(context.Background(), host))
		require.NoError(t, mp.Start(context.Background(), host))
		require.NoError(t, tp.Shutdown(context.Background()))
		require.NoError(t, mp.Shutdown(context.Background()))
	}
}

func TestStartFailsWithoutTheNamedStorageExtension(t *testing.T) {
	f := NewFactory()
	cfg := storageConfig()
	tp, err := f.CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(t, err)
	err = tp.Start(context.Background(), componenttest.NewNopHost())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "storage: extension file_storage is not configured")
	require.NoError(t, tp.Shutdown(context.Background()))
}

// One component ID in a traces and a metrics pipeline: spans seen on the traces side produce
// metrics on the metrics side, emitted by the tick goroutine with no traffic on the metrics side.
func TestOneInstanceServesTheTracesAndMetricsPipelinesAndTicksOnItsOwn(t *testing.T) {
	f := &factory{instances: sharedcomponentMap()}
	cfg := createDefaultConfig().(*Config)
	cfg.WarmUp = 0
	set := processortest.NewNopSettings(metadata.Type)
	traceSink, metricSink := &consumertest.TracesSink{}, &consumertest.MetricsSink{}
	clock := clockwork.NewFakeClockAt(epoch)
	ctx := clockwork.AddToContext(context.Background(), clock)
	tp, err := f.createTraces(ctx, set, cfg, traceSink)
	require.NoError(t, err)
	mp, err := f.createMetrics(ctx, set, cfg, metricSink)
	require.NoError(t, err)

	host := componenttest.NewNopHost()
	require.NoError(t, tp.Start(context.Background(), host))
	require.NoError(t, mp.Start(context.Background(), host))
	require.NoError(t, clock.BlockUntilContext(ctx, 1), "the tick loop's ticker is on the fake clock")

	td := ptrace.NewTraces()
	newStream(70, "planner").fill(td, 10, clock.Now())
	require.NoError(t, tp.ConsumeTraces(context.Background(), td))
	assert.Equal(t, 10, traceSink.SpanCount(), "spans pass through")

	clock.Advance(time.Minute) // fires the tick loop's ticker
	require.Eventually(t, func() bool { return len(metricSink.AllMetrics()) > 0 }, 10*time.Second, 5*time.Millisecond)
	md := metricSink.AllMetrics()[0]
	names := map[string]int{}
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := range ms.Len() {
		names[ms.At(i).Name()] = ms.At(i).Gauge().DataPoints().Len()
	}
	assert.Equal(t, map[string]int{metricRegression: 3}, names, "one flag per type; no figures without a baseline")

	require.NoError(t, tp.Shutdown(context.Background()))
	require.NoError(t, mp.Shutdown(context.Background()))
}

func TestEmittedMetricsMatchTheGoldenFile(t *testing.T) {
	s := newSim(t, createDefaultConfig().(*Config))
	slow, calm := newStream(80, "planner"), newStream(81, "critic")
	warmUp(s, slow, calm)
	slow.scale = 2
	calm.errRate = 0.2
	for range 12 {
		s.interval(slow, calm)
	}
	require.Equal(t, phaseFiring, s.phase(slow.label(), kindLatency))
	require.Equal(t, phaseFiring, s.phase(calm.label(), kindErrorRate))
	all := s.sink.AllMetrics()
	got := all[len(all)-1]

	path := filepath.Join("testdata", "golden", "two_regressions.yaml")
	if *updateGolden {
		require.NoError(t, golden.WriteMetrics(t, path, got))
	}
	want, err := golden.ReadMetrics(path)
	require.NoError(t, err)
	assert.NoError(t, pmetrictest.CompareMetrics(want, got,
		pmetrictest.IgnoreMetricsOrder(),
		pmetrictest.IgnoreMetricDataPointsOrder(),
		pmetrictest.IgnoreTimestamp(),
		pmetrictest.IgnoreStartTimestamp(),
		pmetrictest.IgnoreMetricFloatPrecision(9, metricBaseline, metricCurrent, metricRatio)))
}
