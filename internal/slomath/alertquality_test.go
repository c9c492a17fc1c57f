package slomath

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBurnRuleValidateFor(t *testing.T) {
	month := 30 * day
	tests := []struct {
		name      string
		rule      BurnRule
		objective float64
		window    time.Duration
		slice     time.Duration
		wantErr   string
	}{
		{"The workbook's 6h∧30m page is valid at 99.5% over 30 days.",
			BurnRule{Severity: Page, LongWindow: 6 * time.Hour, ShortWindow: 30 * time.Minute, BudgetConsumed: 0.05}, 0.995, month, 0, ""},
		{"The 3d∧6h ticket rescaled for a 1-week window is a 0.233× burn, below 1, and refused.",
			BurnRule{Severity: Ticket, LongWindow: 72 * time.Hour, ShortWindow: 6 * time.Hour, BudgetConsumed: 0.1}, 0.995, 7 * day, 0,
			"budget_consumed: must give a burn rate ≥ 1 over the SLO window 7d (a slower burn never spends the budget), got 0.1 (0.233× over 3d)"},
		{"An explicit factor below 1 is refused at its own key.",
			BurnRule{Severity: Ticket, LongWindow: 72 * time.Hour, ShortWindow: 6 * time.Hour, BurnRate: 0.5}, 0.995, month, 0,
			"burn_rate: must give a burn rate ≥ 1 over the SLO window 30d (a slower burn never spends the budget), got 0.5 (0.5× over 3d)"},
		{"A 14.4× page at 90% can never fire (at most 10×) and is refused.",
			BurnRule{Severity: Page, LongWindow: time.Hour, ShortWindow: 5 * time.Minute, BurnRate: 14.4}, 0.9, month, 0,
			"burn_rate: must give a burn rate the SLO can reach, at most 1/(1 − 0.9) = 10×, got 14.4 (14.4×)"},
		{"A factor of exactly 1/(1 − objective) can fire (every event bad) and is valid.",
			BurnRule{Severity: Page, LongWindow: time.Hour, ShortWindow: 5 * time.Minute, BurnRate: 10}, 0.9, month, 0, ""},
		{"A short window of one slice is refused: it resolves and re-fires every slice.",
			BurnRule{Severity: Page, LongWindow: time.Hour, ShortWindow: 5 * time.Minute, BurnRate: 5}, 0.9, month, 5 * time.Minute,
			"short_window: must hold at least 2 slices of 5m, got 5m"},
		{"A short window of fewer slices than min_bad_events can never fire and is refused.",
			BurnRule{Severity: Page, LongWindow: time.Hour, ShortWindow: 3 * time.Minute, BurnRate: 5, MinBadEvents: 5}, 0.9, month, time.Minute,
			"min_bad_events: must not exceed the 3 slices of short_window 3m, got 5"},
		{"A hard-down rule has no factor to check.",
			HardDownRule(time.Minute, 0.25, 5), 0.9999, month, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.rule.Validate(tt.window))
			err := tt.rule.ValidateFor(tt.objective, tt.window, tt.slice)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.EqualError(t, err, tt.wantErr)
		})
	}
	t.Run("A spec reports a rule the objective cannot reach at the rule's path.", func(t *testing.T) {
		err := Spec{Objective: 0.9, Window: month, Rules: []BurnRule{
			{Severity: Page, LongWindow: time.Hour, ShortWindow: 5 * time.Minute, BudgetConsumed: 0.02},
		}}.Validate()
		assert.EqualError(t, err, "burn_rate_rules[0].budget_consumed: must give a burn rate the SLO can reach, at most 1/(1 − 0.9) = 10×, got 0.02 (14.4×)")
	})
}

