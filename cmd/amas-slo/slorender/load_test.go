package slorender

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor"
)

func TestLoadDefaultConfigurationGivesTheSeedSLOs(t *testing.T) {
	c := loadFile(t, "../../../config/otelcol-amas.yaml")
	var names []string
	for _, s := range c.SLOs {
		names = append(names, s.Config.Name)
		assert.Equal(t, "slo", s.Processor)
	}
	var want []string
	for _, s := range sloprocessor.DefaultSLOs() {
		want = append(want, s.Name)
	}
	assert.Equal(t, want, names)
	require.NotNil(t, c.Connector)
	assert.Equal(t, "amas", c.Connector.Namespace)
	assert.Equal(t, "http://127.0.0.1:16686", c.JaegerURL, "the env default of the alert exporter's jaeger_url")

	month := 30 * 24 * time.Hour
	avail := c.SLOs[0]
	assert.Equal(t, append([]slomath.BurnRule{slomath.HardDownRule(time.Minute, 0.25, 5)}, slomath.DefaultRules(month, 0.995, 0, 10, 5)...), avail.Rules,
		"the hard-down page, then the workbook table")
	assert.Equal(t, uint64(10), avail.MinEvents)
	assert.Equal(t, uint64(5), avail.MinBadEvents)
	assert.Equal(t, uint64(2000), avail.BudgetMinEvents, "10/(1 − 0.995)")
	assert.Equal(t, uint64(1), c.SLOs[1].MinEvents, "timeslices SLOs need one slice")
	assert.Equal(t, slomath.DefaultRules(month, 0.9, time.Minute, 1, 5), c.SLOs[1].Rules, "no hard-down page for timeslices; no 14.4× page at 90%")
	assert.Equal(t, slomath.DefaultBudgetThresholds(), avail.Budget)
	assert.Equal(t, sloprocessor.NoDataConfig{Enabled: true, After: 90 * time.Second, Severity: "warning", Lookback: time.Hour, MinPredicted: 10, RetireAfter: 24 * time.Hour}, avail.NoData)
	assert.Equal(t, []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour, 720 * time.Hour}, avail.Windows)
}

func TestLoadInheritsAlertingAsTheProcessorDoes(t *testing.T) {
	c := loadFile(t, "testdata/collector/grouped.yaml")
	require.Len(t, c.SLOs, 3)
	perAgent, timeouts := c.SLOs[0], c.SLOs[2]
	assert.Equal(t, "slo/agents", perAgent.Processor)
	hardDown := slomath.HardDownRule(time.Minute, 0.25, 5)
	assert.Equal(t, []slomath.BurnRule{
		hardDown,
		{Severity: slomath.Page, LongWindow: time.Hour, ShortWindow: 5 * time.Minute, BurnRate: 10, MinEvents: 5, MinBadEvents: 5, For: 2 * time.Minute},
		{Severity: slomath.Ticket, LongWindow: 6 * time.Hour, ShortWindow: 30 * time.Minute, BudgetConsumed: 0.1, MinEvents: 5, MinBadEvents: 5},
	}, perAgent.Rules, "the hard-down page, then the SLO's own rule table, with the processor-level min_events")
	assert.Equal(t, append([]slomath.BurnRule{hardDown}, slomath.DefaultRules(720*time.Hour, 0.999, 0, 5, 5)...), timeouts.Rules, "no table of its own: the default one")
	assert.Equal(t, slomath.DefaultRules(168*time.Hour, 0.95, 5*time.Minute, 5, 5), c.SLOs[1].Rules, "the default table rescaled for 7 days and 5-minute slices, with the processor-level min_events")
	require.Len(t, c.SLOs[1].Rules, 1, "only 6h∧30m is left: 1h∧5m has one slice in its short window, the tickets burn below 1×")
	for _, s := range c.SLOs {
		assert.Equal(t, slomath.BudgetThresholds{Critical: 0.1, Warning: 0.5, Severity: [3]slomath.Severity{slomath.Ticket, slomath.Ticket, slomath.Ticket}}, s.Budget, "tickets: the default severities stay under the thresholds given")
		assert.Equal(t, sloprocessor.NoDataConfig{Enabled: true, After: 2 * time.Minute, For: time.Minute, Severity: "critical", Lookback: time.Hour, MinPredicted: 10, RetireAfter: 24 * time.Hour}, s.NoData)
	}
}

func TestLoadRejectsWhatTheCollectorRejects(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"a configuration without an slo processor", "processors:\n  batch:\n", "no slo processor"},
		{"an invalid objective, reported with the processor's own message", `
processors:
  slo:
    slos:
      - name: x
        objective: 1.5
        window: 720h
        sli: {spans: {bad_conditions: ['status.code == STATUS_CODE_ERROR']}}
`, "processors::slo: slos[0].objective: must be in (0,1), got 1.5"},
		{"an unknown key", "processors:\n  slo:\n    evaluation_intervall: 10s\n", "evaluation_intervall"},
		{"the same SLO name in two processors", "processors:\n  slo:\n  slo/second:\n", `SLO "agent_availability" is also defined by processors::slo`},
		{"YAML that does not parse", "processors: [", "parsing the collector configuration"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestEnvironmentReferencesTakeTheirDefaults(t *testing.T) {
	t.Setenv("AMAS_X", "from-the-environment")
	cases := []struct{ name, in, want string }{
		{"a default is used even when the variable is set", "${env:AMAS_X:-fallback}", "fallback"},
		{"a reference without a default becomes empty", "a${env:AMAS_X}b", "ab"},
		{"the short form takes its default too", "${AMAS_X:-1s}", "1s"},
		{"an escaped reference stays literal", "$${env:AMAS_X}", "${env:AMAS_X}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, substituteDefaults(tc.in))
		})
	}
}
