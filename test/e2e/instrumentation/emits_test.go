package instrumentation

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// dumpSpans writes the spans a library sent to $AMAS_SPAN_DUMP_DIR/<name>.json when that
// variable is set (a developer's look at what each library really emits).
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

// captureScenario is a small run of every driver: two runs of one agent, the second with a
// failing tool, and a third run whose first model call gets HTTP 500.
func captureScenario(service, api string) scenario {
	return scenario{Service: service, API: api, Agents: []agentSpec{
		{Name: "planner", Model: "gpt-4o-mini", Tool: "lookup_order", Runs: 3, FailTool: []int{1}, FailChat: []int{2}},
	}}
}

func capture(t *testing.T, driver string, sc scenario) ([]capturedSpan, *mockOpenAI, []runResult) {
	t.Helper()
	sink := startOTLPSink(t)
	mock := startMockOpenAI(t)
	sc.OTLP, sc.OpenAI = sink.URL, mock.URL
	res := runDriver(t, driver, sc, 60*time.Second)
	require.Empty(t, mock.Unexpected(), "requests the mock server did not expect")
	return sink.Spans(), mock, res
}

func TestCaptureDump(t *testing.T) {
	for _, c := range []struct {
		name, driver, api string
		workflow          bool
	}{
		{"genai-instrumentation-openai", "genai", "chat", false},
		{"openai-agents-openinference-responses", "agents", "responses", false},
		{"openai-agents-openinference-chat", "agents", "chat", false},
		{"traceloop-agent", "traceloop", "chat", false},
		{"traceloop-workflow-agent", "traceloop", "chat", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			sc := captureScenario("svc-"+c.driver, c.api)
			sc.Workflow = c.workflow
			spans, mock, res := capture(t, c.driver, sc)
			t.Logf("results: %+v", res)
			t.Logf("tallies: %+v", mock.Tallies())
			dumpSpans(t, c.name, spans)
			require.NotEmpty(t, spans)
		})
	}
}
