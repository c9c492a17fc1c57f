package slomath

import "math"

// ErrorRatio is bad/total; ok is false when there were no events.
func ErrorRatio(c Counts) (ratio float64, ok bool) {
	if c.Total == 0 {
		return 0, false
	}
	return float64(c.Bad) / float64(c.Total), true
}

// SLI is good/total; 1 when there were no events (nothing went wrong).
func SLI(c Counts) float64 {
	if c.Total == 0 {
		return 1
	}
	return float64(c.Good()) / float64(c.Total)
}

// BurnRate is the error ratio over a window divided by the error budget (1 − objective): 1 spends
// the budget exactly over the SLO window, 14.4 spends it 14.4 times as fast. 0 with no events.
func BurnRate(c Counts, objective float64) float64 {
	r, ok := ErrorRatio(c)
	if !ok {
		return 0
	}
	return r / (1 - objective)
}

// BudgetRemaining is 1 − bad/((1 − objective) × total) over the SLO window, as a fraction: 1 with
// nothing spent, 0 exhausted, negative when overspent. 1 with no events.
func BudgetRemaining(c Counts, objective float64) float64 {
	if c.Total == 0 {
		return 1
	}
	allowed := (1 - objective) * float64(c.Total)
	return 1 - float64(c.Bad)/allowed
}

// Compliant reports whether the SLI over the SLO window meets the objective (true with no events).
// A tiny tolerance keeps 995 good of 1000 compliant at 0.995 despite float rounding.
func Compliant(c Counts, objective float64) bool {
	return SLI(c) >= objective-1e-12
}

// MaxBurnRate is the largest burn rate an SLO can show (every event bad): 1/(1 − objective).
// A burn-rate rule whose factor exceeds it can never fire.
func MaxBurnRate(objective float64) float64 {
	if objective >= 1 {
		return math.Inf(1)
	}
	return 1 / (1 - objective)
}
