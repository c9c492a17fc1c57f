package sloprocessor

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/internal/safelabel"
)

// eachPoint calls fn with the metric name and attributes of every number point of md, the
// points that only end a series included.
func eachPoint(md pmetric.Metrics, fn func(name string, dp pmetric.NumberDataPoint)) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				var dps pmetric.NumberDataPointSlice
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					dps = m.Gauge().DataPoints()
				case pmetric.MetricTypeSum:
					dps = m.Sum().DataPoints()
				default:
					continue
				}
				for l := 0; l < dps.Len(); l++ {
					fn(m.Name(), dps.At(l))
				}
			}
		}
	}
}

// runIncident sends 5 minutes of good agent runs, 30 s of failing ones, then silence for 3
// minutes, and returns every batch the processor emitted.
func runIncident(t *testing.T, cfg *Config) []pmetric.Metrics {
	h := newHarness(t, cfg, nil, nil)
	defer h.shutdown()
	var out []pmetric.Metrics
	good := makeSpans(repeat(50, spanSpec{agent: "planner", op: "invoke_agent"})...)
	bad := makeSpans(repeat(50, spanSpec{agent: "planner", op: "invoke_agent", err: true})...)
	for range 30 {
		h.spans(good)
		out = append(out, h.tick(10*time.Second))
	}
	for range 3 {
		h.spans(bad)
		out = append(out, h.tick(10*time.Second))
	}
	for range 18 {
		out = append(out, h.tick(10*time.Second))
	}
	return out
}

func TestEveryEmittedSeriesAndAlertCarriesTheInstanceLabel(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.InstanceLabel.Value = "otelcol-amas-1"
	alerts := map[string]bool{}
	names := map[string]bool{}
	points := 0
	for _, md := range runIncident(t, cfg) {
		eachPoint(md, func(name string, dp pmetric.NumberDataPoint) {
			points++
			names[name] = true
			v, ok := dp.Attributes().Get(alertstate.LabelInstance)
			if assert.True(t, ok, "%s%v lacks the instance label", name, dp.Attributes().AsRaw()) {
				assert.Equal(t, "otelcol-amas-1", v.Str())
			}
			if name == alertstate.MetricName && !alertstate.Ended(dp) {
				a, ok := alertstate.FromPoint(dp)
				require.True(t, ok)
				alerts[a.Name+"/"+a.State] = true
				assert.Equal(t, "otelcol-amas-1", a.Labels[alertstate.LabelInstance], "the exporter reads it as an alert label")
			}
		})
	}
	require.NotZero(t, points)
	for _, n := range []string{metricCompliance, metricBudgetRemaining, metricBurnRate, metricSLI, metricObjective, metricViolations} {
		assert.True(t, names[n], "%s emitted", n)
	}
	assert.True(t, alerts[alertstate.AlertSLOBurnRate+"/firing"], "the page fired: %v", alerts)
	assert.True(t, alerts[alertstate.AlertSLONoData+"/firing"], "the per-agent no-data fired: %v", alerts)
}

func TestWithoutAnInstanceValueNoSeriesCarriesTheLabel(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.Equal(t, alertstate.LabelInstance, cfg.InstanceLabel.Name, "the name has a default, the value has none")
	require.Empty(t, cfg.InstanceLabel.Value)
	points := 0
	for _, md := range runIncident(t, cfg) {
		eachPoint(md, func(name string, dp pmetric.NumberDataPoint) {
			points++
			_, ok := dp.Attributes().Get(alertstate.LabelInstance)
			assert.False(t, ok, "%s carries an instance label", name)
		})
	}
	require.NotZero(t, points)
}

