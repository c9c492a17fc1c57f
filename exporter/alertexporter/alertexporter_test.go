package alertexporter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
)

func ctx() context.Context { return context.Background() }

func TestAFiringAlertIsAnnouncedOnceAfterGroupWaitAndNotRepeatedBeforeRepeatInterval(t *testing.T) {
	r := newRecorder(t)
	clk := clockwork.NewFakeClockAt(t0)
	e, tt := startExporterT(t, testConfig(r.srv.URL+"/hook"), clk, nil)

	consume(t, e, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)}))
	e.tick(ctx())
	assert.Equal(t, int64(0), counter(t, tt, "otelcol_exporter_alert_notifications_enqueued", nil), "nothing before group_wait")

	for i := 0; i < 10; i++ { // ten minutes of ticks with the series still firing
		clk.Advance(time.Minute)
		consume(t, e, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)}))
		e.tick(ctx())
	}
	waitCount(t, r, 1)
	assert.Equal(t, int64(1), counter(t, tt, "otelcol_exporter_alert_notifications_enqueued", nil))
	msgs := r.webhookMessages(t)
	require.Len(t, msgs, 1)
	assert.Equal(t, "firing", msgs[0].Status)
	require.Len(t, msgs[0].Alerts, 1)
	assert.Equal(t, "agent_availability", msgs[0].Alerts[0].Labels["slo"])
	assert.Equal(t, t0, msgs[0].Alerts[0].StartsAt, "startsAt is the point's StartTimestamp")
	assert.NotContains(t, msgs[0].Alerts[0].Labels, "alertstate")
	require.Eventually(t, func() bool {
		return counter(t, tt, "otelcol_exporter_alert_notifications_sent", map[string]string{"receiver": "hook"}) == 1
	}, 5*time.Second, 5*time.Millisecond)
}

func TestAFlappingSeriesDoesNotPageTwiceAndItsFinalResolveIsAnnouncedOnce(t *testing.T) {
	r := newRecorder(t)
	clk := clockwork.NewFakeClockAt(t0)
	e, tt := startExporterT(t, testConfig(r.srv.URL), clk, nil)
	firing := func() pmetric.Metrics {
		return batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)})
	}
	resolved := func() pmetric.Metrics {
		return batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateResolved)})
	}
	consume(t, e, firing())
	clk.Advance(10 * time.Second)
	e.tick(ctx())
	waitCount(t, r, 1)

	// Flaps between group flushes: resolved, firing again, resolved, firing again.
	for _, md := range []func() pmetric.Metrics{resolved, firing, resolved, firing} {
		clk.Advance(10 * time.Second)
		consume(t, e, md())
		e.tick(ctx())
	}
	clk.Advance(time.Minute)
	consume(t, e, firing())
	e.tick(ctx())
	assert.Equal(t, int64(1), counter(t, tt, "otelcol_exporter_alert_notifications_enqueued", nil), "the flapping incident paged once")

	// It clears for good.
	consume(t, e, resolved())
	clk.Advance(time.Minute)
	e.tick(ctx())
	clk.Advance(time.Minute)
	consume(t, e, resolved())
	e.tick(ctx())
	waitCount(t, r, 2)
	assert.Equal(t, int64(2), counter(t, tt, "otelcol_exporter_alert_notifications_enqueued", nil))
	msgs := r.webhookMessages(t)
	assert.Equal(t, "resolved", msgs[1].Status)
	assert.Equal(t, "resolved", msgs[1].Alerts[0].Status)
	assert.False(t, msgs[1].Alerts[0].EndsAt.IsZero())
}

func TestAnAlertNotSeenForResolveTimeoutIsResolved(t *testing.T) {
	r := newRecorder(t)
	clk := clockwork.NewFakeClockAt(t0)
	cfg := testConfig(r.srv.URL)
	e := startExporter(t, cfg, clk, nil)
	consume(t, e, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)}))
	clk.Advance(10 * time.Second)
	e.tick(ctx())
	waitCount(t, r, 1)

	// The emitter disappears. Nothing happens before resolve_timeout...
	clk.Advance(cfg.ResolveTimeout - 11*time.Second)
	e.tick(ctx())
	assert.Len(t, r.received(), 1)
	// ...and the resolve goes out at the first group flush after it.
	clk.Advance(2 * time.Minute)
	e.tick(ctx())
	waitCount(t, r, 2)
	msgs := r.webhookMessages(t)
	assert.Equal(t, "resolved", msgs[1].Status)
	assert.WithinDuration(t, t0.Add(cfg.ResolveTimeout), msgs[1].Alerts[0].EndsAt, 2*time.Minute)
}

