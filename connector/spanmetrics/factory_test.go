package spanmetrics

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/otelcol-amas/otelcol-amas/connector/spanmetrics/internal/metadata"
)

// generated_component_test.go checks the factory type, the config struct and create → start →
// shutdown; this adds traffic between start and shutdown, twice in a row.
func TestLifecycleWithTrafficTwice(t *testing.T) {
	f := NewFactory()
	cfg := f.CreateDefaultConfig()
	for range 2 {
		c, err := f.CreateTracesToMetrics(context.Background(), connectortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
		require.NoError(t, err)
		require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
		require.NoError(t, c.ConsumeTraces(context.Background(), agentRuns(1, 1, 0)))
		require.NoError(t, c.Shutdown(context.Background()))
	}
}
