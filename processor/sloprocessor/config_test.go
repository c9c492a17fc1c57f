package sloprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor/internal/metadata"
)

func loadConfig(t *testing.T, file, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", file))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg
}

func TestLoadConfig(t *testing.T) {
	t.Run("The empty config is the default config and runs the AMAS specification's six SLOs.", func(t *testing.T) {
		cfg := loadConfig(t, "config.yaml", "")
		assert.Equal(t, createDefaultConfig(), cfg)
		require.NoError(t, confmap.Validate(cfg))
		compiled, err := cfg.compile(testTelemetry(t))
		require.NoError(t, err)
		var names []string
		for _, c := range compiled {
			names = append(names, c.cfg.Name)
		}
		assert.Equal(t, []string{"agent_availability", "agent_latency_p95", "tool_call_success_rate", "memory_usage", "cost_efficiency", "queue_depth"}, names)
		objectives := map[string]float64{}
		for _, c := range compiled {
			objectives[c.cfg.Name] = c.model.Objective
			assert.Equal(t, 30*24*time.Hour, c.model.Window)
		}
		// The AMAS specification's error budgets: 0.5%, 10%, 1%, 15%, 20%, 25%.
		assert.Equal(t, map[string]float64{
			"agent_availability": 0.995, "agent_latency_p95": 0.90, "tool_call_success_rate": 0.99,
			"memory_usage": 0.85, "cost_efficiency": 0.80, "queue_depth": 0.75,
		}, objectives)
	})
	t.Run("The minimal example loads and validates.", func(t *testing.T) {
		cfg := loadConfig(t, "config.yaml", "minimal")
		require.NoError(t, confmap.Validate(cfg))
		require.Len(t, cfg.SLOs, 1)
		assert.Equal(t, 0.999, cfg.SLOs[0].Objective)
	})
	t.Run("The full example loads every key.", func(t *testing.T) {
		cfg := loadConfig(t, "config.yaml", "full")
		require.NoError(t, confmap.Validate(cfg))
		assert.Equal(t, 15*time.Second, cfg.EvaluationInterval)
		assert.Equal(t, 200, cfg.MaxGroupsPerSLO)
		assert.Equal(t, 512, cfg.MaxLabelLength)
		assert.Equal(t, 5000, cfg.MaxRatioStreams)
		assert.Equal(t, 10*time.Minute, cfg.ResolvedRetention)
		require.NotNil(t, cfg.Storage)
		assert.Equal(t, "file_storage", cfg.Storage.String())
		assert.Equal(t, 30*time.Second, cfg.CheckpointInterval)
		assert.Equal(t, eventTimeSpanEnd, cfg.EventTime)
		assert.Equal(t, 2*time.Minute, cfg.MaxLateness)
		assert.Equal(t, alertstate.InstanceLabel{Name: "replica", Value: "otelcol-amas-0"}, cfg.InstanceLabel)
		assert.Equal(t, uint64(20), cfg.Alerting.MinEvents)
		assert.Equal(t, uint64(3), cfg.Alerting.MinBadEvents)
		assert.Equal(t, uint64(500), cfg.Alerting.BudgetMinEvents)
		assert.Equal(t, BudgetSeverityConfig{Critical: "page", High: "ticket", Warning: "ticket"}, cfg.Alerting.BudgetThresholds.Severity)
		assert.Equal(t, &HardDownConfig{Enabled: true, Window: 2 * time.Minute, ErrorRatio: 0.5, MinBadEvents: 10, For: 10 * time.Second}, cfg.Alerting.HardDown)
		assert.Equal(t, &NoDataConfig{Enabled: true, After: 2 * time.Minute, For: 30 * time.Second, Severity: "critical", Lookback: 2 * time.Hour, MinPredicted: 10, RetireAfter: 12 * time.Hour}, cfg.Alerting.NoData)
		require.Len(t, cfg.SLOs, 4)
		assert.Equal(t, []string{"gen_ai.agent.name"}, cfg.SLOs[0].GroupBy)
		require.Len(t, cfg.SLOs[0].Alerting.BurnRateRules, 3)
		assert.Equal(t, 14.4, cfg.SLOs[0].Alerting.BurnRateRules[0].BurnRate)
		assert.Equal(t, time.Minute, cfg.SLOs[0].Alerting.BurnRateRules[0].For)
		assert.Equal(t, uint64(10), cfg.SLOs[0].Alerting.BurnRateRules[0].MinBadEvents)
		assert.Equal(t, BudgetingConfig{Method: "timeslices", Slice: time.Minute, MaxBadRatio: 0.05}, cfg.SLOs[1].Budgeting)
		assert.Equal(t, []string{"gen_ai.agent.name"}, cfg.SLOs[1].NoDataGroupBy)
		assert.Equal(t, map[string]string{"state": "used"}, cfg.SLOs[2].SLI.Gauge.Metrics[1].Attributes)
		assert.Equal(t, "amas.agent.requests", cfg.SLOs[3].SLI.Ratio.Denominator.Name)

		compiled, err := cfg.compile(testTelemetry(t))
		require.NoError(t, err)
		assert.False(t, compiled[0].bad.Native(), "IsMatch runs through OTTL")
		assert.True(t, compiled[0].filter.Native(), "attribute equality runs natively")
		require.Len(t, compiled[0].model.Rules, 4, "the hard-down page, then the SLO's three rules")
		assert.Equal(t, slomath.BurnRule{Severity: slomath.Page, LongWindow: 2 * time.Minute, ShortWindow: 2 * time.Minute, ErrorRatio: 0.5, MinBadEvents: 10, For: 10 * time.Second}, compiled[0].model.Rules[0])
		assert.Equal(t, uint64(20), compiled[0].model.Rules[1].MinEvents)
		assert.Equal(t, uint64(10), compiled[0].model.Rules[1].MinBadEvents, "the rule's own guard")
		assert.Equal(t, uint64(3), compiled[0].model.Rules[2].MinBadEvents, "the processor's guard")
		assert.InDelta(t, 14.4, compiled[0].model.Rules[1].Factor(compiled[0].model.Window), 1e-9)
		assert.Equal(t, uint64(500), compiled[0].model.BudgetMinEvents)
		assert.Equal(t, slomath.Page, compiled[0].model.Budget.SeverityOf(slomath.BudgetCritical))
		require.Len(t, compiled[1].model.Rules, 2, "a 7-day window keeps the two pages; its tickets would burn below 1×")
		require.NotNil(t, compiled[1].beat, "per-agent no-data")
		assert.False(t, compiled[1].model.NoData.Enabled, "replaces the SLO-level no-data")
		assert.Nil(t, compiled[0].beat, "group_by already gives per-group no-data")
		assert.InDelta(t, 3.36, compiled[1].model.Rules[0].Factor(7*24*time.Hour), 1e-9, "2% of a 7-day budget in 1h is a 3.36× burn")
		assert.Equal(t, uint64(500), compiled[3].model.BudgetMinEvents, "inherited")
		for _, r := range compiled[3].model.Rules {
			assert.False(t, r.HardDown(), "no hard-down page for a timeslices SLO")
		}
	})
}

