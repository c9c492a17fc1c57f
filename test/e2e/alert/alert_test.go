// Package alert runs the built otelcol-amas with the alert exporter against real receivers:
// Alertmanager (Debian's package), an SMTP server (Debian's python3-aiosmtpd) with STARTTLS and
// AUTH, and a webhook that goes down, with the collector SIGKILLed during the outage. The
// amas_alerts series are sent over OTLP gRPC as the slo and regression processors would emit them.
package alert

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

// ports of one collector under test.
type ports struct {
	health, grpc, telemetry int
}

func newPorts(t *testing.T) ports {
	return ports{health: harness.FreePort(t), grpc: harness.FreePort(t), telemetry: harness.FreePort(t)}
}

// collectorConfig wraps the alert exporter's YAML (indented under exporters.alert) in a
// collector config: OTLP gRPC in, health check, internal metrics on a Prometheus endpoint, and a
// file_storage extension in storageDir for the persistent queue and the delivery checkpoint.
func collectorConfig(p ports, storageDir, alertYAML string) string {
	return fmt.Sprintf(`extensions:
  health_check:
    endpoint: 127.0.0.1:%d
  file_storage/alerts:
    directory: %s
    create_directory: true
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
exporters:
  alert:
%s
service:
  extensions: [health_check, file_storage/alerts]
  telemetry:
    logs:
      level: info
    metrics:
      level: detailed
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %d
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [alert]
`, p.health, storageDir, p.grpc, indent(alertYAML, "    "), p.telemetry)
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pre + l
		}
	}
	return strings.Join(lines, "\n")
}

// sender sends amas_alerts points over OTLP gRPC, as the processors' pipeline would deliver them.
type sender struct {
	conn   *grpc.ClientConn
	client pmetricotlp.GRPCClient
}

func newSender(t *testing.T, endpoint string) *sender {
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &sender{conn: conn, client: pmetricotlp.NewGRPCClient(conn)}
}

type alertPoint struct {
	slo, state, severity string
	since                time.Time
}

// send delivers one batch: the alert points and, for each SLO, its budget and burn-rate siblings.
func (s *sender) send(pts []alertPoint) error {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	now := pcommon.NewTimestampFromTime(time.Now())
	g := alertstate.NewGauge(sm)
	for _, p := range pts {
		alertstate.Append(g, now, alertstate.Alert{Name: alertstate.AlertSLOBurnRate, State: p.state, Severity: p.severity,
			Labels:      map[string]string{"slo": p.slo, "long_window": "1h", "short_window": "5m"},
			ActiveSince: pcommon.NewTimestampFromTime(p.since)})
		budget := sm.Metrics().AppendEmpty()
		budget.SetName("amas_slo_error_budget_remaining_percent")
		dp := budget.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetTimestamp(now)
		dp.SetDoubleValue(12.5)
		dp.Attributes().PutStr("slo", p.slo)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.client.Export(ctx, pmetricotlp.NewExportRequestFromMetrics(md))
	return err
}

func points(slos []string, state string, since time.Time) []alertPoint {
	out := make([]alertPoint, 0, len(slos))
	for _, s := range slos {
		out = append(out, alertPoint{slo: s, state: state, severity: "critical", since: since})
	}
	return out
}

// counterValue reads one of the exporter's internal counters from the collector's telemetry.
func counterValue(port int, name string) (float64, string) {
	fams, err := harness.ScrapeFamilies(harness.MetricsURL(port))
	if err != nil {
		return 0, err.Error()
	}
	for _, n := range []string{name + "_total", name} {
		if fam, ok := fams[n]; ok {
			var sum float64
			for _, m := range fam.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum, fmt.Sprintf("%s = %v", n, sum)
		}
	}
	return 0, "no " + name + " in the collector's telemetry"
}

func TestAFiringSeriesBecomesAnActiveAlertInAlertmanagerAndItsResolveEndsIt(t *testing.T) {
	am := harness.StartAlertmanager(t)
	p := newPorts(t)
	harness.StartCollector(t, collectorConfig(p, t.TempDir(), fmt.Sprintf(`resend_interval: 2s
external_url: http://127.0.0.1:%d
jaeger_url: http://127.0.0.1:16686
route:
  receiver: am
  group_by: [slo]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: am
    alertmanager:
      url: %s
`, p.health, am.URL)), p.health)
	s := newSender(t, harness.Addr(p.grpc))
	since := time.Now().Add(-time.Minute).Truncate(time.Second)

	var got harness.AMAlert
	harness.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		if err := s.send(points([]string{"agent_availability"}, alertstate.StateFiring, since)); err != nil {
			return false, err.Error()
		}
		alerts, err := am.Alerts()
		if err != nil {
			return false, err.Error()
		}
		for _, a := range alerts {
			if a.Labels["slo"] == "agent_availability" {
				got = a
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d alerts, none for agent_availability", len(alerts))
	})
	assert.Equal(t, "active", got.Status.State)
	assert.Equal(t, alertstate.AlertSLOBurnRate, got.Labels["alertname"])
	assert.Equal(t, "critical", got.Labels["severity"])
	assert.Equal(t, "1h", got.Labels["long_window"])
	assert.NotContains(t, got.Labels, "alertstate")
	assert.True(t, got.StartsAt.Equal(since), "startsAt %s is the series' StartTimestamp %s", got.StartsAt, since)
	assert.Contains(t, got.Annotations["description"], "Error budget remaining: 12.50%")
	assert.Contains(t, got.Annotations["jaeger_search_url"], "http://127.0.0.1:16686/search?")
	assert.True(t, got.EndsAt.After(time.Now()), "a firing alert ends in the future")

	harness.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		if err := s.send(points([]string{"agent_availability"}, alertstate.StateResolved, since)); err != nil {
			return false, err.Error()
		}
		alerts, err := am.Alerts()
		if err != nil {
			return false, err.Error()
		}
		for _, a := range alerts {
			if a.Labels["slo"] == "agent_availability" {
				return false, "still active, endsAt " + a.EndsAt.String()
			}
		}
		return true, ""
	})
}

