package slomath

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// ParseDuration parses a duration in Go's syntax (time.ParseDuration: "90s", "1h30m") that may
// also use the units d (day, 24h) and w (week, 7d), alone or mixed with Go's: "30d", "1w",
// "1d12h", "1.5d", "2w3d". Days are always 24 hours (no calendar, no DST), as in Prometheus and
// OpenSLO.
func ParseDuration(s string) (time.Duration, error) {
	if !strings.ContainsAny(s, "dw") {
		return time.ParseDuration(s)
	}
	invalid := func(why string) error {
		return fmt.Errorf("invalid duration %q: %s (Go syntax such as 90s or 1h30m, or days and weeks such as 30d or 1w)", s, why)
	}
	rest := s
	neg := false
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		neg = rest[0] == '-'
		rest = rest[1:]
	}
	if rest == "" {
		return 0, invalid("no number")
	}
	var total time.Duration
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] == '.' || ('0' <= rest[i] && rest[i] <= '9')) {
			i++
		}
		if i == 0 {
			return 0, invalid("expected a number")
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
			if err != nil {
				return 0, invalid("bad number " + num)
			}
			if h > math.MaxInt64/mult {
				return 0, invalid("too large")
			}
			d = h * mult
		case "":
			return 0, invalid("missing unit after " + num)
		default:
			var err error
			if d, err = time.ParseDuration(num + unit); err != nil {
				return 0, invalid("bad number or unknown unit in " + num + unit)
			}
		}
		if total > math.MaxInt64-d {
			return 0, invalid("too large")
		}
		total += d
	}
	if neg {
		total = -total
	}
	return total, nil
}
