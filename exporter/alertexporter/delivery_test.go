package alertexporter

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-amas/otelcol-amas/exporter/alertexporter/internal/metadata"
	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
)

// hangingReceiver accepts connections and never answers until the test ends.
func hangingReceiver(t *testing.T) (*httptest.Server, *atomic.Int64, func()) {
	release := make(chan struct{})
	var inFlight atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	var once sync.Once
	stop := func() { once.Do(func() { close(release) }) }
	t.Cleanup(srv.Close)
	t.Cleanup(stop)
	return srv, &inFlight, stop
}

func TestAReceiverThatHangsDelaysNoOtherReceiversPages(t *testing.T) {
	dead, inFlight, release := hangingReceiver(t)
	live := newRecorder(t)
	clk := clockwork.NewFakeClockAt(t0)
	cfg := testConfig(live.srv.URL)
	cfg.TimeoutConfig.Timeout = time.Hour // the dead receiver holds every request it gets
	cfg.Receivers = append(cfg.Receivers, ReceiverConfig{Name: "dead", Webhook: &WebhookConfig{URL: configopaque.String(dead.URL)}})
	cfg.Route.GroupBy = []string{"slo"}
	cfg.Route.Routes = []RouteConfig{{Matchers: []string{`severity="critical"`}, Receiver: "dead"}}
	e, tt := startExporterT(t, cfg, clk, nil)
	t.Cleanup(release) // runs before the exporter's Shutdown, which waits for in-flight requests

	// First the dead receiver gets three times as many notifications as a queue has workers
	// (10 by default): they hold every worker of its queue, and the rest wait in it.
	const groups = 30
	alerts := func(prefix, severity string) []point {
		var pts []point
		for i := range groups {
			p := burn(prefix+strconv.Itoa(i), t0, alertstate.StateFiring)
			p.severity = severity
			pts = append(pts, p)
		}
		return pts
	}
	consume(t, e, batch(clk.Now(), alerts("critical", "critical")))
	clk.Advance(10 * time.Second)
	e.tick(ctx())
	require.Eventually(t, func() bool { return inFlight.Load() >= 10 }, 10*time.Second, 5*time.Millisecond,
		"the dead receiver holds a full set of workers")

	// Then pages for the live receiver: with one shared queue they would wait behind the
	// dead receiver's for good.
	consume(t, e, batch(clk.Now(), alerts("warning", "warning")))
	clk.Advance(10 * time.Second)
	e.tick(ctx())
	waitCount(t, live, groups)
	require.Eventually(t, func() bool {
		return counter(t, tt, "otelcol_exporter_alert_notifications_sent", map[string]string{"receiver": "hook"}) == groups
	}, 10*time.Second, 5*time.Millisecond)
	assert.Zero(t, counter(t, tt, "otelcol_exporter_alert_notifications_sent", map[string]string{"receiver": "dead"}))
}

func TestANotificationPastMaxElapsedTimeIsDeadLetteredAndItsAlertAnnouncedAgain(t *testing.T) {
	r := newRecorder(t)
	r.setDown(true)
	clk := clockwork.NewFakeClockAt(t0)
	cfg := testConfig(r.srv.URL)
	cfg.BackOffConfig.MaxElapsedTime = 10 * time.Minute
	e, tt := startExporterT(t, cfg, clk, nil)
	firing := func() {
		consume(t, e, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)}))
	}

	firing()
	clk.Advance(10 * time.Second)
	e.tick(ctx())
	require.Eventually(t, func() bool { return counter(t, tt, "otelcol_exporter_alert_notifications_retried", nil) >= 2 }, 5*time.Second, 5*time.Millisecond)
	assert.Zero(t, counter(t, tt, "otelcol_exporter_alert_notifications_dead_letter", nil), "not before max_elapsed_time")

	clk.Advance(10 * time.Minute)
	require.Eventually(t, func() bool {
		return counter(t, tt, "otelcol_exporter_alert_notifications_dead_letter", map[string]string{"reason": "expired", "receiver": "hook"}) == 1
	}, 5*time.Second, 5*time.Millisecond)

	// The page was never accepted, so it is not announced: the group's next flush sends it.
	r.setDown(false)
	firing()
	clk.Advance(cfg.Route.GroupInterval)
	e.tick(ctx())
	waitCount(t, r, 1)
	msgs := r.webhookMessages(t)
	require.Len(t, msgs, 1)
	assert.Equal(t, "firing", msgs[0].Status)
}

