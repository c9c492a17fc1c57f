package regressionprocessor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor/internal/metadata"
)

func loadConfig(t *testing.T, file string, id component.ID) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", file))
	require.NoError(t, err)
	sub, err := cm.Sub("processors")
	require.NoError(t, err)
	sub, err = sub.Sub(id.String())
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg
}

func TestLoadConfig(t *testing.T) {
	storageID := component.MustNewID("file_storage")
	full := &Config{
		OperationKey:       []string{"service.name", "gen_ai.agent.name", "gen_ai.operation.name|span.name"},
		MaxOperations:      5000,
		MaxBatchIndexSpans: 20_000,
		MaxLabelLength:     512,
		EvaluationInterval: 30 * time.Second,
		CurrentWindow:      15 * time.Minute,
		BaselineWindow:     12 * time.Hour,
		WarmUp:             2 * time.Hour,
		MinSamples:         200,
		MinTailSamples:     25,
		FireAfter:          4,
		ResolveAfter:       6,
		ResolvedRetention:  30 * time.Minute,
		Severity:           "high",
		Latency:            LatencyConfig{Enabled: true, Quantiles: []float64{0.9, 0.99}, RelativeMargin: 0.5, AbsoluteMargin: 250 * time.Millisecond},
		ErrorRate:          ErrorRateConfig{Enabled: true, RelativeMargin: 2, AbsoluteMargin: 0.02},
		Cost:               CostConfig{Enabled: false, Attribute: "llm.cost_usd", RelativeMargin: 1, AbsoluteMargin: 0.01, MaxPerSpan: 50},
		RebaselineAfter:    6 * time.Hour,
		BaselineResets:     []BaselineReset{{Operation: "checkout/planner/chat", Generation: 2}},
		MarkSpans:          false,
		InstanceLabel:      alertstate.InstanceLabel{Name: "replica", Value: "otelcol-amas-0"},
		Storage:            &storageID,
		CheckpointInterval: time.Minute,
	}
	tests := []struct {
		name string
		file string
		id   component.ID
		want *Config
	}{
		{"the minimal example is the default configuration", "minimal.yaml", component.NewID(metadata.Type), createDefaultConfig().(*Config)},
		{"the full example sets every key", "full.yaml", component.NewIDWithName(metadata.Type, "full"), full},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadConfig(t, tt.file, tt.id)
			assert.Equal(t, tt.want, cfg)
			assert.NoError(t, confmap.Validate(cfg))
		})
	}
}

func TestReadmeShowsTheTestedExamples(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	for _, f := range []string{"minimal.yaml", "full.yaml"} {
		ex, err := os.ReadFile(filepath.Join("testdata", f))
		require.NoError(t, err)
		assert.Contains(t, string(readme), string(ex), "README.md must show testdata/%s verbatim", f)
	}
}

