package spanmetrics

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-amas/otelcol-amas/internal/safelabel"
	"github.com/otelcol-amas/otelcol-amas/internal/spanclass"
)

// TestGoldenUnclassifiedReasons checks the internal counter of the spans each profile case leaves
// out, by reason: every span of the input is either counted as a request or counted here.
func TestGoldenUnclassifiedReasons(t *testing.T) {
	tests := []struct {
		dir  string
		want map[string]int64
	}{
		// Agent workflow root; CHAIN; GUARDRAIL and RETRIEVER.
		{"profile_openinference", map[string]int64{"workflow": 1, "chain": 1, "other_span_kind": 2}},
		// The workflow span; the task span.
		{"profile_traceloop", map[string]int64{"workflow": 1, "chain": 1}},
		// create_agent is not a listed operation.
		{"profile_genai_legacy", map[string]int64{"unknown_operation": 1}},
		// The nine OpenInference spans of a disabled profile.
		{"profile_disabled", map[string]int64{"profile_disabled": 9}},
		// The queue-depth-only span carries no convention.
		{"safe_labels", map[string]int64{"no_operation": 1}},
		{"profile_precedence", map[string]int64{}},
		// Real library output: everything classifies but the Traceloop workflow roots (one per exported run).
		{"real_genai_instrumentation_openai", map[string]int64{}},
		{"real_openinference_responses", map[string]int64{}},
		{"real_openinference_chat", map[string]int64{}},
		{"real_traceloop_agent", map[string]int64{}},
		{"real_traceloop_workflow_agent", map[string]int64{"workflow": 2}},
		{"real_mixed_fleet", map[string]int64{"workflow": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			dir := filepath.Join("testdata", tt.dir)
			h := newTestConnector(t, loadCaseConfig(t, dir))
			td, err := golden.ReadTraces(filepath.Join(dir, "input.yaml"))
			require.NoError(t, err)
			require.NoError(t, h.c.ConsumeTraces(context.Background(), td))
			var total int64
			for _, reason := range unclassifiedReasonNames {
				got := h.internalCount(t, "otelcol_connector_amas_spanmetrics_spans_unclassified", "reason", reason)
				assert.Equal(t, tt.want[reason], got, reason)
				total += got
			}
			var classified uint64
			for _, s := range h.c.services {
				classified += s.classified
			}
			assert.Equal(t, int64(td.SpanCount()), total+int64(classified), "every span is classified or counted as unclassified")
		})
	}
}

func TestGoldenSafeLabelsAreCounted(t *testing.T) {
	dir := filepath.Join("testdata", "safe_labels")
	h := newTestConnector(t, loadCaseConfig(t, dir))
	td, err := golden.ReadTraces(filepath.Join(dir, "input.yaml"))
	require.NoError(t, err)
	require.NoError(t, h.c.ConsumeTraces(context.Background(), td))
	// Truncated: the 300-byte tool name. Replaced: the service name (once per resource), the agent
	// name (once per span of that agent: 3), the error type, the model, the queue name.
	assert.Equal(t, int64(1), h.internalCount(t, "otelcol_connector_amas_spanmetrics_labels_sanitized", "action", "truncated"))
	assert.Equal(t, int64(7), h.internalCount(t, "otelcol_connector_amas_spanmetrics_labels_sanitized", "action", "replaced"))
}

