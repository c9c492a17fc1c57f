package slomath

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDuration(t *testing.T) {
	const day, week = 24 * time.Hour, 7 * 24 * time.Hour
	valid := []struct {
		name string
		in   string
		want time.Duration
	}{
		{"Go syntax without days or weeks is parsed as Go parses it.", "1h30m", 90 * time.Minute},
		{"Thirty days is 720 hours.", "30d", 30 * day},
		{"One week is 168 hours.", "1w", week},
		{"Days combine with Go units.", "1d12h", 36 * time.Hour},
		{"Weeks combine with days and Go units.", "2w3d4h5m", 2*week + 3*day + 4*time.Hour + 5*time.Minute},
		{"A fraction of a day is exact.", "1.5d", 36 * time.Hour},
		{"A tenth of a day is exact.", "0.1d", 144 * time.Minute},
		{"A leading minus sign negates (Validate rejects it later).", "-1d", -day},
		{"A leading plus sign is accepted.", "+7d", 7 * day},
		{"Zero days is zero.", "0d", 0},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	invalid := []struct {
		name string
		in   string
	}{
		{"A number without a unit after days is rejected.", "1d5"},
		{"A doubled unit is rejected.", "3dd"},
		{"A unit without a number is rejected.", "d"},
		{"A sign alone is rejected.", "-"},
		{"An unknown unit next to days is rejected.", "1d2x"},
		{"A number too large for int64 nanoseconds is rejected.", "200000w"},
		{"A sum that overflows is rejected.", "15000w15000w"},
		{"A malformed number is rejected.", "1..5d"},
		{"The empty string is rejected as Go rejects it.", ""},
		{"Go's own errors still apply without days or weeks.", "5x"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDuration(tc.in)
			assert.Error(t, err)
		})
	}
}

func TestParseDurationRoundTripsFormatWindow(t *testing.T) {
	// Every window label the processor emits parses back to its window.
	for _, w := range []time.Duration{time.Minute, 5 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 3 * 24 * time.Hour, 30 * 24 * time.Hour, 36*time.Hour + 30*time.Second} {
		got, err := ParseDuration(FormatWindow(w))
		require.NoError(t, err, FormatWindow(w))
		assert.Equal(t, w, got, FormatWindow(w))
	}
}
