// Package slorender is the end-to-end test of what `amas-slo render` generates
// (config/observability): the built collector runs the default configuration under agent
// traffic from the OpenTelemetry Go SDK, a real Prometheus scrapes it with the generated rules
// loaded, and every query of every generated Grafana panel (and of every template variable) must
// return data, as must the recording rules of every SLO.
package slorender

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelcol-amas/otelcol-amas/cmd/amas-slo/slorender"
	"github.com/otelcol-amas/otelcol-amas/internal/harness"
	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
)

// agentRun is one agent run as an instrumented agent sends it: invoke_agent → chat (token usage
// of a priced model) → execute_tool; every fail-th run's tool and agent spans fail.
func agentRun(tracer trace.Tracer, agent string, fail bool) {
	ctx, run := tracer.Start(context.Background(), "invoke_agent "+agent, trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "invoke_agent"),
		attribute.String("gen_ai.agent.name", agent),
		attribute.Int("amas.queue.depth", 3),
		attribute.String("amas.queue.name", "tasks"),
	))
	_, chat := tracer.Start(ctx, "chat gpt-4o", trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "chat"),
		attribute.String("gen_ai.request.model", "gpt-4o"),
		attribute.Int("gen_ai.usage.input_tokens", 1200),
		attribute.Int("gen_ai.usage.output_tokens", 300),
	))
	chat.End()
	_, tool := tracer.Start(ctx, "execute_tool search", trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "execute_tool"),
		attribute.String("gen_ai.tool.name", "search"),
	))
	if fail {
		tool.SetStatus(codes.Error, "search backend unavailable")
		tool.SetAttributes(attribute.String("error.type", "timeout"))
		run.SetStatus(codes.Error, "tool failed")
		run.SetAttributes(attribute.String("error.type", "tool_error"))
	}
	tool.End()
	run.End()
}

// target is one query of a generated panel.
type target struct {
	board, panel, expr string
	exemplar           bool
}

// panelTargets walks the generated dashboards and returns every target's query.
func panelTargets(t *testing.T, path string) ([]target, []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var boards []map[string]any
	require.NoError(t, json.Unmarshal(data, &boards))
	require.Len(t, boards, 4, "overview, agents, tokens and cost, regressions")
	var out []target
	var vars []string
	for _, b := range boards {
		title, _ := b["title"].(string)
		var walk func(v any, panel string)
		walk = func(v any, panel string) {
			switch x := v.(type) {
			case map[string]any:
				if p, ok := x["title"].(string); ok && x["type"] != nil {
					panel = p
				}
				if ts, ok := x["targets"].([]any); ok {
					for _, tt := range ts {
						m, _ := tt.(map[string]any)
						expr, _ := m["expr"].(string)
						ex, _ := m["exemplar"].(bool)
						out = append(out, target{board: title, panel: panel, expr: expr, exemplar: ex})
					}
				}
				for k, c := range x {
					if k != "targets" {
						walk(c, panel)
					}
				}
			case []any:
				for _, c := range x {
					walk(c, panel)
				}
			}
		}
		walk(b["panels"], "")
		if tm, ok := b["templating"].(map[string]any); ok {
			list, _ := tm["list"].([]any)
			for _, v := range list {
				m, _ := v.(map[string]any)
				if q, ok := m["query"].(string); ok && m["type"] == "query" {
					vars = append(vars, q)
				}
			}
		}
	}
	return out, vars
}

// substitute replaces Grafana's variables with what Grafana would send for a 5-minute view with
// every agent and SLO selected.
func substitute(expr string) string {
	return strings.NewReplacer(
		"$__rate_interval", "1m",
		"$__interval", "15s",
		"$__range", "5m",
		"$agent", ".*",
		"$slo", ".*",
	).Replace(expr)
}

var labelValues = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