// TestSpanAgentName is the boundary the cross-batch attribution uses: what a span says about its
// own agent, before any ancestor walk.
func TestSpanAgentName(t *testing.T) {
	tests := []struct {
		name  string
		span  string
		attrs map[string]any
		want  string
	}{
		{"gen_ai.agent.name wins on any span", "x", map[string]any{"gen_ai.agent.name": "a", "openinference.span.kind": "AGENT", "agent.name": "b"}, "a"},
		{"an OpenInference agent span is named by agent.name", "span", map[string]any{"openinference.span.kind": "AGENT", "agent.name": "b"}, "b"},
		{"an OpenInference agent span without agent.name is named by its span name", "Triage", map[string]any{"openinference.span.kind": "AGENT"}, "Triage"},
		{"the OpenAI Agents SDK workflow root names no agent", "Agent workflow", map[string]any{"openinference.span.kind": "AGENT"}, ""},
		{"a Traceloop agent span is named by traceloop.entity.name", "planner.agent", map[string]any{"traceloop.span.kind": "agent", "traceloop.entity.name": "planner"}, "planner"},
		{"a Traceloop tool span names no agent", "search.tool", map[string]any{"traceloop.span.kind": "tool", "traceloop.entity.name": "search"}, ""},
		{"a Traceloop workflow span names no agent", "flow", map[string]any{"traceloop.span.kind": "workflow", "traceloop.entity.name": "flow"}, ""},
		{"a GenAI agent span without gen_ai.agent.name names no agent (its span name is not an identity)", "invoke_agent", map[string]any{"gen_ai.operation.name": "invoke_agent"}, ""},
		{"a model span names no agent", "chat", map[string]any{"openinference.span.kind": "LLM"}, ""},
	}
	h := newTestConnector(t, createDefaultConfig().(*Config))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			span := ptrace.NewSpan()
			span.SetName(tt.span)
			require.NoError(t, span.Attributes().FromRaw(tt.attrs))
			assert.Equal(t, tt.want, h.c.spanAgentName(span))
		})
	}
}

func TestClassificationCostsNoAllocation(t *testing.T) {
	h := newTestConnector(t, createDefaultConfig().(*Config))
	spans := []map[string]any{
		{"gen_ai.operation.name": "chat"},
		{"openinference.span.kind": "LLM"},
		{"openinference.span.kind": "CHAIN"},
		{"traceloop.span.kind": "agent", "traceloop.entity.name": "p"},
		{"llm.request.type": "chat"},
		{"http.route": "/x"},
	}
	for _, attrs := range spans {
		span := ptrace.NewSpan()
		require.NoError(t, span.Attributes().FromRaw(attrs))
		allocs := testing.AllocsPerRun(100, func() {
			_ = h.c.classifySpan(span, span.Attributes())
			_ = h.c.spanAgentName(span)
		})
		assert.Zero(t, allocs, "%v", attrs)
	}
}

// unclassifiedBatch is n spans of service that no profile classifies.
func unclassifiedBatch(service string, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i := range n {
		s := spans.AppendEmpty()
		s.SetName("work")
		s.SetStartTimestamp(fixtureStart)
		s.SetEndTimestamp(fixtureStart + 1000)
		s.Attributes().PutStr("llm.model", "gpt-4o")
		s.Attributes().PutInt("llm.tokens", int64(i))
		if i%2 == 0 {
			s.Attributes().PutStr("openinference.span.kind", "CHAIN")
		}
	}
	return td
}

func TestAServiceNoneOfWhoseSpansClassifyIsWarnedAboutOncePerInterval(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	h := newTestConnector(t, cfg)
	core, logs := observer.New(zap.WarnLevel)
	h.c.logger = zap.New(core)
	ctx := context.Background()

	require.NoError(t, h.c.ConsumeTraces(ctx, unclassifiedBatch("lost-svc", 40)))
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(5, 2, 0))) // agents-svc classifies
	h.c.flush(ctx)

	warns := logs.FilterMessageSnippet("none of which is classified").All()
	require.Len(t, warns, 1, "only the service none of whose spans classify")
	f := warns[0].ContextMap()
	assert.Equal(t, "lost-svc", f["service"])
	assert.Equal(t, uint64(40), f["spans"])
	assert.ElementsMatch(t, []any{"chain=20", "no_operation=20"}, f["reasons"])
	// Sampled keys: the most seen first (every sampled span carries llm.model and llm.tokens).
	keys := f["attribute_keys_seen"].([]any)
	assert.ElementsMatch(t, []any{"llm.model", "llm.tokens"}, keys[:2])
	assert.Contains(t, f["hint"], "workflow or chain spans")

	// Within the interval: no second warning, however many flushes.
	for range 5 {
		require.NoError(t, h.c.ConsumeTraces(ctx, unclassifiedBatch("lost-svc", 3)))
		h.clock.Advance(time.Minute)
		h.c.flush(ctx)
	}
	assert.Equal(t, 1, logs.FilterMessageSnippet("none of which is classified").Len())

	// After the interval: warned again, with the spans of the new window only.
	h.clock.Advance(cfg.Unclassified.WarnInterval)
	require.NoError(t, h.c.ConsumeTraces(ctx, unclassifiedBatch("lost-svc", 2)))
	h.c.flush(ctx)
	warns = logs.FilterMessageSnippet("none of which is classified").All()
	require.Len(t, warns, 2)
	assert.Equal(t, "lost-svc", warns[1].ContextMap()["service"])

	// Every unclassified span is counted by reason: even-indexed spans of each batch are CHAIN.
	assert.Equal(t, int64(20+5*2+1), h.internalCount(t, "otelcol_connector_amas_spanmetrics_spans_unclassified", "reason", "chain"))
	assert.Equal(t, int64(20+5*1+1), h.internalCount(t, "otelcol_connector_amas_spanmetrics_spans_unclassified", "reason", "no_operation"))
}

