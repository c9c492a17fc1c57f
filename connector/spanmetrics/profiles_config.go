package spanmetrics // import "github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"

import (
	"fmt"
	"strings"
	"time"
)

// maxLabelLengthLimit keeps every label far below what the checkpoint decoder accepts.
const maxLabelLengthLimit = 16384

// ProfilesConfig turns each instrumentation profile on or off and extends it. Lists replace their
// default: to add a value, repeat the defaults.
type ProfilesConfig struct {
	GenAI         GenAIProfileConfig         `mapstructure:"genai"`
	OpenInference OpenInferenceProfileConfig `mapstructure:"openinference"`
	Traceloop     TraceloopProfileConfig     `mapstructure:"traceloop"`
}

// GenAIProfileConfig is the OpenTelemetry GenAI profile; its main attribute names and operations
// are the top-level `attributes` and `operations` keys.
type GenAIProfileConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// FallbackAttributes are read when the attribute named in `attributes` is absent (older
	// names of the conventions, e.g. gen_ai.usage.prompt_tokens).
	FallbackAttributes ProfileAttributes `mapstructure:"fallback_attributes"`
}

// ProfileAttributes lists, per role, the attributes read from a classified span; the first one
// present wins.
type ProfileAttributes struct {
	AgentName           []string `mapstructure:"agent_name"`
	ToolName            []string `mapstructure:"tool_name"`
	Model               []string `mapstructure:"model"`
	InputTokens         []string `mapstructure:"input_tokens"`
	OutputTokens        []string `mapstructure:"output_tokens"`
	CacheReadTokens     []string `mapstructure:"cache_read_tokens"`
	CacheCreationTokens []string `mapstructure:"cache_creation_tokens"`
	ReasoningTokens     []string `mapstructure:"reasoning_tokens"`
}

// SpanKindsConfig maps a profile's span kind values to the connector's span classes.
type SpanKindsConfig struct {
	Agent []string `mapstructure:"agent"`
	Tool  []string `mapstructure:"tool"`
	Model []string `mapstructure:"model"`
}

// OpenInferenceProfileConfig recognises spans by openinference.span.kind.
type OpenInferenceProfileConfig struct {
	Enabled           bool            `mapstructure:"enabled"`
	SpanKindAttribute string          `mapstructure:"span_kind_attribute"`
	SpanKinds         SpanKindsConfig `mapstructure:"span_kinds"`
	// WorkflowSpanNames: agent spans with these names are workflow roots, not agent requests.
	WorkflowSpanNames []string          `mapstructure:"workflow_span_names"`
	Attributes        ProfileAttributes `mapstructure:"attributes"`
}

// TraceloopProfileConfig recognises spans by traceloop.span.kind, and model spans by
// llm.request.type.
type TraceloopProfileConfig struct {
	Enabled              bool              `mapstructure:"enabled"`
	SpanKindAttribute    string            `mapstructure:"span_kind_attribute"`
	SpanKinds            SpanKindsConfig   `mapstructure:"span_kinds"`
	RequestTypeAttribute string            `mapstructure:"request_type_attribute"`
	ModelRequestTypes    []string          `mapstructure:"model_request_types"`
	Attributes           ProfileAttributes `mapstructure:"attributes"`
}

// UnclassifiedConfig bounds the bookkeeping of spans no profile classifies.
type UnclassifiedConfig struct {
	// MaxServices bounds the services whose classified/unclassified counts are kept (for the
	// warning and the status page); spans of further services are only counted in telemetry.
	MaxServices int `mapstructure:"max_services"`
	// WarnInterval is the least time between two warnings about the same service.
	WarnInterval time.Duration `mapstructure:"warn_interval"`
}

