package instrumentation

import (
	"math"
	"sort"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// library is one instrumentation library as a driver uses it, with what it cannot report. Each
// fact is checked against the spans the library really sends (TestLibrariesEmitWhatTheREADMESays),
// so a library upgrade that changes one fails there first, not as a miscount here.
type library struct {
	name   string
	driver string // node/<driver>.js
	api    string // OpenAI API the driver calls: chat or responses
	// Token details in the spans: cached input tokens and reasoning tokens.
	reportsCacheRead, reportsReasoning bool
	// Which spans reach the collector when the call inside them fails (HTTP 500 for a model
	// call, an exception for a tool or an agent run).
	exportsFailedModelCall, exportsFailedTool, exportsFailedAgent bool
	// kindOf tells the library's agent, tool and model spans apart ("" for any other span).
	kindOf func(capturedSpan) string
}

// Span kinds as kindOf names them.
const (
	agentSpan = "agent"
	toolSpan  = "tool"
	modelSpan = "model"
)

func byGenAIOperation(s capturedSpan) string {
	switch s.Attributes["gen_ai.operation.name"] {
	case "invoke_agent":
		return agentSpan
	case "execute_tool":
		return toolSpan
	case "chat":
		return modelSpan
	}
	return ""
}

func byOpenInferenceKind(s capturedSpan) string {
	switch s.Attributes["openinference.span.kind"] {
	case "AGENT":
		return agentSpan
	case "TOOL":
		return toolSpan
	case "LLM":
		return modelSpan
	}
	return ""
}

func byTraceloopKind(s capturedSpan) string {
	switch s.Attributes["traceloop.span.kind"] {
	case "agent":
		return agentSpan
	case "tool":
		return toolSpan
	}
	if s.Attributes["gen_ai.operation.name"] == "chat" {
		return modelSpan
	}
	return ""
}

var (
	// @opentelemetry/instrumentation-openai + hand-written invoke_agent/execute_tool spans.
	genAI = library{name: "GenAI conventions", driver: "genai", api: "chat",
		exportsFailedModelCall: true, exportsFailedTool: true, exportsFailedAgent: true,
		kindOf: byGenAIOperation}
	// @openai/agents + @arizeai/openinference-instrumentation-openai, agent and tool spans from
	// @arizeai/openinference-core's traceAgent/traceTool.
	openInference = library{name: "OpenAI Agents SDK + OpenInference", driver: "agents", api: "responses",
		reportsCacheRead: true, reportsReasoning: true, exportsFailedTool: true, exportsFailedAgent: true,
		kindOf: byOpenInferenceKind}
	// @traceloop/node-server-sdk withAgent/withTool around openai chat completions.
	openLLMetry = library{name: "OpenLLMetry (Traceloop)", driver: "traceloop", api: "chat", kindOf: byTraceloopKind}
)

// price is a model's entry in the connector's default price table, USD per million tokens.
type price struct{ input, output, cachedInput float64 }

// defaultPrices are the entries of the default price table (connector/spanmetrics README) for the
// models these tests use.
var defaultPrices = map[string]price{
	"gpt-4o":      {2.50, 10.00, 1.25},
	"gpt-4o-mini": {0.15, 0.60, 0.075},
}

// modelOps is the pseudo-operation under which expectations hold the model calls of an agent:
// every amas_agent_requests_total series of the agent whose operation is neither an agent's nor a
// tool's (each library names model operations its own way).
const modelOps = "<model operations>"

// expectation is the exact value of every series a scenario must produce, keyed by metric name
// and sorted labels, and the agents that may appear at all.
type expectation struct {
	values map[string]float64
	agents map[string]bool
}

func newExpectation() *expectation {
	return &expectation{values: map[string]float64{}, agents: map[string]bool{}}
}

func seriesKey(name string, kv ...string) string {
	pairs := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, kv[i]+"="+strconv.Quote(kv[i+1]))
	}
	sort.Strings(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

func (e *expectation) add(v float64, name string, kv ...string) {
	e.values[seriesKey(name, kv...)] += v
}

// expect adds what lib reports for sc, computed from the scenario (which runs fail, where) and
// from what the mock server answered each agent (tool calls, answers, usage): never from the
// collector's output. A run whose first model call fails never reaches its tool.
func (e *expectation) expect(lib library, sc scenario, tallies map[agentModel]tally) {
	for _, a := range sc.Agents {
		e.agents[a.Name] = true
		failedRuns, failedTools := 0, 0
		for i := range a.Runs {
			switch {
			case contains(a.FailChat, i):
				failedRuns++
			case contains(a.FailTool, i):
				failedTools++
			}
		}
		t := tallies[agentModel{Agent: a.Name, Model: a.Model}]
		e.add(float64(a.Runs-failedRuns), "amas_agent_requests_total", "agent", a.Name, "operation", "invoke_agent", "status", "ok")
		if lib.exportsFailedAgent {
			e.add(float64(failedRuns), "amas_agent_requests_total", "agent", a.Name, "operation", "invoke_agent", "status", "error")
		}
		e.add(float64(t.ToolCalls+t.Answers), "amas_agent_requests_total", "agent", a.Name, "operation", modelOps, "status", "ok")
		if lib.exportsFailedModelCall {
			e.add(float64(t.Failures), "amas_agent_requests_total", "agent", a.Name, "operation", modelOps, "status", "error")
		}
		e.add(float64(t.ToolCalls-failedTools), "amas_tool_calls_total", "agent", a.Name, "tool", a.Tool, "status", "ok")
		if lib.exportsFailedTool {
			e.add(float64(failedTools), "amas_tool_calls_total", "agent", a.Name, "tool", a.Tool, "status", "error")
		}
		// Every exported span with status Error is one error of its agent (summed over
		// operations and error types, which each library fills its own way).
		errs := 0
		if lib.exportsFailedAgent {
			errs += failedRuns
		}
		if lib.exportsFailedModelCall {
			errs += t.Failures
		}
		if lib.exportsFailedTool {
			errs += failedTools
		}
		e.add(float64(errs), "amas_agent_errors_total", "agent", a.Name)
		e.add(float64(t.Usage.Input), "amas_tokens_used_total", "agent", a.Name, "model", a.Model, "token_type", "input")
		e.add(float64(t.Usage.Output), "amas_tokens_used_total", "agent", a.Name, "model", a.Model, "token_type", "output")
		cached := 0
		if lib.reportsCacheRead {
			cached = t.Usage.Cached
			e.add(float64(cached), "amas_tokens_used_total", "agent", a.Name, "model", a.Model, "token_type", "cache_read")
		}
		if lib.reportsReasoning {
			e.add(float64(t.Usage.Reasoning), "amas_tokens_used_total", "agent", a.Name, "model", a.Model, "token_type", "reasoning")
		}
		// The connector's rule: input includes cache reads; without them every input token is
		// priced as uncached (the overstatement the README documents per library).
		p := defaultPrices[a.Model]
		cost := (float64(t.Usage.Input-cached)*p.input + float64(cached)*p.cachedInput + float64(t.Usage.Output)*p.output) / 1e6
		e.add(cost, "amas_cost_usd_total", "agent", a.Name, "model", a.Model)
	}
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// checkedFamilies are the families whose agents must all be expected ones: a span charged to a
// service name (or a phantom agent) shows up here as an extra agent.
var checkedFamilies = []string{"amas_agent_requests_total", "amas_agent_errors_total", "amas_tool_calls_total", "amas_tokens_used_total", "amas_cost_usd_total"}

// compare reads the collector's families and lists every difference from e: a missing or wrong
// series, and any agent that should not be there. Model operations are summed per agent and
// status. A zero expectation holds when the series is absent or 0.
func (e *expectation) compare(fams map[string]*dto.MetricFamily) []string {
	got := map[string]float64{}
	var problems []string
	for _, name := range checkedFamilies {
		f := fams[name]
		if f == nil {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			v := m.GetCounter().GetValue()
			if m.Untyped != nil {
				v = m.GetUntyped().GetValue()
			}
			agent := labels["agent"]
			if !e.agents[agent] {
				problems = append(problems, "unexpected agent "+strconv.Quote(agent)+" in "+name+" "+labelString(labels)+" = "+strconv.FormatFloat(v, 'g', -1, 64))
				continue
			}
			switch name {
			case "amas_agent_requests_total":
				op := labels["operation"]
				if op != "invoke_agent" && op != "execute_tool" {
					op = modelOps
				}
				got[seriesKey(name, "agent", agent, "operation", op, "status", labels["status"])] += v
			case "amas_agent_errors_total":
				got[seriesKey(name, "agent", agent)] += v
			case "amas_tool_calls_total":
				got[seriesKey(name, "agent", agent, "tool", labels["tool"], "status", labels["status"])] += v
			case "amas_tokens_used_total":
				got[seriesKey(name, "agent", agent, "model", labels["model"], "token_type", labels["token_type"])] += v
			case "amas_cost_usd_total":
				got[seriesKey(name, "agent", agent, "model", labels["model"])] += v
			}
		}
	}
	keys := make([]string, 0, len(e.values))
	for k := range e.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		want, have := e.values[k], got[k]
		if !near(want, have) {
			problems = append(problems, k+": want "+strconv.FormatFloat(want, 'g', -1, 64)+", got "+strconv.FormatFloat(have, 'g', -1, 64))
		}
	}
	// Series nobody expected (a token type or tool the library never reported, say).
	extra := make([]string, 0)
	for k, v := range got {
		if _, ok := e.values[k]; !ok && v != 0 && !strings.Contains(k, `operation="execute_tool"`) {
			extra = append(extra, "unexpected series "+k+" = "+strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	sort.Strings(extra)
	problems = append(problems, extra...)
	// Every agent ran within the active window (5 m by default), and nothing else is an agent.
	active, _ := activeAgents(fams)
	if active != float64(len(e.agents)) {
		problems = append(problems, "amas_active_agents_current: want "+strconv.Itoa(len(e.agents))+", got "+strconv.FormatFloat(active, 'g', -1, 64))
	}
	return problems
}

func activeAgents(fams map[string]*dto.MetricFamily) (float64, bool) {
	f := fams["amas_active_agents_current"]
	if f == nil || len(f.GetMetric()) == 0 {
		return 0, false
	}
	return f.GetMetric()[0].GetGauge().GetValue(), true
}

func near(want, got float64) bool {
	return math.Abs(want-got) <= 1e-9*math.Max(1, math.Abs(want))
}

func labelString(labels map[string]string) string {
	kv := make([]string, 0, 2*len(labels))
	for k, v := range labels {
		kv = append(kv, k, v)
	}
	return seriesKey("", kv...)
}
