// Package spanmetrics is the end-to-end test of the amas_spanmetrics connector: the OpenTelemetry
// Go SDK sends realistic agent runs to the built otelcol-amas; the collector's /metrics and a real
// Prometheus scraping it must show every series of the AMAS metric contract with the right values,
// and an exemplar's trace id must lead to the trace in Jaeger.
package spanmetrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

const collectorConfig = `
extensions:
  health_check:
    endpoint: 127.0.0.1:%d
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
processors:
  batch:
connectors:
  amas_spanmetrics:
    metrics_flush_interval: 1s
exporters:
  prometheus:
    endpoint: 127.0.0.1:%d
    enable_open_metrics: true
  otlp_grpc/jaeger:
    endpoint: %s
    tls:
      insecure: true
service:
  extensions: [health_check]
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [amas_spanmetrics, otlp_grpc/jaeger]
    metrics:
      receivers: [amas_spanmetrics]
      exporters: [prometheus]
`

type run struct {
	agent, model, tool    string
	input, output         int
	toolFails, chatFails  bool
	chatDuration, runTime time.Duration
}

// agentRuns is the workload: planner (gpt-4o, tool "search", runs 2 and 5 fail in their tool and
// so fail as a whole) and researcher (gpt-4o-mini, tool "web_fetch", run 1's chat fails with a
// recorded exception). Model spans carry no agent name, as real instrumentations emit them.
func agentRuns() []run {
	var runs []run
	for i := range 6 {
		runs = append(runs, run{agent: "planner", model: "gpt-4o", tool: "search", input: 1000, output: 200,
			toolFails: i%3 == 2, chatDuration: 40 * time.Millisecond, runTime: 60 * time.Millisecond})
	}
	for i := range 3 {
		runs = append(runs, run{agent: "researcher", model: "gpt-4o-mini", tool: "web_fetch", input: 500, output: 100,
			chatFails: i == 1, chatDuration: 10 * time.Millisecond, runTime: 20 * time.Millisecond})
	}
	return runs
}

// emit records the runs with the SDK and sends every span in one OTLP export, so each run reaches
// the connector in one batch (the agent of a model span is found through its parent).
func emit(t *testing.T, endpoint string, runs []run) {
	t.Helper()
	ctx := context.Background()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "support-svc"))))
	tracer := tp.Tracer("agent-framework")
	base := time.Now().Add(-time.Minute) // every span (and exemplar) lies in the recent past
	for i, r := range runs {
		start := base.Add(time.Duration(i) * time.Second)
		rctx, root := tracer.Start(ctx, "invoke_agent "+r.agent, trace.WithTimestamp(start), trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.name", r.agent)))
		_, chat := tracer.Start(rctx, "chat "+r.model, trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(start), trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.request.model", r.model),
			attribute.Int("gen_ai.usage.input_tokens", r.input), attribute.Int("gen_ai.usage.output_tokens", r.output)))
		if r.chatFails {
			chat.RecordError(errors.New("rate limited"), trace.WithTimestamp(start))
			chat.SetStatus(codes.Error, "rate limited")
		}
		chat.End(trace.WithTimestamp(start.Add(r.chatDuration)))
		_, tool := tracer.Start(rctx, "execute_tool "+r.tool, trace.WithTimestamp(start.Add(r.chatDuration)), trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "execute_tool"), attribute.String("gen_ai.tool.name", r.tool)))
		if r.toolFails {
			tool.SetAttributes(attribute.String("error.type", "TimeoutError"))
			tool.SetStatus(codes.Error, "timeout")
			root.SetStatus(codes.Error, "tool failed")
		}
		tool.End(trace.WithTimestamp(start.Add(r.runTime - time.Millisecond)))
		root.End(trace.WithTimestamp(start.Add(r.runTime)))
	}
	_, q := tracer.Start(ctx, "dequeue", trace.WithTimestamp(base), trace.WithAttributes(
		attribute.Int("amas.queue.depth", 12), attribute.String("amas.queue.name", "tasks")))
	q.End(trace.WithTimestamp(base.Add(time.Millisecond)))

	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	require.NoError(t, exp.ExportSpans(ctx, rec.Ended()))
	require.NoError(t, exp.Shutdown(ctx))
	require.NoError(t, tp.Shutdown(ctx))
}

type series struct {
	name   string
	labels map[string]string
	want   float64
}