func TestAServiceWithSomeClassifiedSpansIsNotWarnedAbout(t *testing.T) {
	h := newTestConnector(t, createDefaultConfig().(*Config))
	core, logs := observer.New(zap.WarnLevel)
	h.c.logger = zap.New(core)
	ctx := context.Background()
	td := agentRuns(2, 1, 0) // service agents-svc
	unclassifiedBatch("agents-svc", 10).ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	require.NoError(t, h.c.ConsumeTraces(ctx, td))
	h.c.flush(ctx)
	assert.Zero(t, logs.FilterMessageSnippet("none of which is classified").Len())
}

func TestTheServiceBookkeepingIsBounded(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Unclassified.MaxServices = 2
	h := newTestConnector(t, cfg)
	ctx := context.Background()
	for _, s := range []string{"a", "b", "c", "d"} {
		require.NoError(t, h.c.ConsumeTraces(ctx, unclassifiedBatch(s, 1)))
	}
	assert.Len(t, h.c.services, 2)
	assert.Equal(t, int64(2), h.internalCount(t, "otelcol_connector_amas_spanmetrics_series_overflowed", "metric", "services"))
	assert.Equal(t, int64(4), h.internalCount(t, "otelcol_connector_amas_spanmetrics_spans_unclassified", "", ""),
		"spans of untracked services are still counted")
}

func TestTheClassificationShareIsPublishedWhileRunning(t *testing.T) {
	h := newTestConnector(t, createDefaultConfig().(*Config))
	ctx := context.Background()
	require.NoError(t, h.c.Start(ctx, hostWithExtensions{}))
	td := agentRuns(4, 2, 0)
	unclassifiedBatch("agents-svc", 3).ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	unclassifiedBatch("lost-svc", 5).ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	require.NoError(t, h.c.ConsumeTraces(ctx, td))

	src, ok := spanclass.Running.Lookup(h.c.id)
	require.True(t, ok)
	snap := src.ClassificationShare()
	assert.Equal(t, h.c.id.String(), snap.Component)
	assert.Equal(t, []spanclass.Service{
		{Name: "agents-svc", Classified: 12, Unclassified: 3},
		{Name: "lost-svc", Classified: 0, Unclassified: 5},
	}, snap.Services)

	require.NoError(t, h.c.Shutdown(ctx))
	_, ok = spanclass.Running.Lookup(h.c.id)
	assert.False(t, ok)
}

func TestAHugeAgentNameBecomesACappedLabel(t *testing.T) {
	h := newTestConnector(t, createDefaultConfig().(*Config))
	td := agentRuns(1, 1, 0)
	huge := strings.Repeat("A", 1<<20)
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutStr("gen_ai.agent.name", huge)
	require.NoError(t, h.c.ConsumeTraces(context.Background(), td))
	for _, sr := range h.c.requests.series {
		for _, l := range sr.labels {
			assert.LessOrEqual(t, len(l), safelabel.DefaultMax)
		}
	}
	_, ok := h.c.active[huge[:safelabel.DefaultMax-len(safelabel.Marker)]+safelabel.Marker]
	assert.True(t, ok, "the active agent is the capped name")
}

