package spanmetrics // import "github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-amas/otelcol-amas/internal/safelabel"
)

const (
	temporalityCumulative = "cumulative"
	temporalityDelta      = "delta"

	spanKindServer   = "server"
	spanKindClient   = "client"
	spanKindInternal = "internal"
	spanKindProducer = "producer"
	spanKindConsumer = "consumer"
)

// Config is the configuration of the amas_spanmetrics connector. Every YAML key and its default is
// listed in README.md; defaults live only in createDefaultConfig.
type Config struct {
	// Namespace prefixes every metric name (`amas` gives amas_agent_requests_total in Prometheus).
	Namespace string `mapstructure:"namespace"`

	// Attributes names the span attributes that are read. The OpenTelemetry GenAI conventions are
	// still moving, so every name is configuration with the current convention as default.
	Attributes AttributesConfig `mapstructure:"attributes"`

	// Operations lists the gen_ai.operation.name values of each span class.
	Operations OperationsConfig `mapstructure:"operations"`

	// Profiles are the instrumentation conventions recognised per span: OpenTelemetry GenAI
	// (configured by Attributes and Operations), OpenInference and OpenLLMetry/Traceloop.
	Profiles ProfilesConfig `mapstructure:"profiles"`

	// Unclassified bounds the per-service bookkeeping of spans that no profile classifies and
	// rate-limits the warning about services none of whose spans classify.
	Unclassified UnclassifiedConfig `mapstructure:"unclassified"`

	// RequestRules count spans outside the GenAI classes as requests (e.g. server spans of a
	// non-GenAI service). The first matching rule wins.
	RequestRules []RequestRule `mapstructure:"request_rules"`

	// Dimensions are extra labels on every span-derived counter and on the duration histogram.
	Dimensions []Dimension `mapstructure:"dimensions"`

	Histogram HistogramConfig `mapstructure:"histogram"`
	Exemplars ExemplarsConfig `mapstructure:"exemplars"`

	// AggregationTemporality is `cumulative` or `delta`.
	AggregationTemporality string `mapstructure:"aggregation_temporality"`

	// MetricsFlushInterval is how often metrics are sent downstream.
	MetricsFlushInterval time.Duration `mapstructure:"metrics_flush_interval"`

	// ZeroPoints (cumulative temporality) sends a stream's first value after a 0 point at the
	// time it was last known to be 0, so that Prometheus' increase() over remote-written samples
	// counts what the first flush holds.
	ZeroPoints bool `mapstructure:"zero_points"`

	// SeriesExpiration drops a series not updated for this long (0 keeps series forever).
	SeriesExpiration time.Duration `mapstructure:"series_expiration"`

	// AggregationCardinalityLimit bounds the series of each metric (and the tracked agents and
	// queues). Data of new series past the limit lands in one overflow series per metric carrying
	// only otel.metric.overflow=true.
	AggregationCardinalityLimit int `mapstructure:"aggregation_cardinality_limit"`

	Pricing      PricingConfig      `mapstructure:"pricing"`
	ActiveAgents ActiveAgentsConfig `mapstructure:"active_agents"`
	QueueDepth   QueueDepthConfig   `mapstructure:"queue_depth"`
	Limits       LimitsConfig       `mapstructure:"limits"`

	// AttributionWait is how long the contribution of a span whose agent ancestor is not in its
	// batch waits for that ancestor before it is counted under service.name (0: no wait).
	AttributionWait time.Duration `mapstructure:"attribution_wait"`
	// AttributionMaxPending bounds the contributions held (and the links remembered) for the wait.
	AttributionMaxPending int `mapstructure:"attribution_max_pending"`

	// Storage names a storage extension (e.g. file_storage) used to checkpoint the cumulative
	// state so a restart continues the counters. Without it a restart starts new series with a
	// new start timestamp, which Prometheus reads as a counter reset.
	Storage *component.ID `mapstructure:"storage"`

	// CheckpointInterval is deprecated and ignored: the checkpoint is written at every flush that
	// follows new spans (a checkpoint older than the last flush would turn a restart after a
	// crash into a traffic spike). Still accepted so existing configurations load.
	CheckpointInterval time.Duration `mapstructure:"checkpoint_interval"`
}

