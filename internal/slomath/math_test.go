package slomath

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBudgetMath(t *testing.T) {
	tests := []struct {
		name          string
		counts        Counts
		objective     float64
		wantBurn      float64
		wantRemaining float64
		wantSLI       float64
		wantCompliant bool
	}{
		{"No events spend no budget and burn at zero.", Counts{}, 0.995, 0, 1, 1, true},
		{"Errors exactly at the budget burn at one and leave nothing.", Counts{Total: 1000, Bad: 5}, 0.995, 1, 0, 0.995, true},
		{"Half the allowed errors leave half the budget.", Counts{Total: 10000, Bad: 25}, 0.995, 0.5, 0.5, 0.9975, true},
		{"Every event failing burns at one over the budget fraction.", Counts{Total: 200, Bad: 200}, 0.995, 200, -199, 0, false},
		{"Twice the allowed errors overspend the budget by its whole size.", Counts{Total: 1000, Bad: 20}, 0.99, 2, -1, 0.98, false},
		{"A clean window keeps the whole budget at a loose objective.", Counts{Total: 50, Bad: 0}, 0.9, 0, 1, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.InDelta(t, tt.wantBurn, BurnRate(tt.counts, tt.objective), 1e-9)
			assert.InDelta(t, tt.wantRemaining, BudgetRemaining(tt.counts, tt.objective), 1e-9)
			assert.InDelta(t, tt.wantSLI, SLI(tt.counts), 1e-12)
			assert.Equal(t, tt.wantCompliant, Compliant(tt.counts, tt.objective))
		})
	}
}

func TestDefaultRulesFactors(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name      string
		window    time.Duration
		objective float64
		slice     time.Duration
		wantRules []float64 // factors in table order
	}{
		{"A 30-day window at 99.5% gets the SRE workbook factors.", 30 * day, 0.995, 0, []float64{14.4, 6, 3, 1}},
		{"A 28-day window rescales the factors by 28/30 as Sloth does, and drops the 3d ticket whose factor falls below 1.", 28 * day, 0.995, 0, []float64{13.44, 5.6, 2.8}},
		{"A 1-week window keeps only the pairs whose factor stays at least 1.", 7 * day, 0.995, 0, []float64{3.36, 1.4}},
		{"A 1-day window has no rule left: every rescaled factor is below 1.", day, 0.995, 0, nil},
		{"At 90% the 14.4× page cannot fire (at most 10×) and is left out.", 30 * day, 0.90, 0, []float64{6, 3, 1}},
		{"At 80% both pages are out of reach and only the tickets remain.", 30 * day, 0.80, 0, []float64{3, 1}},
		{"With 5-minute slices the 1h∧5m page (one slice in its short window) is left out.", 30 * day, 0.995, 5 * time.Minute, []float64{6, 3, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := DefaultRules(tt.window, tt.objective, tt.slice, 10, 5)
			require.Len(t, rules, len(tt.wantRules))
			for i, r := range rules {
				assert.InDelta(t, tt.wantRules[i], r.Factor(tt.window), 1e-6, "rule %d", i)
				assert.NoError(t, r.Validate(tt.window))
				assert.NoError(t, r.ValidateFor(tt.objective, tt.window, tt.slice))
				assert.Equal(t, uint64(10), r.MinEvents)
				assert.Equal(t, uint64(5), r.MinBadEvents)
			}
		})
	}
}