var _ component.Component = (*spanMetricsConnector)(nil)

// TestUnclassifiedSpansCostNoAllocationInSteadyState: counting, sampling keys (every 16th span)
// and the per-service bookkeeping allocate only when a service or a key is first seen.
func TestUnclassifiedSpansCostNoAllocationInSteadyState(t *testing.T) {
	h := newTestConnector(t, createDefaultConfig().(*Config))
	ctx := context.Background()
	td := unclassifiedBatch("lost-svc", 100)
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1).Attributes().PutStr("openinference.span.kind", "RETRIEVER")
	require.NoError(t, h.c.ConsumeTraces(ctx, td))
	allocs := testing.AllocsPerRun(20, func() {
		require.NoError(t, h.c.ConsumeTraces(ctx, td))
	})
	assert.Zero(t, allocs)
}

// FuzzClassifyAndCount feeds spans with arbitrary convention attributes (any of the three
// profiles, any values, hostile names): the connector never panics, every span is counted as
// classified or unclassified exactly once, and every label it makes is safe.
func FuzzClassifyAndCount(f *testing.F) {
	f.Add("invoke_agent", "", "", "", "writer", "", int64(10), "gpt-4o")
	f.Add("", "AGENT", "", "", "", "Agent workflow", int64(0), "")
	f.Add("", "LLM", "", "", "", "response", int64(-5), "gpt-4o-mini\r\n")
	f.Add("", "", "agent", "", "planner", "planner.agent", int64(3), "")
	f.Add("", "", "", "chat", "\x00", "openai.chat", int64(1<<40), "m")
	f.Add("create_agent", "CHAIN", "task", "rerank", strings.Repeat("é", 300), "x", int64(7), "")
	f.Fuzz(func(t *testing.T, op, oiKind, tlKind, reqType, name, spanName string, tokens int64, model string) {
		h := newTestConnector(t, createDefaultConfig().(*Config))
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", name)
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		for i := range 4 {
			s := spans.AppendEmpty()
			s.SetName(spanName)
			s.SetStartTimestamp(fixtureStart)
			s.SetEndTimestamp(fixtureStart + 1000)
			var sid pcommon.SpanID
			sid[7] = byte(i + 1)
			s.SetSpanID(sid)
			if i > 0 {
				var parent pcommon.SpanID
				parent[7] = byte(i)
				s.SetParentSpanID(parent)
			}
			a := s.Attributes()
			put := func(k, v string) {
				if v != "" {
					a.PutStr(k, v)
				}
			}
			// Each span carries a different subset, so the profiles meet and mix.
			if i != 1 {
				put("gen_ai.operation.name", op)
			}
			if i != 2 {
				put("openinference.span.kind", oiKind)
				put("agent.name", name)
				put("llm.model_name", model)
				a.PutInt("llm.token_count.prompt", tokens)
			}
			if i != 3 {
				put("traceloop.span.kind", tlKind)
				put("traceloop.entity.name", name)
			}
			put("llm.request.type", reqType)
			put("gen_ai.request.model", model)
			a.PutInt("gen_ai.usage.prompt_tokens", tokens)
			if i == 0 {
				put("gen_ai.agent.name", name)
			}
		}
		require.NoError(t, h.c.ConsumeTraces(context.Background(), td))

		var classified, unclassified uint64
		for _, s := range h.c.services {
			classified += s.classified
			unclassified += s.unclassified
		}
		require.Equal(t, uint64(4), classified+unclassified)
		require.Equal(t, int64(unclassified), h.internalCount(t, "otelcol_connector_amas_spanmetrics_spans_unclassified", "", ""))
		for _, st := range []*store{h.c.requests, h.c.errors, h.c.tools, h.c.usage} {
			for _, sr := range st.series {
				for _, l := range sr.labels {
					if out, res := safelabel.Sanitize(l, h.c.cfg.Limits.MaxLabelLength); res != 0 || out != l {
						t.Fatalf("unsafe label %q", l)
					}
				}
			}
		}
		h.c.flush(context.Background())
	})
}