// AttributesConfig names the span (and resource) attributes the connector reads.
type AttributesConfig struct {
	AgentName           string `mapstructure:"agent_name"`
	OperationName       string `mapstructure:"operation_name"`
	ToolName            string `mapstructure:"tool_name"`
	RequestModel        string `mapstructure:"request_model"`
	ResponseModel       string `mapstructure:"response_model"`
	InputTokens         string `mapstructure:"input_tokens"`
	OutputTokens        string `mapstructure:"output_tokens"`
	CacheReadTokens     string `mapstructure:"cache_read_tokens"`
	CacheCreationTokens string `mapstructure:"cache_creation_tokens"`
	ReasoningTokens     string `mapstructure:"reasoning_tokens"`
	ErrorType           string `mapstructure:"error_type"`
	ExceptionType       string `mapstructure:"exception_type"`
	Cost                string `mapstructure:"cost"`
	ServiceName         string `mapstructure:"service_name"`
}

// OperationsConfig classifies spans by the value of Attributes.OperationName.
type OperationsConfig struct {
	Agent []string `mapstructure:"agent"`
	Tool  []string `mapstructure:"tool"`
	Model []string `mapstructure:"model"`
}

// RequestRule counts a span that is not a GenAI span as a request.
type RequestRule struct {
	// SpanKind is one of server, client, internal, producer, consumer.
	SpanKind string `mapstructure:"span_kind"`
	// RequireAttribute, when set, only matches spans carrying this attribute.
	RequireAttribute string `mapstructure:"require_attribute"`
	// OperationAttribute gives the operation label; empty uses the span name.
	OperationAttribute string `mapstructure:"operation_attribute"`
}

// Dimension is an extra label taken from the span, else the resource, else Default (if set).
type Dimension struct {
	Name    string  `mapstructure:"name"`
	Default *string `mapstructure:"default"`
}

// HistogramConfig selects explicit buckets or an exponential histogram for the duration metric.
type HistogramConfig struct {
	// Type is `explicit` or `exponential`.
	Type        string                     `mapstructure:"type"`
	Explicit    ExplicitHistogramConfig    `mapstructure:"explicit"`
	Exponential ExponentialHistogramConfig `mapstructure:"exponential"`
}

type ExplicitHistogramConfig struct {
	Buckets []time.Duration `mapstructure:"buckets"`
}

type ExponentialHistogramConfig struct {
	MaxSize int32 `mapstructure:"max_size"`
}

// ExemplarsConfig controls the exemplars (trace and span ids) on the duration histogram.
type ExemplarsConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// MaxPerDataPoint exemplars are kept per series and flush; when full the slowest spans win.
	MaxPerDataPoint int `mapstructure:"max_per_data_point"`
}

// ModelPrice is in USD per million tokens.
type ModelPrice struct {
	Input       float64 `mapstructure:"input"`
	Output      float64 `mapstructure:"output"`
	CachedInput float64 `mapstructure:"cached_input"`
}

// PricingConfig is the price table used when a span carries no cost attribute.
type PricingConfig struct {
	// Models maps a model name to its price. A model id with a dated snapshot suffix
	// (`-20250514`, `-2024-08-06`) also matches its undated entry.
	Models map[string]ModelPrice `mapstructure:"models"`
	// UnknownModelsLimit bounds the set of unpriced model names remembered for the warning.
	UnknownModelsLimit int `mapstructure:"unknown_models_limit"`
}

type ActiveAgentsConfig struct {
	// Window: an agent is active when one of its spans arrived within this window.
	Window time.Duration `mapstructure:"window"`
}

type QueueDepthConfig struct {
	// Attribute carries the queue depth (a number) on any span.
	Attribute string `mapstructure:"attribute"`
	// QueueAttribute names the queue; DefaultQueue is used when it is absent.
	QueueAttribute string `mapstructure:"queue_attribute"`
	DefaultQueue   string `mapstructure:"default_queue"`
}

// LimitsConfig bounds the values accepted from spans; values beyond are counted and skipped.
type LimitsConfig struct {
	MaxSpanDuration  time.Duration `mapstructure:"max_span_duration"`
	MaxTokensPerSpan int64         `mapstructure:"max_tokens_per_span"`
	MaxCostPerSpan   float64       `mapstructure:"max_cost_per_span"`
	MaxQueueDepth    float64       `mapstructure:"max_queue_depth"`
	// MaxBatchIndexSpans bounds the per-batch span index used to find a span's ancestor agent.
	MaxBatchIndexSpans int `mapstructure:"max_batch_index_spans"`
	// MaxLabelLength caps, in bytes, every label value taken from telemetry (agent, operation,
	// tool, model, error_type, queue, dimensions); longer values are cut and marked.
	MaxLabelLength int `mapstructure:"max_label_length"`
}

