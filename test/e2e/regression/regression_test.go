// Package regression is the end-to-end test of the regression processor: the built otelcol-amas
// binary with `regression` in a traces and a metrics pipeline, fed by the OpenTelemetry Go SDK,
// scraped by a real Prometheus and exporting traces to a real Jaeger. A slow phase of the client
// must end with the PerformanceRegression alert series in Prometheus and a marked span in Jaeger,
// and a restart must keep the baseline through file_storage.
package regression

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

// Windows shrunk from minutes to seconds; the rules are the production ones.
const configTemplate = `
extensions:
  health_check:
    endpoint: %[1]s
  file_storage:
    directory: %[2]s
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %[3]s
processors:
  regression:
    evaluation_interval: 1s
    current_window: 5s
    baseline_window: 60s
    warm_up: 8s
    min_samples: 20
    min_tail_samples: 2
    fire_after: 2
    resolve_after: 30
    latency:
      quantiles: [0.95]
      relative_margin: 0.3
      absolute_margin: 20ms
    storage: file_storage
    checkpoint_interval: 1s
exporters:
  prometheus:
    endpoint: %[4]s
  otlp_grpc/jaeger:
    endpoint: %[5]s
    tls:
      insecure: true
service:
  extensions: [health_check, file_storage]
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [regression]
      exporters: [otlp_grpc/jaeger]
    metrics:
      receivers: [otlp]
      processors: [regression]
      exporters: [prometheus]
`

const (
	service   = "shop"
	agent     = "planner"
	operation = service + "/" + agent + "/invoke_agent"
)

// client sends agent spans with explicit timestamps, so a "slow" span costs no wall time.
type client struct {
	tracer trace.Tracer
	n      int
}

// send emits n invoke_agent spans of about d (±20%, deterministic) and returns their trace ids.
func (c *client) send(n int, d time.Duration) []string {
	ids := make([]string, 0, n)
	for range n {
		c.n++
		jitter := 0.8 + 0.4*float64(c.n%10)/10
		end := time.Now()
		start := end.Add(-time.Duration(float64(d) * jitter))
		_, span := c.tracer.Start(context.Background(), "invoke_agent",
			trace.WithTimestamp(start),
			trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				attribute.String("gen_ai.operation.name", "invoke_agent"),
				attribute.String("gen_ai.agent.name", agent),
			))
		ids = append(ids, span.SpanContext().TraceID().String())
		span.End(trace.WithTimestamp(end))
	}
	return ids
}

// value runs promql, which must select at most one series; ok is false when it selects none.
func value(p *harness.Prometheus, promql string) (v float64, ok bool, reason string) {
	s, err := p.TryQuery(promql)
	if err != nil {
		return 0, false, err.Error()
	}
	if len(s) != 1 {
		return 0, false, fmt.Sprintf("%s: %d samples", promql, len(s))
	}
	return s[0].Value, true, fmt.Sprintf("%s = %v", promql, s[0].Value)
}

