package spanmetrics

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-amas/otelcol-amas/connector/spanmetrics/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	storageID := component.MustNewID("file_storage")
	env := "unknown"
	full := createDefaultConfig().(*Config)
	full.RequestRules = []RequestRule{{SpanKind: "server", RequireAttribute: "http.route", OperationAttribute: "http.route"}}
	full.Dimensions = []Dimension{{Name: "deployment.environment.name", Default: &env}}
	full.Histogram.Explicit.Buckets = []time.Duration{
		100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond,
		2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute,
	}
	full.MetricsFlushInterval = 10 * time.Second
	full.SeriesExpiration = 2 * time.Hour
	full.AggregationCardinalityLimit = 5000
	full.Pricing.Models["my-finetuned-model"] = ModelPrice{Input: 1, Output: 4, CachedInput: 0.5}
	full.Pricing.UnknownModelsLimit = 50
	full.ActiveAgents.Window = 10 * time.Minute
	full.Limits = LimitsConfig{MaxSpanDuration: 12 * time.Hour, MaxTokensPerSpan: 5_000_000, MaxCostPerSpan: 100, MaxQueueDepth: 1_000_000, MaxBatchIndexSpans: 50_000, MaxLabelLength: 128}
	full.Profiles.OpenInference.WorkflowSpanNames = []string{"Agent workflow", "Support workflow"}
	full.Profiles.Traceloop.Enabled = false
	full.Unclassified = UnclassifiedConfig{MaxServices: 500, WarnInterval: 30 * time.Minute}
	full.AttributionWait = 10 * time.Minute
	full.AttributionMaxPending = 20_000
	full.Storage = &storageID
	full.CheckpointInterval = 30 * time.Second

	tests := []struct {
		name string
		id   component.ID
		want *Config
	}{
		{"the minimal example is the default configuration", component.NewID(metadata.Type), createDefaultConfig().(*Config)},
		{"the full example sets every key", component.NewIDWithName(metadata.Type, "full"), full},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			cfg := createDefaultConfig()
			require.NoError(t, sub.Unmarshal(cfg))
			assert.NoError(t, confmap.Validate(cfg))
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"an empty namespace is rejected", func(c *Config) { c.Namespace = "" }, `namespace: must be non-empty`},
		{"a namespace with a dash is rejected", func(c *Config) { c.Namespace = "my-ns" }, `got "my-ns"`},
		{"an empty attribute name is rejected", func(c *Config) { c.Attributes.InputTokens = "" }, `attributes.input_tokens: must be a non-empty attribute name`},
		{"an operation listed in two classes is rejected", func(c *Config) { c.Operations.Tool = append(c.Operations.Tool, "chat") },
			`operations.model[0]: "chat" is already listed under operations.tool`},
		{"an empty operation class is rejected", func(c *Config) { c.Operations.Agent = nil }, `operations.agent: must list at least one operation name`},
		{"an unknown span kind in a request rule is rejected", func(c *Config) { c.RequestRules = []RequestRule{{SpanKind: "server"}, {SpanKind: "SERVER"}} },
			`request_rules[1].span_kind: must be one of server, client, internal, producer, consumer, got "SERVER"`},
		{"a dimension shadowing a built-in label is rejected", func(c *Config) { c.Dimensions = []Dimension{{Name: "agent"}} },
			`dimensions[0].name: "agent" is a built-in label`},
		{"a duplicate dimension is rejected", func(c *Config) { c.Dimensions = []Dimension{{Name: "x"}, {Name: "x"}} }, `dimensions[1].name: duplicate dimension "x"`},
		{"unsorted buckets are rejected", func(c *Config) { c.Histogram.Explicit.Buckets = []time.Duration{time.Second, time.Millisecond} },
			`histogram.explicit.buckets[1]: must be greater than the previous bucket 1s, got 1ms`},
		{"an unknown histogram type is rejected", func(c *Config) { c.Histogram.Type = "native" }, `histogram.type: must be explicit or exponential, got "native"`},
		{"a tiny exponential histogram is rejected", func(c *Config) { c.Histogram.Type = "exponential"; c.Histogram.Exponential.MaxSize = 1 },
			`histogram.exponential.max_size: must be in [2,16384], got 1`},
		{"enabled exemplars need room", func(c *Config) { c.Exemplars.MaxPerDataPoint = 0 }, `exemplars.max_per_data_point: must be > 0`},
		{"an unknown temporality is rejected", func(c *Config) { c.AggregationTemporality = "AGGREGATION_TEMPORALITY_DELTA" },
			`aggregation_temporality: must be cumulative or delta`},
		{"a zero flush interval is rejected", func(c *Config) { c.MetricsFlushInterval = 0 }, `metrics_flush_interval: must be > 0, got 0s`},
		{"a negative expiry is rejected", func(c *Config) { c.SeriesExpiration = -time.Second }, `series_expiration: must be >= 0`},
		{"a zero cardinality limit is rejected", func(c *Config) { c.AggregationCardinalityLimit = 0 }, `aggregation_cardinality_limit: must be >= 1, got 0`},
		{"a negative price is rejected", func(c *Config) { c.Pricing.Models["m"] = ModelPrice{Input: -1} }, `pricing.models[m].input: must be a finite number >= 0`},
		{"a zero unknown-model bound is rejected", func(c *Config) { c.Pricing.UnknownModelsLimit = 0 }, `pricing.unknown_models_limit: must be >= 1, got 0`},
		{"a zero active window is rejected", func(c *Config) { c.ActiveAgents.Window = 0 }, `active_agents.window: must be > 0`},
		{"an empty queue attribute is rejected", func(c *Config) { c.QueueDepth.Attribute = "" }, `queue_depth.attribute: must be a non-empty attribute name`},
		{"a zero token limit is rejected", func(c *Config) { c.Limits.MaxTokensPerSpan = 0 }, `limits.max_tokens_per_span: must be >= 1, got 0`},
		{"a zero span-duration limit is rejected", func(c *Config) { c.Limits.MaxSpanDuration = 0 }, `limits.max_span_duration: must be > 0`},
		{"a negative index bound is rejected", func(c *Config) { c.Limits.MaxBatchIndexSpans = -1 }, `limits.max_batch_index_spans: must be >= 0`},
		{"a negative attribution wait is rejected", func(c *Config) { c.AttributionWait = -time.Second }, `attribution_wait: must be >= 0 (0 disables the wait), got -1s`},
		{"a negative pending bound is rejected", func(c *Config) { c.AttributionMaxPending = -1 }, `attribution_max_pending: must be >= 0 (0 disables the wait), got -1`},
		{"a label length below the truncation marker's room is rejected", func(c *Config) { c.Limits.MaxLabelLength = 10 },
			`limits.max_label_length: must be in [32,16384], got 10`},
		{"a label length the checkpoint could not hold is rejected", func(c *Config) { c.Limits.MaxLabelLength = 1 << 20 },
			`limits.max_label_length: must be in [32,16384], got 1048576`},
		{"an OpenInference kind mapped to two classes is rejected", func(c *Config) {
			c.Profiles.OpenInference.SpanKinds.Tool = append(c.Profiles.OpenInference.SpanKinds.Tool, "AGENT")
		}, `profiles.openinference.span_kinds.tool[1]: "AGENT" is already listed under profiles.openinference.span_kinds.agent`},
		{"an empty Traceloop kind attribute is rejected", func(c *Config) { c.Profiles.Traceloop.SpanKindAttribute = " " },
			`profiles.traceloop.span_kind_attribute: must be a non-empty attribute name, got " "`},
		{"an empty fallback attribute is rejected", func(c *Config) { c.Profiles.GenAI.FallbackAttributes.InputTokens = []string{""} },
			`profiles.genai.fallback_attributes.input_tokens[0]: must be non-empty, got ""`},
		{"an empty workflow name is rejected", func(c *Config) { c.Profiles.OpenInference.WorkflowSpanNames = []string{"Agent workflow", ""} },
			`profiles.openinference.workflow_span_names[1]: must be non-empty, got ""`},
		{"disabling every profile is rejected", func(c *Config) {
			c.Profiles.GenAI.Enabled, c.Profiles.OpenInference.Enabled, c.Profiles.Traceloop.Enabled = false, false, false
		}, `profiles: at least one profile must be enabled`},
		{"a zero service bound is rejected", func(c *Config) { c.Unclassified.MaxServices = 0 }, `unclassified.max_services: must be >= 1, got 0`},
		{"a zero warning interval is rejected", func(c *Config) { c.Unclassified.WarnInterval = 0 }, `unclassified.warn_interval: must be > 0, got 0s`},
		{"checkpointing delta state is rejected", func(c *Config) {
			id := component.MustNewID("file_storage")
			c.Storage = &id
			c.AggregationTemporality = temporalityDelta
		}, `storage: checkpointing keeps cumulative state and needs aggregation_temporality cumulative, got "delta"`},
		{"a negative (ignored) checkpoint interval is still rejected", func(c *Config) {
			c.CheckpointInterval = -time.Second
		}, `checkpoint_interval: must be >= 0, got -1s`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tt.mutate(cfg)
			err := cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestValidateJoinsEveryError(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Namespace = ""
	cfg.MetricsFlushInterval = 0
	cfg.AggregationCardinalityLimit = 0
	err := cfg.Validate()
	require.Error(t, err)
	for _, want := range []string{"namespace:", "metrics_flush_interval:", "aggregation_cardinality_limit:"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestDefaultConfigIsValidAndReadsTheLatencySLOExactly(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, cfg.Validate())
	assert.Contains(t, cfg.Histogram.Explicit.Buckets, 1500*time.Millisecond, "the AMAS specification's latency SLO is p95 <= 1.5 s")
	assert.Equal(t, "amas", cfg.Namespace)
}