// hookMsg is the part of Alertmanager's webhook JSON the test reads.
type hookMsg struct {
	Status string `json:"status"`
	Alerts []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

// webhook is a receiver that can be down (503) and records each message's alerts.
type webhook struct {
	mu   sync.Mutex
	down bool
	msgs []hookMsg
	url  string
}

func startWebhook(t *testing.T) *webhook {
	w := &webhook{down: true}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.down {
			rw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var m hookMsg
		if err := json.Unmarshal(body, &m); err != nil {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		w.msgs = append(w.msgs, m)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	w.url = "http://" + l.Addr().String() + "/alerts/SECRET-TOKEN"
	return w
}

func (w *webhook) setDown(d bool) { w.mu.Lock(); w.down = d; w.mu.Unlock() }

// arrivals counts, per SLO, the alerts that arrived with status.
func (w *webhook) arrivals(status string) map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]int{}
	for _, m := range w.msgs {
		for _, a := range m.Alerts {
			if a.Status == status {
				out[a.Labels["slo"]]++
			}
		}
	}
	return out
}

func TestDuringAnOutageAndASIGKILLNoAlertIsLostAndNoneArrivesTwice(t *testing.T) {
	hook := startWebhook(t)
	p := newPorts(t)
	storageDir := t.TempDir()
	cfg := collectorConfig(p, storageDir, fmt.Sprintf(`sending_queue:
  storage: file_storage/alerts
retry_on_failure:
  initial_interval: 100ms
  max_interval: 500ms
  max_elapsed_time: 0s
checkpoint_interval: 1s
route:
  receiver: hook
  group_by: [slo]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook:
      url: %s
`, hook.url))
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	c1 := harness.StartCollectorWithConfigFile(t, cfgPath, p.health)
	s := newSender(t, harness.Addr(p.grpc))
	slos := []string{"agent_availability", "agent_latency_p95", "tool_call_success_rate", "memory_usage", "cost_efficiency", "queue_depth"}
	since := time.Now().Add(-time.Minute)

	// The receiver is down: every alert's notification is queued (on disk) and retried.
	harness.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		if err := s.send(points(slos, alertstate.StateFiring, since)); err != nil {
			return false, err.Error()
		}
		v, reason := counterValue(p.telemetry, "otelcol_exporter_alert_notifications_enqueued")
		return v >= float64(len(slos)), reason
	})
	harness.Eventually(t, 30*time.Second, 100*time.Millisecond, func() (bool, string) {
		v, reason := counterValue(p.telemetry, "otelcol_exporter_alert_notifications_retried")
		return v >= float64(len(slos)), reason
	})
	assert.NotContains(t, c1.Output(), "SECRET-TOKEN", "the webhook URL is a secret")

	c1.Kill(t)
	hook.setDown(false)
	c2 := harness.StartCollectorWithConfigFile(t, cfgPath, p.health)

	// The series keep firing after the restart; the queued notifications arrive, once each.
	harness.Eventually(t, 60*time.Second, 250*time.Millisecond, func() (bool, string) {
		if err := s.send(points(slos, alertstate.StateFiring, since)); err != nil {
			return false, err.Error()
		}
		got := hook.arrivals("firing")
		return len(got) == len(slos), fmt.Sprintf("firing arrivals %v", got)
	})
	// A few more group flushes must not announce them again.
	flushes, _ := counterValue(p.telemetry, "otelcol_exporter_alert_notifications_enqueued")
	for i := 0; i < 3; i++ {
		require.NoError(t, s.send(points(slos, alertstate.StateFiring, since)))
	}
	harness.Eventually(t, 10*time.Second, 250*time.Millisecond, func() (bool, string) {
		// Resolve everything; each resolve must arrive exactly once.
		if err := s.send(points(slos, alertstate.StateResolved, since)); err != nil {
			return false, err.Error()
		}
		got := hook.arrivals("resolved")
		return len(got) == len(slos), fmt.Sprintf("resolved arrivals %v", got)
	})
	for _, slo := range slos {
		assert.Equal(t, 1, hook.arrivals("firing")[slo], "firing %s", slo)
		assert.Equal(t, 1, hook.arrivals("resolved")[slo], "resolved %s", slo)
	}
	after, _ := counterValue(p.telemetry, "otelcol_exporter_alert_notifications_enqueued")
	assert.Equal(t, float64(len(slos)), after-flushes, "after the restart only the resolves were queued")
	assert.NotContains(t, c2.Output(), "SECRET-TOKEN")
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certPath, keyPath string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return certPath, keyPath
}

