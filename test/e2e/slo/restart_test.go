package slo

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

// fullPipeline is the pipeline of docs/architecture.md: slo in the traces and the metrics pipeline under one ID,
// the amas_spanmetrics connector feeding the metrics pipeline, state checkpointed in file_storage.
const fullPipeline = `
extensions:
  health_check:
    endpoint: 127.0.0.1:${HEALTH}
  file_storage:
    directory: ${STORAGE}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${OTLP}
processors:
  memory_limiter:
    check_interval: 1s
    limit_percentage: 80
    spike_limit_percentage: 20
  slo:
    evaluation_interval: 1s
    storage: file_storage
  batch:
    timeout: 200ms
connectors:
  amas_spanmetrics:
exporters:
  debug:
    verbosity: basic
  prometheus:
    endpoint: 127.0.0.1:${PROM}
service:
  extensions: [health_check, file_storage]
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, slo, batch]
      exporters: [debug, amas_spanmetrics]
    metrics:
      receivers: [otlp, amas_spanmetrics]
      processors: [memory_limiter, slo, batch]
      exporters: [prometheus]
`

func budgetOf(url string) (float64, string) {
	fams, err := harness.ScrapeFamilies(url)
	if err != nil {
		return math.NaN(), err.Error()
	}
	v, ok := harness.SeriesValue(fams, "amas_slo_error_budget_remaining_percent", map[string]string{"slo": "agent_availability"})
	if !ok {
		return math.NaN(), "no amas_slo_error_budget_remaining_percent{slo=agent_availability}"
	}
	return v, fmt.Sprintf("budget %v", v)
}

func TestRestartWithFileStorageKeepsTheBudget(t *testing.T) {
	health, otlp, prom := harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)
	cfg := strings.NewReplacer("${HEALTH}", fmt.Sprint(health), "${OTLP}", fmt.Sprint(otlp),
		"${PROM}", fmt.Sprint(prom), "${STORAGE}", t.TempDir()).Replace(fullPipeline)
	path := harness.WriteConfig(t, "config.yaml", cfg)
	url := harness.MetricsURL(prom)

	c := harness.StartCollectorWithConfigFile(t, path, health)
	tp := harness.TracerProvider(t, harness.GRPC, harness.Addr(otlp), "planner-agent")
	tracer := tp.Tracer("slo-e2e")
	sendAgentRuns(t, tracer, 399, false)
	sendAgentRuns(t, tracer, 1, true)
	// 1 failure in 400 agent runs at 99.5%: half the budget is spent.
	want := 100 * (1 - 1/(0.005*400))
	harness.Eventually(t, 60*time.Second, 250*time.Millisecond, func() (bool, string) {
		v, reason := budgetOf(url)
		return math.Abs(v-want) < 1e-9, fmt.Sprintf("want %v: %s", want, reason)
	})
	v, _ := budgetOf(url)
	c.Stop(t) // SIGTERM: the final checkpoint is written at shutdown

	harness.StartCollectorWithConfigFile(t, path, health)
	harness.Eventually(t, 60*time.Second, 250*time.Millisecond, func() (bool, string) {
		got, reason := budgetOf(url)
		return got == v, fmt.Sprintf("after restart, want %v: %s", v, reason)
	})
}
