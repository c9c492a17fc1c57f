package spanmetrics // import "github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// An instrumentation profile is one convention for recognising the agent, tool and model spans of
// an instrumentation library. Every span is classified by the first profile, in this order, that
// recognises it (see README, "Instrumentation profiles"):
//
//  1. OpenTelemetry GenAI: a gen_ai.operation.name listed in `operations` (an explicit operation
//     is the most specific statement a span can make);
//  2. OpenInference: openinference.span.kind;
//  3. OpenLLMetry/Traceloop: traceloop.span.kind, else llm.request.type on model spans.
//
// Detection costs one attribute lookup for a GenAI span and at most four for any other span; no
// allocation.

type profileID uint8

const (
	profileGenAI profileID = iota
	profileOpenInference
	profileTraceloop
	numProfiles
)

var profileNames = [numProfiles]string{"genai", "openinference", "traceloop"}

// unclassifiedReason says why a span was not counted as a request.
type unclassifiedReason uint8

const (
	reasonNoOperation      unclassifiedReason = iota // no attribute of any enabled profile (nor a request rule)
	reasonUnknownOperation                           // gen_ai.operation.name not listed in operations
	reasonWorkflow                                   // a workflow root (OpenInference "Agent workflow", Traceloop workflow)
	reasonChain                                      // OpenInference CHAIN, Traceloop task: glue between steps
	reasonOtherSpanKind                              // RETRIEVER, RERANKER, GUARDRAIL, EVALUATOR, unknown kinds
	reasonProfileDisabled                            // carries the attribute of a disabled profile
	numUnclassifiedReasons
)

var unclassifiedReasonNames = [numUnclassifiedReasons]string{
	"no_operation", "unknown_operation", "workflow", "chain", "other_span_kind", "profile_disabled",
}

// Operation labels of the spans classified by the OpenInference and Traceloop profiles: the GenAI
// names, so one SLO or dashboard filter (operation="invoke_agent") serves every library.
const (
	opInvokeAgent    = "invoke_agent"
	opExecuteTool    = "execute_tool"
	opChat           = "chat"
	opTextCompletion = "text_completion"
	opEmbeddings     = "embeddings"

	oiKindChain     = "CHAIN"
	oiKindEmbedding = "EMBEDDING"
	tlKindWorkflow  = "workflow"
	tlKindTask      = "task"
	tlTypeComplete  = "completion"
)

// spanInfo is the classification of one span.
type spanInfo struct {
	class     spanClass
	profile   profileID
	operation string
	reason    unclassifiedReason // when class is classNone
}

// profileAttrs are the attribute names one profile reads from a classified span; in each list the
// first attribute present wins.
type profileAttrs struct {
	agent  []string
	tool   []string
	model  []string
	tokens [numTokenTypes][]string
	// nameFallback: an agent or tool span without its name attribute is named by its span name.
	nameFallback bool
}

// profiles is the resolved, read-only profile configuration.
type profiles struct {
	genai                         bool
	oi, tl                        bool
	oiKindAttr                    string
	oiAgent, oiTool, oiModel      []string
	oiWorkflowNames               []string
	tlKindAttr, tlRequestTypeAttr string
	tlAgent, tlTool, tlModel      []string
	tlModelTypes                  []string
	attrs                         [numProfiles]profileAttrs
}

func newProfiles(cfg *Config) profiles {
	p := cfg.Profiles
	g := p.GenAI.FallbackAttributes
	a := cfg.Attributes
	join := func(first string, rest []string) []string { return append([]string{first}, rest...) }
	r := profiles{
		genai:             p.GenAI.Enabled,
		oi:                p.OpenInference.Enabled,
		tl:                p.Traceloop.Enabled,
		oiKindAttr:        p.OpenInference.SpanKindAttribute,
		oiAgent:           p.OpenInference.SpanKinds.Agent,
		oiTool:            p.OpenInference.SpanKinds.Tool,
		oiModel:           p.OpenInference.SpanKinds.Model,
		oiWorkflowNames:   p.OpenInference.WorkflowSpanNames,
		tlKindAttr:        p.Traceloop.SpanKindAttribute,
		tlRequestTypeAttr: p.Traceloop.RequestTypeAttribute,
		tlAgent:           p.Traceloop.SpanKinds.Agent,
		tlTool:            p.Traceloop.SpanKinds.Tool,
		tlModel:           p.Traceloop.SpanKinds.Model,
		tlModelTypes:      p.Traceloop.ModelRequestTypes,
	}
	r.attrs[profileGenAI] = profileAttrs{
		agent: g.AgentName,
		tool:  join(a.ToolName, g.ToolName),
		model: append([]string{a.RequestModel, a.ResponseModel}, g.Model...),
		tokens: [numTokenTypes][]string{
			join(a.InputTokens, g.InputTokens), join(a.OutputTokens, g.OutputTokens),
			join(a.CacheReadTokens, g.CacheReadTokens), join(a.CacheCreationTokens, g.CacheCreationTokens),
			join(a.ReasoningTokens, g.ReasoningTokens),
		},
	}
	r.attrs[profileOpenInference] = p.OpenInference.Attributes.resolve(true)
	r.attrs[profileTraceloop] = p.Traceloop.Attributes.resolve(true)
	return r
}