func TestConditionGuards(t *testing.T) {
	month := 30 * day
	page := BurnRule{Severity: Page, LongWindow: 6 * time.Hour, ShortWindow: 30 * time.Minute, BudgetConsumed: 0.05, MinEvents: 10, MinBadEvents: 5}
	hard := HardDownRule(time.Minute, 0.25, 5)
	tests := []struct {
		name        string
		rule        BurnRule
		long, short Counts
		want        bool
	}{
		{"One failure in 30 events burns at 6.7× over 99.5% in both windows but does not page.", page, Counts{Total: 30, Bad: 1}, Counts{Total: 30, Bad: 1}, false},
		{"Five failures in 30 events page.", page, Counts{Total: 30, Bad: 5}, Counts{Total: 30, Bad: 5}, true},
		{"Five failures in the long window but four in the short one do not page.", page, Counts{Total: 3000, Bad: 200}, Counts{Total: 30, Bad: 4}, false},
		{"Enough bad events below the factor do not page.", page, Counts{Total: 100000, Bad: 50}, Counts{Total: 10000, Bad: 5}, false},
		{"Hard down holds at exactly a quarter of the events failed.", hard, Counts{Total: 40, Bad: 10}, Counts{Total: 40, Bad: 10}, true},
		{"Hard down does not hold just under a quarter.", hard, Counts{Total: 41, Bad: 10}, Counts{Total: 41, Bad: 10}, false},
		{"Hard down needs five bad events even when all of them failed.", hard, Counts{Total: 4, Bad: 4}, Counts{Total: 4, Bad: 4}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.rule.Condition(tt.long, tt.short, 0.995, month))
		})
	}
}

func TestDefaultBudgetMinEventsLetsOneEventSpendATenthOfTheBudgetAtMost(t *testing.T) {
	for _, tt := range []struct {
		name      string
		objective float64
		want      uint64
	}{
		{"At 99.5% the SLO window needs 2000 events.", 0.995, 2000},
		{"At 99% it needs 1000.", 0.99, 1000},
		{"At 90% (latency slices) it needs 100 slices.", 0.90, 100},
		{"At 85% (memory slices) it needs 67 slices.", 0.85, 67},
		{"At 75% (queue slices) it needs 40 slices.", 0.75, 40},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := DefaultBudgetMinEvents(tt.objective)
			assert.Equal(t, tt.want, n)
			one := BudgetRemaining(Counts{Total: n, Bad: 1}, tt.objective)
			assert.GreaterOrEqual(t, one, 0.9-1e-9, "one bad event in the smallest window that may alert leaves 90%")
		})
	}
}

func TestBudgetThresholdsAreTicketsUnlessSetToPage(t *testing.T) {
	b := DefaultBudgetThresholds()
	for i := range 3 {
		assert.Equal(t, Ticket, b.SeverityOf(i))
	}
	b.Severity = [3]Severity{Page, "", Ticket}
	assert.Equal(t, Page, b.SeverityOf(BudgetCritical))
	assert.Equal(t, Ticket, b.SeverityOf(BudgetHigh), "unset is a ticket")
	b.Severity[BudgetWarning] = "urgent"
	assert.EqualError(t, b.Validate(), `severity.warning: must be "page" or "ticket", got "urgent"`)
}

