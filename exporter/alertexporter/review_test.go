package alertexporter

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
)

// TestAlertmanagerNeverSeesAFiringAlertExpireWhileItKeepsFiring: with the default timers
// (group_interval 5m longer than the 4m an Alertmanager alert lives without a refresh), the
// alert is refreshed every resend_interval, not only at group flushes.
func TestAlertmanagerNeverSeesAFiringAlertExpireWhileItKeepsFiring(t *testing.T) {
	r := newRecorder(t)
	clk := clockwork.NewFakeClockAt(t0)
	cfg := createDefaultConfig().(*Config)
	cfg.Receivers = []ReceiverConfig{{Name: "am", Alertmanager: &AlertmanagerConfig{URL: configopaque.String(r.srv.URL)}}}
	cfg.Route.Receiver = "am"
	require.Greater(t, cfg.Route.GroupInterval, amEndsAtFactor*cfg.ResendInterval, "the case this test is about")
	e, tt := startExporterT(t, cfg, clk, nil)

	latestEndsAt := func() time.Time {
		var last time.Time
		for _, b := range r.received() {
			var alerts []amPostableAlert
			require.NoError(t, json.Unmarshal(b, &alerts))
			require.Len(t, alerts, 1)
			if alerts[0].EndsAt.After(last) {
				last = alerts[0].EndsAt
			}
		}
		return last
	}
	firstSent := false
	for step := 0; step < 60; step++ { // 30 minutes in 30 s steps
		consume(t, e, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)}))
		e.tick(ctx())
		enq := counter(t, tt, "otelcol_exporter_alert_notifications_enqueued", nil)
		require.Eventually(t, func() bool { return counter(t, tt, "otelcol_exporter_alert_notifications_sent", nil) == enq },
			5*time.Second, 5*time.Millisecond)
		if enq > 0 {
			firstSent = true
		}
		if firstSent {
			assert.True(t, latestEndsAt().After(clk.Now()), "at %s Alertmanager holds the alert only until %s",
				clk.Now().Sub(t0), latestEndsAt().Sub(t0))
		}
		clk.Advance(30 * time.Second)
	}
	require.True(t, firstSent)
	// Refreshed about once a minute, not every tick.
	sent := counter(t, tt, "otelcol_exporter_alert_notifications_sent", nil)
	assert.InDelta(t, 30, sent, 2, "one post per resend_interval over 30 minutes")
}

// TestShutdownReturnsWhileADeliveryWithoutAQueueIsBeingRetried: without a sending queue the
// dispatcher delivers (and retries) on its own goroutine; Shutdown must stop that, not wait for
// the receiver to come back.
func TestShutdownReturnsWhileADeliveryWithoutAQueueIsBeingRetried(t *testing.T) {
	r := newRecorder(t)
	r.setDown(true)
	clk := clockwork.NewFakeClockAt(t0)
	cfg := testConfig(r.srv.URL)
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	require.NoError(t, cfg.Validate())
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tt.Shutdown(ctx()) })
	set := exportertestSettings()
	set.TelemetrySettings = tt.NewTelemetrySettings()
	e, err := newExporter(ctx(), set, cfg, clk)
	require.NoError(t, err)
	require.NoError(t, e.Start(ctx(), nopHost())) // with its own dispatcher loop

	consume(t, e, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)}))
	clk.Advance(time.Minute)
	require.Eventually(t, func() bool { return counter(t, tt, "otelcol_exporter_alert_notifications_retried", nil) >= 2 },
		10*time.Second, 5*time.Millisecond, "the dispatcher is retrying the delivery")

	done := make(chan error, 1)
	go func() { done <- e.Shutdown(ctx()) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return while the receiver was down")
	}
}