func defaultProfiles() ProfilesConfig {
	return ProfilesConfig{
		GenAI: GenAIProfileConfig{
			Enabled: true,
			FallbackAttributes: ProfileAttributes{
				InputTokens:         []string{"gen_ai.usage.prompt_tokens"},
				OutputTokens:        []string{"gen_ai.usage.completion_tokens"},
				CacheReadTokens:     []string{"gen_ai.usage.cache_read_input_tokens"},
				CacheCreationTokens: []string{"gen_ai.usage.cache_creation_input_tokens"},
			},
		},
		OpenInference: OpenInferenceProfileConfig{
			Enabled:           true,
			SpanKindAttribute: "openinference.span.kind",
			SpanKinds: SpanKindsConfig{
				Agent: []string{"AGENT"},
				Tool:  []string{"TOOL"},
				Model: []string{"LLM", "EMBEDDING"},
			},
			WorkflowSpanNames: []string{"Agent workflow"},
			Attributes: ProfileAttributes{
				AgentName:           []string{"agent.name"},
				ToolName:            []string{"tool.name"},
				Model:               []string{"llm.model_name", "embedding.model_name"},
				InputTokens:         []string{"llm.token_count.prompt"},
				OutputTokens:        []string{"llm.token_count.completion"},
				CacheReadTokens:     []string{"llm.token_count.prompt_details.cache_read"},
				CacheCreationTokens: []string{"llm.token_count.prompt_details.cache_write"},
				ReasoningTokens:     []string{"llm.token_count.completion_details.reasoning"},
			},
		},
		Traceloop: TraceloopProfileConfig{
			Enabled:           true,
			SpanKindAttribute: "traceloop.span.kind",
			SpanKinds: SpanKindsConfig{
				Agent: []string{"agent"},
				Tool:  []string{"tool"},
			},
			RequestTypeAttribute: "llm.request.type",
			ModelRequestTypes:    []string{"chat", "completion"},
			Attributes: ProfileAttributes{
				AgentName:           []string{"traceloop.entity.name"},
				ToolName:            []string{"traceloop.entity.name"},
				Model:               []string{"gen_ai.request.model", "gen_ai.response.model"},
				InputTokens:         []string{"gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens"},
				OutputTokens:        []string{"gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.usage.completion_tokens"},
				CacheReadTokens:     []string{"gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens"},
				CacheCreationTokens: []string{"gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens"},
				ReasoningTokens:     []string{"gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens"},
			},
		},
	}
}

func (p *ProfilesConfig) validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	nonEmpty := func(path, v string) {
		if strings.TrimSpace(v) == "" {
			add("%s: must be a non-empty attribute name, got %q", path, v)
		}
	}
	list := func(path string, vals []string) {
		for i, v := range vals {
			if strings.TrimSpace(v) == "" {
				add("%s[%d]: must be non-empty, got %q", path, i, v)
			}
		}
	}
	attrs := func(path string, a ProfileAttributes) {
		list(path+".agent_name", a.AgentName)
		list(path+".tool_name", a.ToolName)
		list(path+".model", a.Model)
		list(path+".input_tokens", a.InputTokens)
		list(path+".output_tokens", a.OutputTokens)
		list(path+".cache_read_tokens", a.CacheReadTokens)
		list(path+".cache_creation_tokens", a.CacheCreationTokens)
		list(path+".reasoning_tokens", a.ReasoningTokens)
	}
	kinds := func(path string, k SpanKindsConfig) {
		seen := map[string]string{}
		for _, cls := range []struct {
			key  string
			vals []string
		}{{"agent", k.Agent}, {"tool", k.Tool}, {"model", k.Model}} {
			for i, v := range cls.vals {
				switch prev, dup := seen[v]; {
				case strings.TrimSpace(v) == "":
					add("%s.%s[%d]: must be non-empty, got %q", path, cls.key, i, v)
				case dup:
					add("%s.%s[%d]: %q is already listed under %s.%s", path, cls.key, i, v, path, prev)
				default:
					seen[v] = cls.key
				}
			}
		}
	}
	attrs("profiles.genai.fallback_attributes", p.GenAI.FallbackAttributes)

	oi := p.OpenInference
	nonEmpty("profiles.openinference.span_kind_attribute", oi.SpanKindAttribute)
	kinds("profiles.openinference.span_kinds", oi.SpanKinds)
	list("profiles.openinference.workflow_span_names", oi.WorkflowSpanNames)
	attrs("profiles.openinference.attributes", oi.Attributes)

	tl := p.Traceloop
	nonEmpty("profiles.traceloop.span_kind_attribute", tl.SpanKindAttribute)
	nonEmpty("profiles.traceloop.request_type_attribute", tl.RequestTypeAttribute)
	kinds("profiles.traceloop.span_kinds", tl.SpanKinds)
	list("profiles.traceloop.model_request_types", tl.ModelRequestTypes)
	attrs("profiles.traceloop.attributes", tl.Attributes)

	if !p.GenAI.Enabled && !oi.Enabled && !tl.Enabled {
		add("profiles: at least one profile must be enabled, got genai, openinference and traceloop all disabled")
	}
	return errs
}

func (u *UnclassifiedConfig) validate() []error {
	var errs []error
	if u.MaxServices < 1 {
		errs = append(errs, fmt.Errorf("unclassified.max_services: must be >= 1, got %d", u.MaxServices))
	}
	if u.WarnInterval <= 0 {
		errs = append(errs, fmt.Errorf("unclassified.warn_interval: must be > 0, got %s", u.WarnInterval))
	}
	return errs
}
