// Package fleet is the loopback proof of a rescaled fleet that forgets no budget: one gateway
// (deploy/gateway/gateway.yaml: load_balancing, routing_key service, static resolver) in front
// of otelcol-amas replicas (the default configuration with deploy/replica/slo-by-service.yaml,
// file_storage, and the slo processor's bootstrap pointed at a real Prometheus). The replicas
// either push to that Prometheus with deploy/replica/remote-write.yaml (its remote-write
// receiver on, deploy/central/prometheus_rules.yaml loaded: the central store of the fleet) or
// are scraped by it. Agent services with known failure counts send through the gateway; the
// fleet grows from three replicas to four (the gateway reloads its configuration, with the new
// list, on SIGHUP), and the services that moved must show, on their new replica, the budget of
// everything they sent, not a fresh start. Then a replica is killed, its storage deleted, and
// restarted: its services' budgets come back from Prometheus.
package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
	"github.com/otelcol-amas/otelcol-amas/test/e2e/acceptance/agentsim"
)

// fastOverlay shortens the replica overlay's timings for a test of a minute. The replica
// overlay turns the bootstrap on (AMAS_PROMETHEUS_URL) and names each replica's series
// (AMAS_INSTANCE). The slo processor emits its counters every evaluation interval (2 s), the
// connector its own every 2 s; the 1 s scrape sees each of their points, and remote write
// pushes every one. The delay covers a tick plus a scrape or a push. No-data comes after 20 s
// of any silence (min_predicted 0): long enough for a moved service's counter to rise on its
// new replica (the gateway's reload, two ticks, then a scrape or a push: about 8 s) before its
// old replica's check asks Prometheus, short enough for an idle service to raise SLONoData
// within the test.
const fastOverlay = `
connectors:
  amas_spanmetrics:
    metrics_flush_interval: 2s
processors:
  slo:
    evaluation_interval: 2s
    bootstrap:
      delay: 6s
    alerting:
      no_data: {enabled: true, after: 20s, min_predicted: 0, lookback: 1h, retire_after: 24h, severity: warning}
`

// noDataAfter is the fastOverlay's no_data.after.
const noDataAfter = 20 * time.Second

// backendsOverlay is the gateway's list of replicas, in a file of its own that the test
// rewrites before it sends the gateway SIGHUP.
const backendsOverlay = `
exporters:
  load_balancing:
    resolver:
      static:
        hostnames: [%s]
`

// transport is how the replicas' metrics reach the central Prometheus.
type transport struct {
	name string
	// remoteWrite: the replicas push (deploy/replica/remote-write.yaml) to a Prometheus with
	// its remote-write receiver on and the central rules loaded; otherwise Prometheus scrapes
	// each replica's /metrics every second.
	remoteWrite bool
	// sampleInterval is the time between two Prometheus samples of a replica's SLO counter.
	sampleInterval time.Duration
}

var transports = []transport{
	{name: "remote_write", remoteWrite: true, sampleInterval: 2 * time.Second},
	{name: "scrape", sampleInterval: time.Second},
}

const (
	numServices = 24 // with four replicas, the chance that none moves is (3/4)^24 ≈ 0.1%
	objective   = 0.995
)

// tolerance is how far a bootstrapped count of n events may be from the truth, when the
// history Prometheus holds spans span: increase() extrapolates from the last sample in its
// range to the range's end (at most 1.1 sample intervals), which scales the count by up to
// 1.1 × interval/span, and the result is rounded to whole events.
func (f *fleet) tolerance(n uint64, span time.Duration) float64 {
	return 1 + float64(n)*1.1*float64(f.tr.sampleInterval)/float64(span)
}

type statusDoc struct {
	SLOs []struct {
		Name   string `json:"name"`
		Groups []struct {
			Labels    map[string]string `json:"labels"`
			Events    uint64            `json:"events"`
			BadEvents uint64            `json:"bad_events"`
		} `json:"groups"`
	} `json:"slos"`
}