// TestANotificationQueuedJustBeforeACrashDoesNotSupersedeTheFirstOneAfterRestart: the collector
// is killed after a notification went into the persistent queue but before the checkpoint that
// records its sequence number. After the restart the queue still delivers it; the next
// notification of the same group (here the resolve) must not reuse its sequence number and be
// dropped as stale.
func TestANotificationQueuedJustBeforeACrashDoesNotSupersedeTheFirstOneAfterRestart(t *testing.T) {
	r := newRecorder(t)
	clk := clockwork.NewFakeClockAt(t0)
	host, _ := newStorageHost()
	cfg := withStorage(testConfig(r.srv.URL))
	e1 := startExporter(t, cfg, clk, host)
	consume(t, e1, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)}))
	clk.Advance(10 * time.Second)
	e1.tick(ctx())
	waitCount(t, r, 1)
	require.NoError(t, e1.Shutdown(ctx())) // the checkpoint: seq 1 enqueued and delivered

	e2, tt := startExporterT(t, cfg, clk, host)
	require.Len(t, e2.groups, 1)
	var key string
	for k := range e2.groups {
		key = k
	}
	// What the killed run had queued after its last checkpoint: seq 2 of the same group.
	lost := &notification{Receiver: "hook", Integration: "webhook", GroupKey: key, Seq: 2, CreatedAt: clk.Now(),
		Alerts: []notifAlert{{Fingerprint: "00000000000000aa", Status: "firing", Labels: map[string]string{"alertname": "Other"}}}}
	require.NoError(t, e2.push(ctx(), lost))
	require.Len(t, r.received(), 2)

	consume(t, e2, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateResolved)}))
	clk.Advance(time.Minute)
	e2.tick(ctx())
	waitCount(t, r, 3)
	msgs := r.webhookMessages(t)
	assert.Equal(t, "resolved", msgs[2].Status)
	assert.Equal(t, int64(0), counter(t, tt, "otelcol_exporter_alert_notifications_superseded", nil))
}

// TestSecretsStayOutOfErrorsOnEveryHTTPPath: connection refused (the *url.Error quotes the
// URL), a 4xx whose body echoes the path, and a 5xx, for each HTTP integration including
// Alertmanager (whose URL gets /api/v2/alerts appended). These errors are what exporterhelper
// logs ("Exporting failed. Will retry…", "…Rejecting data.").
func TestSecretsStayOutOfErrorsOnEveryHTTPPath(t *testing.T) {
	echo := newEchoServer(t)
	refused := newRecorder(t)
	refused.srv.Close()
	integrations := func(base string) map[string]integration {
		u := configopaque.String(base + "/services/T000/B000/s3cr3tt0k3n?token=qwerty")
		return map[string]integration{
			"webhook":      &webhookIntegration{cfg: &WebhookConfig{URL: u}},
			"slack":        &slackIntegration{cfg: &SlackConfig{WebhookURL: u}},
			"pagerduty":    &pagerdutyIntegration{cfg: &PagerDutyConfig{RoutingKey: "rk-s3cr3t", URL: string(u)}},
			"alertmanager": &alertmanagerIntegration{integrationBase: integrationBase{clock: clockwork.NewFakeClockAt(t0), cfg: createDefaultConfig().(*Config)}, cfg: &AlertmanagerConfig{URL: configopaque.String(base + "/s3cr3tt0k3n")}},
		}
	}
	for _, c := range []struct {
		name string
		base string
	}{
		{"connection refused", refused.srv.URL},
		{"a 400 echoing the request line", echo.URL + "/400"},
		{"a 503 echoing the request line", echo.URL + "/503"},
	} {
		for kind, in := range integrations(c.base) {
			t.Run(c.name+"/"+kind, func(t *testing.T) {
				require.NoError(t, in.start(ctx(), nopHost(), nopTelemetry()))
				err := in.notify(ctx(), &notification{Alerts: []notifAlert{{Status: "firing", Labels: map[string]string{"alertname": "A"}}}})
				require.Error(t, err)
				assert.NotContains(t, err.Error(), "s3cr3t")
				assert.NotContains(t, err.Error(), "qwerty")
			})
		}
	}
}