var _ component.Config = (*Config)(nil)

// Validate checks every field; each error names the YAML path, the rule and the value.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if !validMetricNamespace(c.Namespace) {
		add("namespace: must be non-empty letters, digits, '_' or '.', not starting with a digit, got %q", c.Namespace)
	}
	attrs := []struct{ key, val string }{
		{"agent_name", c.Attributes.AgentName}, {"operation_name", c.Attributes.OperationName},
		{"tool_name", c.Attributes.ToolName}, {"request_model", c.Attributes.RequestModel},
		{"response_model", c.Attributes.ResponseModel}, {"input_tokens", c.Attributes.InputTokens},
		{"output_tokens", c.Attributes.OutputTokens}, {"cache_read_tokens", c.Attributes.CacheReadTokens},
		{"cache_creation_tokens", c.Attributes.CacheCreationTokens}, {"reasoning_tokens", c.Attributes.ReasoningTokens},
		{"error_type", c.Attributes.ErrorType}, {"exception_type", c.Attributes.ExceptionType},
		{"cost", c.Attributes.Cost}, {"service_name", c.Attributes.ServiceName},
	}
	for _, a := range attrs {
		if strings.TrimSpace(a.val) == "" {
			add("attributes.%s: must be a non-empty attribute name, got %q", a.key, a.val)
		}
	}
	seenOps := map[string]string{}
	for _, cls := range []struct {
		key string
		ops []string
	}{{"agent", c.Operations.Agent}, {"tool", c.Operations.Tool}, {"model", c.Operations.Model}} {
		if len(cls.ops) == 0 {
			add("operations.%s: must list at least one operation name, got none", cls.key)
		}
		for i, op := range cls.ops {
			if op == "" {
				add("operations.%s[%d]: must be non-empty, got %q", cls.key, i, op)
				continue
			}
			if prev, ok := seenOps[op]; ok {
				add("operations.%s[%d]: %q is already listed under operations.%s", cls.key, i, op, prev)
				continue
			}
			seenOps[op] = cls.key
		}
	}
	for i, r := range c.RequestRules {
		if _, ok := parseSpanKind(r.SpanKind); !ok {
			add("request_rules[%d].span_kind: must be one of server, client, internal, producer, consumer, got %q", i, r.SpanKind)
		}
	}
	seenDims := map[string]bool{}
	for i, d := range c.Dimensions {
		switch {
		case d.Name == "":
			add("dimensions[%d].name: must be non-empty, got %q", i, d.Name)
		case seenDims[d.Name]:
			add("dimensions[%d].name: duplicate dimension %q", i, d.Name)
		case slices.Contains(reservedLabels, d.Name):
			add("dimensions[%d].name: %q is a built-in label of this connector", i, d.Name)
		}
		seenDims[d.Name] = true
	}
	switch c.Histogram.Type {
	case "explicit":
		b := c.Histogram.Explicit.Buckets
		if len(b) == 0 {
			add("histogram.explicit.buckets: must list at least one bucket, got none")
		}
		for i := range b {
			if b[i] <= 0 {
				add("histogram.explicit.buckets[%d]: must be > 0, got %s", i, b[i])
			}
			if i > 0 && b[i] <= b[i-1] {
				add("histogram.explicit.buckets[%d]: must be greater than the previous bucket %s, got %s", i, b[i-1], b[i])
			}
		}
	case "exponential":
		if c.Histogram.Exponential.MaxSize < 2 || c.Histogram.Exponential.MaxSize > 16384 {
			add("histogram.exponential.max_size: must be in [2,16384], got %d", c.Histogram.Exponential.MaxSize)
		}
	default:
		add("histogram.type: must be explicit or exponential, got %q", c.Histogram.Type)
	}
	if c.Exemplars.MaxPerDataPoint < 0 || c.Exemplars.MaxPerDataPoint > 64 {
		add("exemplars.max_per_data_point: must be in [0,64], got %d", c.Exemplars.MaxPerDataPoint)
	}
	if c.Exemplars.Enabled && c.Exemplars.MaxPerDataPoint == 0 {
		add("exemplars.max_per_data_point: must be > 0 when exemplars.enabled is true, got 0")
	}
	if c.AggregationTemporality != temporalityCumulative && c.AggregationTemporality != temporalityDelta {
		add("aggregation_temporality: must be cumulative or delta, got %q", c.AggregationTemporality)
	}
	if c.MetricsFlushInterval <= 0 {
		add("metrics_flush_interval: must be > 0, got %s", c.MetricsFlushInterval)
	}
	if c.SeriesExpiration < 0 {
		add("series_expiration: must be >= 0 (0 disables expiry), got %s", c.SeriesExpiration)
	}
	if c.AggregationCardinalityLimit < 1 {
		add("aggregation_cardinality_limit: must be >= 1, got %d", c.AggregationCardinalityLimit)
	}
	for model, p := range c.Pricing.Models {
		for _, f := range []struct {
			key string
			v   float64
		}{{"input", p.Input}, {"output", p.Output}, {"cached_input", p.CachedInput}} {
			if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
				add("pricing.models[%s].%s: must be a finite number >= 0 (USD per million tokens), got %v", model, f.key, f.v)
			}
		}
		if model == "" {
			add("pricing.models: model name must be non-empty")
		}
	}
	if c.Pricing.UnknownModelsLimit < 1 {
		add("pricing.unknown_models_limit: must be >= 1, got %d", c.Pricing.UnknownModelsLimit)
	}
	if c.ActiveAgents.Window <= 0 {
		add("active_agents.window: must be > 0, got %s", c.ActiveAgents.Window)
	}
	if c.QueueDepth.Attribute == "" {
		add("queue_depth.attribute: must be a non-empty attribute name, got %q", c.QueueDepth.Attribute)
	}
	if c.QueueDepth.QueueAttribute == "" {
		add("queue_depth.queue_attribute: must be a non-empty attribute name, got %q", c.QueueDepth.QueueAttribute)
	}
	if c.QueueDepth.DefaultQueue == "" {
		add("queue_depth.default_queue: must be non-empty, got %q", c.QueueDepth.DefaultQueue)
	}
	if c.Limits.MaxSpanDuration <= 0 {
		add("limits.max_span_duration: must be > 0, got %s", c.Limits.MaxSpanDuration)
	}
	if c.Limits.MaxTokensPerSpan < 1 {
		add("limits.max_tokens_per_span: must be >= 1, got %d", c.Limits.MaxTokensPerSpan)
	}
	if math.IsNaN(c.Limits.MaxCostPerSpan) || c.Limits.MaxCostPerSpan <= 0 || math.IsInf(c.Limits.MaxCostPerSpan, 0) {
		add("limits.max_cost_per_span: must be a finite number > 0, got %v", c.Limits.MaxCostPerSpan)
	}
	if math.IsNaN(c.Limits.MaxQueueDepth) || c.Limits.MaxQueueDepth <= 0 || math.IsInf(c.Limits.MaxQueueDepth, 0) {
		add("limits.max_queue_depth: must be a finite number > 0, got %v", c.Limits.MaxQueueDepth)
	}
	if c.Limits.MaxBatchIndexSpans < 0 {
		add("limits.max_batch_index_spans: must be >= 0 (0 disables the ancestor lookup), got %d", c.Limits.MaxBatchIndexSpans)
	}
	if c.AttributionWait < 0 {
		add("attribution_wait: must be >= 0 (0 disables the wait), got %s", c.AttributionWait)
	}
	if c.AttributionMaxPending < 0 {
		add("attribution_max_pending: must be >= 0 (0 disables the wait), got %d", c.AttributionMaxPending)
	}
	if c.Limits.MaxLabelLength < safelabel.MinMax || c.Limits.MaxLabelLength > maxLabelLengthLimit {
		add("limits.max_label_length: must be in [%d,%d], got %d", safelabel.MinMax, maxLabelLengthLimit, c.Limits.MaxLabelLength)
	}
	errs = append(errs, c.Profiles.validate()...)
	errs = append(errs, c.Unclassified.validate()...)
	if c.Storage != nil && c.AggregationTemporality == temporalityDelta {
		add("storage: checkpointing keeps cumulative state and needs aggregation_temporality cumulative, got %q", c.AggregationTemporality)
	}
	if c.CheckpointInterval < 0 {
		add("checkpoint_interval: must be >= 0, got %s", c.CheckpointInterval)
	}
	return errors.Join(errs...)
}

// reservedLabels are the labels the connector sets itself; a dimension may not shadow them.
var reservedLabels = []string{labelAgent, labelOperation, labelStatus, labelErrorType, labelTool, labelModel, labelTokenType, labelQueue, overflowKey}

func validMetricNamespace(ns string) bool {
	if ns == "" || (ns[0] >= '0' && ns[0] <= '9') {
		return false
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
