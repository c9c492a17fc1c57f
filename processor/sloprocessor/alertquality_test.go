package sloprocessor

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-amas/otelcol-amas/exporter/alertexporter"
	"github.com/otelcol-amas/otelcol-amas/internal/alertstate"
)

// activeAlerts lists the pending or firing alerts of a batch as "alertname{severity,slo,...}",
// sorted, leaving out SLONoData; pages are those with severity critical or high (what the default
// route pages on).
func activeAlerts(t *testing.T, md pmetric.Metrics) (pages, tickets []string) {
	t.Helper()
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				if m.Name() != alertstate.MetricName {
					continue
				}
				dps := m.Gauge().DataPoints()
				for l := 0; l < dps.Len(); l++ {
					a, ok := alertstate.FromPoint(dps.At(l))
					// No-data is judged elsewhere (its own tests): these tests are about burn and budget.
					if !ok || a.Name == alertstate.AlertSLONoData || (a.State != alertstate.StateFiring && a.State != alertstate.StatePending) {
						continue
					}
					keys := make([]string, 0, len(a.Labels))
					for k := range a.Labels {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					s := a.Name + "{severity=" + a.Severity
					for _, k := range keys {
						s += "," + k + "=" + a.Labels[k]
					}
					s += "}"
					if a.Severity == alertstate.SeverityCritical || a.Severity == alertstate.SeverityHigh {
						pages = append(pages, s)
					} else {
						tickets = append(tickets, s)
					}
				}
			}
		}
	}
	sort.Strings(pages)
	sort.Strings(tickets)
	return pages, tickets
}

// sim drives one processor second by second on the fake clock, evaluating on every tick of the
// configured interval (ticks at whole multiples of it since the epoch, as the harness starts).
type sim struct {
	t        *testing.T
	h        *harness
	interval time.Duration
	elapsed  time.Duration
	// onTick sees every evaluation's batch at the elapsed time of the tick.
	onTick func(at time.Duration, md pmetric.Metrics)
}

func newSim(t *testing.T, cfg *Config) *sim {
	h := newHarness(t, cfg, nil, nil)
	t.Cleanup(h.shutdown)
	return &sim{t: t, h: h, interval: cfg.EvaluationInterval}
}

// second sends td (if any) during the current second, then moves the clock one second on and
// evaluates when that completes an interval.
func (s *sim) second(td ptrace.Traces) {
	if td.SpanCount() > 0 {
		s.h.spans(td)
	}
	s.elapsed += time.Second
	if s.elapsed%s.interval != 0 {
		s.h.clock.Advance(time.Second)
		return
	}
	md := s.h.tick(time.Second)
	if s.onTick != nil {
		s.onTick(s.elapsed, md)
	}
}

func agentRuns(n, failed int) ptrace.Traces {
	specs := repeat(n, spanSpec{agent: "planner", op: "invoke_agent"})
	for i := range failed {
		specs[i].err = true
	}
	return makeSpans(specs...)
}

func oneSLO(objective float64) *Config {
	cfg := createDefaultConfig().(*Config)
	s := DefaultSLOs()[0]
	s.Name = "availability"
	s.Objective = objective
	cfg.SLOs = []SLOConfig{s}
	return cfg
}

// TestATotalFailurePagesWithinAMinuteAtAnyObjectiveAndABlipNever runs a long healthy history (7
// hours, so every page rule's long window is full: steady state, not a fresh start) at a steady
// rate, then either a total failure or a 65-second blip of 5% errors, for each objective and
// rate. The time to the notification is counted from the first failing request to the tick
// that shows the page in amas_alerts, plus the alert exporter's default group_wait (it sends a
// new group's first notification that long after the alert arrives).
func TestATotalFailurePagesWithinAMinuteAtAnyObjectiveAndABlipNever(t *testing.T) {
	groupWait := alertexporter.NewFactory().CreateDefaultConfig().(*alertexporter.Config).Route.GroupWait
	const history = 7 * time.Hour
	for _, objective := range []float64{0.9, 0.99, 0.995, 0.999, 0.9999} {
		for _, rate := range []int{1, 10, 100} {
			// The failure starts 1 s after a tick (the worst phase: the next tick is 9 s away
			// and the short window has just been read) or 5 s after it.
			for _, phase := range []time.Duration{time.Second, 5 * time.Second} {
				name := fmt.Sprintf("A total failure at objective %v and %d requests/s, starting %s after a tick, is notified within 60 s.", objective, rate, phase)
				t.Run(name, func(t *testing.T) {
					s := newSim(t, oneSLO(objective))
					good, bad := agentRuns(rate, 0), agentRuns(rate, rate)
					for s.elapsed < history+phase-time.Second {
						s.second(good)
					}
					var pagedAt time.Duration
					failStart := s.elapsed // the first failing request arrives in this second
					s.onTick = func(at time.Duration, md pmetric.Metrics) {
						if pages, _ := activeAlerts(t, md); len(pages) > 0 && pagedAt == 0 {
							pagedAt = at
						}
					}
					for s.elapsed < failStart+2*time.Minute && pagedAt == 0 {
						s.second(bad)
					}
					require.NotZero(t, pagedAt, "a total failure pages")
					toNotification := pagedAt - failStart + groupWait
					t.Logf("paged %s after the first failure; notified after %s", pagedAt-failStart, toNotification)
					assert.LessOrEqual(t, toNotification, 60*time.Second)
				})
			}
			t.Run(fmt.Sprintf("A 65-second blip of 5%% errors at objective %v and %d requests/s never pages.", objective, rate), func(t *testing.T) {
				s := newSim(t, oneSLO(objective))
				good := agentRuns(rate, 0)
				for s.elapsed < history {
					s.second(good)
				}
				var paged []string
				s.onTick = func(at time.Duration, md pmetric.Metrics) {
					if pages, _ := activeAlerts(t, md); len(pages) > 0 && paged == nil {
						paged = pages
					}
				}
				// 5% of the requests fail, spread evenly: every 20th request in the blip.
				n := 0
				for range 65 {
					failed := 0
					for range rate {
						n++
						if n%20 == 0 {
							failed++
						}
					}
					s.second(agentRuns(rate, failed))
				}
				for s.elapsed < history+time.Hour {
					s.second(good)
				}
				assert.Empty(t, paged, "%d failures in the blip", n/20)
			})
		}
	}
}