func TestEveryGeneratedPanelQueryReturnsDataUnderTraffic(t *testing.T) {
	root := harness.RepoRoot(t)
	obs := filepath.Join(root, "config", "observability")
	targets, vars := panelTargets(t, filepath.Join(obs, slorender.FileDashboards))
	require.NotEmpty(t, targets)

	ports := harness.NewDefaultConfigPorts(t)
	harness.StartDefaultCollector(t, ports)
	prom := harness.StartPrometheusWith(t, harness.PrometheusOptions{
		Targets:   []string{harness.Addr(ports.Prometheus)},
		RuleFiles: []string{filepath.Join(obs, slorender.FileRules)},
	})

	// Two agents run continuously until the test ends, 40 runs a second between them; one run in
	// ten fails. A budget alert waits until the SLO window holds 10/(1 − objective) runs: 2000
	// for agent_availability, reached after 50 s.
	tp := harness.TracerProvider(t, harness.GRPC, harness.Addr(ports.OTLPGRPC), "agents-e2e")
	tracer := tp.Tracer("slorender-e2e")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			agent := "planner"
			if i%2 == 1 {
				agent = "writer"
			}
			agentRun(tracer, agent, i%10 == 3)
		}
	}()
	t.Cleanup(func() { close(stop); wg.Wait() })

	var queries []string
	for _, tg := range targets {
		queries = append(queries, tg.expr)
	}
	for _, v := range vars {
		m := labelValues.FindStringSubmatch(v)
		require.NotNil(t, m, "template variable query %q is label_values(metric, label)", v)
		queries = append(queries, fmt.Sprintf("count by (%s) (%s)", m[2], m[1]))
	}
	// The recording rules of every SLO, over its shortest window and the budget: this proves
	// their metric and label names (le of the histogram included) match what the exporter writes.
	data, err := os.ReadFile(harness.DefaultConfigPath(t))
	require.NoError(t, err)
	col, err := slorender.Load(data)
	require.NoError(t, err)
	for _, s := range col.SLOs {
		queries = append(queries,
			fmt.Sprintf(`amas_slo:burn_rate:ratio{slo=%q,window=%q}`, s.Config.Name, slomath.FormatWindow(s.Windows[0])),
			fmt.Sprintf(`amas_slo:error_budget_remaining:ratio{slo=%q}`, s.Config.Name))
	}

	// Every query must return a series; the reason lists those that do not yet.
	harness.Eventually(t, 4*time.Minute, 2*time.Second, func() (bool, string) {
		var empty []string
		for _, q := range queries {
			s, err := prom.TryQuery(substitute(q))
			if err != nil {
				return false, err.Error() // a query Prometheus rejects fails the same way every time
			}
			if len(s) == 0 {
				empty = append(empty, q)
			}
		}
		sort.Strings(empty)
		return len(empty) == 0, fmt.Sprintf("%d of %d queries return no data yet:\n  %s", len(empty), len(queries), strings.Join(empty, "\n  "))
	})

	t.Logf("%d queries return data: %d panel targets, %d template variables, %d recording rules", len(queries), len(targets), len(vars), 2*len(col.SLOs))
	for _, tg := range targets {
		assert.NotContains(t, substitute(tg.expr), "$__", "%s / %s: a Grafana variable the test does not know", tg.board, tg.panel)
	}

	// Exemplar queries link to traces: Prometheus returns exemplars with a trace_id for them.
	n := 0
	for _, tg := range targets {
		if !tg.exemplar {
			continue
		}
		n++
		harness.Eventually(t, time.Minute, 2*time.Second, func() (bool, string) {
			ex, err := prom.QueryExemplars(substitute(tg.expr), 10*time.Minute)
			if err != nil {
				return false, err.Error()
			}
			for _, e := range ex {
				if len(e.Labels["trace_id"]) == 32 {
					return true, ""
				}
			}
			return false, fmt.Sprintf("%s / %s: %d exemplars, none with a trace_id", tg.board, tg.panel, len(ex))
		})
	}
	assert.Positive(t, n, "the latency panels ask for exemplars")

	// The SLO overview agrees with the processor: the SLO computed from the connector's counters
	// (agent_availability, 10% of runs failing) has overspent its 0.5% budget in Prometheus too.
	s := prom.Query(t, `amas_slo:error_budget_remaining:ratio{slo="agent_availability"}`)
	require.Len(t, s, 1)
	assert.Less(t, s[0].Value, 0.0, "10%% failures overspend a 0.5%% budget")

	// The same alert, with the same labels, from the processor (amas_alerts) and from the
	// generated rules (ALERTS), for both SLOs the failing runs overspend: the critical threshold,
	// a ticket by default.
	for _, slo := range []string{"agent_availability", "tool_call_success_rate"} {
		labels := fmt.Sprintf(`alertname="SLOErrorBudgetLow",alertstate="firing",severity="warning",threshold="critical",slo=%q`, slo)
		harness.Eventually(t, 2*time.Minute, 2*time.Second, func() (bool, string) {
			proc, err1 := prom.TryQuery("amas_alerts{" + labels + "} == 1")
			rules, err2 := prom.TryQuery("ALERTS{" + labels + "}")
			if err1 != nil || err2 != nil {
				return false, fmt.Sprint(err1, err2)
			}
			return len(proc) == 1 && len(rules) == 1, fmt.Sprintf("%s: processor %d series, rules %d series", slo, len(proc), len(rules))
		})
	}
}
