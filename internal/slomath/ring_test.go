package slomath

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const day = 24 * time.Hour

func defaultWindows() []time.Duration {
	ws := []time.Duration{30 * day}
	for _, r := range DefaultRules(30*day, 0.995, 0, 10, DefaultMinBadEvents) {
		ws = append(ws, r.LongWindow, r.ShortWindow)
	}
	return ws
}

func TestLayout(t *testing.T) {
	l, err := NewLayout(defaultWindows())
	require.NoError(t, err)
	for i, w := range l.Windows {
		b := l.BucketWidth(i)
		assert.Zero(t, w%b, "window %s is a whole number of buckets of %s", w, b)
		assert.LessOrEqual(t, b*BucketsPerWindow, w, "window %s read from buckets of %s: error ≤ 1/%d", w, b, BucketsPerWindow)
	}
	bytes := l.Buckets() * 16
	assert.LessOrEqual(t, bytes, 32<<10, "a 30-day series must fit in 32 KiB")
	t.Logf("30d layout: %d tiers, %d buckets, %d bytes of counters: %+v", len(l.Tiers), l.Buckets(), bytes, l.Tiers)

	_, err = NewLayout([]time.Duration{30 * time.Second})
	assert.EqualError(t, err, "window 30s: must be a whole number of seconds and at least 1m0s")
}

// naive counts the events with timestamp in [from, to].
func naive(events []event, from, to int64) Counts {
	var c Counts
	for _, e := range events {
		if e.t >= from && e.t <= to {
			c.Total++
			if e.bad {
				c.Bad++
			}
		}
	}
	return c
}

type event struct {
	t   int64
	bad bool
}

// TestRingMatchesNaiveRecomputation feeds random event streams (bursts, gaps, events a little out
// of order) into a ring and compares every window, at random reading times, with a recomputation
// from the raw event list: equal to the count over the bucket-aligned interval, and within the
// documented bound (every event newer than now−w+b counted, none older than now−w).
func TestRingMatchesNaiveRecomputation(t *testing.T) {
	windows := []time.Duration{time.Minute, 5 * time.Minute, time.Hour, 6 * time.Hour, day, 3 * day}
	l, err := NewLayout(windows)
	require.NoError(t, err)
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 42))
		r := NewRing(l)
		var events []event
		now := int64(1_700_000_000) * int64(time.Second)
		errRate := rng.Float64() * 0.3
		for range 3000 {
			// Advance by anything from nothing to hours, so windows empty and fill again.
			switch rng.IntN(10) {
			case 0:
				now += rng.Int64N(int64(4 * time.Hour))
			case 1, 2:
				now += rng.Int64N(int64(time.Minute))
			default:
				now += rng.Int64N(int64(3 * time.Second))
			}
			n := rng.IntN(5)
			for range n {
				et := now - rng.Int64N(int64(2*time.Second)) // a little late
				e := event{t: et, bad: rng.Float64() < errRate}
				events = append(events, e)
				var b uint64
				if e.bad {
					b = 1
				}
				r.Add(e.t, Counts{Total: 1, Bad: b})
			}
			if rng.IntN(20) != 0 {
				continue
			}
			for i, w := range l.Windows {
				got := r.Sum(now, i)
				b := int64(l.BucketWidth(i))
				alignedFrom := (now/b)*b - int64(w) + b
				assert.Equal(t, naive(events, alignedFrom, now), got, "seed %d window %s", seed, w)
				upper := naive(events, now-int64(w)+1, now)
				lower := naive(events, now-int64(w)+b, now)
				assert.LessOrEqual(t, got.Total, upper.Total)
				assert.GreaterOrEqual(t, got.Total, lower.Total)
				assert.LessOrEqual(t, got.Bad, upper.Bad)
				assert.GreaterOrEqual(t, got.Bad, lower.Bad)
			}
		}
	}
}

func TestRingDropsEventsOlderThanItsSpan(t *testing.T) {
	l, err := NewLayout([]time.Duration{time.Minute})
	require.NoError(t, err)
	r := NewRing(l)
	now := int64(10 * time.Hour)
	require.True(t, r.Add(now, Counts{Total: 1}))
	assert.False(t, r.Add(now-int64(2*time.Minute), Counts{Total: 1}), "an event two minutes old does not fit a one-minute ring")
	assert.False(t, r.Add(-5, Counts{Total: 1}), "a negative time is refused")
	assert.Equal(t, Counts{Total: 1}, r.Sum(now, 0))
}

func TestCheckpointRoundTrip(t *testing.T) {
	m := availabilityModel(t)
	s := m.NewSeries()
	now := int64(1_700_000_000) * int64(time.Second)
	for i := range 5000 {
		m.Record(s, now+int64(i)*int64(time.Second), i%50 == 0)
	}
	var ev Evaluation
	m.Evaluate(s, now+5000*int64(time.Second), &ev)
	data := m.AppendBinary(nil, s)
	got, err := m.DecodeSeries(data)
	require.NoError(t, err)
	var ev2 Evaluation
	at := now + 5001*int64(time.Second)
	m.Evaluate(s, at, &ev)
	m.Evaluate(got, at, &ev2)
	assert.Equal(t, ev.Counts, ev2.Counts)
	assert.Equal(t, ev.BudgetRemaining, ev2.BudgetRemaining)
	assert.Equal(t, s.Alerts, got.Alerts)
	assert.Equal(t, s.Violations, got.Violations)

	t.Run("A checkpoint of another version is refused as a format error.", func(t *testing.T) {
		bad := append([]byte{99}, data[1:]...)
		_, err := m.DecodeSeries(bad)
		assert.ErrorIs(t, err, ErrCheckpointFormat)
	})
	t.Run("A checkpoint of another layout is refused as a format error.", func(t *testing.T) {
		spec := m.Spec
		spec.Window = 7 * day
		spec.Rules = DefaultRules(spec.Window, 0.995, 0, 10, DefaultMinBadEvents)
		other, err := NewModel(spec)
		require.NoError(t, err)
		_, err = other.DecodeSeries(data)
		assert.ErrorIs(t, err, ErrCheckpointFormat)
	})
	t.Run("Every truncation of a checkpoint is an error, never a panic.", func(t *testing.T) {
		for n := 0; n < len(data); n += 1 + n/7 {
			_, err := m.DecodeSeries(data[:n])
			assert.Error(t, err, "truncated at %d", n)
		}
	})
	t.Run("Random corruption is an error or a valid series, never a panic.", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for range 300 {
			c := append([]byte(nil), data...)
			for range 1 + rng.IntN(4) {
				c[rng.IntN(len(c))] = byte(rng.IntN(256))
			}
			assert.NotPanics(t, func() { _, _ = m.DecodeSeries(c) })
		}
	})
}
