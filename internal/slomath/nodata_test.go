package slomath

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deadNoData is the processor's default no-data rule.
var deadNoData = NoData{Enabled: true, After: 90 * time.Second, Lookback: time.Hour, MinPredicted: 10, RetireAfter: 24 * time.Hour}

func noDataModel(t *testing.T, nd NoData, ts *Timeslices) *Model {
	t.Helper()
	minEv, slice := uint64(10), time.Duration(0)
	if ts != nil {
		minEv, slice = 1, ts.Slice
	}
	m, err := NewModel(Spec{
		Objective: 0.995, Window: 30 * day, Timeslices: ts,
		Rules: DefaultRules(30*day, 0.995, slice, minEv, DefaultMinBadEvents), Budget: DefaultBudgetThresholds(), BudgetMinEvents: minEv,
		NoData: nd, ResolvedRetention: 5 * time.Minute,
	})
	require.NoError(t, err)
	return m
}

// every records n events once per period for d (the first at the first tick), evaluating every
// tick; skip says which occurrences are lost.
func (s *sim) every(d, period time.Duration, n uint64, skip func(i int) bool) {
	end := s.now + int64(d)
	next, i := s.now+s.tick, 0
	for s.now < end {
		s.now += s.tick
		if s.now >= next {
			if skip == nil || !skip(i) {
				s.m.RecordN(s.s, s.now-1, Counts{Total: n})
			}
			i++
			next += int64(period)
		}
		s.step()
	}
}

func (s *sim) step() {
	s.m.Evaluate(s.s, s.now, &s.ev)
	for _, slot := range s.ev.Fired {
		if _, ok := s.fired[slot]; !ok {
			s.fired[slot] = s.now
		}
	}
}

