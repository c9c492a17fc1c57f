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
// long and the short window is at least Factor, each window saw at least MinEvents events and at
// least MinBadEvents bad events (bad slices for timeslices SLOs).
//
// A rule with ErrorRatio set is a hard-down rule instead: it holds while the error ratio (not
// the burn rate) over both windows is at least ErrorRatio, whatever the objective, so a total
// failure pages as fast at 90% as at 99.99%. Its two windows may be the same.
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
	// ErrorRatio, when > 0, makes this a hard-down rule (see the type's comment); BurnRate and
	// BudgetConsumed are then ignored.
	ErrorRatio float64
	// MinEvents is the least number of events (slices for timeslices SLOs) each window must hold.
	MinEvents uint64
	// MinBadEvents is the least number of bad events (bad slices for timeslices SLOs) each window
	// must hold: one failure never pages, whatever the window's total.
	MinBadEvents uint64
	// For is how long the condition must hold before the alert fires (pending until then).
	For time.Duration
}

// HardDown reports whether r is a hard-down rule (an error-ratio threshold).
func (r BurnRule) HardDown() bool { return r.ErrorRatio > 0 }

// Factor is the burn-rate threshold of a burn-rate rule for an SLO window (0 for a hard-down
// rule, whose threshold depends on the objective: see Threshold).
func (r BurnRule) Factor(sloWindow time.Duration) float64 {
	switch {
	case r.ErrorRatio > 0:
		return 0
	case r.BurnRate > 0:
		return r.BurnRate
	}
	return r.BudgetConsumed * float64(sloWindow) / float64(r.LongWindow)
}

