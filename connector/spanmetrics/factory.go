// Package spanmetrics implements the amas_spanmetrics connector: it turns the spans of LLM agent
// systems into request, error, latency, tool-call, token, cost, active-agent and queue-depth
// metrics whose Prometheus names are those of the AMAS metric contract.
package spanmetrics // import "github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"

import (
	"context"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"

	"github.com/otelcol-amas/otelcol-amas/connector/spanmetrics/internal/metadata"
	"github.com/otelcol-amas/otelcol-amas/internal/safelabel"
)

// NewFactory returns the factory of the amas_spanmetrics connector (traces → metrics).
func NewFactory() connector.Factory {
	return connector.NewFactory(
		metadata.Type,
		createDefaultConfig,
		connector.WithTracesToMetrics(createTracesToMetrics, metadata.TracesToMetricsStability),
	)
}

// defaultBuckets include 1.5 s so the AMAS specification's latency SLO (p95 ≤ 1.5 s) reads exactly from the
// histogram, and reach minutes because agent runs are long.
func defaultBuckets() []time.Duration {
	return []time.Duration{
		10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
		250 * time.Millisecond, 500 * time.Millisecond, 750 * time.Millisecond, time.Second,
		1500 * time.Millisecond, 2 * time.Second, 3 * time.Second, 5 * time.Second, 10 * time.Second,
		20 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
	}
}

// defaultPrices is a small table of well-known models in USD per million tokens, taken from the
// vendors' public list prices when this release was cut. Prices change: it is a starting point
// that users should override with their contracted prices (pricing.models).
func defaultPrices() map[string]ModelPrice {
	return map[string]ModelPrice{
		"gpt-4o":                 {Input: 2.50, Output: 10.00, CachedInput: 1.25},
		"gpt-4o-mini":            {Input: 0.15, Output: 0.60, CachedInput: 0.075},
		"gpt-4.1":                {Input: 2.00, Output: 8.00, CachedInput: 0.50},
		"gpt-4.1-mini":           {Input: 0.40, Output: 1.60, CachedInput: 0.10},
		"gpt-4.1-nano":           {Input: 0.10, Output: 0.40, CachedInput: 0.025},
		"o4-mini":                {Input: 1.10, Output: 4.40, CachedInput: 0.275},
		"claude-3-5-haiku":       {Input: 0.80, Output: 4.00, CachedInput: 0.08},
		"claude-sonnet-4":        {Input: 3.00, Output: 15.00, CachedInput: 0.30},
		"claude-opus-4":          {Input: 15.00, Output: 75.00, CachedInput: 1.50},
		"gemini-2.0-flash":       {Input: 0.10, Output: 0.40, CachedInput: 0.025},
		"gemini-2.5-flash":       {Input: 0.30, Output: 2.50, CachedInput: 0.075},
		"gemini-2.5-pro":         {Input: 1.25, Output: 10.00, CachedInput: 0.31},
		"text-embedding-3-small": {Input: 0.02},
		"text-embedding-3-large": {Input: 0.13},
	}
}

func createDefaultConfig() component.Config {
	return &Config{
		Namespace: "amas",
		Attributes: AttributesConfig{
			AgentName:           "gen_ai.agent.name",
			OperationName:       "gen_ai.operation.name",
			ToolName:            "gen_ai.tool.name",
			RequestModel:        "gen_ai.request.model",
			ResponseModel:       "gen_ai.response.model",
			InputTokens:         "gen_ai.usage.input_tokens",
			OutputTokens:        "gen_ai.usage.output_tokens",
			CacheReadTokens:     "gen_ai.usage.cache_read.input_tokens",
			CacheCreationTokens: "gen_ai.usage.cache_creation.input_tokens",
			ReasoningTokens:     "gen_ai.usage.reasoning.output_tokens",
			ErrorType:           "error.type",
			ExceptionType:       "exception.type",
			Cost:                "amas.cost.usd",
			ServiceName:         "service.name",
		},
		Operations: OperationsConfig{
			Agent: []string{"invoke_agent"},
			Tool:  []string{"execute_tool"},
			Model: []string{"chat", "text_completion", "generate_content", "embeddings"},
		},
		Profiles:     defaultProfiles(),
		Unclassified: UnclassifiedConfig{MaxServices: 1000, WarnInterval: 10 * time.Minute},
		Histogram: HistogramConfig{
			Type:        "explicit",
			Explicit:    ExplicitHistogramConfig{Buckets: defaultBuckets()},
			Exponential: ExponentialHistogramConfig{MaxSize: 160},
		},
		Exemplars:                   ExemplarsConfig{Enabled: true, MaxPerDataPoint: 5},
		AggregationTemporality:      temporalityCumulative,
		MetricsFlushInterval:        15 * time.Second,
		ZeroPoints:                  true,
		SeriesExpiration:            time.Hour,
		AggregationCardinalityLimit: 10000,
		Pricing:                     PricingConfig{Models: defaultPrices(), UnknownModelsLimit: 100},
		ActiveAgents:                ActiveAgentsConfig{Window: 5 * time.Minute},
		QueueDepth: QueueDepthConfig{
			Attribute:      "amas.queue.depth",
			QueueAttribute: "amas.queue.name",
			DefaultQueue:   "default",
		},
		Limits: LimitsConfig{
			MaxSpanDuration:    24 * time.Hour,
			MaxTokensPerSpan:   10_000_000,
			MaxCostPerSpan:     1000,
			MaxQueueDepth:      1e9,
			MaxBatchIndexSpans: 100_000,
			MaxLabelLength:     safelabel.DefaultMax,
		},
		AttributionWait:       5 * time.Minute,
		AttributionMaxPending: 50_000,
		CheckpointInterval:    time.Minute,
	}
}

func createTracesToMetrics(ctx context.Context, set connector.Settings, cfg component.Config, next consumer.Metrics) (connector.Traces, error) {
	return newConnector(set, cfg.(*Config), clockwork.FromContext(ctx), next)
}
