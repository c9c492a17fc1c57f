package regressionprocessor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
)

// instanceLabels returns, per metric name, how many points carry the instance label with the
// value want and how many do not; the firing amas_alerts points are counted under "firing".
func instanceLabels(mds []pmetric.Metrics, want string) (with, without map[string]int) {
	with, without = map[string]int{}, map[string]int{}
	for _, md := range mds {
		ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
		for i := 0; i < ms.Len(); i++ {
			dps := ms.At(i).Gauge().DataPoints()
			for j := 0; j < dps.Len(); j++ {
				v, ok := dps.At(j).Attributes().Get(alertstate.LabelInstance)
				name := ms.At(i).Name()
				if a, isAlert := alertstate.FromPoint(dps.At(j)); isAlert && name == alertstate.MetricName && a.State == alertstate.StateFiring {
					name = "firing"
				}
				if ok && v.Str() == want {
					with[name]++
				} else {
					without[name]++
				}
			}
		}
	}
	return with, without
}

func TestEveryRegressionSeriesAndAlertCarriesTheInstanceLabel(t *testing.T) {
	for _, value := range []string{"otelcol-amas-2", ""} {
		cfg := createDefaultConfig().(*Config)
		cfg.InstanceLabel.Value = value
		s := newSim(t, cfg)
		st := newStream(90, "planner")
		warmUp(s, st)
		st.scale = 1.5
		for n := 0; n < 30 && s.phase(st.label(), kindLatency) != phaseFiring; n++ {
			s.interval(st)
		}
		require.Equal(t, phaseFiring, s.phase(st.label(), kindLatency))
		with, without := instanceLabels(s.sink.AllMetrics(), "otelcol-amas-2")
		if value == "" {
			assert.Empty(t, with, "no instance value, no label")
			assert.Positive(t, without["firing"])
			continue
		}
		assert.Empty(t, without, "every point carries the label")
		for _, name := range []string{metricRegression, metricBaseline, metricCurrent, metricRatio, "firing"} {
			assert.Positive(t, with[name], "%s points", name)
		}
	}
}

func TestRegressionInstanceLabelValidation(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.InstanceLabel = alertstate.InstanceLabel{Name: "operation", Value: "pod-0"}
	assert.EqualError(t, cfg.Validate(), `instance_label.name: must not be a label the emitter writes itself, got "operation"`)
	cfg.InstanceLabel.Name = "pod"
	assert.NoError(t, cfg.Validate())
}