// Threshold is the burn rate at which the rule holds for an SLO: its factor, or for a hard-down
// rule the burn rate of its error ratio, ErrorRatio/(1 − objective).
func (r BurnRule) Threshold(objective float64, sloWindow time.Duration) float64 {
	if r.ErrorRatio > 0 {
		return r.ErrorRatio / (1 - objective)
	}
	return r.Factor(sloWindow)
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
	switch {
	case r.ErrorRatio > 0 && r.LongWindow < r.ShortWindow:
		errs = append(errs, fmt.Errorf("long_window: must not be shorter than short_window %s, got %s", r.ShortWindow, r.LongWindow))
	case r.ErrorRatio == 0 && r.LongWindow <= r.ShortWindow:
		errs = append(errs, fmt.Errorf("long_window: must be longer than short_window %s, got %s", r.ShortWindow, r.LongWindow))
	}
	if r.LongWindow > sloWindow {
		errs = append(errs, fmt.Errorf("long_window: must not exceed the SLO window %s, got %s", sloWindow, r.LongWindow))
	}
	if r.LongWindow%time.Second != 0 || r.ShortWindow%time.Second != 0 {
		errs = append(errs, errors.New("long_window, short_window: must be whole seconds"))
	}
	switch {
	case r.ErrorRatio < 0 || r.ErrorRatio > 1 || math.IsNaN(r.ErrorRatio):
		errs = append(errs, fmt.Errorf("error_ratio: must be in (0,1], got %v", r.ErrorRatio))
	case r.ErrorRatio > 0:
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

// ValidateFor checks what depends on the SLO the rule serves (its objective, window and slice
// length, 0 for occurrences): a rule that could never fire, or that would fire on a burn slower
// than the budget allows, is an error rather than a rule that silently does nothing. Call it on
// a rule that passed Validate.
func (r BurnRule) ValidateFor(objective float64, sloWindow, slice time.Duration) error {
	var errs []error
	if r.ErrorRatio == 0 {
		key, val := "budget_consumed", r.BudgetConsumed
		if r.BurnRate > 0 {
			key, val = "burn_rate", r.BurnRate
		}
		f := r.Factor(sloWindow)
		if f < 1 {
			errs = append(errs, fmt.Errorf("%s: must give a burn rate ≥ 1 over the SLO window %s (a slower burn never spends the budget), got %v (%.3g× over %s)",
				key, FormatWindow(sloWindow), val, f, FormatWindow(r.LongWindow)))
		}
		if maxf := MaxBurnRate(objective); f > maxf*(1+1e-12) {
			errs = append(errs, fmt.Errorf("%s: must give a burn rate the SLO can reach, at most 1/(1 − %v) = %.4g×, got %v (%.4g×)",
				key, objective, maxf, val, f))
		}
	}
	if slice > 0 {
		n := uint64(r.ShortWindow / slice)
		if n < 2 {
			errs = append(errs, fmt.Errorf("short_window: must hold at least 2 slices of %s, got %s", FormatWindow(slice), FormatWindow(r.ShortWindow)))
		} else if r.MinBadEvents > n {
			errs = append(errs, fmt.Errorf("min_bad_events: must not exceed the %d slices of short_window %s, got %d", n, FormatWindow(r.ShortWindow), r.MinBadEvents))
		}
	}
	return errors.Join(errs...)
}

// Condition reports whether the rule holds for the given long and short window counts.
func (r BurnRule) Condition(long, short Counts, objective float64, sloWindow time.Duration) bool {
	if long.Total < r.MinEvents || short.Total < r.MinEvents || long.Total == 0 || short.Total == 0 {
		return false
	}
	if long.Bad < r.MinBadEvents || short.Bad < r.MinBadEvents {
		return false
	}
	if r.ErrorRatio > 0 {
		// bad/total ≥ ratio, in integers and one float product so 1 of 4 is exactly 25%.
		return float64(long.Bad) >= r.ErrorRatio*float64(long.Total)-1e-9 &&
			float64(short.Bad) >= r.ErrorRatio*float64(short.Total)-1e-9
	}
	f := r.Factor(sloWindow)
	return BurnRate(long, objective) >= f && BurnRate(short, objective) >= f
}

// Default guards: see DefaultRules.
const (
	DefaultMinBadEvents      = 5
	DefaultHardDownRatio     = 0.25
	DefaultHardDownWindow    = time.Minute
	DefaultHardDownMinBad    = 5
	defaultBudgetEventsScale = 10
)

// DefaultRules is the SRE workbook's table (pages at 2% of the budget in 1h and 5% in 6h, tickets
// at 10% in 1d and 10% in 3d; for 30 days: 14.4× on 1h∧5m, 6× on 6h∧30m, 3× on 1d∧2h, 1× on
// 3d∧6h), rescaled for sloWindow: factors follow the budget fraction. A rule is left out when
// it does not apply to the SLO (objective, window, slice length; 0 for occurrences): its long
// window does not fit the SLO window, or ValidateFor refuses it (a factor below 1, a factor the
// objective cannot reach, a short window of fewer than 2 slices or fewer slices than
// minBadEvents). The table has no fast 5m∧1m pair: a total failure is paged by the hard-down
// rule (HardDownRule), whatever the objective.
func DefaultRules(sloWindow time.Duration, objective float64, slice time.Duration, minEvents, minBadEvents uint64) []BurnRule {
	table := []BurnRule{
		{Severity: Page, LongWindow: time.Hour, ShortWindow: 5 * time.Minute, BudgetConsumed: 0.02},
		{Severity: Page, LongWindow: 6 * time.Hour, ShortWindow: 30 * time.Minute, BudgetConsumed: 0.05},
		{Severity: Ticket, LongWindow: 24 * time.Hour, ShortWindow: 2 * time.Hour, BudgetConsumed: 0.10},
		{Severity: Ticket, LongWindow: 3 * 24 * time.Hour, ShortWindow: 6 * time.Hour, BudgetConsumed: 0.10},
	}
	out := table[:0]
	for _, r := range table {
		r.MinEvents, r.MinBadEvents = minEvents, minBadEvents
		if r.LongWindow > sloWindow || r.Validate(sloWindow) != nil || r.ValidateFor(objective, sloWindow, slice) != nil {
			continue
		}
		out = append(out, r)
	}
	return out
}

// HardDownRule is the page for an occurrences SLO that is down: at least ratio of the events over
// window failed, and at least minBad of them. With the defaults (25% over 1m, 5 bad) a total
// failure after steady traffic holds it 15 s after the first failing request (the 1m window is
// 25% bad after a quarter of a minute), at any objective and any rate of at least 1 event every
// 3 s; a steady 5% of errors never does.
func HardDownRule(window time.Duration, ratio float64, minBad uint64) BurnRule {
	return BurnRule{Severity: Page, LongWindow: window, ShortWindow: window, ErrorRatio: ratio, MinBadEvents: minBad}
}

// DefaultBudgetMinEvents is the least number of events in the SLO window before a budget
// threshold may fire, for an objective: 10/(1 − objective), rounded up, so that one bad event
// spends at most a tenth of the budget and no single failure moves the budget remaining past a
// threshold (200 × 10 = 2000 events at 99.5%, 100 slices at 90%).
func DefaultBudgetMinEvents(objective float64) uint64 {
	if !(objective > 0 && objective < 1) {
		return 0
	}
	return uint64(math.Ceil(defaultBudgetEventsScale/(1-objective) - 1e-6))
}

// BudgetThresholds raise an alert when the budget remaining (a fraction) falls below them; only
// the most severe one breached is active. 0 disables a threshold.
type BudgetThresholds struct {
	Critical float64
	High     float64
	Warning  float64
	// Severity of each threshold (critical, high, warning order): a ticket unless set to page.
	// The empty value is a ticket.
	Severity [3]Severity
}

// DefaultBudgetThresholds are the AMAS specification's: critical <5%, high <15%, warning <25%
// remaining, each a ticket (budget left is a trend to fix in working hours; what needs someone
// now is paged by the burn-rate and hard-down rules).
func DefaultBudgetThresholds() BudgetThresholds {
	return BudgetThresholds{Critical: 0.05, High: 0.15, Warning: 0.25, Severity: [3]Severity{Ticket, Ticket, Ticket}}
}

// SeverityOf is the severity of threshold i (BudgetCritical...): Ticket unless set to Page.
func (b BudgetThresholds) SeverityOf(i int) Severity {
	if b.Severity[i] == Page {
		return Page
	}
	return Ticket
}

// Validate checks each threshold is in [0,1] and each severity is page, ticket or unset.
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
	for i, name := range [...]string{"critical", "high", "warning"} {
		if sv := b.Severity[i]; sv != "" {
			if err := sv.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("severity.%s: %w", name, err))
			}
		}
	}
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