// groups returns the agent_availability counts per service on the replica's status API.
func groups(ports *harness.DefaultConfigPorts) (map[string]slomath.Counts, error) {
	code, body, err := harness.HTTPGet("http://" + harness.Addr(ports.SLOStatus) + "/observability/slo/status")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("status API: HTTP %d", code)
	}
	var doc statusDoc
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return nil, err
	}
	out := map[string]slomath.Counts{}
	for _, s := range doc.SLOs {
		if s.Name != "agent_availability" {
			continue
		}
		for _, g := range s.Groups {
			out[g.Labels["service.name"]] = slomath.Counts{Total: g.Events, Bad: g.BadEvents}
		}
	}
	return out, nil
}

type fleet struct {
	t        *testing.T
	tr       transport
	root     string
	replicas []*harness.DefaultConfigPorts
	running  []*harness.Collector
	prom     *harness.Prometheus
	overlays []string // after the default configuration, for every replica
	gwPorts  *harness.DefaultConfigPorts
	gw       *harness.Collector
	backends string                     // the gateway's overlay file with the list of replicas
	sent     map[string]*slomath.Counts // per service: runs and failed runs, over the whole test
	names    []string
}

func (f *fleet) startReplica(i int) {
	p := f.replicas[i]
	p.Env = []string{"AMAS_PROMETHEUS_URL=" + f.prom.URL, "AMAS_INSTANCE=" + fmt.Sprintf("replica-%d", i)}
	if f.tr.remoteWrite {
		p.Env = append(p.Env, "AMAS_REMOTE_WRITE_URL="+f.prom.URL+"/api/v1/write")
	}
	f.running[i] = harness.StartDefaultCollector(f.t, p, f.overlays...)
}

// route points the gateway at the first n replicas: it starts the gateway, or rewrites its list
// and has it reload (SIGHUP), as a configuration manager would.
func (f *fleet) route(n int) {
	backends := make([]string, n)
	for i := range n {
		backends[i] = harness.Addr(f.replicas[i].OTLPGRPC)
	}
	require.NoError(f.t, os.WriteFile(f.backends, fmt.Appendf(nil, backendsOverlay, strings.Join(backends, ", ")), 0o600))
	if f.gw == nil {
		f.gw = harness.StartConfigFilesOnPorts(f.t, f.gwPorts, f.root+"/deploy/gateway/gateway.yaml", f.backends)
		return
	}
	f.gw.Reload(f.t)
}

// send sends runs agent runs of every service through the gateway; run n of service i fails
// when (n+offset) is a multiple of i+3, so every service has its own budget.
func (f *fleet) send(runs, offset int) {
	for i, name := range f.names {
		c, err := agentsim.New(harness.Addr(f.gwPorts.OTLPGRPC), name)
		require.NoError(f.t, err)
		for n := range runs {
			bad := (n+offset)%(i+3) == 0
			_, err := c.Send(context.Background(), agentsim.Run{Agent: "agent-" + name, Fails: bad})
			require.NoError(f.t, err)
		}
		tot := c.Totals()
		require.NoError(f.t, c.Close())
		f.sent[name].Add(slomath.Counts{Total: uint64(tot.Runs), Bad: uint64(tot.BadRuns)})
	}
}

// placement waits until each of services has its group on exactly one of the replicas among,
// holding every run the client sent (the replica counted them itself), and returns the replica
// index per service.
func (f *fleet) placement(among []int, services []string) map[string]int {
	where := map[string]int{}
	harness.Eventually(f.t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		clear(where)
		for _, i := range among {
			gs, err := groups(f.replicas[i])
			if err != nil {
				return false, err.Error()
			}
			for _, svc := range services {
				if c, ok := gs[svc]; !ok || c != *f.sent[svc] {
					continue // not here, or not all of its runs have arrived yet
				}
				if j, dup := where[svc]; dup {
					return false, fmt.Sprintf("%s is on replicas %d and %d", svc, j, i)
				}
				where[svc] = i
			}
		}
		return len(where) == len(services), fmt.Sprintf("%d of %d services placed with every run counted: %v", len(where), len(services), where)
	})
	return where
}