func TestSiblingValuesAreJoinedByTheLabelsTheyShareAndTheWindowIsFoldedIntoTheKey(t *testing.T) {
	r := newRecorder(t)
	clk := clockwork.NewFakeClockAt(t0)
	e := startExporter(t, testConfig(r.srv.URL), clk, nil)
	consume(t, e, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)},
		value{"amas_slo_error_budget_remaining_percent", map[string]string{"slo": "agent_availability"}, 42.5},
		value{"amas_slo_error_budget_remaining_percent", map[string]string{"slo": "tool_call_success_rate"}, 99},
		value{"amas_slo_error_budget_burn_rate", map[string]string{"slo": "agent_availability", "window": "1h"}, 14.4},
		value{"amas_slo_error_budget_burn_rate", map[string]string{"slo": "agent_availability", "window": "5m"}, 20},
		value{"amas_agent_requests_total", map[string]string{"slo": "agent_availability"}, 1000},
		value{"amas_slo_error_budget_burn_rate", map[string]string{"window": "1h"}, 3},
	))
	clk.Advance(10 * time.Second)
	e.tick(ctx())
	waitCount(t, r, 1)
	a := r.webhookMessages(t)[0].Alerts[0]
	assert.Equal(t, map[string]float64{
		"amas_slo_error_budget_remaining_percent": 42.5,
		"amas_slo_error_budget_burn_rate_1h":      14.4,
		"amas_slo_error_budget_burn_rate_5m":      20,
	}, a.Values)
	assert.Equal(t, "SLOErrorBudgetBurn for SLO agent_availability (critical)", a.Annotations["summary"])
	assert.Equal(t, "SLO agent_availability is burning its error budget over 1h and 5m. Error budget remaining: 42.50%. Burn rate: 5m: 20.00×, 1h: 14.40×.",
		a.Annotations["description"])
}

func TestBadPointsAreCountedAndSkippedWithoutDroppingTheirNeighbours(t *testing.T) {
	r := newRecorder(t)
	clk := clockwork.NewFakeClockAt(t0)
	e, tt := startExporterT(t, testConfig(r.srv.URL), clk, nil)
	md := batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)})
	g := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Gauge()
	noName := g.DataPoints().AppendEmpty()
	noName.SetIntValue(1)
	noName.Attributes().PutStr("alertstate", "firing")
	badState := g.DataPoints().AppendEmpty()
	badState.SetIntValue(1)
	badState.Attributes().PutStr("alertname", "X")
	badState.Attributes().PutStr("alertstate", "exploded")
	nan := g.DataPoints().AppendEmpty()
	nan.SetDoubleValue(nanValue())
	nan.Attributes().PutStr("alertname", "Y")
	nan.Attributes().PutStr("alertstate", "firing")
	sumAlerts := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().AppendEmpty()
	sumAlerts.SetName(alertstate.MetricName)
	sumAlerts.SetEmptySum()
	consume(t, e, md)
	assert.Equal(t, int64(4), counter(t, tt, "otelcol_exporter_alert_points_invalid", nil))
	clk.Advance(10 * time.Second)
	e.tick(ctx())
	waitCount(t, r, 1)
	assert.Len(t, r.webhookMessages(t)[0].Alerts, 1)
}

func TestMaxAlertsBoundsTheTrackedAlertsAndCountsTheRest(t *testing.T) {
	r := newRecorder(t)
	clk := clockwork.NewFakeClockAt(t0)
	cfg := testConfig(r.srv.URL)
	cfg.MaxAlerts = 2
	e, tt := startExporterT(t, cfg, clk, nil)
	consume(t, e, batch(clk.Now(), []point{
		burn("a", t0, alertstate.StateFiring), burn("b", t0, alertstate.StateFiring), burn("c", t0, alertstate.StateFiring),
	}))
	assert.Len(t, e.alerts, 2)
	assert.Equal(t, int64(1), counter(t, tt, "otelcol_exporter_alert_alerts_dropped", nil))
}