func TestAPermanentRefusalIsReportedAndTheAlertIsOfferedAgainAtTheNextFlush(t *testing.T) {
	r := newRecorder(t)
	r.status = []int{400}
	clk := clockwork.NewFakeClockAt(t0)
	cfg := testConfig(r.srv.URL)
	e, tt := startExporterT(t, cfg, clk, nil)
	firing := func() {
		consume(t, e, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)}))
	}
	firing()
	clk.Advance(10 * time.Second)
	e.tick(ctx())
	require.Eventually(t, func() bool {
		return counter(t, tt, "otelcol_exporter_alert_notifications_dead_letter", map[string]string{"reason": "permanent"}) == 1
	}, 5*time.Second, 5*time.Millisecond)
	assert.Empty(t, r.received())

	firing()
	clk.Advance(cfg.Route.GroupInterval)
	e.tick(ctx())
	waitCount(t, r, 1)
}

func TestEachReceiversClientErrorsFollowItsDocumentedSemantics(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	clk := clockwork.NewFakeClockAt(t0)
	base := integrationBase{name: "r", clock: clk, cfg: cfg}
	type verdict int
	const (
		delivered verdict = iota
		retried
		permanent
	)
	cases := []struct {
		name   string
		status int
		make   func(url string) integration
		want   verdict
	}{
		{"PagerDuty's 400 (invalid event) is permanent.", 400, func(u string) integration {
			return &pagerdutyIntegration{integrationBase: base, cfg: &PagerDutyConfig{RoutingKey: "rk", URL: u}}
		}, permanent},
		{"PagerDuty's 429 (rate limit) is retried.", 429, func(u string) integration {
			return &pagerdutyIntegration{integrationBase: base, cfg: &PagerDutyConfig{RoutingKey: "rk", URL: u}}
		}, retried},
		{"Slack's 404 (no such webhook) is permanent.", 404, func(u string) integration {
			return &slackIntegration{integrationBase: base, cfg: &SlackConfig{WebhookURL: configopaque.String(u)}}
		}, permanent},
		{"Slack's 408 (request timeout) is retried.", 408, func(u string) integration {
			return &slackIntegration{integrationBase: base, cfg: &SlackConfig{WebhookURL: configopaque.String(u)}}
		}, retried},
		{"A webhook's 400 is permanent by default.", 400, func(u string) integration {
			return &webhookIntegration{integrationBase: base, cfg: &WebhookConfig{URL: configopaque.String(u)}}
		}, permanent},
		{"A webhook's 400 is retried with retry_client_errors.", 400, func(u string) integration {
			return &webhookIntegration{integrationBase: base, cfg: &WebhookConfig{URL: configopaque.String(u), RetryClientErrors: true}}
		}, retried},
		{"Alertmanager's 400 is permanent by default.", 400, func(u string) integration {
			return &alertmanagerIntegration{integrationBase: base, cfg: &AlertmanagerConfig{URL: configopaque.String(u)}}
		}, permanent},
		{"Alertmanager's 404 is retried with retry_client_errors.", 404, func(u string) integration {
			return &alertmanagerIntegration{integrationBase: base, cfg: &AlertmanagerConfig{URL: configopaque.String(u), RetryClientErrors: true}}
		}, retried},
		{"A 5xx is retried everywhere.", 503, func(u string) integration {
			return &pagerdutyIntegration{integrationBase: base, cfg: &PagerDutyConfig{RoutingKey: "rk", URL: u}}
		}, retried},
		{"A 2xx is delivered.", 202, func(u string) integration {
			return &pagerdutyIntegration{integrationBase: base, cfg: &PagerDutyConfig{RoutingKey: "rk", URL: u}}
		}, delivered},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(c.status) }))
			defer srv.Close()
			in := c.make(srv.URL)
			require.NoError(t, in.start(context.Background(), nopHost(), nopTelemetry()))
			err := in.notify(context.Background(), goldenNotification("r", in.kind()))
			switch c.want {
			case delivered:
				assert.NoError(t, err)
			case permanent:
				require.Error(t, err)
				assert.True(t, consumererror.IsPermanent(err), "%v", err)
			case retried:
				require.Error(t, err)
				assert.False(t, consumererror.IsPermanent(err), "%v", err)
			}
		})
	}
}

