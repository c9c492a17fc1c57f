package instrumentation

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

// The scenarios' agents: names are unique across libraries, so one collector can take all three
// and every expected series still belongs to exactly one library.
func genAIScenario() scenario {
	return scenario{Service: "support-genai", Agents: []agentSpec{
		{Name: "triage", Model: "gpt-4o", Tool: "search_kb", Runs: 4, FailTool: []int{1}, FailChat: []int{3}},
		{Name: "billing", Model: "gpt-4o-mini", Tool: "refund", Runs: 3, FailChat: []int{0}},
	}}
}

func openInferenceScenario() scenario {
	return scenario{Service: "research-agents-sdk", Agents: []agentSpec{
		{Name: "researcher", Model: "gpt-4o", Tool: "web_search", Runs: 3, FailTool: []int{2}},
		{Name: "editor", Model: "gpt-4o-mini", Tool: "style_check", Runs: 3, FailChat: []int{1}},
	}}
}

func openLLMetryScenario() scenario {
	return scenario{Service: "ops-traceloop", Agents: []agentSpec{
		{Name: "scheduler", Model: "gpt-4o-mini", Tool: "calendar", Runs: 4, FailTool: []int{0}, FailChat: []int{2}},
		{Name: "notifier", Model: "gpt-4o", Tool: "send_email", Runs: 2},
	}}
}

// longScenario makes every run last about 20 s (a 10 s tool, 9 s before the last model call)
// with the SDK's default BatchSpanProcessor (5 s schedule): a run's model and tool spans are
// exported in earlier requests than its agent span. All runs go at once.
func longScenario(service string, agents ...agentSpec) scenario {
	return scenario{Service: service, Agents: agents, DefaultBatch: true, ConcurrentRuns: true, ToolMs: 10000, ThinkMs: 9000}
}

type job struct {
	lib library
	sc  scenario
}

// runJobs starts the default configuration, runs every job's driver at once through a recording
// OTLP proxy into it, hands the recorded spans of each job to check (when not nil), and waits
// until /metrics shows exactly what the clients sent.
func runJobs(t *testing.T, driverTimeout time.Duration, check func([][]capturedSpan), jobs ...job) {
	t.Helper()
	ports := harness.NewDefaultConfigPorts(t)
	harness.StartDefaultCollector(t, ports)
	collectorOTLP := "http://" + harness.Addr(ports.OTLPHTTP) + "/v1/traces"

	want := newExpectation()
	spans := make([][]capturedSpan, len(jobs))
	errs := make([]error, len(jobs))
	mocks := make([]*mockOpenAI, len(jobs))
	proxies := make([]*otlpSink, len(jobs))
	scs := make([]scenario, len(jobs))
	results := make([][]runResult, len(jobs))
	dir := nodeDir(t)
	var wg sync.WaitGroup
	for i, j := range jobs {
		mocks[i], proxies[i] = startMockOpenAI(t), startOTLPProxy(t, collectorOTLP)
		scs[i] = j.sc
		scs[i].OTLP, scs[i].OpenAI, scs[i].API = proxies[i].URL, mocks[i].URL, j.lib.api
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = execDriver(dir, j.lib.driver, scs[i], driverTimeout)
		}()
	}
	wg.Wait()
	for i, j := range jobs {
		require.NoError(t, errs[i], j.lib.name)
		requireRunsAsPlanned(t, j.lib.name, scs[i], results[i])
		require.Empty(t, mocks[i].Unexpected(), "%s: requests the mock server did not expect", j.lib.name)
		want.expect(j.lib, scs[i], mocks[i].Tallies())
		spans[i] = proxies[i].Spans()
	}
	if check != nil {
		check(spans)
	}

	exact := func() (bool, string) {
		fams, err := harness.ScrapeFamilies(harness.MetricsURL(ports.Prometheus))
		if err != nil {
			return false, err.Error()
		}
		if problems := want.compare(fams); len(problems) > 0 {
			return false, "\n  " + strings.Join(problems, "\n  ")
		}
		return true, ""
	}
	// The default flush interval is 15 s; a minute covers it with room for a slow machine. Then
	// the counts must stay exact through the next flush: a contribution counted late (or twice)
	// would show there.
	harness.Eventually(t, 60*time.Second, 500*time.Millisecond, exact)
	holds(t, 16*time.Second, time.Second, exact)
}