// contract lists every series of the metric contract with its value for agentRuns.
func contract() []series {
	l := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	return []series{
		{"amas_agent_requests_total", l("agent", "planner", "operation", "invoke_agent", "status", "ok"), 4},
		{"amas_agent_requests_total", l("agent", "planner", "operation", "invoke_agent", "status", "error"), 2},
		{"amas_agent_requests_total", l("agent", "planner", "operation", "chat", "status", "ok"), 6},
		{"amas_agent_requests_total", l("agent", "planner", "operation", "execute_tool", "status", "error"), 2},
		{"amas_agent_requests_total", l("agent", "researcher", "operation", "chat", "status", "error"), 1},
		{"amas_agent_requests_total", l("agent", "researcher", "operation", "chat", "status", "ok"), 2},
		{"amas_agent_errors_total", l("agent", "planner", "operation", "execute_tool", "error_type", "TimeoutError"), 2},
		{"amas_agent_errors_total", l("agent", "planner", "operation", "invoke_agent", "error_type", "_OTHER"), 2},
		{"amas_agent_errors_total", l("agent", "researcher", "operation", "chat", "error_type", "*errors.errorString"), 1},
		{"amas_agent_duration_seconds_count", l("agent", "planner", "operation", "invoke_agent", "status", "ok"), 4},
		{"amas_agent_duration_seconds_bucket", l("agent", "planner", "operation", "invoke_agent", "status", "ok", "le", "0.05"), 0},
		{"amas_agent_duration_seconds_bucket", l("agent", "planner", "operation", "invoke_agent", "status", "ok", "le", "0.1"), 4},
		{"amas_agent_duration_seconds_bucket", l("agent", "planner", "operation", "invoke_agent", "status", "ok", "le", "1.5"), 4},
		{"amas_agent_duration_seconds_sum", l("agent", "planner", "operation", "invoke_agent", "status", "ok"), 0.24},
		{"amas_tool_calls_total", l("agent", "planner", "tool", "search", "status", "ok"), 4},
		{"amas_tool_calls_total", l("agent", "planner", "tool", "search", "status", "error"), 2},
		{"amas_tool_calls_total", l("agent", "researcher", "tool", "web_fetch", "status", "ok"), 3},
		{"amas_tokens_used_total", l("agent", "planner", "model", "gpt-4o", "token_type", "input"), 6000},
		{"amas_tokens_used_total", l("agent", "planner", "model", "gpt-4o", "token_type", "output"), 1200},
		{"amas_tokens_used_total", l("agent", "researcher", "model", "gpt-4o-mini", "token_type", "input"), 1500},
		{"amas_tokens_used_total", l("agent", "researcher", "model", "gpt-4o-mini", "token_type", "output"), 300},
		// 6 × (1000 × 2.50 + 200 × 10.00) / 1e6 and 3 × (500 × 0.15 + 100 × 0.60) / 1e6 (default prices)
		{"amas_cost_usd_total", l("agent", "planner", "model", "gpt-4o"), 0.027},
		{"amas_cost_usd_total", l("agent", "researcher", "model", "gpt-4o-mini"), 0.000405},
		{"amas_active_agents_current", l(), 2},
		{"amas_queue_depth_current", l("queue", "tasks"), 12},
	}
}

func promQL(s series) string {
	sel := ""
	for k, v := range s.labels {
		if sel != "" {
			sel += ","
		}
		sel += fmt.Sprintf("%s=%q", k, v)
	}
	return s.name + "{" + sel + "}"
}

