// Package hardening runs attacks from outside (a forged alert page posted to OTLP/HTTP) against
// the built binary with the default configuration (config/otelcol-amas.yaml), and checks that
// they fail while the real thing still works.
package hardening

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

// hook is config/overlays/webhook.yaml's receiver (AMAS_ALERT_WEBHOOK_URL): it records
// every alert it is sent.
type hook struct {
	url  string
	mu   sync.Mutex
	msgs []hookMsg
}

type hookMsg struct {
	Status string `json:"status"`
	Alerts []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

func startHook(t *testing.T) *hook {
	h := &hook{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m hookMsg
		if err := json.Unmarshal(b, &m); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.msgs = append(h.msgs, m)
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL + "/alerts"
	return h
}

// alerts lists "alertname/slo/status/forged" of every alert received.
func (h *hook) alerts() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, m := range h.msgs {
		for _, a := range m.Alerts {
			out = append(out, a.Labels["alertname"]+"/"+a.Labels["slo"]+"/"+a.Status+"/"+a.Labels["forged"])
		}
	}
	return out
}

// forgedAlert is the attack: a firing page for agent_availability posted by anyone who
// reaches OTLP/HTTP, with a header-injection attempt in a label and a forged budget figure.
func forgedAlert(value int64) []byte {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	now := pcommon.NewTimestampFromTime(time.Now())
	m := sm.Metrics().AppendEmpty()
	m.SetName("amas_alerts")
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(now)
	dp.SetStartTimestamp(now)
	dp.SetIntValue(value)
	for k, v := range map[string]string{"alertname": "SLOErrorBudgetBurn", "alertstate": "firing", "severity": "critical",
		"slo": "agent_availability", "operation": "x\r\nBcc: evil@example.com", "forged": "yes"} {
		dp.Attributes().PutStr(k, v)
	}
	b := sm.Metrics().AppendEmpty()
	b.SetName("amas_slo_error_budget_remaining_percent")
	bdp := b.SetEmptyGauge().DataPoints().AppendEmpty()
	bdp.SetTimestamp(now)
	bdp.SetDoubleValue(0)
	bdp.Attributes().PutStr("slo", "agent_availability")
	body, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalJSON()
	if err != nil {
		panic(err)
	}
	return body
}

func postOTLP(t *testing.T, port int, body []byte) {
	t.Helper()
	resp, err := http.Post("http://"+harness.Addr(port)+"/v1/metrics", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the receiver accepts the request: the gate is the emitter, not the receiver")
}

// counter sums a family of the collector's internal telemetry whose name starts with prefix.
func counter(port int, prefix string) (float64, string) {
	fams, err := harness.ScrapeFamilies(harness.MetricsURL(port))
	if err != nil {
		return 0, err.Error()
	}
	var sum float64
	var names []string
	for name, fam := range fams {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		names = append(names, name)
		for _, m := range fam.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum, fmt.Sprintf("%v = %v", names, sum)
}

func sendAgentRuns(tracer trace.Tracer, n int, fail bool) {
	for range n {
		_, run := tracer.Start(context.Background(), "invoke_agent planner", trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.name", "planner")))
		if fail {
			run.SetStatus(codes.Error, "model provider unavailable")
		}
		run.End()
	}
}

func TestAForgedAlertFromOTLPNeverPagesWhileARealOneDoes(t *testing.T) {
	h := startHook(t)
	ports := harness.NewDefaultConfigPorts(t)
	ports.Env = append(ports.Env, "AMAS_ALERT_WEBHOOK_URL="+h.url)
	// The default configuration as shipped with the webhook overlay, and a faster SLO tick so the
	// real page comes sooner.
	overlay := harness.WriteConfig(t, "fast.yaml", "processors:\n  slo:\n    evaluation_interval: 1s\n")
	harness.StartDefaultCollector(t, ports, harness.OverlayPath(t, "webhook.yaml"), overlay)

	// The attack: the same forged page every second for a while, as a flood would.
	const forged = 5
	for range forged {
		postOTLP(t, ports.OTLPHTTP, forgedAlert(1))
	}
	harness.Eventually(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		v, reason := counter(ports.Telemetry, "otelcol_processor_slo_reserved_points_dropped")
		return v >= 2*forged, "every forged point (alert and budget) dropped and counted: " + reason
	})
	// Nothing forged reaches Prometheus either.
	_, page, err := harness.HTTPGet(harness.MetricsURL(ports.Prometheus))
	require.NoError(t, err)
	assert.NotContains(t, page, `forged="yes"`)

	// A real total failure still pages: healthy history, then every run fails.
	tp := harness.TracerProvider(t, harness.HTTP, harness.Addr(ports.OTLPHTTP), "planner-agent")
	tracer := tp.Tracer("hardening-e2e")
	sendAgentRuns(tracer, 200, false)
	require.NoError(t, tp.ForceFlush(context.Background()))
	started := time.Now()
	sendAgentRuns(tracer, 200, true)
	require.NoError(t, tp.ForceFlush(context.Background()))
	// Keep forging meanwhile: the real page must not be joined to or replaced by forged points.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				resp, err := http.Post("http://"+harness.Addr(ports.OTLPHTTP)+"/v1/metrics", "application/json", bytes.NewReader(forgedAlert(1)))
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}
	}()
	harness.Eventually(t, 3*time.Minute, 500*time.Millisecond, func() (bool, string) {
		for _, a := range h.alerts() {
			if strings.HasPrefix(a, "SLOErrorBudgetBurn/agent_availability/firing/") {
				return true, ""
			}
		}
		return false, fmt.Sprintf("the real page reaches the webhook; got %v", h.alerts())
	})
	close(stop)
	<-done
	t.Logf("real page delivered %s after the failures started", time.Since(started).Round(time.Second))
	for _, a := range h.alerts() {
		assert.False(t, strings.HasSuffix(a, "/yes"), "a forged alert arrived: %s", a)
	}
}
