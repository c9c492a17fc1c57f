package alertexporter

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
)

// goldenNotification is a group of two alerts, one firing and one resolved, with values and
// annotations, as the dispatcher builds it.
func goldenNotification(receiver, integ string) *notification {
	return &notification{
		Receiver: receiver, Integration: integ, GroupKey: `0.1:{alertname="SLOErrorBudgetBurn"}`, Seq: 3,
		GroupLabels: map[string]string{"alertname": "SLOErrorBudgetBurn"}, CreatedAt: t0, ExternalURL: "http://collector:13133",
		Alerts: []notifAlert{
			{Fingerprint: "00000000000000aa", Status: "firing", StartsAt: t0.Add(-10 * time.Minute),
				Labels: map[string]string{"alertname": "SLOErrorBudgetBurn", "severity": "critical", "slo": "agent_availability",
					"long_window": "1h", "short_window": "5m", "gen_ai.agent.name": "planner"},
				Annotations: map[string]string{"summary": "SLOErrorBudgetBurn for SLO agent_availability (critical)",
					"description": "SLO agent_availability is burning its error budget over 1h and 5m.",
					"runbook_url": "https://runbooks.example.com/SLOErrorBudgetBurn", "dashboard_url": "https://grafana.example.com/d/slo",
					"jaeger_search_url": "http://jaeger:16686/search?service=planner"},
				Values: map[string]float64{"amas_slo_error_budget_remaining_percent": 42.5, "amas_slo_error_budget_burn_rate_1h": 14.4, "amas_slo_error_budget_burn_rate_5m": 20}},
			{Fingerprint: "00000000000000bb", Status: "resolved", StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(-time.Minute),
				Labels:      map[string]string{"alertname": "SLOErrorBudgetBurn", "severity": "warning", "slo": "tool_call_success_rate", "long_window": "1d", "short_window": "2h"},
				Annotations: map[string]string{"summary": "SLOErrorBudgetBurn for SLO tool_call_success_rate (warning)"}},
		},
	}
}

func indentJSON(t *testing.T, b []byte) []byte {
	var v any
	require.NoError(t, json.Unmarshal(b, &v))
	out, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	return append(out, '\n')
}

func TestEachReceiverSendsItsDocumentedPayload(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	cfg := createDefaultConfig().(*Config)
	cases := []struct {
		name    string
		path    string
		makeInt func(url string) integration
		golden  string
	}{
		{"Alertmanager gets API v2 postable alerts with sanitized label names and endsAt ahead for firing, past for resolved", "/api/v2/alerts",
			func(u string) integration {
				return &alertmanagerIntegration{integrationBase: integrationBase{name: "am", clock: clk, cfg: cfg}, cfg: &AlertmanagerConfig{URL: configopaque.String(u)}}
			}, "alertmanager.json"},
		{"the generic webhook gets Alertmanager's webhook JSON", "/hook",
			func(u string) integration {
				return &webhookIntegration{integrationBase: integrationBase{name: "hook", clock: clk, cfg: cfg}, cfg: &WebhookConfig{URL: configopaque.String(u + "/hook")}}
			}, "webhook.json"},
		{"Slack gets a readable message with SLO, severity, budget, burn rate and links", "/services/T/B/X",
			func(u string) integration {
				return &slackIntegration{integrationBase: integrationBase{name: "slack", clock: clk, cfg: cfg}, cfg: &SlackConfig{WebhookURL: configopaque.String(u + "/services/T/B/X"), Channel: "#oncall"}}
			}, "slack.json"},
		{"PagerDuty gets a trigger with a stable dedup_key and the most urgent severity mapped", "/v2/enqueue",
			func(u string) integration {
				return &pagerdutyIntegration{integrationBase: integrationBase{name: "pd", clock: clk, cfg: cfg}, cfg: &PagerDutyConfig{RoutingKey: "routing-key", URL: u + "/v2/enqueue"}}
			}, "pagerduty.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRecorder(t)
			in := c.makeInt(r.srv.URL)
			require.NoError(t, in.start(ctx(), nopHost(), nopTelemetry()))
			require.NoError(t, in.notify(ctx(), goldenNotification(in.receiver(), in.kind())))
			require.Len(t, r.received(), 1)
			assert.Equal(t, c.path, r.paths[0])
			goldenCompare(t, c.golden, indentJSON(t, r.received()[0]))
		})
	}
}

func TestPagerDutyResolvesWithTheSameDedupKeyWhenNothingFires(t *testing.T) {
	p := &pagerdutyIntegration{cfg: &PagerDutyConfig{RoutingKey: "rk"}}
	n := goldenNotification("pd", "pagerduty")
	trigger := p.event(n)
	n.Alerts = n.Alerts[1:]
	resolve := p.event(n)
	assert.Equal(t, "trigger", trigger.EventAction)
	assert.Equal(t, "critical", trigger.Payload.Severity)
	assert.Equal(t, "resolve", resolve.EventAction)
	assert.Equal(t, trigger.DedupKey, resolve.DedupKey)
	assert.Nil(t, resolve.Payload)
}

func TestPagerDutySeverityFollowsTheMap(t *testing.T) {
	cases := []struct {
		name, ours, custom, want string
	}{
		{"critical stays critical by default", "critical", "", "critical"},
		{"high maps to error by default", "high", "", "error"},
		{"warning stays warning by default", "warning", "", "warning"},
		{"an unknown severity pages as error", "bogus", "", "error"},
		{"the configured map wins", "warning", "critical", "critical"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &pagerdutyIntegration{cfg: &PagerDutyConfig{RoutingKey: "rk"}}
			if c.custom != "" {
				p.cfg.SeverityMap = map[string]string{c.ours: c.custom}
			}
			n := &notification{Alerts: []notifAlert{{Status: "firing", Labels: map[string]string{"severity": c.ours}}}}
			assert.Equal(t, c.want, p.event(n).Payload.Severity)
		})
	}
}

func TestTheEmailIsMultipartWithPlainTextAndHTML(t *testing.T) {
	m := &emailIntegration{integrationBase: integrationBase{name: "mail"}, cfg: &EmailConfig{From: "amas <amas@example.com>", To: []string{"oncall@example.com", "team@example.com"}}}
	msg, err := m.message(goldenNotification("mail", "email"), t0)
	require.NoError(t, err)
	goldenCompare(t, "email.eml", msg)
}

func TestSanitizedLabelNamesAreValidForAlertmanager(t *testing.T) {
	cases := []struct{ in, want string }{
		{"slo", "slo"}, {"gen_ai.agent.name", "gen_ai_agent_name"}, {"9lives", "_9lives"}, {"a-b c", "a_b_c"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, sanitizeName(c.in), c.in)
	}
}