// awaitRestored waits until replica i shows, for each service, the counts of everything the
// client sent within tolerance, and returns the largest differences seen.
func (f *fleet) awaitRestored(i int, services []string, span time.Duration) (maxDT, maxDB float64) {
	f.t.Cleanup(func() {
		if !f.t.Failed() {
			return
		}
		if fams, err := harness.ScrapeFamilies(harness.MetricsURL(f.replicas[i].Telemetry)); err == nil {
			for name, fam := range fams {
				if strings.Contains(name, "bootstrap") {
					f.t.Logf("replica %d: %s", i, fam.String())
				}
			}
		}
		now := time.Now()
		q := url.Values{"query": {`amas_slo_events_total{slo="agent_availability",service_name="` + services[0] + `"}`},
			"start": {strconv.FormatInt(now.Add(-3*time.Minute).Unix(), 10)}, "end": {strconv.FormatInt(now.Unix(), 10)}, "step": {"1"}}
		_, body, err := harness.HTTPGet(f.prom.URL + "/api/v1/query_range?" + q.Encode())
		f.t.Logf("raw history of %s: %v %s", services[0], err, body)
		for _, line := range strings.Split(f.running[i].Output(), "\n") {
			if strings.Contains(line, "ootstrap") {
				f.t.Logf("replica %d: %s", i, line)
			}
		}
	})
	harness.Eventually(f.t, 90*time.Second, time.Second, func() (bool, string) {
		gs, err := groups(f.replicas[i])
		if err != nil {
			return false, err.Error()
		}
		maxDT, maxDB = 0, 0
		for _, svc := range services {
			got, want := gs[svc], *f.sent[svc]
			dt := math.Abs(float64(got.Total) - float64(want.Total))
			db := math.Abs(float64(got.Bad) - float64(want.Bad))
			if dt > f.tolerance(want.Total, span) || db > f.tolerance(want.Bad, span) {
				return false, fmt.Sprintf("replica %d, %s: %d bad of %d events, the client sent %d bad of %d", i, svc, got.Bad, got.Total, want.Bad, want.Total)
			}
			maxDT, maxDB = math.Max(maxDT, dt), math.Max(maxDB, db)
		}
		return true, ""
	})
	gs, err := groups(f.replicas[i])
	require.NoError(f.t, err)
	for _, svc := range services {
		got, want := gs[svc], *f.sent[svc]
		f.t.Logf("replica %d, %s: budget %.2f%% from %d bad of %d events; the client sent %d bad of %d (budget %.2f%%)", i, svc,
			100*slomath.BudgetRemaining(got, objective), got.Bad, got.Total, want.Bad, want.Total, 100*slomath.BudgetRemaining(want, objective))
	}
	return maxDT, maxDB
}

// awaitCentral waits until the central Prometheus, summing the replicas' event counters per
// service, holds exactly what every client sent.
func (f *fleet) awaitCentral() {
	harness.Eventually(f.t, 30*time.Second, 500*time.Millisecond, func() (bool, string) {
		central := map[string]slomath.Counts{}
		for _, m := range []string{"amas_slo_events_total", "amas_slo_bad_events_total"} {
			res, err := f.prom.TryQuery(`sum by (service_name) (` + m + `{slo="agent_availability"})`)
			if err != nil {
				return false, err.Error()
			}
			for _, s := range res {
				c := central[s.Metric["service_name"]]
				if m == "amas_slo_events_total" {
					c.Total = uint64(s.Value)
				} else {
					c.Bad = uint64(s.Value)
				}
				central[s.Metric["service_name"]] = c
			}
		}
		for _, svc := range f.names {
			if central[svc] != *f.sent[svc] {
				return false, fmt.Sprintf("central Prometheus, %s: %+v, the client sent %+v", svc, central[svc], *f.sent[svc])
			}
		}
		return true, ""
	})
}