func TestConfigValidateReportsEveryProblemWithItsPath(t *testing.T) {
	cfg := loadConfig(t, "invalid.yaml", "bad")
	err := confmap.Validate(cfg)
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"evaluation_interval: must be at least 100ms, got 0s",
		"max_groups_per_slo: must be ≥ 1, got 0",
		"max_label_length: must be in [32,16384], got 10",
		"alerting.budget_thresholds.critical: must be in [0,1], got 1.5",
		"slos[0].objective: must be in (0,1), got 1.5",
		"slos[0].sli.spans.conditions: ",
		`slos[1].name: must be unique, "a" is also slos[0]`,
		`slos[1].budgeting.method: must be "occurrences" or "timeslices", got "slices"`,
		"slos[1].sli: must set exactly one of spans, gauge, ratio, got 0",
		"slos[1].window: must be a whole number of seconds ≥ 1m0s, got 30s",
		"slos[2].sli.gauge.metrics[0].name: must not be empty",
		`slos[2].sli.gauge.comparison: must be one of "<=", "<", ">=", ">", got "=="`,
		`slos[2].budgeting.method: a gauge SLI needs timeslices, got ""`,
	} {
		assert.Contains(t, msg, want)
	}
	t.Run("Burn-rate rules are checked against the SLO window with their path.", func(t *testing.T) {
		c := createDefaultConfig().(*Config)
		c.SLOs = []SLOConfig{DefaultSLOs()[0]}
		c.SLOs[0].Alerting = &AlertingConfig{BurnRateRules: []BurnRateRuleConfig{
			{Severity: "urgent", LongWindow: 1000 * time.Hour, ShortWindow: 5 * time.Minute, BudgetConsumed: 0.02},
		}}
		err := c.Validate()
		require.Error(t, err)
		assert.Contains(t, err.Error(), `slos[0].alerting.burn_rate_rules[0].severity: must be "page" or "ticket", got "urgent"`)
		assert.Contains(t, err.Error(), "slos[0].alerting.burn_rate_rules[0].long_window: must not exceed the SLO window 720h0m0s, got 1000h0m0s")
	})
	t.Run("Inherited burn-rate rules are reported at the processor's path, naming the SLO they do not fit.", func(t *testing.T) {
		c := createDefaultConfig().(*Config)
		week := DefaultSLOs()[0]
		week.Name, week.Window = "weekly", 7*24*time.Hour
		c.SLOs = []SLOConfig{DefaultSLOs()[0], week}
		c.Alerting.BurnRateRules = []BurnRateRuleConfig{
			{Severity: "ticket", LongWindow: 10 * 24 * time.Hour, ShortWindow: 6 * time.Hour, BudgetConsumed: 0.1, For: -time.Minute},
		}
		err := c.Validate()
		require.Error(t, err)
		assert.Equal(t, "alerting.burn_rate_rules[0].for: must be ≥ 0, got -1m0s\n"+
			`alerting.burn_rate_rules[0].long_window: must not exceed the SLO window 168h0m0s, got 240h0m0s (for slos[1], "weekly")`,
			err.Error())
	})
	t.Run("A bad processor-level budget threshold is reported once, at its path.", func(t *testing.T) {
		c := createDefaultConfig().(*Config)
		c.Alerting.BudgetThresholds.Critical = 1.5
		err := c.Validate()
		require.Error(t, err)
		assert.Equal(t, "alerting.budget_thresholds.critical: must be in [0,1], got 1.5", err.Error())
	})
}