func TestValidateNamesPathRuleAndValue(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string
	}{
		{"an empty operation key is refused", func(c *Config) { c.OperationKey = nil }, []string{"operation_key: must list 1 to 8 parts, got 0"}},
		{"an empty alternative in the operation key is refused", func(c *Config) { c.OperationKey = []string{"a||b"} }, []string{`operation_key[0]: must be attribute names separated by '|', none empty, got "a||b"`}},
		{"a zero operation bound is refused", func(c *Config) { c.MaxOperations = 0 }, []string{"max_operations: must be in [1, 1000000], got 0"}},
		{"a label length below the marker's room is refused", func(c *Config) { c.MaxLabelLength = 10 }, []string{"max_label_length: must be in [32,4096], got 10"}},
		{"a label length the checkpoint could not hold whole is refused", func(c *Config) { c.MaxLabelLength = 1 << 20 }, []string{"max_label_length: must be in [32,4096], got 1048576"}},
		{"a negative index bound is refused", func(c *Config) { c.MaxBatchIndexSpans = -1 }, []string{"max_batch_index_spans: must be >= 0 (0 disables the ancestor lookup), got -1"}},
		{"a zero evaluation interval is refused", func(c *Config) { c.EvaluationInterval = 0 }, []string{"evaluation_interval: must be positive, got 0s"}},
		{"a baseline shorter than the current window is refused", func(c *Config) { c.BaselineWindow = time.Minute }, []string{"baseline_window: must be at least current_window (10m0s), got 1m0s"}},
		{"a tiny current window is refused", func(c *Config) { c.CurrentWindow = time.Millisecond }, []string{"current_window: must be at least 5ms, got 1ms"}},
		{"a negative warm-up is refused", func(c *Config) { c.WarmUp = -time.Second }, []string{"warm_up: must not be negative, got -1s"}},
		{"zero sample minimums are refused", func(c *Config) { c.MinSamples, c.MinTailSamples = 0, 0 }, []string{"min_samples: must be at least 1, got 0", "min_tail_samples: must be at least 1, got 0"}},
		{"zero evaluation counts are refused", func(c *Config) { c.FireAfter, c.ResolveAfter = 0, -1 }, []string{"fire_after: must be at least 1, got 0", "resolve_after: must be at least 1, got -1"}},
		{"a negative retention is refused", func(c *Config) { c.ResolvedRetention = -time.Minute }, []string{"resolved_retention: must not be negative, got -1m0s"}},
		{"an unknown severity is refused", func(c *Config) { c.Severity = "page" }, []string{`severity: must be one of critical, high, warning, info, got "page"`}},
		{"disabling every type is refused", func(c *Config) { c.Latency.Enabled, c.ErrorRate.Enabled, c.Cost.Enabled = false, false, false }, []string{"at least one must be true"}},
		{"a quantile of 1 is refused", func(c *Config) { c.Latency.Quantiles = []float64{0.95, 1} }, []string{"latency.quantiles[1]: must be in (0,1), got 1"}},
		{"four quantiles are refused", func(c *Config) { c.Latency.Quantiles = []float64{0.5, 0.9, 0.95, 0.99} }, []string{"latency.quantiles: must list 1 to 3 quantiles, got 4"}},
		{"negative latency margins are refused", func(c *Config) { c.Latency.RelativeMargin, c.Latency.AbsoluteMargin = -0.1, -time.Millisecond }, []string{"latency.relative_margin: must be a finite number >= 0, got -0.1", "latency.absolute_margin: must not be negative, got -1ms"}},
		{"an error-rate margin of 1 is refused", func(c *Config) { c.ErrorRate.AbsoluteMargin = 1 }, []string{"error_rate.absolute_margin: must be in [0,1), got 1"}},
		{"a negative error-rate relative margin is refused", func(c *Config) { c.ErrorRate.RelativeMargin = -1 }, []string{"error_rate.relative_margin: must be a finite number >= 0, got -1"}},
		{"a cost limit that is not positive is refused", func(c *Config) { c.Cost.MaxPerSpan = 0 }, []string{"cost.max_per_span: must be a finite number > 0, got 0"}},
		{"an enabled cost without attribute is refused", func(c *Config) { c.Cost.Attribute = " " }, []string{`cost.attribute: must name a span attribute when cost.enabled is true, got " "`}},
		{"negative cost margins are refused", func(c *Config) { c.Cost.RelativeMargin, c.Cost.AbsoluteMargin = -1, -1 }, []string{"cost.relative_margin: must be a finite number >= 0, got -1", "cost.absolute_margin: must be a finite number >= 0, got -1"}},
		{"a negative re-baseline delay is refused", func(c *Config) { c.RebaselineAfter = -time.Hour }, []string{"rebaseline_after: must not be negative (0 disables), got -1h0m0s"}},
		{"a reset without operation or generation is refused", func(c *Config) { c.BaselineResets = []BaselineReset{{}} }, []string{`baseline_resets[0].operation: must be an operation label or "*", got ""`, "baseline_resets[0].generation: must be at least 1, got 0"}},
		{"the same operation reset twice is refused", func(c *Config) {
			c.BaselineResets = []BaselineReset{{Operation: "a", Generation: 1}, {Operation: "a", Generation: 2}}
		}, []string{`baseline_resets[1].operation: must be unique, got "a" again (first at baseline_resets[0])`}},
		{"storage without a checkpoint interval is refused", func(c *Config) {
			id := component.MustNewID("file_storage")
			c.Storage, c.CheckpointInterval = &id, 0
		}, []string{"checkpoint_interval: must be positive when storage is set, got 0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tt.modify(cfg)
			err := cfg.Validate()
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Len(t, strings.Split(err.Error(), "\n"), len(tt.want), "only the broken fields are reported: %v", err)
		})
	}
}