func TestNoDataMeansDead(t *testing.T) {
	t.Run("A cron agent sending a burst of 8 events every 10 minutes never raises no-data.", func(t *testing.T) {
		m := noDataModel(t, deadNoData, nil)
		s := newSim(t, m)
		s.every(12*time.Hour, 10*time.Minute, 8, nil)
		assert.NotContains(t, s.fired, m.NoDataSlot())
	})
	t.Run("The same cron agent, dead, raises no-data after two missed runs.", func(t *testing.T) {
		m := noDataModel(t, deadNoData, nil)
		s := newSim(t, m)
		s.every(2*time.Hour, 10*time.Minute, 8, nil)
		last := s.s.LastEvent
		s.run(time.Hour, 0, 0, nil)
		at, ok := s.fired[m.NoDataSlot()]
		require.True(t, ok, "a cron agent that stopped is dead")
		// Gaps of 10 minutes less one bucket of the tier that holds the lookback (1m for the
		// default windows: 9 minutes): silent after twice that, when 48 events in the last hour
		// predict 14.4.
		var width time.Duration
		for _, tr := range m.Layout.Tiers {
			if tr.Width*time.Duration(tr.Len) >= time.Hour {
				width = tr.Width
				break
			}
		}
		gap := 10*time.Minute - width
		assert.InDelta(t, float64(2*gap), float64(at-last), float64(20*time.Second))
	})
	t.Run("A 60 s metric exporter that loses one export in seven never raises no-data.", func(t *testing.T) {
		m := noDataModel(t, deadNoData, &Timeslices{Slice: time.Minute})
		s := newSim(t, m)
		s.every(12*time.Hour, time.Minute, 1, func(i int) bool { return i%7 == 6 })
		assert.NotContains(t, s.fired, m.NoDataSlot())
	})
	t.Run("A dead 60 s metric exporter raises no-data once ten slices are missing.", func(t *testing.T) {
		m := noDataModel(t, deadNoData, &Timeslices{Slice: time.Minute})
		s := newSim(t, m)
		s.every(2*time.Hour, time.Minute, 1, nil)
		last := s.s.LastEvent
		s.run(time.Hour, 0, 0, nil)
		at, ok := s.fired[m.NoDataSlot()]
		require.True(t, ok)
		// 60 slices an hour predict min_predicted = 10 in 10 minutes (5 minutes when it was 5).
		assert.InDelta(t, float64(10*time.Minute), float64(at-last), float64(time.Minute))
	})
	t.Run("A steady agent that stops raises no-data after `after` plus `for`.", func(t *testing.T) {
		nd := deadNoData
		nd.For = 30 * time.Second
		m := noDataModel(t, nd, nil)
		s := newSim(t, m)
		s.run(time.Hour, 10, 0, nil) // 1/s
		last := s.now
		s.run(5*time.Minute, 0, 0, nil)
		at, ok := s.fired[m.NoDataSlot()]
		require.True(t, ok)
		assert.Equal(t, int64(90*time.Second+30*time.Second), at-last)
	})
	t.Run("A new agent with a few events in its first minute is not called dead at once.", func(t *testing.T) {
		m := noDataModel(t, deadNoData, nil)
		s := newSim(t, m)
		s.run(time.Minute, 1, 0, nil) // 6 events
		s.run(30*time.Minute, 0, 0, nil)
		assert.NotContains(t, s.fired, m.NoDataSlot(), "6 events an hour predict 10 only after 100 minutes")
	})
	t.Run("An agent whose rate fell in the last quarter hour is judged on its current rate, not the hour's.", func(t *testing.T) {
		m := noDataModel(t, deadNoData, nil)
		s := newSim(t, m)
		s.run(40*time.Minute, 10, 0, nil)               // 1/s: the busy evening
		s.every(20*time.Minute, 30*time.Second, 1, nil) // then 1 per 30 s: the night
		// A chance gap of 4 minutes: the hour (over 2,000 events) predicts over 130 in it, the
		// last 15 minutes (30 events) predict 8, below 10.
		s.run(4*time.Minute, 0, 0, nil)
		assert.NotContains(t, s.fired, m.NoDataSlot(), "a gap the current rate explains")
		s.every(61*time.Minute, 30*time.Second, 1, nil)
		last := s.s.LastEvent
		s.run(time.Hour, 0, 0, nil)
		at, ok := s.fired[m.NoDataSlot()]
		require.True(t, ok, "the night agent that stopped is dead")
		// 120 events an hour (30 in 15 minutes) predict 10 in 5 minutes.
		assert.InDelta(t, float64(5*time.Minute), float64(at-last), float64(20*time.Second))
	})
	t.Run("A restart of 3 minutes, then traffic again, raises nothing.", func(t *testing.T) {
		m := noDataModel(t, deadNoData, nil)
		s := newSim(t, m)
		s.run(time.Hour, 10, 0, nil)
		s.now += int64(3 * time.Minute) // the collector is down: no events, no evaluation
		m.Resume(s.s, s.now)
		s.step()
		s.run(time.Hour, 10, 0, nil)
		assert.NotContains(t, s.fired, m.NoDataSlot())
	})
	t.Run("After a restart, a group that stays silent raises no-data `after` the restart.", func(t *testing.T) {
		m := noDataModel(t, deadNoData, nil)
		s := newSim(t, m)
		s.run(time.Hour, 10, 0, nil)
		s.now += int64(3 * time.Minute)
		restart := s.now
		m.Resume(s.s, s.now)
		s.run(5*time.Minute, 0, 0, nil)
		at, ok := s.fired[m.NoDataSlot()]
		require.True(t, ok)
		assert.Equal(t, int64(90*time.Second), at-restart)
	})
	t.Run("A gap that spans a restart is the collector's, not the traffic's: it does not delay no-data.", func(t *testing.T) {
		m := noDataModel(t, deadNoData, nil)
		s := newSim(t, m)
		s.run(time.Hour, 10, 0, nil)
		s.now += int64(5 * time.Minute)
		m.Resume(s.s, s.now)
		s.run(10*time.Minute, 10, 0, nil)
		// Through a checkpoint, as a second restart would.
		got, err := m.DecodeSeries(m.AppendBinary(nil, s.s))
		require.NoError(t, err)
		s.s = got
		last := s.now
		s.run(5*time.Minute, 0, 0, nil)
		at, ok := s.fired[m.NoDataSlot()]
		require.True(t, ok)
		assert.Equal(t, int64(90*time.Second), at-last, "not twice the 5-minute downtime")
	})
	t.Run("A retired group stops alerting after retire_after and is evicted when its window is empty.", func(t *testing.T) {
		m := noDataModel(t, deadNoData, nil)
		s := newSim(t, m)
		s.run(time.Hour, 10, 0, nil)
		last := s.now
		s.tick = int64(time.Minute)
		s.run(23*time.Hour, 0, 0, nil)
		require.Equal(t, Firing, s.s.Alerts[m.NoDataSlot()].Phase)
		s.run(2*time.Hour, 0, 0, nil)
		assert.NotEqual(t, Firing, s.s.Alerts[m.NoDataSlot()].Phase, "silent for retire_after: retired, not dead")
		assert.False(t, m.Idle(s.s, s.now), "its window still holds its events")
		s.now = last + int64(30*day)
		s.step()
		assert.True(t, m.Idle(s.s, s.now), "nothing left in the window: evictable")
	})
	t.Run("Zero values keep the plain rule: silence of `after` alerts.", func(t *testing.T) {
		m := noDataModel(t, NoData{Enabled: true, After: 90 * time.Second}, nil)
		s := newSim(t, m)
		s.run(time.Minute, 1, 0, nil)
		last := s.now
		s.run(5*time.Minute, 0, 0, nil)
		at, ok := s.fired[m.NoDataSlot()]
		require.True(t, ok)
		assert.Equal(t, int64(90*time.Second), at-last)
	})
}