func TestAlertingValidation(t *testing.T) {
	week := 7 * 24 * time.Hour
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"A ticket rescaled below a 1× burn for a 1-week window is refused at its path.", func(c *Config) {
			c.SLOs = []SLOConfig{DefaultSLOs()[0]}
			c.SLOs[0].Window = week
			c.SLOs[0].Alerting = &AlertingConfig{BurnRateRules: []BurnRateRuleConfig{
				{Severity: "ticket", LongWindow: 72 * time.Hour, ShortWindow: 6 * time.Hour, BudgetConsumed: 0.1},
			}}
		}, "slos[0].alerting.burn_rate_rules[0].budget_consumed: must give a burn rate ≥ 1 over the SLO window 7d (a slower burn never spends the budget), got 0.1 (0.233× over 3d)"},
		{"The default table for a 1-week window simply leaves that ticket out.", func(c *Config) {
			c.SLOs = []SLOConfig{DefaultSLOs()[0]}
			c.SLOs[0].Window = week
		}, ""},
		{"A short window of one slice is refused for a timeslices SLO.", func(c *Config) {
			c.SLOs = []SLOConfig{DefaultSLOs()[1]}
			c.SLOs[0].Alerting = &AlertingConfig{BurnRateRules: []BurnRateRuleConfig{
				{Severity: "page", LongWindow: time.Hour, ShortWindow: time.Minute, BurnRate: 6},
			}}
		}, "slos[0].alerting.burn_rate_rules[0].short_window: must hold at least 2 slices of 1m, got 1m"},
		{"An explicit rule the objective cannot reach is refused.", func(c *Config) {
			c.SLOs = []SLOConfig{DefaultSLOs()[1]} // 0.90: at most 10×
			c.SLOs[0].Alerting = &AlertingConfig{BurnRateRules: []BurnRateRuleConfig{
				{Severity: "page", LongWindow: time.Hour, ShortWindow: 5 * time.Minute, BudgetConsumed: 0.02},
			}}
		}, "slos[0].alerting.burn_rate_rules[0].budget_consumed: must give a burn rate the SLO can reach, at most 1/(1 − 0.9) = 10×, got 0.02 (14.4×)"},
		{"An inherited rule the objective cannot reach names the SLO.", func(c *Config) {
			c.SLOs = []SLOConfig{DefaultSLOs()[0], DefaultSLOs()[5]}
			c.Alerting.BurnRateRules = []BurnRateRuleConfig{{Severity: "page", LongWindow: 6 * time.Hour, ShortWindow: 30 * time.Minute, BurnRate: 6}}
		}, `alerting.burn_rate_rules[0].burn_rate: must give a burn rate the SLO can reach, at most 1/(1 − 0.75) = 4×, got 6 (6×) (for slos[1], "queue_depth")`},
		{"A hard-down page on a timeslices SLO is refused.", func(c *Config) {
			c.SLOs = []SLOConfig{DefaultSLOs()[1]}
			c.SLOs[0].Alerting = &AlertingConfig{HardDown: &HardDownConfig{Enabled: true, Window: time.Minute, ErrorRatio: 0.5, MinBadEvents: 5}}
		}, "slos[0].alerting.hard_down.enabled: applies to occurrences SLOs only, got true for a timeslices SLO"},
		{"A hard-down ratio above one is refused.", func(c *Config) { c.Alerting.HardDown.ErrorRatio = 1.5 }, "alerting.hard_down.error_ratio: must be in (0,1], got 1.5"},
		{"A hard-down window under a minute is refused.", func(c *Config) { c.Alerting.HardDown.Window = 30 * time.Second }, "alerting.hard_down.window: must be a whole number of seconds ≥ 1m0s, got 30s"},
		{"A hard-down page without a bad-event guard is refused.", func(c *Config) { c.Alerting.HardDown.MinBadEvents = 0 }, "alerting.hard_down.min_bad_events: must be ≥ 1, got 0"},
		{"A disabled hard-down page is not checked.", func(c *Config) { c.Alerting.HardDown = &HardDownConfig{} }, ""},
		{"A hard-down window longer than the SLO window is refused at its path.", func(c *Config) {
			c.SLOs = []SLOConfig{DefaultSLOs()[0]}
			c.SLOs[0].Window = time.Hour
			c.SLOs[0].Alerting = &AlertingConfig{HardDown: &HardDownConfig{Enabled: true, Window: 2 * time.Hour, ErrorRatio: 0.5, MinBadEvents: 5}}
		}, "slos[0].alerting.hard_down.window: must not exceed the SLO window 1h0m0s, got 2h0m0s"},
		{"A processor without a bad-event guard is refused.", func(c *Config) { c.Alerting.MinBadEvents = 0 }, "alerting.min_bad_events: must be ≥ 1, got 0"},
		{"A budget severity other than page or ticket is refused.", func(c *Config) { c.Alerting.BudgetThresholds.Severity.High = "critical" },
			`alerting.budget_thresholds.severity.high: must be "page" or "ticket", got "critical"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := createDefaultConfig().(*Config)
			tt.mutate(c)
			err := c.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.EqualError(t, err, tt.wantErr)
		})
	}
}

func TestMinBadEventsIsSetPerSLOAndPerRule(t *testing.T) {
	c := createDefaultConfig().(*Config)
	a, b := DefaultSLOs()[0], DefaultSLOs()[2]
	a.Alerting = &AlertingConfig{MinBadEvents: 8}
	b.Alerting = &AlertingConfig{BurnRateRules: []BurnRateRuleConfig{
		{Severity: "page", LongWindow: time.Hour, ShortWindow: 5 * time.Minute, BurnRate: 14.4, MinBadEvents: 20},
		{Severity: "page", LongWindow: 6 * time.Hour, ShortWindow: 30 * time.Minute, BurnRate: 6},
	}}
	c.SLOs = []SLOConfig{a, b}
	compiled, err := c.compile(testTelemetry(t))
	require.NoError(t, err)
	for _, r := range compiled[0].model.Rules[1:] {
		assert.Equal(t, uint64(8), r.MinBadEvents, "the SLO's own guard on every default rule")
	}
	assert.Equal(t, uint64(5), compiled[0].model.Rules[0].MinBadEvents, "the hard-down page keeps its own")
	assert.Equal(t, uint64(20), compiled[1].model.Rules[1].MinBadEvents, "a rule's own guard")
	assert.Equal(t, uint64(5), compiled[1].model.Rules[2].MinBadEvents, "else the processor's")
}