func TestASlowPhaseRaisesTheRegressionAlertAndMarksSpansInJaeger(t *testing.T) {
	jaeger := harness.StartJaeger(t)
	health, otlp, prom := harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)
	cfg := fmt.Sprintf(configTemplate, harness.Addr(health), t.TempDir(), harness.Addr(otlp), harness.Addr(prom), jaeger.OTLPGRPCEndpoint)
	configPath := harness.WriteConfig(t, "regression.yaml", cfg)
	collector := harness.StartCollectorWithConfigFile(t, configPath, health)
	prometheus := harness.StartPrometheus(t, harness.Addr(prom))

	c := &client{tracer: harness.TracerProvider(t, harness.GRPC, harness.Addr(otlp), service).Tracer("regression-e2e")}
	sel := fmt.Sprintf(`{operation=%q,type="latency_regression"}`, operation)

	// Normal phase: ~100 spans/s of ~50 ms until the operation is past its warm-up and judged.
	harness.Eventually(t, 90*time.Second, 200*time.Millisecond, func() (bool, string) {
		c.send(20, 50*time.Millisecond)
		flag, judged, r1 := value(prometheus, "amas_performance_regression"+sel)
		_, hasBaseline, r2 := value(prometheus, `amas_performance_regression_baseline{operation="`+operation+`",type="latency_regression",quantile="0.95"}`)
		return judged && flag == 0 && hasBaseline, r1 + "; " + r2
	})
	alerts, err := prometheus.TryQuery(`amas_alerts{alertname="PerformanceRegression"}`)
	require.NoError(t, err)
	assert.Empty(t, alerts, "no regression alert during the normal phase")

	// Slow phase: the same operation at ~3x the latency.
	harness.Eventually(t, 60*time.Second, 200*time.Millisecond, func() (bool, string) {
		c.send(20, 150*time.Millisecond)
		v, ok, r := value(prometheus, `amas_alerts{alertname="PerformanceRegression",alertstate="firing",severity="warning",operation="`+operation+`",type="latency_regression"}`)
		return ok && v == 1, r
	})
	// Prometheus scrapes every second: the figures of the firing tick may be one scrape behind.
	harness.Eventually(t, 10*time.Second, 200*time.Millisecond, func() (bool, string) {
		flag, _, r := value(prometheus, "amas_performance_regression"+sel)
		return flag == 1, r
	})
	ratio, _, r := value(prometheus, "amas_performance_regression_ratio"+sel)
	assert.Greater(t, ratio, 1.3, r)
	base, _, r := value(prometheus, `amas_performance_regression_baseline{operation="`+operation+`",type="latency_regression",quantile="0.95"}`)
	assert.InDelta(t, 0.058, base, 0.01, "baseline p95 ≈ 50 ms × 1.16 (the client's largest jitter): %s", r)

	// A slow request sent now is marked, and Jaeger's API returns it with the marks.
	harness.Eventually(t, 30*time.Second, 300*time.Millisecond, func() (bool, string) {
		ids := c.send(3, 150*time.Millisecond)
		tr, err := jaeger.Trace(ids[0])
		if err != nil {
			return false, err.Error()
		}
		if len(tr.Spans) != 1 {
			return false, fmt.Sprintf("trace %s has %d spans", ids[0], len(tr.Spans))
		}
		sp := tr.Spans[0]
		detected, ok := sp.Tag("regression.detected")
		if !ok || detected != true {
			return false, fmt.Sprintf("span %s not marked: %v", sp.SpanID, sp.Tags)
		}
		typ, _ := sp.Tag("regression.type")
		baseMs, okBase := sp.Tag("regression.baseline_p95_ms")
		ratio, okRatio := sp.Tag("regression.latency_ratio")
		if typ != "latency_regression" || !okBase || !okRatio {
			return false, fmt.Sprintf("marks incomplete: %v", sp.Tags)
		}
		b, _ := baseMs.(float64)
		q, _ := ratio.(float64)
		return b > 30 && b < 100 && q > 1.3, fmt.Sprintf("baseline_p95_ms=%v latency_ratio=%v", baseMs, ratio)
	})

	// Restart: the checkpoint in file_storage brings the baseline and the alert back, with no
	// new traffic and no new warm-up.
	collector.Stop(t)
	restarted := harness.StartCollectorWithConfigFile(t, configPath, health)
	harness.Eventually(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		out := restarted.Output()
		return strings.Contains(out, "Restored regression baselines from the checkpoint"), "no restore line in the log yet"
	})
	harness.Eventually(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		fams, err := harness.ScrapeFamilies(harness.MetricsURL(prom))
		if err != nil {
			return false, err.Error()
		}
		v, ok := harness.SeriesValue(fams, "amas_alerts", map[string]string{"operation": operation, "type": "latency_regression", "alertstate": "firing"})
		return ok && v == 1, fmt.Sprintf("restored firing alert on /metrics: present=%v value=%v", ok, v)
	})
}
