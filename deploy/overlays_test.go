package deploy

import (
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// alertIntegrations lists, per receiver of the merged configuration's alert exporter, the
// integration kinds it configures ("log", "webhook"...).
func alertIntegrations(t *testing.T, configs []string) map[string][]string {
	t.Helper()
	alert := mapAt(mergeConfigs(t, configs), "exporters", "alert")
	require.NotNil(t, alert, "%v configures the alert exporter", configs)
	list, _ := alert["receivers"].([]any)
	out := map[string][]string{}
	for _, r := range list {
		m, _ := r.(map[string]any)
		name, _ := m["name"].(string)
		for k := range m {
			if k != "name" {
				out[name] = append(out[name], k)
			}
		}
		sort.Strings(out[name])
	}
	return out
}

func TestTheDefaultConfigurationLogsItsAlertsAndSendsThemNowhereElse(t *testing.T) {
	// Nothing in the default configuration delivers over the network, so a first run never
	// retries against an address nobody serves.
	assert.Equal(t, map[string][]string{"pages": {"log"}, "tickets": {"log"}},
		alertIntegrations(t, []string{repo(t, "config/otelcol-amas.yaml")}))
}

func TestEachAlertOverlayValidatesAndKeepsTheLogLine(t *testing.T) {
	base := repo(t, "config/otelcol-amas.yaml")
	cases := []struct {
		overlay string
		env     map[string]string
		adds    string
	}{
		{"config/overlays/alertmanager.yaml", nil, "alertmanager"},
		{"config/overlays/webhook.yaml", nil, "webhook"},
		{"config/overlays/slack.yaml", map[string]string{"AMAS_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/X"}, "slack"},
	}
	for _, c := range cases {
		t.Run(c.overlay, func(t *testing.T) {
			configs := []string{base, repo(t, c.overlay)}
			code, out := validateCollector(t, configs, c.env)
			require.Equal(t, 0, code, out)
			recv := alertIntegrations(t, configs)
			require.Contains(t, recv, "pages")
			assert.True(t, slices.Contains(recv["pages"], c.adds), "pages gets %s: %v", c.adds, recv)
			for name, kinds := range recv {
				assert.True(t, slices.Contains(kinds, "log"), "%s keeps the log line: %v", name, kinds)
			}
		})
	}
}

func TestTheSlackOverlayRefusesToStartWithoutItsWebhookURL(t *testing.T) {
	code, out := validateCollector(t, []string{repo(t, "config/otelcol-amas.yaml"), repo(t, "config/overlays/slack.yaml")}, map[string]string{"AMAS_SLACK_WEBHOOK_URL": ""})
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out, "receivers[0].slack.webhook_url: must be set")
}