func (pa ProfileAttributes) resolve(nameFallback bool) profileAttrs {
	return profileAttrs{
		agent: pa.AgentName, tool: pa.ToolName, model: pa.Model,
		tokens: [numTokenTypes][]string{
			pa.InputTokens, pa.OutputTokens, pa.CacheReadTokens, pa.CacheCreationTokens, pa.ReasoningTokens,
		},
		nameFallback: nameFallback,
	}
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// classifySpan applies the profiles in precedence order.
func (c *spanMetricsConnector) classifySpan(span ptrace.Span, attrs pcommon.Map) spanInfo {
	p := &c.profiles
	reason := reasonNoOperation
	if op := strAttr(attrs, c.cfg.Attributes.OperationName); op != "" {
		if !p.genai {
			reason = reasonProfileDisabled
		} else if cl := classify(op, c.agentOps, c.toolOps, c.modelOps); cl != classNone {
			return spanInfo{class: cl, profile: profileGenAI, operation: op}
		} else {
			reason = reasonUnknownOperation
		}
	}
	if kind := strAttr(attrs, p.oiKindAttr); kind != "" {
		if !p.oi {
			reason = reasonProfileDisabled
		} else {
			switch {
			case contains(p.oiAgent, kind):
				// The OpenAI Agents SDK wraps every run in a root AGENT span named after the trace
				// ("Agent workflow") around the per-agent AGENT spans: it is the workflow, not a
				// request of an agent (and always ends OK, whatever the agents did).
				if contains(p.oiWorkflowNames, span.Name()) {
					return spanInfo{reason: reasonWorkflow}
				}
				return spanInfo{class: classAgent, profile: profileOpenInference, operation: opInvokeAgent}
			case contains(p.oiTool, kind):
				return spanInfo{class: classTool, profile: profileOpenInference, operation: opExecuteTool}
			case contains(p.oiModel, kind):
				op := opChat
				if kind == oiKindEmbedding {
					op = opEmbeddings
				}
				return spanInfo{class: classModel, profile: profileOpenInference, operation: op}
			case kind == oiKindChain:
				reason = reasonChain
			default:
				reason = reasonOtherSpanKind
			}
		}
	}
	if kind := strAttr(attrs, p.tlKindAttr); kind != "" {
		if !p.tl {
			return spanInfo{reason: reasonProfileDisabled}
		}
		switch {
		case contains(p.tlAgent, kind):
			return spanInfo{class: classAgent, profile: profileTraceloop, operation: opInvokeAgent}
		case contains(p.tlTool, kind):
			return spanInfo{class: classTool, profile: profileTraceloop, operation: opExecuteTool}
		case contains(p.tlModel, kind):
			return spanInfo{class: classModel, profile: profileTraceloop, operation: opChat}
		case kind == tlKindWorkflow:
			return spanInfo{reason: reasonWorkflow}
		case kind == tlKindTask:
			return spanInfo{reason: reasonChain}
		default:
			return spanInfo{reason: reasonOtherSpanKind}
		}
	}
	if rt := strAttr(attrs, p.tlRequestTypeAttr); rt != "" {
		if !p.tl {
			return spanInfo{reason: reasonProfileDisabled}
		}
		if contains(p.tlModelTypes, rt) {
			op := opChat
			if rt == tlTypeComplete {
				op = opTextCompletion
			}
			return spanInfo{class: classModel, profile: profileTraceloop, operation: op}
		}
		if reason == reasonNoOperation {
			reason = reasonOtherSpanKind
		}
	}
	return spanInfo{reason: reason}
}

// spanAgentName is the agent identity a span states about itself, "" when it states none:
// gen_ai.agent.name (attributes.agent_name) on any span; else, on an agent span of a profile, the
// profile's agent name attributes, else (OpenInference, Traceloop) the span name. It is the one
// place that says which attributes name an agent, used for the span itself and for each ancestor;
// the walk to an ancestor (in the batch or across batches) and the fallback to service.name are
// the caller's. A few attribute lookups, no allocation.
func (c *spanMetricsConnector) spanAgentName(span ptrace.Span) string {
	attrs := span.Attributes()
	if a := strAttr(attrs, c.cfg.Attributes.AgentName); a != "" {
		return a
	}
	return c.ownAgentName(span, attrs, c.classifySpan(span, attrs))
}

// ownAgentName is spanAgentName for a span already classified.
func (c *spanMetricsConnector) ownAgentName(span ptrace.Span, attrs pcommon.Map, info spanInfo) string {
	if a := strAttr(attrs, c.cfg.Attributes.AgentName); a != "" {
		return a
	}
	if info.class != classAgent {
		return ""
	}
	return c.profileAgentName(span, attrs, info.profile)
}

// profileAgentName names an agent span of the given profile that has no gen_ai.agent.name.
func (c *spanMetricsConnector) profileAgentName(span ptrace.Span, attrs pcommon.Map, p profileID) string {
	pa := &c.profiles.attrs[p]
	if a := firstStrAttr(attrs, pa.agent); a != "" {
		return a
	}
	if pa.nameFallback {
		return span.Name()
	}
	return ""
}

// toolName is the tool of a tool span: the profile's tool attributes, else (OpenInference,
// Traceloop) the span name, else "unknown".
func (c *spanMetricsConnector) toolName(span ptrace.Span, attrs pcommon.Map, p profileID) string {
	pa := &c.profiles.attrs[p]
	if t := firstStrAttr(attrs, pa.tool); t != "" {
		return t
	}
	if pa.nameFallback && span.Name() != "" {
		return span.Name()
	}
	return unknownValue
}

// firstStrAttr is the first non-empty string attribute of names.
func firstStrAttr(m pcommon.Map, names []string) string {
	for _, n := range names {
		if s := strAttr(m, n); s != "" {
			return s
		}
	}
	return ""
}

// modelNames is the model label (the first model attribute present) and an alternative for the
// price lookup (the next one present, e.g. the response model when the request model is unpriced).
func modelNames(attrs pcommon.Map, names []string) (model, alt string) {
	for _, n := range names {
		s := strAttr(attrs, n)
		if s == "" {
			continue
		}
		if model == "" {
			model = s
		} else if s != model {
			return model, s
		}
	}
	return model, ""
}
