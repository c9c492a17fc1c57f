package slosim

import (
	"math"
	"time"
)

// Objectives and slice rules of the default SLOs, as the ground truth applies them (the slo
// processor's defaults: objectives 0.995, 0.9, 0.99, 0.85, 0.8, 0.75; slices of one minute).
var objectives = map[string]float64{
	SLOAvailability: 0.995, SLOLatency: 0.9, SLOTools: 0.99, SLOMemory: 0.85, SLOCost: 0.8, SLOQueue: 0.75,
}

// BudgetThresholds are the default remaining-budget thresholds by severity.
var BudgetThresholds = map[string]float64{"critical": 0.05, "high": 0.15, "warning": 0.25}

// MinBudgetHistory is how much history the SLO window must hold before a budget alert can be
// true: a nearly empty window (one failure in ten runs after a start) says nothing about a
// 30-day budget.
const MinBudgetHistory = 24 * time.Hour

// BudgetTruth is the error budget remaining of every default SLO over the scenario, computed
// exactly from the simulated events the collector received (a scenario of at most 30 days: the
// window is everything since the start), per tick.
type BudgetTruth struct {
	start     time.Time
	remaining map[string][]float32 // per SLO, per tick
}

// Remaining is the true budget remaining of slo at t (1 before any event).
func (b *BudgetTruth) Remaining(slo string, t time.Time) float64 {
	i := int(t.Sub(b.start)/TickLength) - 1
	r := b.remaining[slo]
	if i < 0 || len(r) == 0 {
		return 1
	}
	return float64(r[min(i, len(r)-1)])
}

// BudgetTruth computes the true budgets of the scenario's default SLOs.
func (s Scenario) BudgetTruth() *BudgetTruth {
	b := &BudgetTruth{start: s.Start, remaining: map[string][]float32{}}
	type counts struct{ total, bad float64 }
	cum := map[string]*counts{}
	for _, n := range SLONames {
		cum[n] = &counts{}
	}
	// The open one-minute slice of each timeslices SLO.
	var runs, slow, cost float64
	memBad, queueBad, memAny, queueAny := false, false, false, false
	closeSlice := func() {
		if runs > 0 {
			cum[SLOLatency].total++
			if slow/runs > 0.05 {
				cum[SLOLatency].bad++
			}
			cum[SLOCost].total++
			if cost/runs > 0.05 {
				cum[SLOCost].bad++
			}
		}
		if memAny {
			cum[SLOMemory].total++
			if memBad {
				cum[SLOMemory].bad++
			}
		}
		if queueAny {
			cum[SLOQueue].total++
			if queueBad {
				cum[SLOQueue].bad++
			}
		}
		runs, slow, cost = 0, 0, 0
		memBad, queueBad, memAny, queueAny = false, false, false, false
	}
	s.Run(func(tk *Tick) {
		if tk.CollectorUp {
			for _, a := range tk.Agents {
				cum[SLOAvailability].total += float64(a.Runs)
				cum[SLOAvailability].bad += float64(a.Failed)
				cum[SLOTools].total += float64(a.Tools)
				cum[SLOTools].bad += float64(a.ToolsFailed)
				runs += float64(a.Runs)
				slow += float64(a.Slow)
				cost += a.CostUSD
			}
			if !math.IsNaN(tk.Memory) {
				memAny, memBad = true, memBad || tk.Memory > 0.8
			}
			if !math.IsNaN(tk.Queue) {
				queueAny, queueBad = true, queueBad || tk.Queue > 50
			}
		}
		if tk.At.UnixNano()%int64(time.Minute) == 0 {
			closeSlice()
		}
		for _, n := range SLONames {
			c := cum[n]
			r := 1.0
			if c.total > 0 {
				r = 1 - c.bad/((1-objectives[n])*c.total)
			}
			b.remaining[n] = append(b.remaining[n], float32(r))
		}
	})
	return b
}