func TestBurnRuleValidate(t *testing.T) {
	w := 30 * 24 * time.Hour
	ok := BurnRule{Severity: Page, LongWindow: time.Hour, ShortWindow: 5 * time.Minute, BudgetConsumed: 0.02}
	tests := []struct {
		name    string
		mutate  func(*BurnRule)
		wantErr string
	}{
		{"A workbook page rule is valid.", func(*BurnRule) {}, ""},
		{"An unknown severity is refused with its value.", func(r *BurnRule) { r.Severity = "urgent" }, `severity: must be "page" or "ticket", got "urgent"`},
		{"A short window longer than the long one is refused.", func(r *BurnRule) { r.ShortWindow = 2 * time.Hour }, "long_window: must be longer than short_window 2h0m0s, got 1h0m0s"},
		{"A long window past the SLO window is refused.", func(r *BurnRule) { r.LongWindow = 800 * time.Hour }, "long_window: must not exceed the SLO window 720h0m0s, got 800h0m0s"},
		{"A zero budget fraction without an explicit factor is refused.", func(r *BurnRule) { r.BudgetConsumed = 0 }, "budget_consumed: must be in (0,1] when burn_rate is not set, got 0"},
		{"An explicit factor stands in for the budget fraction.", func(r *BurnRule) { r.BudgetConsumed = 0; r.BurnRate = 14.4 }, ""},
		{"A NaN factor is refused.", func(r *BurnRule) { r.BurnRate = math.NaN() }, "burn_rate: must be a finite number ≥ 0, got NaN"},
		{"A short window under a minute is refused.", func(r *BurnRule) { r.ShortWindow = 30 * time.Second }, "short_window: must be at least 1m0s, got 30s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.mutate(&r)
			err := r.Validate(w)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestBudgetThresholdsBreached(t *testing.T) {
	b := DefaultBudgetThresholds()
	tests := []struct {
		name      string
		remaining float64
		want      int
	}{
		{"A full budget breaches nothing.", 1, -1},
		{"Exactly 25% left is not yet a warning.", 0.25, -1},
		{"20% left is a warning.", 0.20, BudgetWarning},
		{"10% left is high.", 0.10, BudgetHigh},
		{"3% left is critical.", 0.03, BudgetCritical},
		{"An overspent budget is critical.", -4, BudgetCritical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, b.Breached(tt.remaining))
		})
	}
}

func TestAlertStateMachine(t *testing.T) {
	const s = int64(time.Second)
	type step struct {
		at        int64
		cond      bool
		wantPhase AlertPhase
		wantFired bool
	}
	tests := []struct {
		name  string
		for_  time.Duration
		steps []step
	}{
		{"With no for duration a condition fires at once and resolves when it clears.", 0, []step{
			{0, false, Inactive, false}, {10 * s, true, Firing, true}, {20 * s, true, Firing, false},
			{30 * s, false, Resolved, false}, {40 * s, false, Resolved, false}, {400 * s, false, Inactive, false},
		}},
		{"With a for duration a condition is pending until it has held that long.", 30 * time.Second, []step{
			{0, true, Pending, false}, {20 * s, true, Pending, false}, {30 * s, true, Firing, true}, {40 * s, false, Resolved, false},
		}},
		{"A pending alert whose condition clears goes back to inactive without firing.", time.Minute, []step{
			{0, true, Pending, false}, {10 * s, false, Inactive, false}, {20 * s, true, Pending, false},
		}},
		{"A resolved alert whose condition returns fires again as a new violation.", 0, []step{
			{0, true, Firing, true}, {10 * s, false, Resolved, false}, {20 * s, true, Firing, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a Alert
			for _, st := range tt.steps {
				fired := a.Step(st.at, st.cond, tt.for_, 5*time.Minute)
				assert.Equal(t, st.wantPhase, a.Phase, "at %ds", st.at/s)
				assert.Equal(t, st.wantFired, fired, "at %ds", st.at/s)
			}
		})
	}
}

func TestFormatWindow(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"Thirty days read as days.", 720 * time.Hour, "30d"},
		{"Six hours read as hours.", 6 * time.Hour, "6h"},
		{"Five minutes read as minutes.", 5 * time.Minute, "5m"},
		{"Ninety minutes read as hours and minutes.", 90 * time.Minute, "1h30m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, FormatWindow(tt.d))
		})
	}
}

func TestComparison(t *testing.T) {
	tests := []struct {
		name string
		op   string
		v, t float64
		want bool
	}{
		{"A value at the threshold is good for at most.", "<=", 0.8, 0.8, true},
		{"A value above the threshold is bad for at most.", "<=", 0.81, 0.8, false},
		{"A value at the threshold is bad for strictly below.", "<", 50, 50, false},
		{"A value above the threshold is good for at least.", ">=", 0.99, 0.9, true},
		{"NaN is never good.", "<=", math.NaN(), 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseComparison(tt.op)
			require.NoError(t, err)
			assert.Equal(t, tt.op, c.String())
			assert.Equal(t, tt.want, c.Good(tt.v, tt.t))
		})
	}
	_, err := ParseComparison("==")
	assert.EqualError(t, err, `must be one of "<=", "<", ">=", ">", got "=="`)
}

func TestSpecValidate(t *testing.T) {
	ok := Spec{Objective: 0.995, Window: 30 * 24 * time.Hour, Rules: DefaultRules(30*24*time.Hour, 0.995, 0, 10, DefaultMinBadEvents), Budget: DefaultBudgetThresholds()}
	tests := []struct {
		name    string
		mutate  func(*Spec)
		wantErr []string
	}{
		{"The AMAS specification's availability SLO is valid.", func(*Spec) {}, nil},
		{"An objective of one leaves no budget and is refused.", func(s *Spec) { s.Objective = 1 }, []string{"objective: must be in (0,1), got 1"}},
		{"A window under a minute is refused.", func(s *Spec) { s.Window = 30 * time.Second; s.Rules = nil }, []string{"window: must be a whole number of seconds ≥ 1m0s, got 30s"}},
		{"A slice longer than the window is refused.", func(s *Spec) {
			s.Window = time.Hour
			s.Rules = nil
			s.Timeslices = &Timeslices{Slice: 2 * time.Hour}
		}, []string{"budgeting.slice: must not exceed the window 1h0m0s, got 2h0m0s"}},
		{"Rule errors carry the rule's index.", func(s *Spec) { s.Rules[2].Severity = "urgent" }, []string{`burn_rate_rules[2].severity: must be "page" or "ticket", got "urgent"`}},
		{"Enabled no-data needs a positive delay.", func(s *Spec) { s.NoData = NoData{Enabled: true} }, []string{"no_data.after: must be > 0, got 0s"}},
		{"Every problem is reported at once.", func(s *Spec) { s.Objective = -1; s.Budget.High = 2 }, []string{"objective: must be in (0,1), got -1", "budget_thresholds.high: must be in [0,1], got 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			s.Rules = append([]BurnRule(nil), ok.Rules...)
			tt.mutate(&s)
			err := s.Validate()
			if len(tt.wantErr) == 0 {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.wantErr {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}
