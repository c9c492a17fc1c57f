package slomath

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// availabilityModel is the AMAS specification's agent_availability SLO with the default alerting.
func availabilityModel(t *testing.T) *Model {
	t.Helper()
	m, err := NewModel(Spec{
		Objective:         0.995,
		Window:            30 * day,
		Rules:             availabilityRules(10, DefaultMinBadEvents),
		Budget:            DefaultBudgetThresholds(),
		BudgetMinEvents:   DefaultBudgetMinEvents(0.995),
		NoData:            NoData{Enabled: true, After: 90 * time.Second},
		ResolvedRetention: 5 * time.Minute,
	})
	require.NoError(t, err)
	return m
}

// availabilityRules are the rules the processor gives an occurrences SLO at 99.5% over 30 days:
// the hard-down page first, then the workbook table.
func availabilityRules(minEvents, minBad uint64) []BurnRule {
	return append([]BurnRule{HardDownRule(DefaultHardDownWindow, DefaultHardDownRatio, DefaultHardDownMinBad)},
		DefaultRules(30*day, 0.995, 0, minEvents, minBad)...)
}

// sim drives one series on a fake clock: every step it records rate events per second (bad
// ones by errorsPer, an "every nth event is bad" pattern), and evaluates every tick as the
// processor does.
type sim struct {
	t     *testing.T
	m     *Model
	s     *Series
	now   int64
	tick  int64
	ev    Evaluation
	fired map[int]int64 // slot → first time it fired
}

func newSim(t *testing.T, m *Model) *sim {
	return &sim{t: t, m: m, s: m.NewSeries(), now: int64(1_700_000_000) * int64(time.Second), tick: int64(10 * time.Second), fired: map[int]int64{}}
}

// run advances d, recording eventsPerTick events per tick of which badPerTick are bad, then
// evaluating. check, when set, is called after every evaluation.
func (s *sim) run(d time.Duration, eventsPerTick, badPerTick uint64, check func()) {
	end := s.now + int64(d)
	for s.now < end {
		s.now += s.tick
		if eventsPerTick > 0 {
			s.m.RecordN(s.s, s.now-1, Counts{Total: eventsPerTick, Bad: badPerTick})
		}
		s.m.Evaluate(s.s, s.now, &s.ev)
		for _, slot := range s.ev.Fired {
			if _, ok := s.fired[slot]; !ok {
				s.fired[slot] = s.now
			}
		}
		if check != nil {
			check()
		}
	}
}

func (s *sim) pageActive() bool {
	for i, r := range s.m.Rules {
		if r.Severity == Page && s.s.Alerts[i].Active() {
			return true
		}
	}
	return false
}

func (s *sim) ticketActive() bool {
	for i, r := range s.m.Rules {
		if r.Severity == Ticket && s.s.Alerts[i].Active() {
			return true
		}
	}
	return false
}

func TestScenarioLowErrorRateForDaysNeverPages(t *testing.T) {
	m := availabilityModel(t)
	s := newSim(t, m)
	// 10 events/s, one bad in 1000 (one every 100 s): 0.1%, a fifth of the budget.
	var i int
	s.tick = int64(10 * time.Second)
	end := s.now + int64(4*day)
	for s.now < end {
		s.now += s.tick
		i++
		bad := uint64(0)
		if i%10 == 0 {
			bad = 1
		}
		m.RecordN(s.s, s.now-1, Counts{Total: 100, Bad: bad})
		m.Evaluate(s.s, s.now, &s.ev)
		require.Empty(t, s.ev.Fired, "no alert of any kind fires at 0.1%% errors (at %s)", time.Duration(s.now-end+int64(4*day)))
	}
	assert.InDelta(t, 0.8, s.ev.BudgetRemaining, 0.01, "0.1% errors at 99.5% leave 80% of the budget")
	assert.True(t, s.ev.Compliant)
}