// holds checks cond every interval for d and fails the test the first time it does not hold.
func holds(t *testing.T, d, interval time.Duration, cond func() (bool, string)) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(interval) {
		if ok, reason := cond(); !ok {
			t.Fatalf("no longer exact after it was: %s", reason)
		}
	}
}

// requireRunsAsPlanned: the driver ran every run, and exactly the runs whose model call was to
// fail failed (a failing tool does not fail its run), as the expectations assume.
func requireRunsAsPlanned(t *testing.T, lib string, sc scenario, res []runResult) {
	t.Helper()
	require.Len(t, res, totalRuns(sc), "%s: runs reported by the driver", lib)
	for _, r := range res {
		var spec agentSpec
		for _, a := range sc.Agents {
			if a.Name == r.Agent {
				spec = a
			}
		}
		require.Equal(t, !contains(spec.FailChat, r.Run), r.OK, "%s: agent %s run %d: %s", lib, r.Agent, r.Run, r.Error)
	}
}

func totalRuns(sc scenario) int {
	n := 0
	for _, a := range sc.Agents {
		n += a.Runs
	}
	return n
}

func TestGenAIConventionsAreCountedPerAgent(t *testing.T) {
	t.Parallel()
	runJobs(t, time.Minute, nil, job{genAI, genAIScenario()})
}

func TestOpenAIAgentsSDKWithOpenInferenceIsCountedPerAgent(t *testing.T) {
	t.Parallel()
	runJobs(t, time.Minute, nil, job{openInference, openInferenceScenario()})
}

func TestOpenLLMetryIsCountedPerAgent(t *testing.T) {
	t.Parallel()
	runJobs(t, time.Minute, nil, job{openLLMetry, openLLMetryScenario()})
}

func TestAFleetMixingAllThreeLibrariesIsCountedByOneCollector(t *testing.T) {
	t.Parallel()
	workflow := openLLMetryScenario()
	workflow.Workflow = true // an OpenLLMetry workflow root above the agent must not count twice
	chat := openInference
	chat.api = "chat" // the Agents SDK on chat completions: OpenInference's other LLM span shape
	runJobs(t, time.Minute, nil,
		job{genAI, genAIScenario()}, job{chat, openInferenceScenario()}, job{openLLMetry, workflow})
}

func TestTwentySecondRunsExportedAcrossBatchesAreChargedToTheirAgents(t *testing.T) {
	t.Parallel()
	jobs := []job{
		{genAI, longScenario("long-genai",
			agentSpec{Name: "long-triage", Model: "gpt-4o", Tool: "search_kb", Runs: 2, FailTool: []int{1}},
			agentSpec{Name: "long-billing", Model: "gpt-4o-mini", Tool: "refund", Runs: 1})},
		{openInference, longScenario("long-agents-sdk",
			agentSpec{Name: "long-researcher", Model: "gpt-4o", Tool: "web_search", Runs: 2},
			agentSpec{Name: "long-editor", Model: "gpt-4o-mini", Tool: "style_check", Runs: 1, FailTool: []int{0}})},
		{openLLMetry, longScenario("long-traceloop",
			agentSpec{Name: "long-scheduler", Model: "gpt-4o-mini", Tool: "calendar", Runs: 2})},
	}
	// The scenario is what it claims: in every trace, a span below the agent span arrived in an
	// earlier export than the agent span itself.
	runJobs(t, 90*time.Second, func(spans [][]capturedSpan) {
		for i, js := range spans {
			byTrace := map[string][]capturedSpan{}
			for _, s := range js {
				byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
			}
			require.Len(t, byTrace, totalRuns(jobs[i].sc), "%s: one trace per run", jobs[i].lib.name)
			for id, ss := range byTrace {
				rootExport, firstChild := 0, 1<<30
				for _, s := range ss {
					if s.ParentSpanID == "" {
						rootExport = s.Export
					} else {
						firstChild = min(firstChild, s.Export)
					}
				}
				require.Greater(t, rootExport, firstChild, "%s: trace %s: the agent span must arrive after some of its children", jobs[i].lib.name, id)
			}
		}
	}, jobs...)
}
