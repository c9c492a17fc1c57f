package acceptance

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
	"github.com/otelcol-amas/otelcol-amas/test/e2e/acceptance/agentsim"
)

// Criterion 5: "All traces end-to-end → complete request visibility."
//
// Three agent services send runs (invoke_agent, chat, two tool calls; one run in 50 fails) at a
// sustained 25 runs/s each, 300 spans/s in all, for 30 s. Every span sent must be in Jaeger (counted by id through its API) and counted
// in the request metrics in Prometheus: zero lost.
func TestAtASustainedRateEverySpanIsInJaegerAndInTheRequestMetrics(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOptions{jaeger: true})
	const sustain = 30 * time.Second
	services := []string{"orders-desk", "returns-desk", "billing-desk"}
	clients := make([]*agentsim.Client, len(services))
	stops := make([]func() time.Time, len(services))
	began := time.Now()
	for i, svc := range services {
		clients[i] = s.client(t, svc)
		agentName := fmt.Sprintf("agent-%d", i)
		stops[i] = clients[i].Steady(40*time.Millisecond, func(n int) agentsim.Run {
			return agentsim.Run{Agent: agentName, Fails: n%50 == 7,
				Tools: []agentsim.Tool{{Name: "lookup"}, {Name: "update", Fails: n%50 == 7}}}
		})
	}
	harness.Eventually(t, sustain+30*time.Second, 200*time.Millisecond, func() (bool, string) {
		return time.Since(began) >= sustain, "sustained phase"
	})
	for _, stop := range stops {
		stop()
	}
	elapsed := time.Since(began)

	var total agentsim.Totals
	for _, c := range clients {
		x := c.Totals()
		require.Zero(t, x.ExportErrors, "%s: every export was accepted by the collector", c.Service)
		total.Runs += x.Runs
		total.Spans += x.Spans
		total.ToolCalls += x.ToolCalls
	}
	require.Greater(t, total.Runs, 0)

	// Jaeger: every span, by id, per service.
	for _, c := range clients {
		sent := c.SentSpanIDs()
		runs := c.Totals().Runs
		var inJaeger, unknown int
		harness.Eventually(t, 90*time.Second, time.Second, func() (bool, string) {
			traces, err := s.jaeger.Traces(c.Service, runs+100)
			if err != nil {
				return false, err.Error()
			}
			seen := map[string]struct{}{}
			unknown = 0
			for _, tr := range traces {
				for _, sp := range tr.Spans {
					if _, ok := sent[sp.SpanID]; ok {
						seen[sp.SpanID] = struct{}{}
					} else {
						unknown++
					}
				}
			}
			inJaeger = len(seen)
			return inJaeger == len(sent), fmt.Sprintf("%s: %d of %d spans in Jaeger (%d traces)", c.Service, inJaeger, len(sent), len(traces))
		})
		assert.Zero(t, unknown, "%s: Jaeger holds no span the client did not send", c.Service)
		report(t, "criterion 5: %s sent %d spans (%d runs); Jaeger has %d; lost %d", c.Service, len(sent), runs, inJaeger, len(sent)-inJaeger)
	}

	// The request metrics: every span counted once (each is an invoke_agent, chat or
	// execute_tool span), and every tool call.
	var requests, tools float64
	harness.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		var err error
		if requests, err = s.scalar(`sum(amas_agent_requests_total)`); err != nil {
			return false, err.Error()
		}
		if tools, err = s.scalar(`sum(amas_tool_calls_total)`); err != nil {
			return false, err.Error()
		}
		return int(requests) == total.Spans && int(tools) == total.ToolCalls,
			fmt.Sprintf("Prometheus counts %v requests and %v tool calls; sent %d spans and %d tool calls", requests, tools, total.Spans, total.ToolCalls)
	})
	report(t, "criterion 5: %d spans in %.1f s (%.0f spans/s, %d runs/s): Jaeger lost 0, amas_agent_requests_total counts %.0f (lost %d)",
		total.Spans, elapsed.Seconds(), float64(total.Spans)/elapsed.Seconds(), int(float64(total.Runs)/elapsed.Seconds()+0.5), requests, total.Spans-int(requests))
	runs, err := s.scalar(`sum(amas_agent_requests_total{operation="invoke_agent"})`)
	require.NoError(t, err)
	assert.Equal(t, float64(total.Runs), runs, "every run counted as an invoke_agent request")
}
