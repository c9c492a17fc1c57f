package instrumentation

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dumpSpans writes the spans a library sent to $AMAS_SPAN_DUMP_DIR/<name>.json when that
// variable is set: a developer's look at what each library really emits (README.md).
func dumpSpans(t *testing.T, name string, spans []capturedSpan) {
	t.Helper()
	dir := os.Getenv("AMAS_SPAN_DUMP_DIR")
	if dir == "" {
		return
	}
	b, err := json.MarshalIndent(spans, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".json"), b, 0o644))
}

// captureScenario: three runs of one agent; run 1's tool throws (the model is told and answers,
// the run succeeds), run 2's first model call gets HTTP 500 (the run fails).
func captureScenario(service string) scenario {
	return scenario{Service: service, Agents: []agentSpec{
		{Name: "planner", Model: "gpt-4o-mini", Tool: "lookup_order", Runs: 3, FailTool: []int{1}, FailChat: []int{2}},
	}}
}

// TestLibrariesEmitWhatTheREADMESays runs each driver against the mock server into a recording
// OTLP sink (no collector) and checks the facts the metric expectations rest on: how many agent,
// tool and model spans each library exports (failed calls included or not), and whether its model
// spans carry cached and reasoning token counts.
func TestLibrariesEmitWhatTheREADMESays(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		dump     string
		lib      library
		api      string
		workflow bool
	}{
		{"genai-instrumentation-openai", genAI, "chat", false},
		{"openai-agents-openinference-responses", openInference, "responses", false},
		{"openai-agents-openinference-chat", openInference, "chat", false},
		{"traceloop-agent", openLLMetry, "chat", false},
		{"traceloop-workflow-agent", openLLMetry, "chat", true},
	} {
		t.Run(c.dump, func(t *testing.T) {
			sink, mock := startOTLPSink(t), startMockOpenAI(t)
			sc := captureScenario("svc-" + c.lib.driver)
			sc.OTLP, sc.OpenAI, sc.API, sc.Workflow = sink.URL, mock.URL, c.api, c.workflow
			res := runDriver(t, c.lib.driver, sc, time.Minute)
			require.Empty(t, mock.Unexpected(), "requests the mock server did not expect")
			spans := sink.Spans()
			dumpSpans(t, c.dump, spans)

			okRuns := 0
			for _, r := range res {
				if r.OK {
					okRuns++
				}
			}
			require.Equal(t, 2, okRuns, "runs 0 and 1 succeed, run 2 fails: %+v", res)
			tl := mock.Tallies()[agentModel{Agent: "planner", Model: "gpt-4o-mini"}]
			require.Equal(t, tally{ToolCalls: 2, Answers: 2, Failures: 1, Usage: usage{
				Input: 2 * (toolCallUsage.Input + answerUsage.Input), Output: 2 * (toolCallUsage.Output + answerUsage.Output),
				Cached: 2 * (toolCallUsage.Cached + answerUsage.Cached), Reasoning: 2 * (toolCallUsage.Reasoning + answerUsage.Reasoning),
			}}, tl, "what the mock server answered")

			count := map[string]int{}
			errored := map[string]int{}
			for _, s := range spans {
				k := c.lib.kindOf(s)
				count[k]++
				if s.Status == "Error" {
					errored[k]++
				}
				if k != modelSpan {
					continue
				}
				assert.Equal(t, c.lib.reportsCacheRead, hasKeyWith(s, "cache"), "%s: cached tokens on a model span", s.Name)
				assert.Equal(t, c.lib.reportsReasoning, hasKeyWith(s, "reasoning"), "%s: reasoning tokens on a model span", s.Name)
			}
			assert.Equal(t, 2+b2i(c.lib.exportsFailedAgent), count[agentSpan], "agent spans (one per run, the failed run's if exported)")
			assert.Equal(t, b2i(c.lib.exportsFailedAgent), errored[agentSpan], "agent spans with status Error")
			assert.Equal(t, 1+b2i(c.lib.exportsFailedTool), count[toolSpan], "tool spans (two tool calls, one throws)")
			assert.Equal(t, b2i(c.lib.exportsFailedTool), errored[toolSpan], "tool spans with status Error")
			assert.Equal(t, 4+b2i(c.lib.exportsFailedModelCall), count[modelSpan], "model spans (four answered calls and one HTTP 500)")
			assert.Equal(t, b2i(c.lib.exportsFailedModelCall), errored[modelSpan], "model spans with status Error")
			if c.workflow {
				assert.Equal(t, 2, countAttr(spans, "traceloop.span.kind", "workflow"), "one workflow span per successful run")
			}
		})
	}
}

func hasKeyWith(s capturedSpan, part string) bool {
	for k := range s.Attributes {
		if strings.Contains(k, part) {
			return true
		}
	}
	return false
}

func countAttr(spans []capturedSpan, key, value string) int {
	n := 0
	for _, s := range spans {
		if s.Attributes[key] == value {
			n++
		}
	}
	return n
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
