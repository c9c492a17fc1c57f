package acceptance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
	"github.com/otelcol-amas/otelcol-amas/test/e2e/acceptance/agentsim"
)

// panelQuery is one target of one panel of a generated dashboard.
type panelQuery struct {
	dashboard, panel, expr string
}

// generatedPanelQueries reads every target of every panel (rows included) of the dashboards
// that amas-slo generates into config/observability/dashboards/.
func generatedPanelQueries(t *testing.T) []panelQuery {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(harness.RepoRoot(t), "config/observability/dashboards/*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "amas-slo generates the dashboards into config/observability/dashboards/")
	type panel struct {
		Title   string  `json:"title"`
		Panels  []panel `json:"panels"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	}
	var out []panelQuery
	var walk func(dashboard string, ps []panel)
	walk = func(dashboard string, ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				if tg.Expr != "" {
					out = append(out, panelQuery{dashboard: dashboard, panel: p.Title, expr: tg.Expr})
				}
			}
			walk(dashboard, p.Panels)
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var db struct {
			Title  string  `json:"title"`
			Panels []panel `json:"panels"`
		}
		require.NoError(t, json.Unmarshal(b, &db), f)
		walk(db.Title, db.Panels)
	}
	return out
}

// grafanaVariables stand for what Grafana substitutes: the "All" value of the dashboards'
// multi-value variables, and the intervals of a 5-minute view of a 1 s scrape.
var grafanaVariables = strings.NewReplacer(
	"$__rate_interval", "1m",
	"$__interval", "15s",
	"$__range", "5m",
	"${agent}", ".*", "$agent", ".*",
	"${slo}", ".*", "$slo", ".*",
)

var metricName = regexp.MustCompile(`\bamas_[a-z0-9_]+\b`)

// postMemoryGauge sends process.memory.utilization as an agent runtime reports it (OTLP/HTTP
// JSON), the gauge the memory_usage SLO reads.
func postMemoryGauge(endpoint, service string, value float64) error {
	body := fmt.Sprintf(`{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":%q}}]},
"scopeMetrics":[{"metrics":[{"name":"process.memory.utilization","unit":"1","gauge":{"dataPoints":[{"timeUnixNano":"%d","asDouble":%v}]}}]}]}]}`,
		service, time.Now().UnixNano(), value)
	resp, err := http.Post("http://"+endpoint+"/v1/metrics", "application/json", bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /v1/metrics: HTTP %d", resp.StatusCode)
	}
	return nil
}

// Criterion 2: "Check dashboard → shows real-time performance metrics."
//
// With steady agent traffic (some runs failing, a work queue, the agents' memory gauge), every
// panel query of the generated dashboards, run against the real Prometheus that scrapes the
// default collector (with the generated rules loaded), returns data, and every amas_ series a
// query reads was scraped within the last 10 s.
func TestEveryPanelOfTheGeneratedDashboardsShowsCurrentData(t *testing.T) {
	t.Parallel()
	queries := generatedPanelQueries(t)
	require.Greater(t, len(queries), 20, "the generated dashboards have their panels")
	s := startStack(t, stackOptions{promRules: []string{filepath.Join(harness.RepoRoot(t), "config/observability/prometheus_alerts.yaml")}})
	agent := s.client(t, "dashboard-desk")
	stop := agent.Steady(100*time.Millisecond, func(i int) agentsim.Run {
		bad := i%20 == 3
		return agentsim.Run{Agent: []string{"planner", "writer"}[i%2], Fails: bad, QueueDepth: float64(5 + i%10),
			Tools: []agentsim.Tool{{Name: "search", Fails: bad}}}
	})
	defer stop()
	done := make(chan struct{})
	memDone := make(chan struct{})
	go func() {
		defer close(memDone)
		ticker := time.NewTicker(time.Second)
		defer ticker.Stop()
		for {
			_ = postMemoryGauge(harness.Addr(s.ports.OTLPHTTP), "dashboard-desk", 0.42)
			select {
			case <-done:
				return
			case <-ticker.C:
			}
		}
	}()
	defer func() { close(done); <-memDone }()

	var lastFailures []string
	harness.Eventually(t, 3*time.Minute, 2*time.Second, func() (bool, string) {
		var failures []string
		for _, q := range queries {
			expr := grafanaVariables.Replace(q.expr)
			res, err := s.prom.TryQuery(expr)
			if err != nil {
				failures = append(failures, fmt.Sprintf("%s / %s: %v", q.dashboard, q.panel, err))
				continue
			}
			numbers := 0
			for _, r := range res {
				if !math.IsNaN(r.Value) {
					numbers++
				}
			}
			if numbers == 0 {
				failures = append(failures, fmt.Sprintf("%s / %s: no data from %s", q.dashboard, q.panel, expr))
			}
		}
		lastFailures = failures
		return len(failures) == 0, fmt.Sprintf("%d of %d panel queries without data:\n  %s", len(failures), len(queries), strings.Join(failures, "\n  "))
	})
	require.Empty(t, lastFailures)

	// Current: every amas_ series a panel reads was scraped moments ago.
	// names: metric -> whether every query reading it falls back to vector(0) when it is absent.
	names := map[string]bool{}
	for _, q := range queries {
		for _, n := range metricName.FindAllString(q.expr, -1) {
			fallback, seen := names[n]
			names[n] = (fallback || !seen) && strings.Contains(q.expr, "or vector(0)")
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		age, err := s.scalar(fmt.Sprintf("time() - max(timestamp(%s))", n))
		if err != nil && strings.Contains(err.Error(), ": 0 series") && names[n] {
			// A series that exists only while something is wrong (amas_performance_regression_*
			// while no operation regressed): every panel reading it falls back to vector(0).
			t.Logf("%s: no series now (its panels show the vector(0) fallback)", n)
			continue
		}
		if assert.NoError(t, err, n) {
			assert.Less(t, age, 10.0, "%s was scraped %.1f s ago", n, age)
		}
	}
	report(t, "criterion 2: %d panel queries of %d generated dashboards return current data from Prometheus (%d amas_ metrics read)",
		len(queries), countDashboards(queries), len(sorted))
}

func countDashboards(qs []panelQuery) int {
	seen := map[string]bool{}
	for _, q := range qs {
		seen[q.dashboard] = true
	}
	return len(seen)
}
