package slostatusextension

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
	cfg, err := decodeAsCollector(map[string]any{
		"page_refresh": "90s",
		"history":      map[string]any{"sample_interval": "1d"},
		"read_timeout": "1m30s",
		"idle_timeout": "1h30m",
	})
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, cfg.PageRefresh)
	assert.Equal(t, 24*time.Hour, cfg.History.SampleInterval)
	assert.Equal(t, 90*time.Second, cfg.ServerConfig.ReadTimeout, "the squashed HTTP server's durations read the same syntax")
	assert.Equal(t, 90*time.Minute, cfg.ServerConfig.IdleTimeout)
	assert.Equal(t, DefaultEndpoint, cfg.ServerConfig.NetAddr.Endpoint, "keys not in the section keep their defaults")

	_, err = decodeAsCollector(map[string]any{"history": map[string]any{"sample_interval": "1x"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `history.sample_interval: invalid duration "1x"`)
}
