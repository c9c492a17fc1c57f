package sloprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor/internal/metadata"
)

// unmarshalAsCollector decodes a section the way otelcol's config unmarshaler does: into a
// component.Config interface holding the default config (the Unmarshal hook runs on the inner
// *Config, with the top-level Unmarshaler skipped for the interface).
func unmarshalAsCollector(t *testing.T, file, name string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", file))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	var cfg component.Config = createDefaultConfig()
	err = sub.Unmarshal(&cfg)
	return cfg.(*Config), err
}

func TestUnmarshalAcceptsDaysAndWeeks(t *testing.T) {
	const day = 24 * time.Hour
	check := func(t *testing.T, cfg *Config) {
		t.Helper()
		assert.Equal(t, day, cfg.ResolvedRetention)
		assert.Equal(t, &NoDataConfig{Enabled: true, After: day, For: time.Hour, Severity: "warning", Lookback: time.Hour, MinPredicted: 10, RetireAfter: 7 * day}, cfg.Alerting.NoData)
		require.Len(t, cfg.SLOs, 3)
		assert.Equal(t, 30*day, cfg.SLOs[0].Window)
		rules := cfg.SLOs[0].Alerting.BurnRateRules
		require.Len(t, rules, 3)
		assert.Equal(t, time.Hour, rules[0].LongWindow)
		assert.Equal(t, 3*day, rules[1].LongWindow)
		assert.Equal(t, 7*day, rules[2].LongWindow)
		assert.Equal(t, 36*time.Hour, rules[2].ShortWindow)
		assert.Equal(t, 7*day, cfg.SLOs[1].Window)
		assert.Equal(t, map[string]string{"window": "7d"}, cfg.SLOs[1].SLI.Gauge.Metrics[0].Attributes,
			"a map of attribute values is not rewritten")
		assert.Equal(t, DefaultWindow, cfg.SLOs[2].Window, "an SLO without a window gets 30 days")
		// The untouched keys keep createDefaultConfig's values.
		assert.Equal(t, 10*time.Second, cfg.EvaluationInterval)
		assert.Equal(t, 1000, cfg.MaxGroupsPerSLO)
		require.NoError(t, confmap.Validate(cfg))
		compiled, err := cfg.compile(testTelemetry(t))
		require.NoError(t, err)
		assert.Equal(t, 30*day, compiled[0].model.Window)
		assert.Equal(t, 7*day, compiled[1].model.Window)
		assert.Equal(t, 30*day, compiled[2].model.Window)
	}
	t.Run("The collector's way of decoding a component section reads d and w units.", func(t *testing.T) {
		cfg, err := unmarshalAsCollector(t, "days.yaml", "days")
		require.NoError(t, err)
		check(t, cfg)
	})
	t.Run("Decoding with Conf.Unmarshal into a *Config, as the rules generator does, reads them too.", func(t *testing.T) {
		check(t, loadConfig(t, "days.yaml", "days"))
	})
	t.Run("A YAML map decoded with NewFromStringMap, as slorender.Load does, reads them too.", func(t *testing.T) {
		cfg := createDefaultConfig().(*Config)
		require.NoError(t, confmap.NewFromStringMap(map[string]any{
			"evaluation_interval": "15s",
			"slos": []any{map[string]any{
				"name": "x", "objective": 0.99, "window": "4w",
				"sli": map[string]any{"spans": map[string]any{"bad_conditions": []any{"status.code == STATUS_CODE_ERROR"}}},
			}},
		}).Unmarshal(cfg))
		assert.Equal(t, 15*time.Second, cfg.EvaluationInterval)
		require.Len(t, cfg.SLOs, 1)
		assert.Equal(t, 28*day, cfg.SLOs[0].Window)
	})
	t.Run("Go syntax alone decodes exactly as before.", func(t *testing.T) {
		cfg, err := unmarshalAsCollector(t, "config.yaml", "full")
		require.NoError(t, err)
		assert.Equal(t, loadConfig(t, "config.yaml", "full"), cfg)
		assert.Equal(t, 720*time.Hour, cfg.SLOs[0].Window)
		assert.Equal(t, 15*time.Second, cfg.EvaluationInterval)
	})
	t.Run("The empty section is the default config.", func(t *testing.T) {
		cfg, err := unmarshalAsCollector(t, "config.yaml", "")
		require.NoError(t, err)
		assert.Equal(t, createDefaultConfig(), cfg)
	})
}

func TestUnmarshalReportsABadDayDurationWithItsPath(t *testing.T) {
	t.Run("A malformed window names its SLO and value.", func(t *testing.T) {
		_, err := unmarshalAsCollector(t, "days.yaml", "bad_day")
		require.Error(t, err)
		assert.Contains(t, err.Error(), `slos[0].window: invalid duration "3dd"`)
	})
	t.Run("A malformed rule window names its rule and value.", func(t *testing.T) {
		_, err := unmarshalAsCollector(t, "days.yaml", "bad_rule")
		require.Error(t, err)
		assert.Contains(t, err.Error(), `alerting.burn_rate_rules[0].short_window: invalid duration "5x1d"`)
	})
}
