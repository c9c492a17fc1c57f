package alertstate

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func TestAnAlertWrittenIsReadBackWithTheSameIdentity(t *testing.T) {
	md := pmetric.NewMetrics()
	g := NewGauge(md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty())
	in := Alert{Name: AlertSLOBurnRate, State: StateFiring, Severity: SeverityCritical,
		Labels: map[string]string{LabelSLO: "agent_availability", LabelLongWindow: "1h", LabelShortWindow: "5m"}, ActiveSince: 42}
	Append(g, 100, in)
	in.State = StateResolved
	Append(g, 200, in)

	require.Equal(t, 2, g.DataPoints().Len())
	firing, ok := FromPoint(g.DataPoints().At(0))
	require.True(t, ok)
	resolved, ok := FromPoint(g.DataPoints().At(1))
	require.True(t, ok)
	assert.Equal(t, int64(1), g.DataPoints().At(0).IntValue())
	assert.Equal(t, int64(0), g.DataPoints().At(1).IntValue(), "a resolved alert is sent with value 0")
	assert.Equal(t, StateFiring, firing.State)
	assert.Equal(t, "agent_availability", firing.Labels[LabelSLO])
	assert.Equal(t, Fingerprint(firing), Fingerprint(resolved), "alertstate is not part of the identity")
	assert.EqualValues(t, 42, firing.ActiveSince)
}

func TestFingerprintDiffersWhenALabelDiffers(t *testing.T) {
	a := Alert{Name: AlertSLOBurnRate, Severity: SeverityCritical, Labels: map[string]string{LabelSLO: "a"}}
	b := Alert{Name: AlertSLOBurnRate, Severity: SeverityCritical, Labels: map[string]string{LabelSLO: "b"}}
	c := Alert{Name: AlertSLOBurnRate, Severity: SeverityWarning, Labels: map[string]string{LabelSLO: "a"}}
	assert.NotEqual(t, Fingerprint(a), Fingerprint(b))
	assert.NotEqual(t, Fingerprint(a), Fingerprint(c))
}

func TestAPointWithoutAlertNameIsNotAnAlert(t *testing.T) {
	dp := pmetric.NewNumberDataPoint()
	dp.Attributes().PutStr(LabelAlertState, StateFiring)
	_, ok := FromPoint(dp)
	assert.False(t, ok)
}

func TestFingerprintAttrsIsTheFingerprintOfThePointsAlertWithoutAllocating(t *testing.T) {
	md := pmetric.NewMetrics()
	g := NewGauge(md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty())
	for i, a := range []Alert{
		{Name: AlertSLOBurnRate, State: StateFiring, Severity: SeverityCritical,
			Labels: map[string]string{LabelSLO: "x", LabelLongWindow: "1h", LabelShortWindow: "5m", "gen_ai.agent.name": "planner"}},
		{Name: AlertSLONoData, State: StatePending},
		{Name: AlertRegression, State: StateResolved, Severity: SeverityWarning,
			Labels: map[string]string{LabelOperation: "shop/chat", LabelType: "latency_regression"}},
	} {
		Append(g, 1, a)
		dp := g.DataPoints().At(i)
		back, ok := FromPoint(dp)
		require.True(t, ok)
		assert.Equal(t, Fingerprint(a), FingerprintAttrs(dp.Attributes()), a.Name)
		assert.Equal(t, Fingerprint(back), FingerprintAttrs(dp.Attributes()), a.Name)
	}
	attrs := g.DataPoints().At(0).Attributes()
	assert.Zero(t, testing.AllocsPerRun(100, func() { FingerprintAttrs(attrs) }))
}

func TestFingerprintAttrsReadsNonStringLabelsAsFromPointDoes(t *testing.T) {
	dp := pmetric.NewNumberDataPoint()
	dp.Attributes().PutStr(LabelAlertName, "A")
	dp.Attributes().PutStr(LabelAlertState, StateFiring)
	dp.Attributes().PutInt("shard", 3)
	dp.Attributes().PutBool(LabelSeverity, true)
	a, ok := FromPoint(dp)
	require.True(t, ok)
	assert.Equal(t, Fingerprint(a), FingerprintAttrs(dp.Attributes()))
}
