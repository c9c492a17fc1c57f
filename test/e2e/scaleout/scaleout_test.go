// Package scaleout is the end-to-end test of "Growing past one machine" (docs/architecture.md) on loopback:
// a first tier of one gateway (deploy/gateway/gateway.yaml: otlp → load_balancing, routing_key
// service, static resolver) in front of two otelcol-amas replicas (the default configuration
// with deploy/replica/slo-by-service.yaml, which groups the span SLOs by service.name). Several
// agent services send through the gateway; the same runs go to a single collector with the same
// configuration. Each SLO group must be evaluated on exactly one replica, with the budget the
// single collector computes (and the SLO math predicts) for the same traffic.
package scaleout

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
	"github.com/otelcol-amas/otelcol-amas/test/e2e/acceptance/agentsim"
)

type replica struct {
	name  string
	ports *harness.DefaultConfigPorts
}

// budgetSeries returns the value of amas_slo_error_budget_remaining_percent for slo and
// service on /metrics of port, and whether the series exists.
func budgetSeries(fams map[string]*dto.MetricFamily, slo, service string) (float64, bool) {
	return harness.SeriesValue(fams, "amas_slo_error_budget_remaining_percent", map[string]string{"slo": slo, "service_name": service})
}

func TestEachServiceSLOIsEvaluatedOnExactlyOneReplicaWithTheSingleCollectorsBudget(t *testing.T) {
	root := harness.RepoRoot(t)
	overlay := root + "/deploy/replica/slo-by-service.yaml"

	// Second tier: two replicas, and the single collector the results are compared with.
	replicas := []replica{{name: "replica-0"}, {name: "replica-1"}}
	backends := make([]string, len(replicas))
	for i := range replicas {
		replicas[i].ports = harness.NewDefaultConfigPorts(t)
		// The overlay's instance label: every SLO series and alert names its replica.
		replicas[i].ports.Env = append(replicas[i].ports.Env, "AMAS_INSTANCE="+replicas[i].name)
		harness.StartDefaultCollector(t, replicas[i].ports, overlay)
		backends[i] = harness.Addr(replicas[i].ports.OTLPGRPC)
	}
	single := harness.NewDefaultConfigPorts(t)
	harness.StartDefaultCollector(t, single, overlay)
	// One Prometheus scrapes both replicas, as in a deployment.
	prom := harness.StartPrometheus(t, harness.Addr(replicas[0].ports.Prometheus), harness.Addr(replicas[1].ports.Prometheus))

	// First tier: the gateway, from the same binary, routing by service.
	gw := harness.NewDefaultConfigPorts(t)
	gw.Env = append(gw.Env, "AMAS_GATEWAY_BACKENDS=["+strings.Join(backends, ", ")+"]")
	harness.StartConfigFilesOnPorts(t, gw, root+"/deploy/gateway/gateway.yaml")

	// Twelve services, each with its own failure pattern, so every group has its own budget. With
	// two backends the chance that the ring sends all twelve to one replica is 2^-11.
	type service struct {
		name          string
		viaGW, direct *agentsim.Client
	}
	var services []service
	for i := range 12 {
		name := fmt.Sprintf("svc-%02d", i)
		viaGW, err := agentsim.New(harness.Addr(gw.OTLPGRPC), name)
		require.NoError(t, err)
		direct, err := agentsim.New(harness.Addr(single.OTLPGRPC), name)
		require.NoError(t, err)
		t.Cleanup(func() { _ = viaGW.Close(); _ = direct.Close() })
		services = append(services, service{name: name, viaGW: viaGW, direct: direct})
	}
	const runsPerService = 60
	for n := range runsPerService {
		for i, s := range services {
			bad := i > 0 && n%(i+2) == 0 // svc-00 never fails; svc-k fails every (k+2)-th run
			r := agentsim.Run{Agent: "agent-" + s.name, Fails: bad, Tools: []agentsim.Tool{{Name: "search", Fails: bad && n%2 == 0}}}
			_, err := s.viaGW.Send(context.Background(), r)
			require.NoError(t, err)
			_, err = s.direct.Send(context.Background(), r)
			require.NoError(t, err)
		}
	}

	slos := []struct {
		name      string
		objective float64
		counts    func(agentsim.Totals) slomath.Counts
	}{
		{"agent_availability", 0.995, func(x agentsim.Totals) slomath.Counts {
			return slomath.Counts{Total: uint64(x.Runs), Bad: uint64(x.BadRuns)}
		}},
		{"tool_call_success_rate", 0.99, func(x agentsim.Totals) slomath.Counts {
			return slomath.Counts{Total: uint64(x.ToolCalls), Bad: uint64(x.BadToolCalls)}
		}},
	}
	onReplica := map[string]int{}
	for _, s := range services {
		sent := s.viaGW.Totals()
		require.Equal(t, sent, s.direct.Totals(), "%s: the same runs went both ways", s.name)
		for _, slo := range slos {
			predicted := 100 * slomath.BudgetRemaining(slo.counts(sent), slo.objective)
			var singleV float64
			var holders []string
			var holderV float64
			harness.Eventually(t, 90*time.Second, 500*time.Millisecond, func() (bool, string) {
				fams, err := harness.ScrapeFamilies(harness.MetricsURL(single.Prometheus))
				if err != nil {
					return false, err.Error()
				}
				v, ok := budgetSeries(fams, slo.name, s.name)
				if !ok || math.Abs(v-predicted) > 1e-9*math.Max(1, math.Abs(predicted)) {
					return false, fmt.Sprintf("single collector: %s{service_name=%s} = %v (present %v), predicted %v", slo.name, s.name, v, ok, predicted)
				}
				singleV = v
				holders = holders[:0]
				for _, r := range replicas {
					fams, err := harness.ScrapeFamilies(harness.MetricsURL(r.ports.Prometheus))
					if err != nil {
						return false, err.Error()
					}
					if v, ok := budgetSeries(fams, slo.name, s.name); ok {
						holders = append(holders, r.name)
						holderV = v
						if _, labelled := harness.SeriesValue(fams, "amas_slo_error_budget_remaining_percent",
							map[string]string{"slo": slo.name, "service_name": s.name, "amas_instance": r.name}); !labelled {
							return false, fmt.Sprintf("%s{service_name=%s} on %s lacks amas_instance=%q", slo.name, s.name, r.name, r.name)
						}
					}
				}
				if len(holders) != 1 {
					return false, fmt.Sprintf("%s{service_name=%s} is on replicas %v, want exactly one", slo.name, s.name, holders)
				}
				return math.Abs(holderV-singleV) <= 1e-9*math.Max(1, math.Abs(singleV)),
					fmt.Sprintf("%s{service_name=%s}: %s shows %v, the single collector %v", slo.name, s.name, holders[0], holderV, singleV)
			})
			assert.Len(t, holders, 1)
			assert.Equal(t, singleV, holderV, "%s{service_name=%s}: same budget on its replica as on one collector", slo.name, s.name)
			if slo.name == "agent_availability" {
				onReplica[holders[0]]++
				t.Logf("%s: %s, budget %.4f%% on %s and on the single collector (%d bad of %d runs)",
					s.name, slo.name, holderV, holders[0], sent.BadRuns, sent.Runs)
			}
		}
	}
	// Prometheus, scraping both replicas, holds one series per (slo, service): aggregations across
	// instances never count a group twice.
	harness.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		res, err := prom.TryQuery(`count by (slo, service_name) (amas_slo_error_budget_remaining_percent{service_name=~"svc-.*"})`)
		if err != nil {
			return false, err.Error()
		}
		spanSLOs := 0
		for _, r := range res {
			if r.Value != 1 {
				return false, fmt.Sprintf("%v: %v series across the replicas, want 1", r.Metric, r.Value)
			}
			switch r.Metric["slo"] {
			case "agent_availability", "agent_latency_p95", "tool_call_success_rate":
				spanSLOs++
			}
		}
		// agent_availability, agent_latency_p95 and tool_call_success_rate per service (and
		// cost_efficiency per service once the connector's counters of that service flowed).
		return spanSLOs == 3*len(services), fmt.Sprintf("%d (slo, service) series of the span SLOs in Prometheus, want %d", spanSLOs, 3*len(services))
	})
	t.Logf("groups per replica: %v", onReplica)
	fmt.Printf("SCALEOUT: %d services through one gateway: %v groups per replica; every budget equal to the single collector's\n", len(services), onReplica)
	assert.Len(t, onReplica, 2, "the gateway spreads the services over both replicas")

	// The services' spans never mix: a replica's request metrics hold exactly its own services.
	harness.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		for _, r := range replicas {
			fams, err := harness.ScrapeFamilies(harness.MetricsURL(r.ports.Prometheus))
			if err != nil {
				return false, err.Error()
			}
			for _, s := range services {
				_, hasBudget := budgetSeries(fams, "agent_availability", s.name)
				runs, hasRequests := harness.SeriesValue(fams, "amas_agent_requests_total", map[string]string{"agent": "agent-" + s.name, "operation": "invoke_agent"})
				if hasBudget != hasRequests || (hasRequests && runs != runsPerService) {
					return false, fmt.Sprintf("%s on %s: SLO group present %v, requests %v (present %v), want them together with %d runs", s.name, r.name, hasBudget, runs, hasRequests, runsPerService)
				}
			}
		}
		return true, ""
	})
}