// newEchoServer answers with the status named by the first path element and echoes the
// request's path and query in the body, as some proxies do.
func newEchoServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0])
		if code == 0 {
			code = http.StatusNotFound
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte("no route for " + r.URL.RequestURI()))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestTLSCertificatesAreVerifiedByDefault: a receiver behind a certificate nobody configured
// trust for is not delivered to.
func TestTLSCertificatesAreVerifiedByDefault(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	cfg := createDefaultConfig().(*Config)
	cfg.Receivers = []ReceiverConfig{{Name: "hook", Webhook: &WebhookConfig{URL: configopaque.String(srv.URL)}}}
	in := newIntegrations(&cfg.Receivers[0], &alertExporter{cfg: cfg, clock: clockwork.NewFakeClockAt(t0)})[0]
	require.NoError(t, in.start(ctx(), nopHost(), nopTelemetry()))
	err := in.notify(ctx(), &notification{Alerts: []notifAlert{{Status: "firing"}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")
	assert.Zero(t, hits.Load())
}

// TestARestartAfterALongStopDoesNotResolveAlertsBeforeTheEmittersReportAgain: the collector was
// down longer than resolve_timeout. Its downtime is not the emitters' silence: the restored
// alerts get a full resolve_timeout for the slo and regression processors (restarted too) to
// report them again, instead of a resolve at the first flush and a second page right after.
func TestARestartAfterALongStopDoesNotResolveAlertsBeforeTheEmittersReportAgain(t *testing.T) {
	r := newRecorder(t)
	clk := clockwork.NewFakeClockAt(t0)
	host, _ := newStorageHost()
	cfg := withStorage(testConfig(r.srv.URL))
	e1 := startExporter(t, cfg, clk, host)
	consume(t, e1, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)}))
	clk.Advance(10 * time.Second)
	e1.tick(ctx())
	waitCount(t, r, 1)
	require.NoError(t, e1.Shutdown(ctx()))

	clk.Advance(2 * cfg.ResolveTimeout) // the collector is down for a while
	e2, tt := startExporterT(t, cfg, clk, host)
	for i := 0; i < 3; i++ { // the emitters' first evaluations come after the first group flush
		clk.Advance(cfg.Route.GroupWait)
		e2.tick(ctx())
	}
	consume(t, e2, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)}))
	for i := 0; i < 5; i++ {
		clk.Advance(time.Minute)
		consume(t, e2, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)}))
		e2.tick(ctx())
	}
	assert.Equal(t, int64(0), counter(t, tt, "otelcol_exporter_alert_notifications_enqueued", nil), "neither a resolve nor a second page")
	assert.Len(t, r.received(), 1)
}

// TestAKillRightAfterANotificationWasQueuedDoesNotLoseItsResolve: the collector is killed after
// the persistent queue took a firing notification but before the delivery state recording it
// was checkpointed. After the restart the queue delivers the firing; when the alert then
// resolves, the resolve must still be announced.
func TestAKillRightAfterANotificationWasQueuedDoesNotLoseItsResolve(t *testing.T) {
	r := newRecorder(t)
	r.setDown(true)
	clk := clockwork.NewFakeClockAt(t0)
	host, ext := newStorageHost()
	cfg := withStorage(testConfig(r.srv.URL))
	e1, tt1 := startExporterT(t, cfg, clk, host)
	ext.mu.Lock()
	ckp := ext.clients["alert/alert_state"]
	require.NotNil(t, ckp)
	for name, c := range ext.clients {
		if c != ckp {
			c.mu.Lock()
			c.onWrite = func() { ckp.frozen.Store(true) } // the kill: nothing after the enqueue is checkpointed
			c.mu.Unlock()
			_ = name
		}
	}
	ext.mu.Unlock()

	consume(t, e1, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)}))
	clk.Advance(10 * time.Second)
	e1.tick(ctx())
	require.True(t, ckp.frozen.Load(), "the notification went into the persistent queue")
	require.Eventually(t, func() bool { return counter(t, tt1, "otelcol_exporter_alert_notifications_retried", nil) >= 1 }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, e1.Shutdown(ctx()))
	ckp.frozen.Store(false)
	for _, c := range ext.clients {
		c.mu.Lock()
		c.onWrite = nil
		c.mu.Unlock()
	}

	r.setDown(false)
	e2 := startExporter(t, cfg, clk, host)
	waitCount(t, r, 1) // the queued firing
	consume(t, e2, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateResolved)}))
	for i := 0; i < 3; i++ {
		clk.Advance(time.Minute)
		e2.tick(ctx())
	}
	waitCount(t, r, 2)
	msgs := r.webhookMessages(t)
	assert.Equal(t, "firing", msgs[0].Status)
	assert.Equal(t, "resolved", msgs[1].Status)
	require.Len(t, msgs[1].Alerts, 1)
	assert.Equal(t, "agent_availability", msgs[1].Alerts[0].Labels["slo"])
}