func TestAlertsAreTrackedByTheContractsFingerprint(t *testing.T) {
	e := startExporter(t, testConfig("http://127.0.0.1:1/"), clockwork.NewFakeClockAt(t0), nil)
	for _, a := range []alertstate.Alert{
		{Name: "A", State: "firing", Severity: "critical", Labels: map[string]string{"slo": "x", "long_window": "1h", "agent": "planner"}},
		{Name: "B", State: "pending", Severity: "", Labels: nil},
		{Name: "PerformanceRegression", State: "firing", Severity: "warning", Labels: map[string]string{"operation": "chat", "type": "latency_regression"}},
	} {
		md := pmetric.NewMetrics()
		g := alertstate.NewGauge(md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty())
		alertstate.Append(g, pcommon.Timestamp(1), a)
		consume(t, e, md)
		assert.Contains(t, e.alerts, alertstate.Fingerprint(a), a.Name)
	}
	assert.Len(t, e.alerts, 3)
}

func TestAReceiverAnswering4xxIsNotRetriedAndTheDropIsCounted(t *testing.T) {
	r := newRecorder(t)
	r.status = []int{400}
	clk := clockwork.NewFakeClockAt(t0)
	e, tt := startExporterT(t, testConfig(r.srv.URL), clk, nil)
	consume(t, e, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)}))
	clk.Advance(10 * time.Second)
	e.tick(ctx())
	want := map[string]string{"receiver": "hook", "integration": "webhook"}
	require.Eventually(t, func() bool {
		return counter(t, tt, "otelcol_exporter_alert_notifications_dropped", map[string]string{"reason": "permanent"}) == 1
	}, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, int64(1), counter(t, tt, "otelcol_exporter_alert_notifications_failed", want))
	assert.Equal(t, int64(0), counter(t, tt, "otelcol_exporter_alert_notifications_retried", want))
	assert.Equal(t, int64(0), counter(t, tt, "otelcol_exporter_alert_notifications_sent", want))
	assert.Empty(t, r.received())
}

func TestA429Or5xxIsRetriedUntilDelivered(t *testing.T) {
	r := newRecorder(t)
	r.status = []int{429, 503, 500}
	clk := clockwork.NewFakeClockAt(t0)
	e, tt := startExporterT(t, testConfig(r.srv.URL), clk, nil)
	consume(t, e, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)}))
	clk.Advance(10 * time.Second)
	e.tick(ctx())
	waitCount(t, r, 1)
	want := map[string]string{"receiver": "hook"}
	assert.Equal(t, int64(3), counter(t, tt, "otelcol_exporter_alert_notifications_retried", want))
	require.Eventually(t, func() bool { return counter(t, tt, "otelcol_exporter_alert_notifications_sent", want) == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.Len(t, r.received(), 1)
}

func TestAnOutageLosesNothingAndDeliversEachAlertOnce(t *testing.T) {
	r := newRecorder(t)
	r.setDown(true)
	clk := clockwork.NewFakeClockAt(t0)
	cfg := testConfig(r.srv.URL)
	cfg.Route.GroupBy = []string{"slo"}
	e, tt := startExporterT(t, cfg, clk, nil)
	slos := []string{"a", "b", "c", "d", "e"}
	var pts []point
	for _, s := range slos {
		pts = append(pts, burn(s, t0, alertstate.StateFiring))
	}
	for i := 0; i < 5; i++ {
		consume(t, e, batch(clk.Now(), pts))
		clk.Advance(10 * time.Second)
		e.tick(ctx())
	}
	require.Eventually(t, func() bool {
		return counter(t, tt, "otelcol_exporter_alert_notifications_retried", nil) >= 10
	}, 10*time.Second, 5*time.Millisecond)
	r.setDown(false)
	waitCount(t, r, len(slos))
	seen := map[string]int{}
	require.Eventually(t, func() bool {
		return counter(t, tt, "otelcol_exporter_alert_notifications_sent", nil) == int64(len(slos))
	}, 10*time.Second, 5*time.Millisecond)
	for _, m := range r.webhookMessages(t) {
		for _, a := range m.Alerts {
			seen[a.Labels["slo"]]++
		}
	}
	for _, s := range slos {
		assert.Equal(t, 1, seen[s], "slo %s", s)
	}
}

func TestARestartWithStorageNeitherPagesTwiceNorLosesTheResolve(t *testing.T) {
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

	e2, tt := startExporterT(t, cfg, clk, host)
	for i := 0; i < 3; i++ {
		clk.Advance(time.Minute)
		consume(t, e2, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)}))
		e2.tick(ctx())
	}
	assert.Equal(t, int64(0), counter(t, tt, "otelcol_exporter_alert_notifications_enqueued", nil), "no second page after the restart")

	consume(t, e2, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateResolved)}))
	clk.Advance(time.Minute)
	e2.tick(ctx())
	waitCount(t, r, 2)
	assert.Equal(t, "resolved", r.webhookMessages(t)[1].Status)
}

