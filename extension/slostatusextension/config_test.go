package slostatusextension

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-amas/otelcol-amas/extension/slostatusextension/internal/metadata"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg
}

func TestLoadConfig(t *testing.T) {
	t.Run("The empty config is the default config and is valid.", func(t *testing.T) {
		cfg := loadConfig(t, "")
		assert.Equal(t, createDefaultConfig(), cfg)
		require.NoError(t, confmap.Validate(cfg))
		assert.Equal(t, "127.0.0.1:13134", cfg.ServerConfig.NetAddr.Endpoint)
		assert.Equal(t, "http://127.0.0.1:16686", cfg.JaegerURL)
		assert.Equal(t, HistoryConfig{SampleInterval: 10 * time.Second, MaxSamples: 720, MaxSeries: 1000}, cfg.History)
		assert.Equal(t, HealthConfig{MaxMissedTicks: 3}, cfg.Health)
		assert.Equal(t, 10*time.Second, cfg.PageRefresh)
		assert.Empty(t, cfg.SLOProcessors)
	})
	t.Run("The minimal example loads and validates.", func(t *testing.T) {
		cfg := loadConfig(t, "minimal")
		require.NoError(t, confmap.Validate(cfg))
		assert.Equal(t, "127.0.0.1:13134", cfg.ServerConfig.NetAddr.Endpoint)
	})
	t.Run("The full example loads every key.", func(t *testing.T) {
		cfg := loadConfig(t, "full")
		require.NoError(t, confmap.Validate(cfg))
		assert.Equal(t, "0.0.0.0:13134", cfg.ServerConfig.NetAddr.Endpoint)
		assert.Equal(t, []component.ID{component.MustNewID("slo"), component.MustNewIDWithName("slo", "agents")}, cfg.SLOProcessors)
		assert.Equal(t, []component.ID{component.MustNewID("regression")}, cfg.RegressionProcessors)
		assert.Equal(t, "https://jaeger.example.com", cfg.JaegerURL)
		assert.Equal(t, 30*time.Second, cfg.PageRefresh)
		assert.Equal(t, HistoryConfig{SampleInterval: 30 * time.Second, MaxSamples: 1440, MaxSeries: 200}, cfg.History)
		assert.Equal(t, HealthConfig{MaxMissedTicks: 5, CheckpointErrorUnhealthy: true}, cfg.Health)
		assert.True(t, cfg.ServerConfig.Auth.HasValue())
		assert.Equal(t, []string{"slo-status.example.com"}, cfg.AllowedHosts)
	})
}

func TestValidateNamesEveryBadField(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string
	}{
		{"An empty endpoint is refused.", func(c *Config) { c.ServerConfig.NetAddr.Endpoint = "" }, []string{"endpoint: must not be empty"}},
		{"A relative Jaeger URL is refused.", func(c *Config) { c.JaegerURL = "jaeger:16686" }, []string{`jaeger_url: must be an absolute http(s) URL or empty, got "jaeger:16686"`}},
		{"An empty Jaeger URL turns links off and is valid.", func(c *Config) { c.JaegerURL = "" }, nil},
		{"slo_processors must name slo processors, once each.", func(c *Config) {
			c.SLOProcessors = []component.ID{component.MustNewID("batch"), component.MustNewID("slo"), component.MustNewID("slo")}
		}, []string{`slo_processors[0]: must name an slo processor (slo or slo/<name>), got "batch"`, `slo_processors[2]: duplicate "slo"`}},
		{"regression_processors must name regression processors.", func(c *Config) {
			c.RegressionProcessors = []component.ID{component.MustNewID("slo")}
		}, []string{`regression_processors[0]: must name a regression processor (regression or regression/<name>), got "slo"`}},
		{"The history bounds are checked.", func(c *Config) {
			c.History = HistoryConfig{SampleInterval: 100 * time.Millisecond, MaxSamples: 1, MaxSeries: -1}
		}, []string{"history.sample_interval: must be at least 1s, got 100ms", "history.max_samples: must be in [2,100000], got 1", "history.max_series: must be in [0,1000000], got -1"}},
		{"max_missed_ticks must be at least 1.", func(c *Config) { c.Health.MaxMissedTicks = 0 }, []string{"health.max_missed_ticks: must be at least 1, got 0"}},
		{"page_refresh must be at least 1s.", func(c *Config) { c.PageRefresh = 0 }, []string{"page_refresh: must be at least 1s, got 0s"}},
		{"allowed_hosts entries are hosts or host:port, never URLs.", func(c *Config) {
			c.AllowedHosts = []string{"status.example.com", "", "http://x", "x:99999", "*", "[::1]:13134", "::1"}
		}, []string{`allowed_hosts[1]: must not be empty, got ""`, `allowed_hosts[2]: must be a host or host:port, without scheme or path, got "http://x"`,
			`allowed_hosts[3]: port must be in [1,65535], got "x:99999"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tt.mutate(cfg)
			err := cfg.Validate()
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Len(t, splitLines(err.Error()), len(tt.want), "one message per bad field")
		})
	}
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := range len(s) {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