func TestEmptySlicesAreGoodSlices(t *testing.T) {
	m, err := NewModel(Spec{
		Objective: 0.9, Window: 30 * day,
		Timeslices: &Timeslices{Slice: time.Minute, MaxBadRatio: 0.05},
		Rules:      DefaultRules(30*day, 0.9, time.Minute, 1, DefaultMinBadEvents),
	})
	require.NoError(t, err)
	t0 := int64(28_000_000) * int64(time.Minute)
	min := int64(time.Minute)
	w6h := m.Layout.WindowIndex(6 * time.Hour)
	var ev Evaluation

	t.Run("A new series counts the slices elapsed since its first event, not a whole window.", func(t *testing.T) {
		s := m.NewSeries()
		for i := range int64(10) {
			m.Record(s, t0+i*min, true)
		}
		m.Evaluate(s, t0+10*min, &ev)
		assert.Equal(t, Counts{Total: 10, Bad: 10}, ev.Counts[w6h])
		m.Evaluate(s, t0+30*min, &ev)
		assert.Equal(t, Counts{Total: 30, Bad: 10}, ev.Counts[w6h], "20 quiet minutes are 20 good slices")
	})
	t.Run("After a quiet night one slow request is one bad slice of the 360 in 6h.", func(t *testing.T) {
		s := m.NewSeries()
		for i := range int64(120) {
			m.Record(s, t0+i*min, false)
		}
		late := t0 + 10*60*min
		m.Record(s, late, true)
		m.Evaluate(s, late+min, &ev)
		assert.Equal(t, Counts{Total: 360, Bad: 1}, ev.Counts[w6h])
		assert.InDelta(t, 1.0/360/0.1, BurnRate(ev.Counts[w6h], 0.9), 1e-12)
		assert.Empty(t, ev.Fired)
		win := ev.Counts[m.WindowIndex()]
		assert.Equal(t, uint64(10*60+1), win.Total, "the budget counts the empty slices as good too")
	})
	t.Run("A checkpoint keeps when the series began; an older one counts every window as elapsed.", func(t *testing.T) {
		s := m.NewSeries()
		m.Record(s, t0, true)
		got, err := m.DecodeSeries(m.AppendBinary(nil, s))
		require.NoError(t, err)
		assert.Equal(t, s.Since, got.Since)
		old, err := m.DecodeSeries(m.appendBinary(nil, s, checkpointVersionV2))
		require.NoError(t, err)
		m.Evaluate(old, t0+2*min, &ev)
		assert.Equal(t, Counts{Total: 360, Bad: 1}, ev.Counts[w6h])
	})
}

// binomialTail is P(X ≥ k) for X ~ Binomial(n, p).
func binomialTail(n int, p float64, k int) float64 {
	below := 0.0
	for i := range k {
		ln, _ := math.Lgamma(float64(n + 1))
		li, _ := math.Lgamma(float64(i + 1))
		lr, _ := math.Lgamma(float64(n - i + 1))
		below += math.Exp(ln - li - lr + float64(i)*math.Log(p) + float64(n-i)*math.Log1p(-p))
	}
	return 1 - below
}

// TestMinBadEventsDefaultAgainstChanceFailures is the arithmetic behind min_bad_events = 5 (the
// processor README quotes its log): a quiet agent whose only traffic in a page rule's long window
// is one burst of n runs, each failing independently at exactly the budget rate (1 − objective),
// pages when at least B of them fail and B failures reach the factor, i.e. for every n up to
// B/(factor × (1 − objective)); the largest such n is the worst case. With one burst per long
// window, the expected false pages per 30 days must stay below one a quarter for the default,
// and a guard of 3 must not (it is the next smaller choice that was considered).
func TestMinBadEventsDefaultAgainstChanceFailures(t *testing.T) {
	const objective = 0.995
	perMonth := func(r BurnRule, b int) (n int, pages float64) {
		f := r.Factor(30 * day)
		n = int(math.Floor(float64(b) / (f * (1 - objective))))
		bursts := float64(30*day) / float64(r.LongWindow)
		return n, bursts * binomialTail(n, 1-objective, b)
	}
	for _, r := range DefaultRules(30*day, objective, 0, 10, DefaultMinBadEvents) {
		if r.Severity != Page {
			continue
		}
		for _, b := range []int{1, 3, DefaultMinBadEvents} {
			n, pages := perMonth(r, b)
			t.Logf("%s∧%s page, guard %d: worst burst %d runs, %.3g false pages per 30 days", FormatWindow(r.LongWindow), FormatWindow(r.ShortWindow), b, n, pages)
		}
		_, pages := perMonth(r, DefaultMinBadEvents)
		assert.Less(t, pages, 1.0/3, "the default guard: under one false page a quarter")
		_, pages = perMonth(r, 3)
		if r.LongWindow == 6*time.Hour {
			assert.Greater(t, pages, 1.0, "a guard of 3 pages the 6h∧30m rule more than monthly")
		}
	}
}