func TestAgentRunsBecomeContractMetricsInPrometheusWithExemplarsInJaeger(t *testing.T) {
	jaeger := harness.StartJaeger(t)
	health, otlp, metricsPort := harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)
	harness.StartCollector(t, fmt.Sprintf(collectorConfig, health, otlp, metricsPort, jaeger.OTLPGRPCEndpoint), health)
	prom := harness.StartPrometheus(t, harness.Addr(metricsPort))

	emit(t, harness.Addr(otlp), agentRuns())

	// The collector's own /metrics: every family of the contract under its exact name.
	harness.Eventually(t, 60*time.Second, 250*time.Millisecond, func() (bool, string) {
		fams, err := harness.ScrapeFamilies(harness.MetricsURL(metricsPort))
		if err != nil {
			return false, err.Error()
		}
		for _, s := range contract() {
			name := s.name
			if strings.HasPrefix(name, "amas_agent_duration_seconds") {
				name = "amas_agent_duration_seconds" // the histogram family of _bucket, _sum and _count
			}
			if _, ok := fams[name]; !ok {
				return false, "no family " + name + " on /metrics"
			}
		}
		v, ok := harness.SeriesValue(fams, "amas_agent_requests_total", map[string]string{"agent": "planner", "operation": "invoke_agent", "status": "ok"})
		if !ok || v != 4 {
			return false, fmt.Sprintf("planner invoke_agent ok = %v (found %v), want 4", v, ok)
		}
		return true, ""
	})

	// A real Prometheus: every series with its value.
	for _, s := range contract() {
		q := promQL(s)
		harness.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
			res, err := prom.TryQuery(q)
			if err != nil {
				return false, err.Error()
			}
			if len(res) != 1 {
				return false, fmt.Sprintf("%s: %d series", q, len(res))
			}
			if math.Abs(res[0].Value-s.want) > 1e-9*math.Max(1, s.want) {
				return false, fmt.Sprintf("%s = %v, want %v", q, res[0].Value, s.want)
			}
			return true, ""
		})
	}
	// The latency SLO reads the histogram: every planner run took 60 ms, in the (0.05, 0.1] bucket.
	p95 := prom.Query(t, `histogram_quantile(0.95, sum by (le) (amas_agent_duration_seconds_bucket{agent="planner",operation="invoke_agent"}))`)
	require.Len(t, p95, 1)
	assert.Greater(t, p95[0].Value, 0.05)
	assert.LessOrEqual(t, p95[0].Value, 0.1)

	// An exemplar of the duration histogram leads to its trace in Jaeger.
	var traceID string
	harness.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		exs, err := prom.QueryExemplars(`amas_agent_duration_seconds_bucket{agent="planner",operation="invoke_agent"}`, 10*time.Minute)
		if err != nil {
			return false, err.Error()
		}
		for _, e := range exs {
			if id := e.Labels["trace_id"]; id != "" {
				traceID = id
				return true, ""
			}
		}
		return false, fmt.Sprintf("no exemplar with a trace_id yet (%d exemplars)", len(exs))
	})
	harness.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		tr, err := jaeger.Trace(traceID)
		if err != nil {
			return false, err.Error()
		}
		for _, s := range tr.Spans {
			if s.OperationName == "invoke_agent planner" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("trace %s has no invoke_agent planner span (%d spans)", traceID, len(tr.Spans))
	})
	assert.Len(t, traceID, 32)
}

const restartConfig = `
extensions:
  health_check:
    endpoint: 127.0.0.1:%d
  file_storage:
    directory: %s
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
connectors:
  amas_spanmetrics:
    metrics_flush_interval: 500ms
    storage: file_storage
exporters:
  prometheus:
    endpoint: 127.0.0.1:%d
service:
  extensions: [health_check, file_storage]
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [amas_spanmetrics]
    metrics:
      receivers: [amas_spanmetrics]
      exporters: [prometheus]
`

// TestRestartWithFileStorageContinuesTheCounters restarts the collector: with file_storage the
// counters come back at their values before the restart (no reset, no spike), and new traffic
// adds to them.
func TestRestartWithFileStorageContinuesTheCounters(t *testing.T) {
	health, otlp, metricsPort := harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)
	cfg := harness.WriteConfig(t, "restart.yaml", fmt.Sprintf(restartConfig, health, t.TempDir(), otlp, metricsPort))
	planner := map[string]string{"agent": "planner", "operation": "invoke_agent", "status": "ok"}
	waitFor := func(want float64) {
		harness.Eventually(t, 60*time.Second, 250*time.Millisecond, func() (bool, string) {
			fams, err := harness.ScrapeFamilies(harness.MetricsURL(metricsPort))
			if err != nil {
				return false, err.Error()
			}
			v, ok := harness.SeriesValue(fams, "amas_agent_requests_total", planner)
			return ok && v == want, fmt.Sprintf("planner invoke_agent ok = %v (found %v), want %v", v, ok, want)
		})
	}

	first := harness.StartCollectorWithConfigFile(t, cfg, health)
	emit(t, harness.Addr(otlp), agentRuns())
	waitFor(4)
	first.Stop(t) // SIGTERM: the connector saves its checkpoint at shutdown

	harness.StartCollectorWithConfigFile(t, cfg, health)
	waitFor(4) // restored before any new span arrives
	emit(t, harness.Addr(otlp), agentRuns())
	waitFor(8)
}
