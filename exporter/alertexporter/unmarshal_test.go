package alertexporter

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
		"timeout":             "90s",
		"resolve_timeout":     "1h30m",
		"resend_interval":     "1m",
		"checkpoint_interval": "10s",
		"retry_on_failure":    map[string]any{"max_elapsed_time": "1d"},
		"receivers":           []any{map[string]any{"name": "console", "log": map[string]any{}}},
		"route": map[string]any{
			"receiver": "console", "group_wait": "30s", "repeat_interval": "1d",
			"routes": []any{map[string]any{"matchers": []any{`severity="critical"`}, "repeat_interval": "1w", "group_interval": "1d12h"}},
		},
	})
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, cfg.TimeoutConfig.Timeout, "the squashed exporterhelper timeout reads the same syntax")
	assert.Equal(t, 90*time.Minute, cfg.ResolveTimeout)
	assert.Equal(t, time.Minute, cfg.ResendInterval)
	assert.Equal(t, day, cfg.BackOffConfig.MaxElapsedTime)
	assert.Equal(t, day, cfg.Route.RepeatInterval)
	require.Len(t, cfg.Route.Routes, 1)
	assert.Equal(t, 7*day, cfg.Route.Routes[0].RepeatInterval)
	assert.Equal(t, 36*time.Hour, cfg.Route.Routes[0].GroupInterval)
	assert.Equal(t, createDefaultConfig().(*Config).MaxAlerts, cfg.MaxAlerts, "keys not in the section keep their defaults")
	require.NoError(t, cfg.Validate())

	_, err = decodeAsCollector(map[string]any{"route": map[string]any{"routes": []any{map[string]any{}, map[string]any{"group_wait": "5"}}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `route.routes[1].group_wait: invalid duration "5"`)
}