func TestTheInstanceValueIsMadeSafe(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.InstanceLabel = alertstate.InstanceLabel{Name: "replica", Value: "pod-0\r\n" + strings.Repeat("x", 1<<16)}
	h := newHarness(t, cfg, nil, nil)
	defer h.shutdown()
	md := h.tick(10 * time.Second)
	n := 0
	eachPoint(md, func(_ string, dp pmetric.NumberDataPoint) {
		v, ok := dp.Attributes().Get("replica")
		require.True(t, ok)
		assert.LessOrEqual(t, len(v.Str()), safelabel.DefaultMax)
		assert.NotContains(t, v.Str(), "\n")
		assert.True(t, strings.HasPrefix(v.Str(), "pod-0"))
		n++
	})
	assert.NotZero(t, n)
}

func TestInstanceLabelValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"an unset value accepts any name, since no label is written", func(c *Config) { c.InstanceLabel.Name = "not a label" }, ""},
		{"a Prometheus label name is accepted", func(c *Config) { c.InstanceLabel = alertstate.InstanceLabel{Name: "pod", Value: "p"} }, ""},
		{"a name with a dash is refused", func(c *Config) { c.InstanceLabel = alertstate.InstanceLabel{Name: "amas-instance", Value: "p"} },
			`instance_label.name: must be a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __), got "amas-instance"`},
		{"a reserved double-underscore name is refused", func(c *Config) { c.InstanceLabel = alertstate.InstanceLabel{Name: "__name__", Value: "p"} },
			`instance_label.name: must be a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __), got "__name__"`},
		{"a label the processor writes is refused", func(c *Config) { c.InstanceLabel = alertstate.InstanceLabel{Name: "slo", Value: "p"} },
			`instance_label.name: must not be a label the emitter writes itself, got "slo"`},
		{"a group label, as Prometheus names it, is refused", func(c *Config) {
			c.SLOs = DefaultSLOs()
			c.SLOs[0].GroupBy = []string{"service.name"}
			c.InstanceLabel = alertstate.InstanceLabel{Name: "service_name", Value: "p"}
		}, `instance_label.name: must not be a group_by label (as Prometheus names it), got "service_name"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tt.mutate(cfg)
			err := cfg.Validate()
			if tt.want == "" {
				assert.NoError(t, err)
			} else {
				assert.EqualError(t, err, tt.want)
			}
		})
	}
}

func TestAReplicaWarnsOfItsUngroupedSLOs(t *testing.T) {
	grouped := func() *Config {
		cfg := createDefaultConfig().(*Config)
		cfg.SLOs = DefaultSLOs()
		for i := range cfg.SLOs {
			cfg.SLOs[i].GroupBy = []string{"service.name"}
		}
		return cfg
	}
	tests := []struct {
		name   string
		config func() *Config
		want   []any
	}{
		{"a replica with the default SLOs names all six", func() *Config {
			cfg := createDefaultConfig().(*Config)
			cfg.InstanceLabel.Value = "otelcol-amas-0"
			return cfg
		}, []any{"agent_availability", "agent_latency_p95", "tool_call_success_rate", "memory_usage", "cost_efficiency", "queue_depth"}},
		{"a replica with two SLOs left ungrouped names those two", func() *Config {
			cfg := grouped()
			cfg.SLOs[3].GroupBy, cfg.SLOs[5].GroupBy = nil, nil
			cfg.InstanceLabel.Value = "otelcol-amas-0"
			return cfg
		}, []any{"memory_usage", "queue_depth"}},
		{"a replica with every SLO grouped is silent", func() *Config {
			cfg := grouped()
			cfg.InstanceLabel.Value = "otelcol-amas-0"
			return cfg
		}, nil},
		{"a single collector (no instance value) is silent", func() *Config { return createDefaultConfig().(*Config) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zap.WarnLevel)
			h := newHarness(t, tt.config(), zap.New(core), nil)
			h.shutdown()
			found := logs.FilterMessageSnippet("have no group_by").All()
			if tt.want == nil {
				assert.Empty(t, found)
				return
			}
			require.Len(t, found, 1)
			assert.Equal(t, tt.want, found[0].ContextMap()["slos"])
		})
	}
}