// TestTheOrderingStateOfAForgottenGroupIsForgottenToo: group keys carry label values (SLO
// groups, regression operations), so the per-group sequence numbers must not pile up forever
// (they are also written into every checkpoint).
func TestTheOrderingStateOfAForgottenGroupIsForgottenToo(t *testing.T) {
	r := newRecorder(t)
	clk := clockwork.NewFakeClockAt(t0)
	cfg := testConfig(r.srv.URL)
	cfg.Route.GroupBy = []string{"slo"}
	e := startExporter(t, cfg, clk, nil)
	for i := 0; i < 5; i++ {
		slo := "slo_" + strconv.Itoa(i)
		consume(t, e, batch(clk.Now(), []point{burn(slo, clk.Now(), alertstate.StateFiring)}))
		clk.Advance(cfg.Route.GroupWait)
		e.tick(ctx())
		waitCount(t, r, 2*i+1)
		consume(t, e, batch(clk.Now(), []point{burn(slo, clk.Now(), alertstate.StateResolved)}))
		clk.Advance(cfg.Route.GroupInterval)
		e.tick(ctx())
		waitCount(t, r, 2*(i+1))
	}
	require.Empty(t, e.groups, "every group resolved and was forgotten")
	e.smu.Lock()
	require.Len(t, e.seqs, 5)
	e.smu.Unlock()
	for i := 0; i < 50; i++ { // a day and a bit of ticks
		clk.Advance(30 * time.Minute)
		e.tick(ctx())
	}
	e.smu.Lock()
	defer e.smu.Unlock()
	assert.Empty(t, e.seqs)
}

// TestAlertmanagerPathIsAppendedBeforeTheQuery: a base URL with a query (a proxy token) keeps
// its query; the API path goes into the path.
func TestAlertmanagerPathIsAppendedBeforeTheQuery(t *testing.T) {
	r := newRecorder(t)
	am := &alertmanagerIntegration{integrationBase: integrationBase{clock: clockwork.NewFakeClockAt(t0), cfg: createDefaultConfig().(*Config)},
		cfg: &AlertmanagerConfig{URL: configopaque.String(r.srv.URL + "/am/?token=x")}}
	require.NoError(t, am.start(ctx(), nopHost(), nopTelemetry()))
	require.NoError(t, am.notify(ctx(), &notification{Alerts: []notifAlert{{Status: "firing", Labels: map[string]string{"alertname": "A"}}}}))
	r.mu.Lock()
	defer r.mu.Unlock()
	assert.Equal(t, []string{"/am/api/v2/alerts"}, r.paths)
}

// TestANotificationWithoutStatusDoesNotPanicTheSender: a queued notification from another
// version may lack fields; delivering it must not take the collector down.
func TestANotificationWithoutStatusDoesNotPanicTheSender(t *testing.T) {
	r := newRecorder(t)
	s := &slackIntegration{cfg: &SlackConfig{WebhookURL: configopaque.String(r.srv.URL)}}
	require.NoError(t, s.start(ctx(), nopHost(), nopTelemetry()))
	assert.NotPanics(t, func() { _ = s.notify(ctx(), &notification{Alerts: []notifAlert{{}}}) })
}

// TestRetryAfterIsHonouredUpToFiveMinutes: a receiver's Retry-After delays the next attempt, but
// a page is not held back for hours by one answer (and huge values do not overflow).
func TestRetryAfterIsHonouredUpToFiveMinutes(t *testing.T) {
	cases := []struct {
		name, header string
		want         time.Duration
	}{
		{"seconds are honoured", "120", 2 * time.Minute},
		{"a day is capped", "86400", maxRetryAfter},
		{"a value that would overflow is capped", "99999999999", maxRetryAfter},
		{"garbage is ignored", "soon", 0},
		{"no header leaves it to the backoff", "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { assert.Equal(t, c.want, retryAfter(c.header)) })
	}
}
