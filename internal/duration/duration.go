// Package duration is the one duration syntax of every otelcol-amas component's configuration:
// Go's (`90s`, `1h30m`, `250ms`), Prometheus' (`30d`, `1w`, `1y`, `1d12h`: the units y, w, d, h,
// m, s, ms in that order, as in alertmanager.yml and Prometheus rules) and, as the slo processor
// accepted first, days and weeks mixed freely with Go's units or with fractions (`1.5d`,
// `1d1.5h`). Days are 24 hours and years 365 days (no calendar, no DST), as in Prometheus.
//
// Unmarshal is the decoding step components call from their Config's confmap.Unmarshaler: it
// rewrites, in the raw section, every string bound for a time.Duration field (at any depth)
// that Go's parser does not read into Go's syntax, then decodes as the collector does.
package duration // import "github.com/otelcol-amas/otelcol-amas/internal/duration"

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
)

// Parse reads s in Go's syntax, else Prometheus' (model.ParseDuration), else as days and weeks
// mixed with Go's units. A leading minus sign is kept (Validate rules reject it where it matters).
func Parse(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	if d, err := model.ParseDurationAllowNegative(s); err == nil {
		return time.Duration(d), nil
	}
	if d, ok := parseMixed(s); ok {
		return d, nil
	}
	if s == "" {
		return 0, errors.New("invalid duration: empty")
	}
	return 0, errors.New("invalid duration " + strconv.Quote(s) +
		": want Go's syntax (90s, 1h30m) or Prometheus' (30d, 1w, 1d12h)")
}

// parseMixed reads numbers (possibly fractional) each followed by a unit, where the units are
// Go's or d (24h) or w (7d), in any order: "1.5d", "2w3d4h5m", "1d1.5h", "-1d".
func parseMixed(s string) (time.Duration, bool) {
	rest := s
	neg := false
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		neg = rest[0] == '-'
		rest = rest[1:]
	}
	if rest == "" {
		return 0, false
	}
	var total time.Duration
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] == '.' || ('0' <= rest[i] && rest[i] <= '9')) {
			i++
		}
		if i == 0 {
			return 0, false
		}
		j := i
		for j < len(rest) && rest[j] != '.' && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		num, unit := rest[:i], rest[i:j]
		rest = rest[j:]
		var d time.Duration
		switch unit {
		case "d", "w":
			mult := time.Duration(24)
			if unit == "w" {
				mult = 24 * 7
			}
			h, err := time.ParseDuration(num + "h")
			if err != nil || h > math.MaxInt64/mult {
				return 0, false
			}
			d = h * mult
		case "":
			return 0, false
		default:
			var err error
			if d, err = time.ParseDuration(num + unit); err != nil {
				return 0, false
			}
		}
		if total > math.MaxInt64-d {
			return 0, false
		}
		total += d
	}
	if neg {
		total = -total
	}
	return total, true
}
