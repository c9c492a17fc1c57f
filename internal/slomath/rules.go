package slomath

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Severity of a burn-rate rule: a page wakes someone, a ticket waits for working hours. A page
// suppresses the tickets of the same series.
type Severity string

const (
	Page   Severity = "page"
	Ticket Severity = "ticket"
)

// Validate checks the severity is page or ticket.
func (s Severity) Validate() error {
	if s != Page && s != Ticket {
		return fmt.Errorf("must be %q or %q, got %q", Page, Ticket, string(s))
	}
	return nil
}

// ReferenceWindow is the SLO window the SRE workbook's table is written for.
const ReferenceWindow = 30 * 24 * time.Hour

// BurnRule is one multi-window multi-burn-rate rule: it holds while the burn rate over both the
// long and the short window is at least Factor, and each window saw at least MinEvents events.
type BurnRule struct {
	Severity    Severity
	LongWindow  time.Duration
	ShortWindow time.Duration
	// BudgetConsumed is the fraction of the whole SLO window's budget that burning at the factor
	// for LongWindow spends; the factor follows from it and the SLO window (Sloth's way of
	// rescaling the workbook table): factor = BudgetConsumed × sloWindow / LongWindow.
	BudgetConsumed float64
	// BurnRate, when > 0, is the factor itself and BudgetConsumed is ignored.
	BurnRate float64
	// MinEvents is the least number of events (slices for timeslices SLOs) each window must hold.
	MinEvents uint64
	// For is how long the condition must hold before the alert fires (pending until then).
	For time.Duration
}

// Factor is the burn-rate threshold of the rule for an SLO window.
func (r BurnRule) Factor(sloWindow time.Duration) float64 {
	if r.BurnRate > 0 {
		return r.BurnRate
	}
	return r.BudgetConsumed * float64(sloWindow) / float64(r.LongWindow)
}

// Validate checks the rule against the SLO window it is used with.
func (r BurnRule) Validate(sloWindow time.Duration) error {
	var errs []error
	if err := r.Severity.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("severity: %w", err))
	}
	if r.ShortWindow < MinWindow {
		errs = append(errs, fmt.Errorf("short_window: must be at least %s, got %s", MinWindow, r.ShortWindow))
	}
	if r.LongWindow <= r.ShortWindow {
		errs = append(errs, fmt.Errorf("long_window: must be longer than short_window %s, got %s", r.ShortWindow, r.LongWindow))
	}
	if r.LongWindow > sloWindow {
		errs = append(errs, fmt.Errorf("long_window: must not exceed the SLO window %s, got %s", sloWindow, r.LongWindow))
	}
	if r.LongWindow%time.Second != 0 || r.ShortWindow%time.Second != 0 {
		errs = append(errs, errors.New("long_window, short_window: must be whole seconds"))
	}
	switch {
	case r.BurnRate < 0 || math.IsNaN(r.BurnRate) || math.IsInf(r.BurnRate, 0):
		errs = append(errs, fmt.Errorf("burn_rate: must be a finite number ≥ 0, got %v", r.BurnRate))
	case r.BurnRate == 0 && (!(r.BudgetConsumed > 0) || r.BudgetConsumed > 1):
		errs = append(errs, fmt.Errorf("budget_consumed: must be in (0,1] when burn_rate is not set, got %v", r.BudgetConsumed))
	}
	if r.For < 0 {
		errs = append(errs, fmt.Errorf("for: must be ≥ 0, got %s", r.For))
	}
	return errors.Join(errs...)
}

// Condition reports whether the rule holds for the given long and short window counts.
func (r BurnRule) Condition(long, short Counts, objective float64, sloWindow time.Duration) bool {
	if long.Total < r.MinEvents || short.Total < r.MinEvents || long.Total == 0 || short.Total == 0 {
		return false
	}
	f := r.Factor(sloWindow)
	return BurnRate(long, objective) >= f && BurnRate(short, objective) >= f
}

// DefaultRules is the SRE workbook's table (pages at 2% of the budget in 1h and 5% in 6h, tickets
// at 10% in 1d and 10% in 3d; for 30 days: 14.4× on 1h∧5m, 6× on 6h∧30m, 3× on 1d∧2h, 1× on
// 3d∧6h) plus a fast pair, rescaled for sloWindow: factors follow the budget fraction, and rules
// whose long window would not fit in the SLO window are left out.
//
// The fast pair (page at 0.5% of the budget in 5m, 43.2× on 5m∧1m for 30 days): at 99.5% a total
// failure drives the 1h error ratio to 14.4 × 0.005 = 7.2% only after 4.3 minutes, too late for a
// page within 2 minutes. Over 5m the needed ratio is 43.2 × 0.005 = 21.6%, reached 65 s into a
// total failure after steady good traffic (and at once after silence); the 1m short window is
// already at 100% by then. minEvents (per window) keeps one failure at low traffic from paging.
func DefaultRules(sloWindow time.Duration, minEvents uint64) []BurnRule {
	table := []BurnRule{
		{Severity: Page, LongWindow: 5 * time.Minute, ShortWindow: time.Minute, BudgetConsumed: 0.005},
		{Severity: Page, LongWindow: time.Hour, ShortWindow: 5 * time.Minute, BudgetConsumed: 0.02},
		{Severity: Page, LongWindow: 6 * time.Hour, ShortWindow: 30 * time.Minute, BudgetConsumed: 0.05},
		{Severity: Ticket, LongWindow: 24 * time.Hour, ShortWindow: 2 * time.Hour, BudgetConsumed: 0.10},
		{Severity: Ticket, LongWindow: 3 * 24 * time.Hour, ShortWindow: 6 * time.Hour, BudgetConsumed: 0.10},
	}
	out := table[:0]
	for _, r := range table {
		if r.LongWindow > sloWindow {
			continue
		}
		r.MinEvents = minEvents
		out = append(out, r)
	}
	return out
}

// BudgetThresholds raise an alert when the budget remaining (a fraction) falls below them; only
// the most severe one breached is active. 0 disables a threshold.
type BudgetThresholds struct {
	Critical float64
	High     float64
	Warning  float64
}

// DefaultBudgetThresholds are the seed's: critical <5%, high <15%, warning <25% remaining.
func DefaultBudgetThresholds() BudgetThresholds {
	return BudgetThresholds{Critical: 0.05, High: 0.15, Warning: 0.25}
}

// Validate checks each threshold is in [0,1].
func (b BudgetThresholds) Validate() error {
	var errs []error
	check := func(name string, v float64) {
		if !(v >= 0 && v <= 1) {
			errs = append(errs, fmt.Errorf("%s: must be in [0,1], got %v", name, v))
		}
	}
	check("critical", b.Critical)
	check("high", b.High)
	check("warning", b.Warning)
	return errors.Join(errs...)
}

// Breached returns the index (0 critical, 1 high, 2 warning) of the most severe threshold the
// remaining budget is below, or -1.
func (b BudgetThresholds) Breached(remaining float64) int {
	for i, t := range [...]float64{b.Critical, b.High, b.Warning} {
		if t > 0 && remaining < t {
			return i
		}
	}
	return -1
}
