package acceptance

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
	"github.com/otelcol-amas/otelcol-amas/test/e2e/acceptance/agentsim"
)

// Criterion 4: "SLO violation → error budget automatically decrements."
//
// 30 s of healthy runs at 50/s, then a burst of failing runs (each fails, and so does its tool
// call). amas_slo_error_budget_remaining_percent in Prometheus must fall, for agent_availability
// (0.995, occurrences) and tool_call_success_rate (0.99), to exactly what the SLO math predicts
// for the events sent: 100 × (1 − bad / ((1 − objective) × total)).
//
// The bucketing error (processor/sloprocessor/README.md, "Bucketing error") can only miss events
// in the one-bucket strip at the old edge of the 30-day window, older than now − 30d + 12h. Every
// event here is minutes old, so the documented error for this traffic is zero and the tolerance
// is float rounding only.
func TestABurstOfBadRequestsLowersTheErrorBudgetByThePredictedAmount(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOptions{})
	agent := s.client(t, "billing-desk")

	const healthyFor, burst = 30 * time.Second, 4
	began := time.Now()
	stop := agent.Steady(20*time.Millisecond, func(int) agentsim.Run { return agentsim.Run{Agent: "biller"} })
	harness.Eventually(t, healthyFor+30*time.Second, 200*time.Millisecond, func() (bool, string) {
		return time.Since(began) >= healthyFor, "healthy phase"
	})
	stop()
	healthy := agent.Totals()
	require.Zero(t, healthy.ExportErrors, "every healthy run reached the collector")
	require.Zero(t, healthy.BadRuns)

	budgets := []struct {
		slo       string
		objective float64
		total     func(agentsim.Totals) int
		bad       func(agentsim.Totals) int
	}{
		{"agent_availability", 0.995, func(x agentsim.Totals) int { return x.Runs }, func(x agentsim.Totals) int { return x.BadRuns }},
		{"tool_call_success_rate", 0.99, func(x agentsim.Totals) int { return x.ToolCalls }, func(x agentsim.Totals) int { return x.BadToolCalls }},
	}
	query := func(slo string) string {
		return fmt.Sprintf(`amas_slo_error_budget_remaining_percent{slo=%q}`, slo)
	}
	// Before the burst: the collector has counted every run, and the whole budget is left.
	harness.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		n, err := s.scalar(`sum(amas_agent_requests_total{agent="biller",operation="invoke_agent"})`)
		if err != nil {
			return false, err.Error()
		}
		return int(n) == healthy.Runs, fmt.Sprintf("Prometheus counts %v runs, %d sent", n, healthy.Runs)
	})
	for _, b := range budgets {
		v, err := s.scalar(query(b.slo))
		require.NoError(t, err)
		require.Equal(t, 100.0, v, "%s: the whole budget is left before the burst", b.slo)
	}

	// The burst.
	for range burst {
		_, err := agent.Send(context.Background(), agentsim.Run{Agent: "biller", Fails: true,
			Tools: []agentsim.Tool{{Name: "search", Fails: true}}})
		require.NoError(t, err)
	}
	sent := agent.Totals()
	require.Equal(t, burst, sent.BadRuns)
	require.Equal(t, burst, sent.BadToolCalls)

	for _, b := range budgets {
		counts := slomath.Counts{Total: uint64(b.total(sent)), Bad: uint64(b.bad(sent))}
		predicted := 100 * slomath.BudgetRemaining(counts, b.objective)
		var got float64
		harness.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
			v, err := s.scalar(query(b.slo))
			if err != nil {
				return false, err.Error()
			}
			got = v
			return math.Abs(v-predicted) <= 1e-9*math.Max(1, math.Abs(predicted)),
				fmt.Sprintf("%s budget %v%%, predicted %v%% for %d bad of %d", b.slo, v, predicted, counts.Bad, counts.Total)
		})
		report(t, "criterion 4: %s budget 100%% -> %.4f%% after %d bad of %d events (predicted %.4f%%, decrement %.4f points)",
			b.slo, got, counts.Bad, counts.Total, predicted, 100-got)
		assert.Less(t, got, 100.0, "the budget decremented")
	}
	// And it stays there: two more evaluations do not move it.
	before := map[string]float64{}
	for _, b := range budgets {
		v, err := s.scalar(query(b.slo))
		require.NoError(t, err)
		before[b.slo] = v
	}
	deadline := time.Now().Add(2 * sloEvaluationInterval)
	harness.Eventually(t, 3*sloEvaluationInterval, time.Second, func() (bool, string) {
		return time.Now().After(deadline), "two evaluations pass"
	})
	for _, b := range budgets {
		again, err := s.scalar(query(b.slo))
		require.NoError(t, err)
		assert.Equal(t, before[b.slo], again, "%s: the budget holds between evaluations with no new events", b.slo)
	}
}