func TestQueuedNotificationsSurviveARestartWithAPersistentQueue(t *testing.T) {
	r := newRecorder(t)
	r.setDown(true)
	clk := clockwork.NewFakeClockAt(t0)
	host, _ := newStorageHost()
	cfg := withStorage(testConfig(r.srv.URL))
	e1, tt1 := startExporterT(t, cfg, clk, host)
	consume(t, e1, batch(clk.Now(), []point{burn("agent_availability", t0, alertstate.StateFiring)}))
	clk.Advance(10 * time.Second)
	e1.tick(ctx())
	require.Eventually(t, func() bool { return counter(t, tt1, "otelcol_exporter_alert_notifications_retried", nil) >= 2 }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, e1.Shutdown(ctx()))

	r.setDown(false)
	e2 := startExporter(t, cfg, clk, host)
	waitCount(t, r, 1)
	e2.tick(ctx())
	assert.Len(t, r.webhookMessages(t), 1)
}

func TestAStaleNotificationIsNotDeliveredAfterANewerOne(t *testing.T) {
	r := newRecorder(t)
	clk := clockwork.NewFakeClockAt(t0)
	e, tt := startExporterT(t, testConfig(r.srv.URL), clk, nil)
	n := func(seq uint64, status string) *notification {
		return &notification{Receiver: "hook", Integration: "webhook", GroupKey: "g", Seq: seq,
			Alerts: []notifAlert{{Fingerprint: "1", Status: status}}}
	}
	require.NoError(t, e.push(ctx(), n(2, "resolved")))
	require.NoError(t, e.push(ctx(), n(1, "firing")))
	assert.Len(t, r.received(), 1)
	assert.Equal(t, int64(1), counter(t, tt, "otelcol_exporter_alert_notifications_superseded", nil))
}

func TestSecretsNeverAppearInErrors(t *testing.T) {
	r := newRecorder(t)
	r.srv.Close() // connection refused
	secretURL := r.srv.URL + "/services/T000/B000/s3cr3tt0k3n?token=qwerty"
	cases := []struct {
		name string
		in   integration
	}{
		{"webhook", &webhookIntegration{cfg: &WebhookConfig{URL: configopaque.String(secretURL)}}},
		{"slack", &slackIntegration{cfg: &SlackConfig{WebhookURL: configopaque.String(secretURL)}}},
		{"pagerduty", &pagerdutyIntegration{cfg: &PagerDutyConfig{RoutingKey: "rk-s3cr3t", URL: secretURL}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.NoError(t, c.in.start(ctx(), nopHost(), nopTelemetry()))
			err := c.in.notify(ctx(), &notification{Alerts: []notifAlert{{Status: "firing", Labels: map[string]string{}}}})
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "s3cr3t")
			assert.NotContains(t, err.Error(), "qwerty")
			assert.Contains(t, err.Error(), "REDACTED")
		})
	}
}

func TestTheDefaultJaegerLinkSearchesTheAgentAroundTheAlert(t *testing.T) {
	got := jaegerSearch(templateData{JaegerURL: "http://jaeger:16686/", StartsAt: t0, EndsAt: t0.Add(time.Hour),
		Labels: map[string]string{"agent": "planner", "slo": "agent_availability"}})
	assert.True(t, strings.HasPrefix(got, "http://jaeger:16686/search?"), got)
	assert.Contains(t, got, "service=planner")
	assert.Contains(t, got, "start=1748775600000000")
	assert.Contains(t, got, "tags=%7B%22error%22%3A%22true%22%7D")
	assert.Empty(t, jaegerSearch(templateData{}))
}