func TestAKillBeforeTheReceiverAcceptedAPageResendsItAfterTheRestart(t *testing.T) {
	r := newRecorder(t)
	r.setDown(true)
	clk := clockwork.NewFakeClockAt(t0)
	host, _ := newStorageHost()
	cfg := testConfig(r.srv.URL)
	id := storageID
	cfg.Storage = &id // checkpoint in storage, queue in memory: queued pages die with the process
	firing := func(e *alertExporter) {
		consume(t, e, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)}))
	}
	e1, tt1 := startExporterT(t, cfg, clk, host)
	firing(e1)
	clk.Advance(10 * time.Second)
	e1.tick(ctx())
	require.Eventually(t, func() bool { return counter(t, tt1, "otelcol_exporter_alert_notifications_retried", nil) >= 2 }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, e1.Shutdown(ctx()))
	require.Empty(t, r.received())

	r.setDown(false)
	e2 := startExporter(t, cfg, clk, host)
	firing(e2)
	clk.Advance(10 * time.Second) // group_wait of the restored group
	e2.tick(ctx())
	waitCount(t, r, 1)
	assert.Equal(t, "firing", r.webhookMessages(t)[0].Status, "the page is sent again: it was never accepted")
}

func TestEachIntegrationHasItsOwnSenderAndQueueStorage(t *testing.T) {
	id := component.MustNewIDWithName("alert", "x")
	a := senderID(id, "pages", "webhook")
	b := senderID(id, "pages", "pagerduty")
	c := senderID(id, "on call/é", "slack")
	assert.Equal(t, "alert/x__pages_webhook", a.String())
	assert.NotEqual(t, a, b)
	assert.Equal(t, "alert/x__on_call___slack", c.String())

	cfg := testConfig("http://127.0.0.1:1")
	cfg.Receivers[0].Slack = &SlackConfig{WebhookURL: "http://127.0.0.1:1/s"}
	e := startExporter(t, cfg, clockwork.NewFakeClockAt(t0), nil)
	assert.Len(t, e.senders, 2)
}

func TestMaxElapsedTimeIsBoundedByDefault(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, 30*time.Minute, cfg.BackOffConfig.MaxElapsedTime)
	assert.True(t, cfg.BackOffConfig.Enabled)
}

func TestAQueueLeftByTheSingleQueueVersionIsStillDeliveredAfterTheUpgrade(t *testing.T) {
	host, _ := newStorageHost()
	cfg := withStorage(testConfig("http://127.0.0.1:1"))
	// The previous version: one persistent queue under the exporter's own ID, its receiver down.
	set := exportertestSettings()
	set.ID = component.NewID(metadata.Type)
	var attempts atomic.Int64
	old, err := xexporterhelper.NewMetricsRequest(context.Background(), set, convertFromContext,
		func(context.Context, xexporterhelper.Request) error {
			attempts.Add(1)
			return errors.New("receiver down")
		},
		exporterhelper.WithRetry(cfg.BackOffConfig),
		xexporterhelper.WithQueueBatch(cfg.QueueConfig, xexporterhelper.QueueBatchSettings{Encoding: notificationEncoding{}}))
	require.NoError(t, err)
	require.NoError(t, old.Start(context.Background(), host))
	n := goldenNotification("hook", "webhook")
	require.NoError(t, old.ConsumeMetrics(contextWithNotification(context.Background(), n), pmetric.NewMetrics()))
	require.Eventually(t, func() bool { return attempts.Load() >= 2 }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, old.Shutdown(context.Background()))

	// This version, same storage, receiver up: the old queue's page arrives.
	r := newRecorder(t)
	cfg.Receivers[0].Webhook.URL = configopaque.String(r.srv.URL)
	startExporter(t, cfg, clockwork.NewFakeClockAt(t0), host)
	waitCount(t, r, 1)
	msgs := r.webhookMessages(t)
	require.Len(t, msgs, 1)
	assert.Equal(t, n.GroupKey, msgs[0].GroupKey)
}