func TestScenarioTotalFailurePagesWithinTwoMinutes(t *testing.T) {
	m := availabilityModel(t)
	s := newSim(t, m)
	s.run(2*time.Hour, 100, 0, nil) // 10/s, all good
	require.Empty(t, s.fired)
	start := s.now
	var pagedAt int64
	s.run(3*time.Minute, 100, 100, func() {
		if pagedAt == 0 && s.pageActive() {
			pagedAt = s.now
		}
	})
	require.NotZero(t, pagedAt, "a total failure must page")
	took := time.Duration(pagedAt - start)
	t.Logf("total failure paged after %s", took)
	assert.LessOrEqual(t, took, 2*time.Minute)
	fast := 0 // the hard-down page is the first rule
	assert.Equal(t, Firing, s.s.Alerts[fast].Phase)
	assert.False(t, s.ticketActive(), "a page suppresses the ticket of the same SLO")
	assert.Equal(t, uint64(1), s.s.Violations[fast])

	t.Run("Recovery resolves the page and later forgets it.", func(t *testing.T) {
		var resolvedAt int64
		s.run(10*time.Minute, 100, 0, func() {
			if resolvedAt == 0 && s.s.Alerts[fast].Phase == Resolved {
				resolvedAt = s.now
			}
		})
		require.NotZero(t, resolvedAt, "the hard-down page resolves once the 1m window is clean")
		assert.LessOrEqual(t, time.Duration(resolvedAt-start), 3*time.Minute+2*time.Minute)
		assert.Equal(t, Inactive, s.s.Alerts[fast].Phase, "resolved alerts are kept for the retention, then inactive")
	})
}

func TestScenarioTwoPercentErrorsForHoursTicketsWithoutPaging(t *testing.T) {
	m := availabilityModel(t)
	s := newSim(t, m)
	s.tick = int64(time.Minute)
	s.run(7*day, 600, 0, nil) // a clean week at 10/s
	require.Empty(t, s.fired)
	var ticketAt int64
	s.run(day, 600, 12, func() { // 2%: four times the budget rate
		assert.False(t, s.pageActive(), "2% errors at 99.5% burn at 4×, below every page factor")
		if ticketAt == 0 && s.ticketActive() {
			ticketAt = s.now
		}
	})
	require.NotZero(t, ticketAt, "2% errors for hours raise a ticket")
	t.Logf("ticket after %s of 2%% errors", time.Duration(ticketAt-(s.now-int64(day))))
	// The 1d∧2h rule needs the 1d ratio at 1.5%: 18 hours of 2% after a clean week.
	assert.InDelta(t, float64(18*time.Hour), float64(ticketAt-(s.now-int64(day))), float64(15*time.Minute))
}

func TestScenarioTrafficStopsRaisesNoData(t *testing.T) {
	m := availabilityModel(t)
	s := newSim(t, m)
	s.run(time.Hour, 100, 0, nil)
	stop := s.now
	s.run(5*time.Minute, 0, 0, nil)
	at, ok := s.fired[m.NoDataSlot()]
	require.True(t, ok, "an SLO whose traffic stops raises no-data")
	assert.Equal(t, int64(90*time.Second), at-stop)
	assert.False(t, s.pageActive(), "silence is not a burn")

	s.run(time.Minute, 100, 0, nil)
	assert.Equal(t, Resolved, s.s.Alerts[m.NoDataSlot()].Phase, "traffic coming back resolves no-data")

	t.Run("A series that never had traffic raises no no-data alert.", func(t *testing.T) {
		s2 := newSim(t, m)
		s2.run(time.Hour, 0, 0, nil)
		assert.Empty(t, s2.fired)
	})
}