// TestOneFailureAmongFewRequestsPagesNothing replays the low-traffic shapes that paged with the
// default configuration: a fresh collector, a handful of agent runs, one failure or slow run.
func TestOneFailureAmongFewRequestsPagesNothing(t *testing.T) {
	for _, tc := range []struct {
		name        string
		runs        int
		every       time.Duration
		failed      map[int]bool // index of a failing run
		slow        map[int]bool // index of a run slower than 1.5 s
		wantPage    bool
		wantTickets bool
	}{
		{name: "30 agent runs over 30 s with one failure page nothing and ticket nothing.", runs: 30, every: time.Second, failed: map[int]bool{17: true}},
		{name: "A quiet service with one failure in 15 runs over an hour pages nothing.", runs: 15, every: 4 * time.Minute, failed: map[int]bool{9: true}},
		{name: "One slow run in 24, one a minute, pages nothing.", runs: 24, every: time.Minute, slow: map[int]bool{20: true}},
		{name: "One failure in 10 runs raises no budget alert.", runs: 10, every: time.Second, failed: map[int]bool{3: true}},
		{name: "Ten failures in 30 runs over 30 s page: the guard does not hide a real burst.", runs: 30, every: time.Second,
			failed: map[int]bool{20: true, 21: true, 22: true, 23: true, 24: true, 25: true, 26: true, 27: true, 28: true, 29: true}, wantPage: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, createDefaultConfig().(*Config), nil, nil)
			defer h.shutdown()
			var pages, tickets []string
			collect := func(md pmetric.Metrics) {
				p, tk := activeAlerts(t, md)
				pages = append(pages, p...)
				tickets = append(tickets, tk...)
			}
			for i := range tc.runs {
				sp := spanSpec{agent: "planner", op: "invoke_agent", err: tc.failed[i]}
				if tc.slow[i] {
					sp.dur = 3 * time.Second
				}
				h.spans(makeSpans(sp))
				h.clock.Advance(tc.every)
				h.p.tick(context.Background())
			}
			for range 60 { // and the next ten minutes
				collect(h.tick(10 * time.Second))
			}
			if tc.wantPage {
				assert.NotEmpty(t, pages)
				return
			}
			assert.Empty(t, pages)
			assert.Empty(t, tickets)
		})
	}
}

// TestAQuietNightThenOneSlowRequestDoesNotBurnTheLatencyBudget: empty slices are good slices, so
// one slow minute after eight silent hours is 1 bad slice of 360 over 6h, not 1 of 1.
func TestAQuietNightThenOneSlowRequestDoesNotBurnTheLatencyBudget(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.SLOs = []SLOConfig{DefaultSLOs()[1]} // agent_latency_p95, 1-minute slices at 0.90
	s := newSim(t, cfg)
	day := agentRuns(5, 0)
	for s.elapsed < 2*time.Hour { // an evening of traffic
		s.second(day)
	}
	for s.elapsed < 10*time.Hour { // a quiet night
		s.second(ptrace.NewTraces())
	}
	var pages, tickets []string
	var md pmetric.Metrics
	s.onTick = func(_ time.Duration, m pmetric.Metrics) {
		p, tk := activeAlerts(t, m)
		pages, tickets, md = append(pages, p...), append(tickets, tk...), m
	}
	s.second(makeSpans(spanSpec{agent: "planner", op: "invoke_agent", dur: 3 * time.Second}))
	for range 2 * 60 {
		s.second(ptrace.NewTraces())
	}
	assert.Empty(t, pages)
	assert.Empty(t, tickets)
	burn, ok := point(t, md, metricBurnRate, map[string]string{"slo": "agent_latency_p95", "window": "6h"})
	require.True(t, ok)
	assert.InDelta(t, 1.0/360/0.1, burn, 1e-9, "1 bad slice of the 360 in 6h, against a 10% budget")
}