func TestRescaledAndWipedReplicasRestoreTheirServicesBudgetsFromPrometheus(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { runFleet(t, tr) })
	}
}

func runFleet(t *testing.T, tr transport) {
	began := time.Now()
	f := &fleet{t: t, tr: tr, root: harness.RepoRoot(t), sent: map[string]*slomath.Counts{}, running: make([]*harness.Collector, 4)}
	f.overlays = []string{f.root + "/deploy/replica/slo-by-service.yaml"}
	if tr.remoteWrite {
		f.overlays = append(f.overlays, f.root+"/deploy/replica/remote-write.yaml")
	}
	f.overlays = append(f.overlays, harness.WriteConfig(t, "fast.yaml", fastOverlay))
	targets := make([]string, 4)
	for i := range 4 {
		f.replicas = append(f.replicas, harness.NewDefaultConfigPorts(t))
		targets[i] = harness.Addr(f.replicas[i].Prometheus)
	}
	if tr.remoteWrite {
		f.prom = harness.StartPrometheusWith(t, harness.PrometheusOptions{
			RemoteWriteReceiver: true,
			RuleFiles:           []string{f.root + "/deploy/central/prometheus_rules.yaml"},
		})
	} else {
		// Prometheus scrapes all four from the start (the fourth answers once it runs).
		f.prom = harness.StartPrometheus(t, targets...)
	}
	for i := range 3 {
		f.startReplica(i)
	}
	if !tr.remoteWrite {
		// Prometheus scrapes a target only a few seconds after it starts (service discovery and
		// the scrape manager update every 5 s): history it never scraped cannot come back.
		harness.Eventually(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
			up, err := f.prom.TryQuery(`count(up == 1)`)
			return err == nil && len(up) == 1 && up[0].Value == 3, fmt.Sprintf("Prometheus scrapes %v of 3 replicas (%v)", up, err)
		})
	}
	f.gwPorts = harness.NewDefaultConfigPorts(t)
	f.backends = harness.WriteConfig(t, "backends.yaml", "")
	f.route(3)
	for i := range numServices {
		name := fmt.Sprintf("svc-%02d", i)
		f.names = append(f.names, name)
		f.sent[name] = &slomath.Counts{}
	}

	// Three replicas: every service's group lives whole on one of them.
	// The history: 40 runs per service, in four rounds 5 s apart, as traffic spreads over time.
	phase1 := time.Now()
	for r := range 4 {
		if r > 0 {
			time.Sleep(5 * time.Second)
		}
		f.send(10, 10*r)
	}
	before := f.placement([]int{0, 1, 2}, f.names)
	f.awaitCentral()

	// Four replicas. The fourth replica starts empty; the gateway reloads with the new list.
	// One run per service just before the reload, so that every service's silence on its old
	// replica starts at the move: a service that moves is silent there from now on, and its old
	// replica's no-data check (after noDataAfter) must find it on the fourth.
	f.startReplica(3)
	f.send(1, 50)
	silentFrom := time.Now()
	f.route(4)
	f.send(20, 1)
	t.Logf("the move's first runs were sent %s after the old replicas' last", time.Since(silentFrom).Round(100*time.Millisecond))
	// Where each service lives now: its new events went to exactly one replica. A service that
	// moved has, on the fourth replica, a group born there; the old replica keeps its old group.
	var moved, stayed []string
	harness.Eventually(t, 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		gs, err := groups(f.replicas[3])
		if err != nil {
			return false, err.Error()
		}
		moved, stayed = moved[:0], stayed[:0]
		for _, svc := range f.names {
			if _, ok := gs[svc]; ok {
				moved = append(moved, svc)
			} else {
				stayed = append(stayed, svc)
			}
		}
		return len(moved) > 0, "no service moved to the fourth replica yet"
	})
	t.Logf("moved to the fourth replica: %v", moved)
	dT, dB := f.awaitRestored(3, moved, time.Since(phase1))
	f.awaitHandedOff(before, moved, stayed, silentFrom)

	// The services that stayed: counted whole, by their replica alone.
	after := f.placement([]int{0, 1, 2}, stayed)
	for _, svc := range stayed {
		assert.Equal(t, before[svc], after[svc], "%s stayed on its replica", svc)
	}

	// The central Prometheus: the replicas' event counters, summed per service, hold every run
	// exactly once (a bootstrapped history is not re-exported), and its budget agrees with the
	// replica's, the moved services' within the bootstrap tolerance.
	f.awaitCentral()
	for _, svc := range moved {
		gs, err := groups(f.replicas[3])
		require.NoError(t, err)
		central := 100 * slomath.BudgetRemaining(*f.sent[svc], objective)
		replica := 100 * slomath.BudgetRemaining(gs[svc], objective)
		// The budget moves by at most the tolerated bad events over (1 − objective) × total,
		// plus what the tolerated change in the total does to it.
		tol := f.tolerance(f.sent[svc].Total, time.Since(phase1))
		band := 100 * (f.tolerance(f.sent[svc].Bad, time.Since(phase1)) + tol*float64(f.sent[svc].Bad)/float64(f.sent[svc].Total)) /
			((1 - objective) * (float64(f.sent[svc].Total) - tol))
		assert.InDelta(t, central, replica, band+1e-9, "%s: central budget %.2f%%, replica's %.2f%%", svc, central, replica)
	}

	// Kill the replica that holds the most services, delete its storage, restart it empty.
	count := map[int][]string{}
	for _, svc := range stayed {
		count[after[svc]] = append(count[after[svc]], svc)
	}
	victim := 0
	for i, s := range count {
		if len(s) > len(count[victim]) {
			victim = i
		}
	}
	require.NotEmpty(t, count[victim])
	f.running[victim].Kill(t)
	dir := f.replicas[victim].StorageDir
	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	f.startReplica(victim)
	f.send(10, 2)
	kT, kB := f.awaitRestored(victim, count[victim], time.Since(phase1))

	if tr.remoteWrite {
		f.checkCentralRules(phase1)
	}

	fmt.Printf("FLEET (%s): %d services; %d moved to the fourth replica, restored within %.0f events (%.0f bad); "+
		"replica %d killed with its storage deleted, its %d services restored within %.0f events (%.0f bad); %s\n",
		tr.name, numServices, len(moved), dT, dB, victim, len(count[victim]), kT, kB, time.Since(began).Round(time.Second))
}

