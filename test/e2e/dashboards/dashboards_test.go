// Package dashboards renders panels of the dashboards amas-slo generates
// (config/observability/dashboards/) from real data, since Grafana cannot run here: the built
// otelcol-amas binary with the repository's default configuration, agent runs from the
// OpenTelemetry Go SDK (a healthy phase, then one agent failing a third of its runs), a real
// Prometheus scraping the collector, and each panel's own PromQL run through /api/v1/query_range.
// The pictures are kept in artifacts/ (and copied to docs/images/ with UPDATE_SCREENSHOT=1):
//
//	UPDATE_SCREENSHOT=1 go test -count=1 -v ./test/e2e/dashboards/
package dashboards

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

const (
	healthy  = 75 * time.Second // every agent succeeds
	incident = 75 * time.Second // researcher fails one run in three
	scrape   = 5 * time.Second
	step     = 5 * time.Second
)

var agents = []string{"planner", "researcher", "writer"}

// grafanaVariables stand for what Grafana substitutes: the "All" value of the dashboards'
// multi-value variables, and $__rate_interval for a 5 s scrape and a 15 s flush (1m, four
// flushes per rate window).
var grafanaVariables = strings.NewReplacer(
	"$__rate_interval", "1m",
	"${agent}", ".*", "$agent", ".*",
	"${slo}", ".*", "$slo", ".*",
)

// run sends one agent run (invoke_agent → execute_tool + chat) as an instrumented agent would.
func run(ctx context.Context, tr trace.Tracer, agent string, fail bool, n int) {
	end := time.Now()
	start := end.Add(-(200*time.Millisecond + time.Duration(n%7)*60*time.Millisecond))
	ctx, r := tr.Start(ctx, "invoke_agent "+agent, trace.WithTimestamp(start), trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.name", agent)))
	_, tool := tr.Start(ctx, "execute_tool search", trace.WithTimestamp(start.Add(10*time.Millisecond)), trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "execute_tool"), attribute.String("gen_ai.tool.name", "search"),
		attribute.String("gen_ai.agent.name", agent)))
	tool.End(trace.WithTimestamp(start.Add(60 * time.Millisecond)))
	_, chat := tr.Start(ctx, "chat gpt-4o-mini", trace.WithTimestamp(start.Add(70*time.Millisecond)), trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.request.model", "gpt-4o-mini"),
		attribute.String("gen_ai.agent.name", agent),
		attribute.Int("gen_ai.usage.input_tokens", 900), attribute.Int("gen_ai.usage.output_tokens", 200)))
	if fail {
		chat.SetStatus(codes.Error, "model provider unavailable")
		r.SetStatus(codes.Error, "model provider unavailable")
	}
	chat.End(trace.WithTimestamp(end.Add(-5 * time.Millisecond)))
	r.End(trace.WithTimestamp(end))
}

// panelExpr is the PromQL of the named panel's first target in a generated dashboard.
func panelExpr(t *testing.T, file, title string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "config/observability/dashboards", file))
	require.NoError(t, err)
	type panel struct {
		Title   string  `json:"title"`
		Panels  []panel `json:"panels"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	}
	var db struct {
		Panels []panel `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(b, &db))
	var find func([]panel) string
	find = func(ps []panel) string {
		for _, p := range ps {
			if p.Title == title && len(p.Targets) > 0 {
				return p.Targets[0].Expr
			}
			if e := find(p.Panels); e != "" {
				return e
			}
		}
		return ""
	}
	expr := find(db.Panels)
	require.NotEmpty(t, expr, "%s has a panel %q", file, title)
	return expr
}

// queryRange runs promql over [from, to] and returns one series per result, keyed by legend.
func queryRange(prom *harness.Prometheus, promql string, from, to time.Time) (map[string]series, error) {
	q := url.Values{
		"query": {promql},
		"start": {strconv.FormatInt(from.Unix(), 10)},
		"end":   {strconv.FormatInt(to.Unix(), 10)},
		"step":  {strconv.Itoa(int(step.Seconds()))},
	}
	_, body, err := harness.HTTPGet(prom.URL + "/api/v1/query_range?" + q.Encode())
	if err != nil {
		return nil, err
	}
	var resp struct {
		Status, Error string
		Data          struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		return nil, err
	}
	if resp.Status != "success" {
		return nil, &queryError{resp.Error}
	}
	out := map[string]series{}
	for _, r := range resp.Data.Result {
		s := series{legend: legendOf(r.Metric)}
		for _, p := range r.Values {
			sec, _ := p[0].(float64)
			str, _ := p[1].(string)
			v, err := strconv.ParseFloat(str, 64)
			if err != nil {
				return nil, err
			}
			s.t = append(s.t, time.Unix(int64(sec), 0))
			s.v = append(s.v, v)
		}
		out[s.legend] = s
	}
	return out, nil
}

