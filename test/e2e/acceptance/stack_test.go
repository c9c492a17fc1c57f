// Package acceptance proves the AMAS specification's five success criteria end to end, as a user meets the
// product: the built otelcol-amas binary runs its DEFAULT configuration (config/otelcol-amas.yaml)
// with only the overlays that give it the endpoints of the test's services
// (config/overlays/jaeger.yaml, config/overlays/alertmanager.yaml); a real Prometheus scrapes it,
// a real Alertmanager receives its alerts and a real Jaeger its traces; the OpenTelemetry Go SDK
// plays an agent system at a steady rate (agentsim).
//
// Each criterion runs its own stack, so one test's traffic never moves another's budget. The
// measured figures are printed with t.Logf and as lines starting with "ACCEPTANCE:".
package acceptance

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
	"github.com/otelcol-amas/otelcol-amas/test/e2e/acceptance/agentsim"
)

// The default configuration's timing that the tests rely on (config/otelcol-amas.yaml and the
// components' READMEs); the tests never change it.
const (
	sloEvaluationInterval = 10 * time.Second // slo: evaluation_interval default
	spanMetricsFlush      = 15 * time.Second // amas_spanmetrics: metrics_flush_interval default
	noDataAfter           = 90 * time.Second // slo: alerting.no_data.after default
	groupWait             = 10 * time.Second // alert: route.group_wait in the default config
)

type stackOptions struct {
	jaeger, alertmanager bool
	// status reads the SLO status API and page (the default configuration's slo_status).
	status    bool
	promRules []string
}

// stack is one default collector with the services a criterion needs.
type stack struct {
	ports     *harness.DefaultConfigPorts
	collector *harness.Collector
	prom      *harness.Prometheus
	am        *harness.Alertmanager
	jaeger    *harness.Jaeger
	webhook   *webhookSink
	statusURL string // http://host:port of the slo_status extension
}

// webhookSink stands in for the default config's webhook receiver (AMAS_ALERT_WEBHOOK_URL), so
// the default receivers deliver somewhere instead of retrying against a closed port.
type webhookSink struct {
	URL   string
	posts atomic.Int64
}

func startWebhookSink(t *testing.T) *webhookSink {
	t.Helper()
	s := &webhookSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		s.posts.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/alerts"
	return s
}

func startStack(t *testing.T, opts stackOptions) *stack {
	t.Helper()
	s := &stack{ports: harness.NewDefaultConfigPorts(t), webhook: startWebhookSink(t)}
	s.ports.Env = append(s.ports.Env, "AMAS_ALERT_WEBHOOK_URL="+s.webhook.URL)
	var overlays []string
	if opts.jaeger {
		s.jaeger = harness.StartJaeger(t)
		overlays = append(overlays, harness.OverlayPath(t, "jaeger.yaml"))
		s.ports.Env = append(s.ports.Env,
			"AMAS_JAEGER_ENDPOINT="+s.jaeger.OTLPGRPCEndpoint,
			"AMAS_JAEGER_UI_URL="+s.jaeger.QueryURL)
	}
	if opts.alertmanager {
		s.am = harness.StartAlertmanager(t)
		overlays = append(overlays, harness.OverlayPath(t, "alertmanager.yaml"))
		s.ports.Env = append(s.ports.Env, "AMAS_ALERTMANAGER_URL="+s.am.URL)
	}
	if opts.status {
		s.statusURL = "http://" + harness.Addr(s.ports.SLOStatus)
	}
	s.collector = harness.StartDefaultCollector(t, s.ports, overlays...)
	s.prom = harness.StartPrometheusWith(t, harness.PrometheusOptions{
		Targets:   []string{harness.Addr(s.ports.Prometheus)},
		RuleFiles: opts.promRules,
	})
	return s
}

func (s *stack) client(t *testing.T, service string) *agentsim.Client {
	t.Helper()
	c, err := agentsim.New(harness.Addr(s.ports.OTLPGRPC), service)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// scalar runs promql, which must select exactly one series, and returns its value.
func (s *stack) scalar(promql string) (float64, error) {
	res, err := s.prom.TryQuery(promql)
	if err != nil {
		return 0, err
	}
	if len(res) != 1 {
		return 0, fmt.Errorf("%s: %d series, want 1", promql, len(res))
	}
	return res[0].Value, nil
}

// activeAlert returns the first alert Alertmanager holds as active whose labels include want.
func (s *stack) activeAlert(want map[string]string) (harness.AMAlert, bool, error) {
	alerts, err := s.am.Alerts()
	if err != nil {
		return harness.AMAlert{}, false, err
	}
	for _, a := range alerts {
		if a.Status.State != "active" {
			continue
		}
		match := true
		for k, v := range want {
			if a.Labels[k] != v {
				match = false
				break
			}
		}
		if match {
			return a, true, nil
		}
	}
	return harness.AMAlert{}, false, nil
}

// report prints a figure the lead can quote, in the test log and on stdout.
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	t.Log(msg)
	fmt.Println("ACCEPTANCE: " + msg)
}