func TestScenarioLowTrafficWithOneFailureDoesNotPage(t *testing.T) {
	m := availabilityModel(t)
	s := newSim(t, m)
	s.tick = int64(10 * time.Minute) // one event every ten minutes
	s.run(day, 1, 0, nil)
	s.run(10*time.Minute, 1, 1, nil) // one failure
	s.run(2*time.Hour, 1, 0, func() {
		assert.False(t, s.pageActive(), "one failure in six events per hour is not a page")
	})
	for i, r := range m.Rules {
		if r.Severity != Page {
			continue // one failure in 150 events does overspend a 0.5% budget: a ticket is fair
		}
		_, fired := s.fired[i]
		assert.False(t, fired, "page rule %s∧%s stays quiet under min_events", r.LongWindow, r.ShortWindow)
	}

	t.Run("Without the minimum event count the same failure would page.", func(t *testing.T) {
		spec := m.Spec
		spec.Rules = DefaultRules(spec.Window, spec.Objective, 0, 0, 0)
		m0, err := NewModel(spec)
		require.NoError(t, err)
		s0 := newSim(t, m0)
		s0.tick = int64(10 * time.Minute)
		s0.run(day, 1, 0, nil)
		s0.run(10*time.Minute, 1, 1, nil)
		assert.True(t, s0.pageActive())
	})
}

func TestScenarioTimeslicesLatency(t *testing.T) {
	m, err := NewModel(Spec{
		Objective:  0.9,
		Window:     30 * day,
		Timeslices: &Timeslices{Slice: time.Minute, MaxBadRatio: 0.05},
		Rules:      DefaultRules(30*day, 0.9, time.Minute, 1, DefaultMinBadEvents),
		Budget:     DefaultBudgetThresholds(),
		NoData:     NoData{Enabled: true, After: 90 * time.Second},
	})
	require.NoError(t, err)
	s := newSim(t, m)
	// Per 10 s tick 100 spans; 4 slow: p95 under the threshold, every slice good.
	s.run(time.Hour, 100, 4, nil)
	w := m.Layout.WindowIndex(6 * time.Hour)
	assert.Equal(t, Counts{Total: 60, Bad: 0}, s.ev.Counts[w], "an hour into the series, 6h holds the 60 one-minute slices so far, all good")
	// 10 slow of 100: p95 over the threshold, every slice bad.
	s.run(30*time.Minute, 100, 10, nil)
	c := s.ev.Counts[w]
	assert.Equal(t, uint64(90), c.Total)
	assert.InDelta(t, 30, float64(c.Bad), 1, "the last 30 slices are bad")
	assert.Less(t, s.ev.BudgetRemaining, 1.0)
}

func TestScenarioRatioSlices(t *testing.T) {
	m, err := NewModel(Spec{
		Objective:  0.8,
		Window:     30 * day,
		Timeslices: &Timeslices{Slice: time.Minute, Ratio: true, Threshold: 0.05, Comparison: LessOrEqual},
		Rules:      DefaultRules(30*day, 0.8, time.Minute, 1, DefaultMinBadEvents),
	})
	require.NoError(t, err)
	s := m.NewSeries()
	t0 := int64(28_000_000) * int64(time.Minute)
	m.RecordRatio(s, t0, 0.40, 10)                    // $0.04 per request: good slice
	m.RecordRatio(s, t0+int64(time.Minute), 0.90, 10) // $0.09 per request: bad slice
	m.RecordRatio(s, t0+int64(2*time.Minute), 0.5, 0) // no requests: an empty slice, good
	var ev Evaluation
	m.Evaluate(s, t0+int64(4*time.Minute), &ev)
	assert.Equal(t, Counts{Total: 4, Bad: 1}, ev.Counts[m.Layout.WindowIndex(2*time.Hour)], "four slices have closed since the first; one was bad")
}

func TestPageSuppressesTicket(t *testing.T) {
	m := availabilityModel(t)
	s := newSim(t, m)
	s.tick = int64(time.Minute)
	s.run(2*day, 600, 600, nil) // two days of total failure: every rule's condition holds
	assert.True(t, s.pageActive())
	assert.False(t, s.ticketActive(), "tickets stay quiet while a page is active")
	for i, r := range m.Rules {
		if r.Severity == Ticket {
			_, fired := s.fired[i]
			assert.False(t, fired)
		}
	}
	assert.Equal(t, Firing, s.s.Alerts[m.BudgetSlot(BudgetCritical)].Phase, "an overspent budget is critical")
	assert.Equal(t, Inactive, s.s.Alerts[m.BudgetSlot(BudgetWarning)].Phase, "only the most severe threshold is active")
}