// checkCentralRules holds the central rule file to the remote-written series: Prometheus
// evaluates it without an error, and its short windows, increases over the connector's
// counters summed across replicas, count every run each client sent. They cannot count fewer:
// every stream's first sample is 0 (the connector's zero points), so each rise between samples
// is counted, and increase() only scales that up when it extrapolates to the window's end (by up
// to 1.1 sample intervals over the time a series was sampled, 10% here at most). Without the
// zero points a service that moved would count none of its first flush. The 5m window holds
// the whole test. The hourly records behind the windows of a day or more are evaluated once an
// hour, which a test of a minute does not reach; their expressions are promtool-tested over 30
// days in cmd/amas-slo.
func (f *fleet) checkCentralRules(since time.Time) {
	require.Less(f.t, time.Since(since), 4*time.Minute, "the central rules' 5m window must hold the whole history")
	var worst float64
	harness.Eventually(f.t, 30*time.Second, time.Second, func() (bool, string) {
		evaluated, failed, err := f.prom.RuleHealth()
		if err != nil {
			return false, err.Error()
		}
		require.Empty(f.t, failed, "central rules that failed to evaluate")
		if evaluated == 0 {
			return false, "no central rule evaluated yet"
		}
		central := map[string][2]float64{}
		for k, rec := range []string{"amas_slo:sli_events:count", "amas_slo:sli_bad:count"} {
			res, err := f.prom.TryQuery(rec + `{slo="agent_availability",window="5m"}`)
			if err != nil {
				return false, err.Error()
			}
			for _, s := range res {
				c := central[s.Metric["service_name"]]
				c[k] = s.Value
				central[s.Metric["service_name"]] = c
			}
		}
		worst = 1
		for _, svc := range f.names {
			got, want := central[svc], *f.sent[svc]
			for k, w := range []uint64{want.Total, want.Bad} {
				if got[k] < float64(w) || got[k] > 1.1*float64(w)+1e-9 {
					return false, fmt.Sprintf("central rules, %s: %.2f bad of %.2f runs over 5m; the client sent %d bad of %d", svc, got[1], got[0], want.Bad, want.Total)
				}
				if w > 0 {
					worst = max(worst, got[k]/float64(w))
				}
			}
		}
		return true, ""
	})
	f.t.Logf("central rules: every service's 5m runs and failed runs within [1, %.3f] × what its client sent", worst)
}

