package sloprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor/internal/metadata"
)

// steppingClock is a real clock's behaviour on a fake one: Now is the wall clock, which can be
// stepped; Since is measured on the monotonic clock, which steps do not move.
type steppingClock struct {
	*clockwork.FakeClock
	step time.Duration
}

func (c *steppingClock) Now() time.Time { return c.FakeClock.Now().Add(c.step) }

// Since is the elapsed time on the monotonic clock, for times read before the step (the
// processor's t0 is).
func (c *steppingClock) Since(t time.Time) time.Duration { return c.FakeClock.Now().Sub(t) }

func TestAWallClockStepBackDoesNotBlindTheShortWindows(t *testing.T) {
	clock := &steppingClock{FakeClock: clockwork.NewFakeClockAt(epoch)}
	p, err := newSLOProcessor(processortest.NewNopSettings(metadata.Type), createDefaultConfig().(*Config), clock)
	require.NoError(t, err)
	sink := new(consumertest.MetricsSink)
	p.metricsUsed, p.nextMetrics = true, sink
	require.NoError(t, p.Start(context.Background(), &testHost{}))
	defer func() { require.NoError(t, p.Shutdown(context.Background())) }()

	good := makeSpans(repeat(100, spanSpec{agent: "planner", op: "invoke_agent"})...)
	bad := makeSpans(repeat(100, spanSpec{agent: "planner", op: "invoke_agent", err: true})...)
	tick := func() {
		clock.Advance(10 * time.Second)
		sink.Reset()
		p.tick(context.Background())
	}
	for range 60 {
		_, _ = p.consumeTraces(context.Background(), good)
		tick()
	}
	// The wall clock is corrected one hour back; then every request fails.
	clock.step = -time.Hour
	page := map[string]string{"alertname": alertstate.AlertSLOBurnRate, "slo": "agent_availability", "severity": "critical", "alertstate": "firing", "long_window": "1m"}
	paged := false
	for range 12 { // two minutes
		_, _ = p.consumeTraces(context.Background(), bad)
		tick()
		all := sink.AllMetrics()
		require.NotEmpty(t, all)
		if _, ok := point(t, all[len(all)-1], alertstate.MetricName, page); ok {
			paged = true
		}
	}
	assert.True(t, paged, "a total failure pages within two minutes although the wall clock went back an hour")
	all := sink.AllMetrics()
	burn, ok := point(t, all[len(all)-1], metricBurnRate, map[string]string{"slo": "agent_availability", "window": "1m"})
	require.True(t, ok)
	assert.InDelta(t, 200, burn, 1e-9, "the 1m window sees the failures")
}
