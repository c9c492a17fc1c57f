// Package foundation holds the first end-to-end tests: the built otelcol-amas binary with its
// default configuration, fed by the OpenTelemetry Go SDK over OTLP gRPC and HTTP, scraped by a
// real Prometheus, and sending traces to a real Jaeger.
package foundation

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

// sendSpans emits n root spans named name from service over proto and returns their trace ids.
func sendSpans(t *testing.T, proto harness.Protocol, endpoint, service, name string, n int) []string {
	t.Helper()
	tp := harness.TracerProvider(t, proto, endpoint, service)
	tracer := tp.Tracer("foundation-test")
	ids := make([]string, 0, n)
	for range n {
		_, span := tracer.Start(context.Background(), name, trace.WithSpanKind(trace.SpanKindServer))
		ids = append(ids, span.SpanContext().TraceID().String())
		span.End()
	}
	require.NoError(t, tp.Shutdown(context.Background()))
	return ids
}

// callsOf is contrib span_metrics' call counter for one service and span name, as the
// collector's Prometheus endpoint shows it.
func callsOf(t *testing.T, metricsURL, service, span string) (float64, string) {
	fams, err := harness.ScrapeFamilies(metricsURL)
	if err != nil {
		return 0, err.Error()
	}
	v, ok := harness.SeriesValue(fams, "traces_span_metrics_calls_total", map[string]string{"service_name": service, "span_name": span})
	if !ok {
		return 0, "no traces_span_metrics_calls_total series for " + service + "/" + span
	}
	return v, fmt.Sprintf("%s/%s calls = %v", service, span, v)
}

func TestSpansOverGRPCAndHTTPBecomeSpanMetricsWithTheRightCallCounts(t *testing.T) {
	ports := harness.NewDefaultConfigPorts(t)
	harness.StartConfigFilesOnPorts(t, ports, harness.ConfigPath(t, "peer-spanmetrics.yaml"))

	sendSpans(t, harness.GRPC, harness.Addr(ports.OTLPGRPC), "agent-grpc", "handle", 7)
	sendSpans(t, harness.HTTP, harness.Addr(ports.OTLPHTTP), "agent-http", "handle", 5)

	metricsURL := harness.MetricsURL(ports.Prometheus)
	for service, want := range map[string]float64{"agent-grpc": 7, "agent-http": 5} {
		harness.Eventually(t, 60*time.Second, 250*time.Millisecond, func() (bool, string) {
			got, reason := callsOf(t, metricsURL, service, "handle")
			return got == want, fmt.Sprintf("want %v: %s", want, reason)
		})
	}
}

func TestSpansReachARealJaegerAndComeBackFromItsAPI(t *testing.T) {
	jaeger := harness.StartJaeger(t)
	ports := harness.NewDefaultConfigPorts(t)
	ports.Env = append(ports.Env, "AMAS_JAEGER_ENDPOINT="+jaeger.OTLPGRPCEndpoint)
	harness.StartDefaultCollector(t, ports, harness.OverlayPath(t, "jaeger.yaml"))

	ids := sendSpans(t, harness.GRPC, harness.Addr(ports.OTLPGRPC), "agent-jaeger", "plan", 4)

	for _, id := range ids {
		harness.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
			tr, err := jaeger.Trace(id)
			if err != nil {
				return false, err.Error()
			}
			if len(tr.Spans) != 1 || tr.Spans[0].OperationName != "plan" {
				return false, fmt.Sprintf("trace %s has %d spans", id, len(tr.Spans))
			}
			return true, ""
		})
	}
	traces, err := jaeger.Traces("agent-jaeger", 100)
	require.NoError(t, err)
	assert.Len(t, traces, len(ids), "every trace sent is searchable by service, and no other")
}

func TestARealPrometheusScrapesTheCollectorAndPromQLReturnsTheCount(t *testing.T) {
	ports := harness.NewDefaultConfigPorts(t)
	harness.StartDefaultCollector(t, ports)
	prom := harness.StartPrometheus(t, harness.Addr(ports.Prometheus))

	tp := harness.TracerProvider(t, harness.GRPC, harness.Addr(ports.OTLPGRPC), "agent-service")
	for range 11 {
		_, span := tp.Tracer("foundation-test").Start(context.Background(), "invoke_agent planner",
			trace.WithAttributes(attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.name", "planner")))
		span.End()
	}

	// The default configuration counts agent requests with amas_spanmetrics.
	query := `sum(amas_agent_requests_total{agent="planner",operation="invoke_agent"})`
	harness.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		samples, err := prom.TryQuery(query)
		if err != nil {
			return false, err.Error()
		}
		if len(samples) != 1 {
			return false, fmt.Sprintf("%d samples", len(samples))
		}
		return samples[0].Value == 11, fmt.Sprintf("value %v, want 11", samples[0].Value)
	})
}

func TestComponentsListsEveryComponentTheDistributionShips(t *testing.T) {
	code, out := harness.RunCollector(t, "components")
	require.Equal(t, 0, code, out)
	want := map[string][]string{
		"receivers":  {"otlp"},
		"processors": {"batch", "memory_limiter", "filter", "transform", "attributes", "tail_sampling"},
		"connectors": {"span_metrics"},
		"exporters":  {"otlp_grpc", "otlp_http", "debug", "prometheus", "load_balancing", "file"},
		"extensions": {"health_check", "pprof", "zpages", "file_storage", "bearertokenauth"},
	}
	listed := componentsByKind(out)
	for kind, names := range want {
		for _, name := range names {
			assert.Contains(t, listed[kind], name, "%s %q is missing from `otelcol-amas components`", kind, name)
		}
	}
}

// componentsByKind reads the YAML that `components` prints: sections per kind, each with a list
// of "- name: <type>" entries.
func componentsByKind(out string) map[string][]string {
	listed := map[string][]string{}
	kind := ""
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, " ") && strings.HasSuffix(line, ":") {
			kind = strings.TrimSuffix(line, ":")
			continue
		}
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "- name: "); ok && kind != "" {
			listed[kind] = append(listed[kind], name)
		}
	}
	return listed
}

func TestAnInvalidConfigExitsNonZeroNamingTheBadKey(t *testing.T) {
	cfg := harness.WriteConfig(t, "bad.yaml", `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
processors:
  batch:
    send_batch_sizee: 10
exporters:
  debug:
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
`)
	code, out := harness.RunCollector(t, "--config", cfg)
	assert.NotEqual(t, 0, code, "an invalid config must not start the collector")
	assert.Contains(t, out, "send_batch_sizee", "the error names the bad key")
}

func TestValidateAcceptsTheDefaultConfiguration(t *testing.T) {
	code, out := harness.RunCollector(t, "validate", "--config", harness.DefaultConfigPath(t))
	assert.Equal(t, 0, code, out)
}
