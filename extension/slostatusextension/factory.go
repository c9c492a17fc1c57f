// Package slostatusextension serves the SLO status API (the AMAS specification's /observability/slo/status,
// /observability/slo/violations and /health) and a self-contained SLO status page, from the
// running slo and regression processors of the same collector.
package slostatusextension // import "github.com/otelcol-amas/otelcol-amas/extension/slostatusextension"

import (
	"context"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-amas/otelcol-amas/extension/slostatusextension/internal/metadata"
)

// DefaultEndpoint is next to health_check's 13133 and collides with nothing in the default config.
const DefaultEndpoint = "127.0.0.1:13134"

// NewFactory returns the factory of the slo_status extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, createExtension, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	srv := confighttp.NewDefaultServerConfig()
	srv.NetAddr.Endpoint = DefaultEndpoint
	return &Config{
		ServerConfig: srv,
		JaegerURL:    "http://127.0.0.1:16686",
		History:      HistoryConfig{SampleInterval: 10 * time.Second, MaxSamples: 720, MaxSeries: 1000},
		Health:       HealthConfig{MaxMissedTicks: 3},
		PageRefresh:  10 * time.Second,
	}
}

// createExtension reads the clock from ctx (clockwork.FromContext: the real clock unless a test
// put a fake one there).
func createExtension(ctx context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newExtension(set, cfg.(*Config), registrySource{cfg: cfg.(*Config)}, clockwork.FromContext(ctx)), nil
}
