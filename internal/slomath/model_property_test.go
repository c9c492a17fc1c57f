package slomath

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestModelMatchesNaiveRecomputation is the property test at the level the processor uses: the
// default 30-day SLO (every rule window and the 30-day tier), events recorded at arrival time
// through Model.Record (with its one-second buffer), read by Evaluate at random times, compared
// with a recomputation from the raw event list: every window within the documented bucketing
// error, and the budget remaining exactly what the formula of docs/architecture.md gives for the counted events.
func TestModelMatchesNaiveRecomputation(t *testing.T) {
	m, err := NewModel(Spec{Objective: 0.995, Window: 30 * day, Rules: DefaultRules(30*day, 0.995, 0, 10, DefaultMinBadEvents)})
	require.NoError(t, err)
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 7))
		s := m.NewSeries()
		var events []event
		var ev Evaluation
		now := int64(1_700_000_000)*int64(time.Second) + rng.Int64N(int64(time.Second))
		errRate := rng.Float64() * 0.05
		for range 4000 {
			switch rng.IntN(20) {
			case 0:
				now += rng.Int64N(int64(2 * day))
			case 1, 2, 3:
				now += rng.Int64N(int64(10 * time.Minute))
			default:
				now += rng.Int64N(int64(2 * time.Second))
			}
			for range rng.IntN(4) {
				e := event{t: now, bad: rng.Float64() < errRate}
				events = append(events, e)
				m.Record(s, now, e.bad)
			}
			if rng.IntN(10) != 0 {
				continue
			}
			m.Evaluate(s, now, &ev)
			for i, w := range m.Layout.Windows {
				b := int64(m.Layout.BucketWidth(i))
				got := ev.Counts[i]
				upper := naive(events, now-int64(w)+1, now)
				lower := naive(events, now-int64(w)+b, now)
				assert.LessOrEqual(t, got.Total, upper.Total, "seed %d window %s", seed, w)
				assert.GreaterOrEqual(t, got.Total, lower.Total, "seed %d window %s", seed, w)
				assert.LessOrEqual(t, got.Bad, upper.Bad, "seed %d window %s", seed, w)
				assert.GreaterOrEqual(t, got.Bad, lower.Bad, "seed %d window %s", seed, w)
			}
			win := ev.Counts[m.WindowIndex()]
			assert.InDelta(t, BudgetRemaining(win, 0.995), ev.BudgetRemaining, 1e-12)
			if win.Total > 0 {
				assert.InDelta(t, 1-float64(win.Bad)/(0.005*float64(win.Total)), ev.BudgetRemaining, 1e-9)
			}
		}
	}
}
