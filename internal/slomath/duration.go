package slomath

import (
	"time"

	"github.com/otelcol-amas/otelcol-amas/internal/duration"
)

// ParseDuration parses a duration in the components' one syntax (duration.Parse): Go's ("90s",
// "1h30m"), Prometheus' ("30d", "1w", "1d12h") and days or weeks mixed with Go's units
// ("1.5d", "2w3d"). Days are always 24 hours (no calendar, no DST), as in Prometheus and
// OpenSLO.
func ParseDuration(s string) (time.Duration, error) {
	return duration.Parse(s)
}
