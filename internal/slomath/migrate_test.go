package slomath

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMigrateSeries(t *testing.T) {
	old := availabilityModel(t)
	// The same SLO without the 3-day ticket: its layout loses the 1h tier, and it has one alert
	// slot less.
	spec := old.Spec
	spec.Rules = spec.Rules[:len(spec.Rules)-1]
	spec.Objective = 0.999
	m, err := NewModel(spec)
	require.NoError(t, err)
	require.NotEqual(t, len(old.Layout.Tiers), len(m.Layout.Tiers))

	rng := rand.New(rand.NewPCG(1, 2))
	t0 := int64(1_700_000_000) * int64(time.Second)
	from, direct := old.NewSeries(), m.NewSeries()
	now := t0
	for now < t0+int64(4*day) {
		now += rng.Int64N(int64(2 * time.Minute))
		c := Counts{Total: 1 + rng.Uint64N(20)}
		c.Bad = rng.Uint64N(c.Total + 1)
		old.RecordN(from, now, c)
		m.RecordN(direct, now, c)
	}
	from.Alerts[old.NoDataSlot()] = Alert{Phase: Firing, ActiveSince: now}

	t.Run("Counts of every window the new layout keeps at the old width or finer are exact.", func(t *testing.T) {
		got, keep, err := m.MigrateSeries(old.AppendBinary(nil, from))
		require.NoError(t, err)
		assert.False(t, keep, "a rule less: the alert slots start over")
		assert.Equal(t, Inactive, got.Alerts[m.NoDataSlot()].Phase)
		assert.Equal(t, from.LastEvent, got.LastEvent)
		for _, at := range []int64{now, now + int64(time.Hour), now + int64(3*day)} {
			var a, b Evaluation
			m.Evaluate(got, at, &a)
			m.Evaluate(direct, at, &b)
			assert.Equal(t, b.Counts, a.Counts, "at %s after the last event", time.Duration(at-now))
		}
	})
	t.Run("Alert states are kept when the slots are the same.", func(t *testing.T) {
		spec := old.Spec
		spec.Objective = 0.99
		same, err := NewModel(spec)
		require.NoError(t, err)
		got, keep, err := same.MigrateSeries(old.AppendBinary(nil, from))
		require.NoError(t, err)
		assert.True(t, keep)
		assert.Equal(t, Firing, got.Alerts[same.NoDataSlot()].Phase)
	})
	t.Run("Corrupt data is an error, never a panic.", func(t *testing.T) {
		data := old.AppendBinary(nil, from)
		for i := range len(data) {
			_, _, _ = m.MigrateSeries(data[:i])
		}
		_, _, err := m.MigrateSeries([]byte{9})
		assert.ErrorIs(t, err, ErrCheckpointFormat)
	})
}

// FuzzMigrateSeries: whatever a checkpoint holds, migrating it never panics, and what it accepts
// can be evaluated and written again.
func FuzzMigrateSeries(f *testing.F) {
	old := availabilityModel(&testing.T{})
	spec := old.Spec
	spec.Rules = spec.Rules[:2]
	m, err := NewModel(spec)
	require.NoError(f, err)
	s := old.NewSeries()
	t0 := int64(1_700_000_000) * int64(time.Second)
	for i := range 100 {
		old.RecordN(s, t0+int64(i)*int64(17*time.Minute), Counts{Total: 3, Bad: 1})
	}
	f.Add(old.AppendBinary(nil, s))
	f.Add(old.appendBinary(nil, s, checkpointVersionV1))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, _, err := m.MigrateSeries(data)
		if err != nil {
			return
		}
		var ev Evaluation
		m.Evaluate(got, t0+int64(30*day), &ev)
		_ = m.AppendBinary(nil, got)
	})
}