type queryError struct{ msg string }

func (e *queryError) Error() string { return e.msg }

func ordered(m map[string]series) []series {
	out := make([]series, 0, len(m))
	for _, a := range agents {
		if s, ok := m["agent="+a]; ok {
			out = append(out, s)
		}
	}
	return out
}

func last(s series) float64 { return s.v[len(s.v)-1] }

func meanSince(s series, since time.Time) float64 {
	sum, n := 0.0, 0
	for i, t := range s.t {
		if !t.Before(since) {
			sum += s.v[i]
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

func maxOf(s series) float64 {
	m := 0.0
	for _, v := range s.v {
		m = max(m, v)
	}
	return m
}

func TestGeneratedPanelsFromRealData(t *testing.T) {
	ports := harness.NewDefaultConfigPorts(t)
	harness.StartDefaultCollector(t, ports)
	prom := harness.StartPrometheusWith(t, harness.PrometheusOptions{
		Targets: []string{harness.Addr(ports.Prometheus)}, ScrapeInterval: scrape,
	})
	tr := harness.TracerProvider(t, harness.GRPC, harness.Addr(ports.OTLPGRPC), "agent-desk").Tracer("dashboards-test")

	ctx := context.Background()
	from := time.Now()
	tick := time.NewTicker(100 * time.Millisecond) // pacing the load, not synchronisation
	defer tick.Stop()
	for n := 0; time.Since(from) < healthy+incident; n++ {
		<-tick.C
		agent := agents[n%len(agents)]
		fail := agent == "researcher" && time.Since(from) >= healthy && (n/len(agents))%3 == 0
		run(ctx, tr, agent, fail, n)
	}

	runsExpr := grafanaVariables.Replace(panelExpr(t, "amas-agents-red.json", "Agent runs per second"))
	errExpr := grafanaVariables.Replace(panelExpr(t, "amas-agents-red.json", "Error ratio of agent runs"))
	// The incident's last runs reach Prometheus after a flush (15 s) and a scrape (5 s).
	var runs, errs map[string]series
	var to time.Time
	harness.Eventually(t, 60*time.Second, time.Second, func() (bool, string) {
		to = time.Now()
		var err error
		if runs, err = queryRange(prom, runsExpr, from, to); err != nil {
			return false, err.Error()
		}
		if errs, err = queryRange(prom, errExpr, from, to); err != nil {
			return false, err.Error()
		}
		r, ok := errs["agent=researcher"]
		if !ok || len(runs) < len(agents) {
			return false, "not every agent's series is in Prometheus yet"
		}
		if last(r) < 0.25 {
			return false, "researcher's error ratio is " + trimFloat(last(r)) + ", not yet the incident's third"
		}
		return true, ""
	})

	for _, a := range agents {
		s, ok := runs["agent="+a]
		require.True(t, ok, "runs per second of %s", a)
		// 10 runs/s over three agents: 3.3 runs/s each once a rate window is full. A 1m rate of
		// a counter that moves every 15 s saws between three and four flushes' worth, so the
		// mean over the second half is compared, not one point.
		assert.InDelta(t, 10.0/3, meanSince(s, from.Add(healthy+15*time.Second)), 0.4, "%s runs per second", a)
		if a != "researcher" {
			assert.Zero(t, maxOf(errs["agent="+a]), "%s never failed", a)
		}
	}
	r := errs["agent=researcher"]
	assert.Zero(t, r.v[0], "researcher was healthy at first")
	assert.InDelta(t, 1.0/3, last(r), 0.1, "researcher fails one run in three")

	source := "Prometheus 2.42 query_range over real otelcol-amas output (default configuration), step 5s, " +
		"$__rate_interval=1m; " + from.UTC().Format("2006-01-02 15:04 UTC") + "; test/e2e/dashboards"
	root := harness.RepoRoot(t)
	for name, svg := range map[string]string{
		"dashboard-agent-runs.svg":  renderSVG("Agents (RED) · Agent runs per second", runsExpr, source, from, to, ordered(runs)),
		"dashboard-error-ratio.svg": renderSVG("Agents (RED) · Error ratio of agent runs", errExpr, source, from, to, ordered(errs)),
	} {
		out := filepath.Join(root, "artifacts", name)
		require.NoError(t, os.MkdirAll(filepath.Dir(out), 0o755))
		require.NoError(t, os.WriteFile(out, []byte(svg), 0o644))
		t.Logf("panel: %s", out)
		if os.Getenv("UPDATE_SCREENSHOT") == "1" {
			doc := filepath.Join(root, "docs", "images", name)
			require.NoError(t, os.WriteFile(doc, []byte(svg), 0o644))
			t.Logf("copied to %s", doc)
		}
	}
}
