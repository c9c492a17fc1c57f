package alertstate

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func forged() pmetric.Metrics {
	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	add := func(name string, n int) {
		m := ms.AppendEmpty()
		m.SetName(name)
		dps := m.SetEmptyGauge().DataPoints()
		for range n {
			dps.AppendEmpty().SetIntValue(1)
		}
	}
	add("process_memory_utilization", 1)
	add(MetricName, 2)
	add("amas_slo_error_budget_remaining_percent", 1)
	add("amas_performance_regression", 1)
	add("amas_performance_regression_current_seconds", 1)
	add("amas_agent_requests_total", 1)
	return md
}

func names(md pmetric.Metrics) []string {
	var out []string
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := 0; i < ms.Len(); i++ {
		out = append(out, ms.At(i).Name())
	}
	return out
}

func TestReservedNamesAreTheEmittersOutputsOnly(t *testing.T) {
	for name, want := range map[string]bool{
		"amas_alerts": true, "amas_slo_compliance": true, "amas_slo_violations": true,
		"amas_performance_regression": true, "amas_performance_regression_baseline_seconds": true,
		"amas_alerts_total": false, "amas_agent_requests_total": false, "ALERTS": false,
		"process_memory_utilization": false, "amas_queue_depth_current": false,
	} {
		assert.Equal(t, want, IsReserved(name), name)
	}
}

func TestStripReservedRemovesEveryReservedPointAndLeavesTheInputAlone(t *testing.T) {
	in := forged()
	out, dropped := StripReserved(in)
	assert.Equal(t, 5, dropped, "2 alert points, 1 slo point, 2 regression points")
	assert.Equal(t, []string{"process_memory_utilization", "amas_agent_requests_total"}, names(out))
	assert.Len(t, names(in), 6, "the input may be shared with another pipeline: it is not modified")
}

func TestStripReservedReturnsTheSameBatchWhenNothingIsReserved(t *testing.T) {
	md := pmetric.NewMetrics()
	md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetName("amas_agent_requests_total")
	out, dropped := StripReserved(md)
	require.Equal(t, 0, dropped)
	assert.Equal(t, md, out)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = StripReserved(md) }))
}

func TestOnlyWithEmitterMarksAContext(t *testing.T) {
	ctx := context.Background()
	assert.False(t, FromEmitter(ctx))
	type otherKey struct{}
	assert.False(t, FromEmitter(context.WithValue(ctx, otherKey{}, true)), "a look-alike key is not the mark")
	assert.True(t, FromEmitter(WithEmitter(ctx)))
	assert.True(t, FromEmitter(context.WithValue(WithEmitter(ctx), otherKey{}, 1)), "the mark survives derived contexts")
}
