// Package slo is the end-to-end test of the slo processor: the built otelcol-amas binary with the
// slo processor in a traces and a metrics pipeline, agent spans from the OpenTelemetry Go SDK,
// and a real Prometheus scraping the collector.
package slo

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

const config = `
extensions:
  health_check:
    endpoint: 127.0.0.1:${HEALTH}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${OTLP}
processors:
  slo:
    evaluation_interval: 1s
exporters:
  debug:
    verbosity: basic
  prometheus:
    endpoint: 127.0.0.1:${PROM}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [slo]
      exporters: [debug]
    metrics:
      receivers: [otlp]
      processors: [slo]
      exporters: [prometheus]
`

// sendAgentRuns emits n invoke_agent spans (with a tool call each), failing when fail is set.
func sendAgentRuns(t *testing.T, tracer trace.Tracer, n int, fail bool) {
	t.Helper()
	for range n {
		ctx, run := tracer.Start(context.Background(), "invoke_agent planner", trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.name", "planner")))
		_, tool := tracer.Start(ctx, "execute_tool search", trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "execute_tool"), attribute.String("gen_ai.tool.name", "search")))
		tool.End()
		if fail {
			run.SetStatus(codes.Error, "model provider unavailable")
		}
		run.End()
	}
}

func value(t *testing.T, prom *harness.Prometheus, q string) (float64, string) {
	t.Helper()
	s, err := prom.TryQuery(q)
	if err != nil {
		return 0, err.Error()
	}
	if len(s) != 1 {
		return 0, fmt.Sprintf("%s: %d samples", q, len(s))
	}
	return s[0].Value, fmt.Sprintf("%s = %v", q, s[0].Value)
}

func TestFailureBurstDrainsTheBudgetAndPages(t *testing.T) {
	health, otlp, prom := harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)
	cfg := strings.NewReplacer("${HEALTH}", fmt.Sprint(health), "${OTLP}", fmt.Sprint(otlp), "${PROM}", fmt.Sprint(prom)).Replace(config)
	harness.StartCollector(t, cfg, health)
	p := harness.StartPrometheus(t, harness.Addr(prom))

	tp := harness.TracerProvider(t, harness.GRPC, harness.Addr(otlp), "planner-agent")
	tracer := tp.Tracer("slo-e2e")

	budget := `amas_slo_error_budget_remaining_percent{slo="agent_availability"}`
	page := `amas_alerts{alertname="SLOErrorBudgetBurn",alertstate="firing",severity="critical",slo="agent_availability",long_window="1m",short_window="1m"}`

	// Healthy traffic: the whole budget is left and nothing pages.
	sendAgentRuns(t, tracer, 200, false)
	harness.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		v, reason := value(t, p, `amas_slo_sli_ratio{slo="agent_availability",window="1m"}`)
		if v != 1 {
			return false, reason
		}
		b, reason := value(t, p, budget)
		return b == 100, reason
	})
	s, err := p.TryQuery(page)
	require.NoError(t, err)
	require.Empty(t, s, "healthy traffic does not page")

	// A total failure: every agent run fails.
	burst := time.Now()
	sendAgentRuns(t, tracer, 200, true)
	harness.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		b, reason := value(t, p, budget)
		return b < 0, "budget falls below zero: " + reason // 200 failures of 400 overspend a 0.5% budget
	})
	harness.Eventually(t, 2*time.Minute, 500*time.Millisecond, func() (bool, string) {
		v, reason := value(t, p, page)
		return v == 1, "the hard-down page fires: " + reason
	})
	t.Logf("page visible in Prometheus %s after the burst started", time.Since(burst).Round(time.Second))
	require.LessOrEqual(t, time.Since(burst), 2*time.Minute)

	// Once all of the burst is counted, its 200 failures are at least half of the last 5
	// minutes' runs: a burn of 100 or more at 99.5%, twice the 50× of the hard-down page's 25%.
	// The page may fire while the tail of the burst is still in flight (its 1m ratio crosses 25%
	// first), so the figures are polled until the last scrape holds the whole burst.
	harness.Eventually(t, 30*time.Second, 500*time.Millisecond, func() (bool, string) {
		burn, reason := value(t, p, `amas_slo_error_budget_burn_rate{slo="agent_availability",window="5m"}`)
		if burn < 99.9 {
			return false, reason
		}
		v, reason := value(t, p, `amas_slo_violations_total{slo="agent_availability",severity="critical"}`)
		if v < 1 {
			return false, reason
		}
		v, reason = value(t, p, `amas_slo_compliance{slo="agent_availability"}`)
		return v == 0, reason
	})
}