// awaitHandedOff checks the no-data side of the move. On its old replica, each moved service's
// agent_availability group is retired (gone from the status API) without ever raising
// SLONoData: its counter rose on the fourth replica during the silence. A service that stayed
// and went idle (nothing is sent between the move and the kill) does raise it: the check did
// not just turn no-data off. The alerts are read from Prometheus over the whole time since
// silentFrom, so a point that came and went between two looks still counts. Only
// agent_availability is held to "never": a timeslices SLO's counter rises only when a 1m
// slice closes, later than the 20 s no-data of this test (with the default no-data rule such an
// SLO is silent only after 10 minutes, README "Alert rules").
func (f *fleet) awaitHandedOff(oldReplica map[string]int, moved, stayed []string, silentFrom time.Time) {
	harness.Eventually(f.t, 30*time.Second, 500*time.Millisecond, func() (bool, string) {
		for _, svc := range moved {
			gs, err := groups(f.replicas[oldReplica[svc]])
			if err != nil {
				return false, err.Error()
			}
			if _, ok := gs[svc]; ok {
				return false, fmt.Sprintf("%s is still a group on its old replica %d", svc, oldReplica[svc])
			}
		}
		return true, ""
	})
	noData := func(svc string, replica int) string {
		return `amas_alerts{alertname="SLONoData",slo="agent_availability",alertstate=~"pending|firing",service_name="` + svc +
			`",amas_instance="` + fmt.Sprintf("replica-%d", replica) + `"}`
	}
	// The idle services raise SLONoData once noDataAfter and a check have passed.
	var idle string
	harness.Eventually(f.t, 45*time.Second, time.Second, func() (bool, string) {
		for _, svc := range stayed {
			res, err := f.prom.TryQuery(noData(svc, oldReplica[svc]))
			if err != nil {
				return false, err.Error()
			}
			if len(res) > 0 && res[0].Value > 0 {
				idle = svc
				return true, ""
			}
		}
		return false, fmt.Sprintf("none of the %d idle services raised SLONoData", len(stayed))
	})
	since := time.Since(silentFrom).Round(time.Second) + time.Second
	everRaised := func(svc string) []harness.Sample {
		res, err := f.prom.TryQuery(`max_over_time(` + noData(svc, oldReplica[svc]) + `[` + strconv.Itoa(int(since/time.Second)) + `s])`)
		require.NoError(f.t, err)
		return res
	}
	require.NotEmpty(f.t, everRaised(idle), "the query over the whole silence sees the idle service's alert")
	for _, svc := range moved {
		assert.Empty(f.t, everRaised(svc), "%s never raised SLONoData on its old replica %d", svc, oldReplica[svc])
	}
	f.t.Logf("moved services retired on their old replicas without SLONoData; idle %s raised it on replica %d", idle, oldReplica[idle])
}