// startSMTP runs testdata/smtp_server.py (aiosmtpd) and returns its port and mail directory.
func startSMTP(t *testing.T, cert, key, user, pass string) (int, string) {
	py := "/usr/bin/python3"
	out := t.TempDir()
	port := harness.FreePort(t)
	cmd := exec.Command(py, filepath.Join("testdata", "smtp_server.py"), "127.0.0.1", strconv.Itoa(port), cert, key, out, user, pass)
	var logs strings.Builder
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(b []byte) { mu.Lock(); logs.Write(b); mu.Unlock() })
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start(), "python3-aiosmtpd must be installed (scripts/install-deps.sh)")
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	harness.Eventually(t, 20*time.Second, 100*time.Millisecond, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(logs.String(), "READY"), "smtp server output: " + logs.String()
	})
	return port, out
}

type writerFunc func([]byte)

func (f writerFunc) Write(b []byte) (int, error) { f(b); return len(b), nil }

func TestEmailGoesOverSTARTTLSWithAuthToOnCallAndTeamAsTextAndHTML(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	smtpPort, mailDir := startSMTP(t, cert, key, "amas", "s3cret-pass")
	p := newPorts(t)
	c := harness.StartCollector(t, collectorConfig(p, t.TempDir(), fmt.Sprintf(`route:
  receiver: mail
  group_by: [slo]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: mail
    email:
      smarthost: 127.0.0.1:%d
      from: otelcol-amas <alerts@example.com>
      to: [oncall@example.com, agents-team@example.com]
      auth_username: amas
      auth_password: s3cret-pass
      tls:
        ca_file: %s
`, smtpPort, cert)), p.health)
	s := newSender(t, harness.Addr(p.grpc))
	since := time.Now().Add(-time.Minute)
	var files []string
	harness.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		if err := s.send(points([]string{"agent_availability"}, alertstate.StateFiring, since)); err != nil {
			return false, err.Error()
		}
		files, _ = filepath.Glob(filepath.Join(mailDir, "*.eml"))
		return len(files) >= 1, fmt.Sprintf("%d mails", len(files))
	})
	sort.Strings(files)
	f, err := os.Open(files[0])
	require.NoError(t, err)
	defer f.Close()
	msg, err := mail.ReadMessage(f)
	require.NoError(t, err)

	// The series resolves: a second mail says so, once.
	harness.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		if err := s.send(points([]string{"agent_availability"}, alertstate.StateResolved, since)); err != nil {
			return false, err.Error()
		}
		files, _ = filepath.Glob(filepath.Join(mailDir, "*.eml"))
		return len(files) >= 2, fmt.Sprintf("%d mails", len(files))
	})
	sort.Strings(files)
	rf, err := os.Open(files[1])
	require.NoError(t, err)
	defer rf.Close()
	resolved, err := mail.ReadMessage(rf)
	require.NoError(t, err)
	assert.Equal(t, "[RESOLVED] agent_availability", resolved.Header.Get("Subject"))
	assert.Equal(t, "yes", resolved.Header.Get("X-Tls"))
	rb, err := io.ReadAll(resolved.Body)
	require.NoError(t, err)
	assert.Contains(t, string(rb), "Resolved at")

	assert.Equal(t, "yes", msg.Header.Get("X-Tls"), "delivered after STARTTLS")
	assert.Equal(t, "oncall@example.com,agents-team@example.com", msg.Header.Get("X-Rcpt-To"))
	assert.Equal(t, "[FIRING:1] agent_availability", msg.Header.Get("Subject"))
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	assert.Equal(t, "multipart/alternative", mt)
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	var text string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		types = append(types, strings.SplitN(part.Header.Get("Content-Type"), ";", 2)[0])
		b, _ := io.ReadAll(part) // quoted-printable is decoded by NextPart
		if strings.HasPrefix(part.Header.Get("Content-Type"), "text/plain") {
			text = string(b)
		}
	}
	assert.Equal(t, []string{"text/plain", "text/html"}, types)
	assert.Contains(t, text, "SLO: agent_availability")
	assert.Contains(t, text, "Budget remaining: 12.50%")
	assert.NotContains(t, c.Output(), "s3cret-pass", "the SMTP password never reaches the logs")
	files, _ = filepath.Glob(filepath.Join(mailDir, "*.eml"))
	assert.Len(t, files, 2, "one firing and one resolved mail, no more")
}