// TestTimeslicesTimeToAlertAfterSteadyGoodSlices: every slice turns bad after a long history of
// good ones (one event a minute); the default rules of the timeslices SLOs alert after
// ratio × window of the first rule whose factor the objective allows (the processor README's
// table): 0.6 × 6h for latency at 90%, 0.9 × 6h for memory at 85%, tickets only (0.6 × 1d, 0.75
// × 1d) for cost at 80% and queue depth at 75%.
func TestTimeslicesTimeToAlertAfterSteadyGoodSlices(t *testing.T) {
	for _, tt := range []struct {
		name      string
		objective float64
		severity  Severity
		want      time.Duration
	}{
		{"Latency at 90% pages after 3.6 hours of bad minutes.", 0.90, Page, 216 * time.Minute},
		{"Memory at 85% pages after 5.4 hours.", 0.85, Page, 324 * time.Minute},
		{"Cost at 80% never pages and tickets after 14.4 hours.", 0.80, Ticket, 864 * time.Minute},
		{"Queue depth at 75% never pages and tickets after 18 hours.", 0.75, Ticket, 1080 * time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewModel(Spec{
				Objective: tt.objective, Window: 30 * day,
				Timeslices: &Timeslices{Slice: time.Minute},
				Rules:      DefaultRules(30*day, tt.objective, time.Minute, 1, DefaultMinBadEvents),
			})
			require.NoError(t, err)
			s := m.NewSeries()
			minute := int64(time.Minute)
			now := int64(28_000_000) * minute
			var ev Evaluation
			step := func(bad bool) {
				m.Record(s, now+minute/2, bad)
				now += minute
				m.Evaluate(s, now, &ev)
			}
			for range 4 * 24 * 60 { // four good days: every window of the rules is full
				step(false)
			}
			start := now
			var alerted time.Duration
			for alerted == 0 && now-start < int64(2*day) {
				step(true)
				for i, r := range m.Rules {
					if s.Alerts[i].Active() {
						require.Equal(t, tt.severity, r.Severity, "%s∧%s", FormatWindow(r.LongWindow), FormatWindow(r.ShortWindow))
						alerted = time.Duration(now - start)
						break
					}
				}
			}
			assert.InDelta(t, float64(tt.want), float64(alerted), float64(2*time.Minute), "alerted after %s", alerted)
		})
	}
}

// TestBurnRulesTimeToPageATotalFailureAfterSteadyTraffic: the burn-rate pages alone (no hard-down
// rule), 10 events a second for 7 hours, then every event failing, evaluated every 10 s: the
// 1h∧5m page holds after 14.4 × (1 − objective) × 1h (the processor README's table).
func TestBurnRulesTimeToPageATotalFailureAfterSteadyTraffic(t *testing.T) {
	for _, tt := range []struct {
		name      string
		objective float64
		want      time.Duration
	}{
		{"At 99.5% the 1h∧5m page holds after 259 s.", 0.995, 259 * time.Second},
		{"At 99% it holds after 518 s.", 0.99, 518 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewModel(Spec{Objective: tt.objective, Window: 30 * day, Rules: DefaultRules(30*day, tt.objective, 0, 10, DefaultMinBadEvents)})
			require.NoError(t, err)
			s := m.NewSeries()
			sec := int64(time.Second)
			now := int64(1_700_000_000) * sec
			var ev Evaluation
			step := func(bad uint64) {
				m.RecordN(s, now, Counts{Total: 10, Bad: bad})
				now += sec
				if now%(10*sec) == 0 {
					m.Evaluate(s, now, &ev)
				}
			}
			for range 7 * 3600 {
				step(0)
			}
			start := now
			for !s.Alerts[0].Active() && now-start < int64(time.Hour) {
				step(10)
			}
			require.Equal(t, time.Hour, m.Rules[0].LongWindow)
			assert.InDelta(t, float64(tt.want), float64(now-start), float64(10*time.Second), "paged after %s", time.Duration(now-start))
		})
	}
}
