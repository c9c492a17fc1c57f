package acceptance

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
	"github.com/otelcol-amas/otelcol-amas/test/e2e/acceptance/agentsim"
)

// Criterion 1: "Simulate agent failure → alert fires within 2 minutes", and the dead agent.
//
// It runs in real time, once: a healthy phase at 10 runs/s of healthyHistory (longer than the
// 5-minute window of the fast page pair, so the page is measured in steady state, not against
// the short history of a fresh start), checked for pages throughout, then every run fails until
// the page (SLOErrorBudgetBurn, severity critical, on agent_availability) is active in
// Alertmanager's API; then the agent stops sending until SLONoData for agent_availability is
// active there. The healthy phase overlaps the package's other tests (they run in parallel).
// healthyHistory is the healthy traffic before the failure: at least 6 minutes, so every short
// window of the page rules (5m and 1m) is full of healthy runs when the failure starts.
const healthyHistory = 6*time.Minute + 10*time.Second

func TestAgentFailurePagesWithinTwoMinutesAndADeadAgentRaisesNoData(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOptions{alertmanager: true})
	agent := s.client(t, "support-desk")

	var failing atomic.Bool
	var firstFailure atomic.Int64
	stop := agent.Steady(100*time.Millisecond, func(int) agentsim.Run {
		r := agentsim.Run{Agent: "planner"}
		if failing.Load() {
			r.Fails = true
			r.Tools = []agentsim.Tool{{Name: "search", Fails: true}}
			firstFailure.CompareAndSwap(0, time.Now().UnixNano())
		}
		return r
	})
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()

	// Healthy phase: healthyHistory of traffic, evaluated with the whole budget left, and no page
	// at any moment of it.
	healthyFrom := time.Now()
	harness.Eventually(t, healthyHistory+2*time.Minute, 2*time.Second, func() (bool, string) {
		alerts, err := s.am.Alerts()
		if err != nil {
			return false, err.Error()
		}
		for _, a := range alerts {
			require.NotEqual(t, "critical", a.Labels["severity"], "nothing pages while healthy: %v", a.Labels)
			require.NotEqual(t, "high", a.Labels["severity"], "nothing pages while healthy: %v", a.Labels)
		}
		b, err := s.scalar(`amas_slo_error_budget_remaining_percent{slo="agent_availability"}`)
		if err != nil {
			return false, err.Error()
		}
		sli, err := s.scalar(`amas_slo_sli_ratio{slo="agent_availability",window="5m"}`)
		if err != nil {
			return false, err.Error()
		}
		if time.Since(healthyFrom) < healthyHistory {
			return false, "the healthy phase lasts " + healthyHistory.String()
		}
		return b == 100 && sli == 1, "budget 100% and SLI 1 while healthy"
	})
	alerts, err := s.am.Alerts()
	require.NoError(t, err)
	for _, a := range alerts {
		require.NotEqual(t, "critical", a.Labels["severity"], "nothing pages while healthy: %v", a.Labels)
	}
	healthy := agent.Totals()
	require.Zero(t, healthy.BadRuns)
	require.GreaterOrEqual(t, healthy.Runs, int(healthyHistory/time.Second)*9, "the healthy phase ran at a steady rate")

	// Failure: every run fails from now on.
	failing.Store(true)
	page := map[string]string{"alertname": "SLOErrorBudgetBurn", "slo": "agent_availability", "severity": "critical"}
	var paged harness.AMAlert
	harness.Eventually(t, 3*time.Minute, 250*time.Millisecond, func() (bool, string) {
		a, ok, err := s.activeAlert(page)
		if err != nil {
			return false, err.Error()
		}
		paged = a
		return ok, "page SLOErrorBudgetBurn{slo=agent_availability,severity=critical} active in Alertmanager"
	})
	require.NotZero(t, firstFailure.Load())
	pageLatency := time.Since(time.Unix(0, firstFailure.Load()))
	report(t, "criterion 1: agent failure after %s of healthy traffic at 10 runs/s -> page active in Alertmanager %.1f s after the first failing request (limit 120 s; windows %s/%s, default config)",
		time.Duration(firstFailure.Load()-healthyFrom.UnixNano()).Round(time.Second), pageLatency.Seconds(), paged.Labels["long_window"], paged.Labels["short_window"])
	assert.LessOrEqual(t, pageLatency, 2*time.Minute, "the page must be active within 2 minutes of the first failure")
	assert.NotEmpty(t, paged.Annotations["summary"], "the page carries a summary")

	// Dead agent: it stops sending anything.
	lastSent := stop()
	stopped = true
	noData := map[string]string{"alertname": "SLONoData", "slo": "agent_availability"}
	harness.Eventually(t, noDataAfter+2*time.Minute, 250*time.Millisecond, func() (bool, string) {
		_, ok, err := s.activeAlert(noData)
		if err != nil {
			return false, err.Error()
		}
		return ok, "SLONoData{slo=agent_availability} active in Alertmanager"
	})
	noDataLatency := time.Since(lastSent)
	report(t, "criterion 1: dead agent -> SLONoData active in Alertmanager %.1f s after the last request (default no_data.after %s + evaluation %s + group_wait %s)",
		noDataLatency.Seconds(), noDataAfter, sloEvaluationInterval, groupWait)
	// Not before the default no_data.after of silence (less a tick of slack for the arrival time),
	// and within the 2 minutes the slo processor's README promises.
	assert.GreaterOrEqual(t, noDataLatency, noDataAfter-sloEvaluationInterval, "no-data must wait for no_data.after of silence")
	assert.LessOrEqual(t, noDataLatency, 2*time.Minute, "a dead agent alerts within 2 minutes")
	assert.Zero(t, agent.Totals().ExportErrors, "every run reached the collector")
}
