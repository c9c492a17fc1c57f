package slomath

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckpointEncodesEmptyBucketsCompactly(t *testing.T) {
	m := availabilityModel(t)
	now := int64(1_700_000_000) * int64(time.Second)
	at := now + int64(time.Hour)
	sameState := func(t *testing.T, want, got *Series) {
		t.Helper()
		var a, b Evaluation
		m.Evaluate(want, at, &a)
		m.Evaluate(got, at, &b)
		assert.Equal(t, a.Counts, b.Counts)
		assert.Equal(t, want.Alerts, got.Alerts)
		assert.Equal(t, want.Violations, got.Violations)
		assert.Equal(t, want.LastEvent, got.LastEvent)
	}

	t.Run("A quiet series (five events in 30 days) takes a few hundred bytes, not two kilobytes.", func(t *testing.T) {
		s := m.NewSeries()
		for i := range 5 {
			m.Record(s, now+int64(i)*int64(time.Minute), i == 2)
		}
		v1 := m.appendBinary(nil, s, checkpointVersionV1)
		v2 := m.AppendBinary(nil, s)
		assert.Greater(t, len(v1), 1900)
		assert.Less(t, len(v2), 300, "v1 %d bytes", len(v1))
		got, err := m.DecodeSeries(v2)
		require.NoError(t, err)
		sameState(t, s, got)
	})
	t.Run("A busy series round-trips too.", func(t *testing.T) {
		s := m.NewSeries()
		for i := range 300 {
			m.Record(s, now+int64(i)*int64(time.Second), i%30 == 0)
		}
		got, err := m.DecodeSeries(m.AppendBinary(nil, s))
		require.NoError(t, err)
		sameState(t, s, got)
	})
	t.Run("An empty series round-trips.", func(t *testing.T) {
		s := m.NewSeries()
		got, err := m.DecodeSeries(m.AppendBinary(nil, s))
		require.NoError(t, err)
		sameState(t, s, got)
		assert.Less(t, len(m.AppendBinary(nil, s)), 200, "headers and alert slots only")
	})
	t.Run("A version 1 checkpoint (before an upgrade) is still read.", func(t *testing.T) {
		s := m.NewSeries()
		rng := rand.New(rand.NewPCG(3, 4))
		for i := range 20000 {
			m.Record(s, now+int64(i)*int64(time.Second)/4, rng.IntN(40) == 0)
		}
		got, err := m.DecodeSeries(m.appendBinary(nil, s, checkpointVersionV1))
		require.NoError(t, err)
		sameState(t, s, got)
	})
	t.Run("A run of empty buckets past the end of its tier is refused.", func(t *testing.T) {
		s := m.NewSeries()
		data := m.AppendBinary(nil, s)
		// version, tier count, first tier's width, length, head, then its first run.
		r := &reader{b: data[1:]}
		r.uvarint()
		r.varint()
		r.uvarint()
		r.varint()
		off := len(data) - len(r.b)
		bad := append(append(append([]byte(nil), data[:off]...), 0xff, 0xff, 0x03), data[off+2:]...)
		_, err := m.DecodeSeries(bad)
		assert.Error(t, err)
	})
}
