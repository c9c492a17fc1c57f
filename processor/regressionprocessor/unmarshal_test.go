package regressionprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
)

func decodeAsCollector(raw map[string]any) (*Config, error) {
	var cfg component.Config = createDefaultConfig()
	err := confmap.NewFromStringMap(raw).Unmarshal(&cfg)
	return cfg.(*Config), err
}

func TestDurationsReadPrometheusSyntaxAsWellAsGos(t *testing.T) {
	const day = 24 * time.Hour
	cfg, err := decodeAsCollector(map[string]any{
		"evaluation_interval": "90s",
		"current_window":      "1h30m",
		"baseline_window":     "1w",
		"warm_up":             "1d",
		"resolved_retention":  "30d",
		"rebaseline_after":    "2w",
		"latency":             map[string]any{"absolute_margin": "250ms"},
	})
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, cfg.EvaluationInterval)
	assert.Equal(t, 90*time.Minute, cfg.CurrentWindow)
	assert.Equal(t, 7*day, cfg.BaselineWindow)
	assert.Equal(t, day, cfg.WarmUp)
	assert.Equal(t, 30*day, cfg.ResolvedRetention)
	assert.Equal(t, 14*day, cfg.RebaselineAfter)
	assert.Equal(t, 250*time.Millisecond, cfg.Latency.AbsoluteMargin)
	assert.Equal(t, createDefaultConfig().(*Config).MinSamples, cfg.MinSamples, "keys not in the section keep their defaults")
	require.NoError(t, cfg.Validate())

	_, err = decodeAsCollector(map[string]any{"baseline_window": "1w2x"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `baseline_window: invalid duration "1w2x"`)
}
