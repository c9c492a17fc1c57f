package spanmetrics

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
)

// decodeAsCollector decodes a section as otelcol does: into a component.Config holding the
// default config.
func decodeAsCollector(raw map[string]any) (*Config, error) {
	var cfg component.Config = createDefaultConfig()
	err := confmap.NewFromStringMap(raw).Unmarshal(&cfg)
	return cfg.(*Config), err
}

func TestDurationsReadPrometheusSyntaxAsWellAsGos(t *testing.T) {
	cfg, err := decodeAsCollector(map[string]any{
		"metrics_flush_interval": "90s",
		"series_expiration":      "1d12h",
		"attribution_wait":       "1h30m",
		"checkpoint_interval":    "1m",
		"histogram":              map[string]any{"explicit": map[string]any{"buckets": []any{"250ms", "1d", "1w"}}},
		"limits":                 map[string]any{"max_span_duration": "30d"},
	})
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, cfg.MetricsFlushInterval)
	assert.Equal(t, 36*time.Hour, cfg.SeriesExpiration)
	assert.Equal(t, 90*time.Minute, cfg.AttributionWait)
	assert.Equal(t, time.Minute, cfg.CheckpointInterval)
	assert.Equal(t, []time.Duration{250 * time.Millisecond, 24 * time.Hour, 7 * 24 * time.Hour}, cfg.Histogram.Explicit.Buckets)
	assert.Equal(t, 30*24*time.Hour, cfg.Limits.MaxSpanDuration)
	assert.Equal(t, "amas", cfg.Namespace, "keys not in the section keep their defaults")

	_, err = decodeAsCollector(map[string]any{"histogram": map[string]any{"explicit": map[string]any{"buckets": []any{"1s", "2dd"}}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `histogram.explicit.buckets[1]: invalid duration "2dd"`)
}