func TestNoDataValidate(t *testing.T) {
	cases := []struct {
		name string
		nd   NoData
		want []string
	}{
		{"The default rule is valid.", deadNoData, nil},
		{"A prediction needs a lookback.", NoData{Enabled: true, After: time.Minute, MinPredicted: 5}, []string{"lookback: must be > 0 when min_predicted is set, got 0s"}},
		{"A negative prediction is refused.", NoData{Enabled: true, After: time.Minute, MinPredicted: -1}, []string{"min_predicted: must be ≥ 0, got -1"}},
		{"Retiring before alerting is refused.", NoData{Enabled: true, After: time.Hour, RetireAfter: time.Minute}, []string{"retire_after: must be longer than after 1h0m0s, got 1m0s"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.nd.Validate()
			if c.want == nil {
				assert.NoError(t, err)
				return
			}
			for _, w := range c.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

// The processor holds the no-data alert while it asks whether the group moved: the condition is
// reported, the alert does not step; released, it fires at the next evaluation.
func TestHoldNoDataReportsTheConditionAndKeepsTheAlertInactive(t *testing.T) {
	m, err := NewModel(Spec{Objective: 0.99, Window: time.Hour, NoData: NoData{Enabled: true, After: 90 * time.Second, Lookback: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	s := m.NewSeries()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	m.Record(s, t0, false)
	var ev Evaluation
	s.HoldNoData = true
	now := t0 + int64(2*time.Minute)
	m.Evaluate(s, now, &ev)
	if !ev.NoDataDue || s.Alerts[m.NoDataSlot()].Phase != Inactive {
		t.Fatalf("held: due %v, phase %v; want due and inactive", ev.NoDataDue, s.Alerts[m.NoDataSlot()].Phase)
	}
	if got := s.Silence(now); got != 2*time.Minute {
		t.Fatalf("silence %s, want 2m", got)
	}
	s.HoldNoData = false
	m.Evaluate(s, now+int64(time.Second), &ev)
	if s.Alerts[m.NoDataSlot()].Phase != Firing {
		t.Fatalf("released: phase %v, want firing", s.Alerts[m.NoDataSlot()].Phase)
	}
}
