package alertexporter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func startedLogIntegration(t *testing.T, cfg *LogConfig) (*logIntegration, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	set := componenttest.NewNopTelemetrySettings()
	set.Logger = zap.New(core)
	l := &logIntegration{integrationBase: integrationBase{name: "console"}, cfg: cfg}
	require.NoError(t, l.start(ctx(), nopHost(), set))
	return l, logs
}

func TestTheLogReceiverWritesOneWarnLinePerFiringNotificationWithItsAlerts(t *testing.T) {
	l, logs := startedLogIntegration(t, &LogConfig{})
	n := goldenNotification("console", "log")
	require.NoError(t, l.notify(ctx(), n))

	require.Equal(t, 1, logs.Len(), "one line per notification, whatever its alert count")
	e := logs.All()[0]
	assert.Equal(t, zapcore.WarnLevel, e.Level)
	assert.Equal(t, logMessage, e.Message)
	fields := e.ContextMap()
	assert.Equal(t, "firing", fields["status"])
	assert.Equal(t, "console", fields["receiver"])
	assert.Equal(t, "[FIRING:1] SLOErrorBudgetBurn", fields["title"])
	alerts, ok := fields["alerts"].([]any)
	require.True(t, ok, "alerts is an array: %T", fields["alerts"])
	require.Len(t, alerts, 2)
	first := alerts[0].(map[string]any)
	assert.Equal(t, "firing", first["status"])
	labels := first["labels"].(map[string]any)
	assert.Equal(t, "agent_availability", labels["slo"])
	assert.Equal(t, "critical", labels["severity"])
	assert.Equal(t, 42.5, first["values"].(map[string]any)["amas_slo_error_budget_remaining_percent"])
}

func TestTheLogReceiverLogsAResolvedGroupAtInfo(t *testing.T) {
	l, logs := startedLogIntegration(t, &LogConfig{})
	n := goldenNotification("console", "log")
	n.Alerts = n.Alerts[1:]
	require.NoError(t, l.notify(ctx(), n))
	require.Equal(t, 1, logs.Len())
	assert.Equal(t, zapcore.InfoLevel, logs.All()[0].Level)
	assert.Equal(t, "resolved", logs.All()[0].ContextMap()["status"])
}

func TestTheLogReceiverCannotBeMadeToWriteASecondLineByALabelValue(t *testing.T) {
	l, logs := startedLogIntegration(t, &LogConfig{})
	n := goldenNotification("console", "log")
	n.GroupLabels = map[string]string{"alertname": "SLOErrorBudgetBurn\n{\"level\":\"error\"}"}
	n.Alerts[0].Labels["gen_ai.agent.name"] = "evil\r\nlevel=error msg=forged\u202e"
	require.NoError(t, l.notify(ctx(), n))
	require.Equal(t, 1, logs.Len())
	fields := logs.All()[0].ContextMap()
	agent := fields["alerts"].([]any)[0].(map[string]any)["labels"].(map[string]any)["gen_ai.agent.name"].(string)
	assert.NotContains(t, agent, "\n")
	assert.NotContains(t, agent, "\r")
	assert.NotContains(t, agent, "\u202e")
	assert.NotContains(t, fields["title"], "\n")
	assert.NotContains(t, fields["group_labels"].(map[string]any)["alertname"], "\n")
}

func TestTheLogReceiverSendsResolvedUnlessTurnedOff(t *testing.T) {
	off := false
	assert.True(t, (&logIntegration{cfg: &LogConfig{}}).sendResolved())
	assert.False(t, (&logIntegration{cfg: &LogConfig{SendResolved: &off}}).sendResolved())
}
