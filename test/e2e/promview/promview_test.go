// Package promview tests what Prometheus sees of otelcol-amas, end to end: the built collector
// runs the default configuration (plus an overlay that shortens its intervals to one second), a
// real Prometheus scrapes it every second, and agent traffic comes from the OpenTelemetry Go SDK.
//
//   - A resolved alert leaves Prometheus at once: its amas_alerts{alertstate="firing"} series is
//     gone within one evaluation tick and one scrape of the resolve, as a rule's ALERTS series
//     goes stale, while the alert exporter still announces the firing and the resolve.
//   - The generated rules see the first errors: with errors from the first burst on, and each
//     agent's first error in a later burst than its first request, the 30-day error budget that
//     Prometheus computes with the rules `amas-slo render` generated (config/observability) agrees
//     within 0.5 points with the processor's own amas_slo_error_budget_remaining_percent at every
//     1 s sample from 30 s after the first burst on (before, Prometheus' extrapolation dominates).
//
// Figures are printed with t.Logf on lines starting with "PROMVIEW:".
package promview

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelcol-amas/otelcol-amas/cmd/amas-slo/slorender"
	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

const (
	tick   = time.Second // slo: evaluation_interval in the overlay
	scrape = time.Second // Prometheus scrape and rule evaluation interval (the harness default)
)

// fastOverlay shortens the intervals that set how soon Prometheus sees a change: the slo
// processor's tick and the connector's flush.
const fastOverlay = `
processors:
  slo:
    evaluation_interval: 1s
connectors:
  amas_spanmetrics:
    metrics_flush_interval: 1s
`

// webhook stands in for config/overlays/webhook.yaml's receivers and records what they get.
type webhook struct {
	URL  string
	mu   sync.Mutex
	msgs []webhookMessage
}

type webhookMessage struct {
	Status string `json:"status"`
	Alerts []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

func startWebhook(t *testing.T) *webhook {
	t.Helper()
	w := &webhook{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m webhookMessage
		if json.Unmarshal(body, &m) == nil {
			w.mu.Lock()
			w.msgs = append(w.msgs, m)
			w.mu.Unlock()
		}
		rw.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	w.URL = srv.URL + "/alerts"
	return w
}

// statuses lists the status of every notification about alert (alertname, slo), in order.
func (w *webhook) statuses(alertname, slo string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, m := range w.msgs {
		for _, a := range m.Alerts {
			if a.Labels["alertname"] == alertname && a.Labels["slo"] == slo {
				out = append(out, a.Status)
			}
		}
	}
	return out
}

// stack is the collector (default configuration + overlays) and a Prometheus scraping it.
type stack struct {
	ports *harness.DefaultConfigPorts
	prom  *harness.Prometheus
	hook  *webhook
}

func startStack(t *testing.T, ruleFiles []string, overlays ...string) *stack {
	t.Helper()
	s := &stack{ports: harness.NewDefaultConfigPorts(t), hook: startWebhook(t)}
	s.ports.Env = append(s.ports.Env, "AMAS_ALERT_WEBHOOK_URL="+s.hook.URL)
	paths := []string{harness.OverlayPath(t, "webhook.yaml"), harness.WriteConfig(t, "fast.yaml", fastOverlay)}
	for i, o := range overlays {
		paths = append(paths, harness.WriteConfig(t, "overlay"+strconv.Itoa(i)+".yaml", o))
	}
	harness.StartDefaultCollector(t, s.ports, paths...)
	s.prom = harness.StartPrometheusWith(t, harness.PrometheusOptions{
		Targets:        []string{harness.Addr(s.ports.Prometheus)},
		RuleFiles:      ruleFiles,
		ScrapeInterval: scrape,
	})
	return s
}

// agents sends agent runs (invoke_agent spans) through the OpenTelemetry Go SDK, one OTLP export
// per burst: the batch span processor holds a whole burst and ForceFlush sends it at once, so the
// collector sees each burst in one request.
type agents struct {
	tp *sdktrace.TracerProvider
}

func newAgents(t *testing.T, endpoint string) *agents {
	t.Helper()
	exp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithMaxExportBatchSize(10000), sdktrace.WithMaxQueueSize(10000),
			sdktrace.WithBatchTimeout(time.Hour)),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("promview-agents"))))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tp.Shutdown(ctx)
	})
	return &agents{tp: tp}
}

// run is one agent run: an invoke_agent span of agent, failed or not.
type run struct {
	agent string
	fail  bool
}

func (a *agents) burst(t *testing.T, runs []run) {
	t.Helper()
	tracer := a.tp.Tracer("promview-e2e")
	for _, r := range runs {
		_, span := tracer.Start(context.Background(), "invoke_agent "+r.agent, sdktraceAttrs(r.agent))
		if r.fail {
			span.SetStatus(codes.Error, "agent failed")
			span.SetAttributes(attribute.String("error.type", "tool_error"))
		}
		span.End()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, a.tp.ForceFlush(ctx))
}

func sdktraceAttrs(agent string) trace.SpanStartOption {
	return trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "invoke_agent"),
		attribute.String("gen_ai.agent.name", agent))
}

func repeatRuns(n int, agent string, fail bool) []run {
	out := make([]run, n)
	for i := range out {
		out[i] = run{agent: agent, fail: fail}
	}
	return out
}

// collectorSeries reports whether the collector's /metrics holds an amas_alerts series with labels.
func (s *stack) collectorSeries(t *testing.T, labels map[string]string) bool {
	t.Helper()
	fams, err := harness.ScrapeFamilies(harness.MetricsURL(s.ports.Prometheus))
	if err != nil {
		return false
	}
	_, ok := harness.SeriesValue(fams, "amas_alerts", labels)
	return ok
}

func TestAResolvedAlertLeavesPrometheusWithinOneTickAndOneScrape(t *testing.T) {
	t.Parallel()
	// One SLO whose page fires on a burst of failures and resolves as soon as good runs dilute
	// the 1m window below 10× the budget (burn rate 10 at objective 0.99: 10% errors).
	const slo = "promview_availability"
	s := startStack(t, nil, `
processors:
  slo:
    alerting:
      budget_thresholds: {critical: 0, high: 0, warning: 0}
      no_data: {enabled: false}
    slos:
      - name: `+slo+`
        objective: 0.99
        window: 30d
        sli:
          spans:
            conditions: ['attributes["gen_ai.operation.name"] == "invoke_agent"']
            bad_conditions: ['status.code == STATUS_CODE_ERROR']
        alerting:
          burn_rate_rules:
            - {severity: page, long_window: 5m, short_window: 1m, burn_rate: 10}
`)
	a := newAgents(t, harness.Addr(s.ports.OTLPGRPC))
	alert := map[string]string{"alertname": "SLOErrorBudgetBurn", "slo": slo}
	withState := func(state string) map[string]string {
		m := map[string]string{"alertstate": state}
		for k, v := range alert {
			m[k] = v
		}
		return m
	}
	firingQuery := `amas_alerts{alertname="SLOErrorBudgetBurn",slo="` + slo + `",alertstate="firing"}`

	a.burst(t, repeatRuns(100, "planner", false))
	a.burst(t, repeatRuns(30, "planner", true)) // 30 of 130 fail: 23% ≥ 10%
	harness.Eventually(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		res, err := s.prom.TryQuery(firingQuery + " == 1")
		if err != nil {
			return false, err.Error()
		}
		return len(res) == 1, fmt.Sprintf("%d firing series in Prometheus", len(res))
	})
	// The page goes out after the route's group_wait (10s) while it still fires.
	harness.Eventually(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		st := s.hook.statuses("SLOErrorBudgetBurn", slo)
		return len(st) > 0, "no notification yet"
	})

	// 400 good runs: 30 of 530 = 5.7% < 10%, the next tick resolves.
	a.burst(t, repeatRuns(400, "planner", false))
	sent := time.Now()
	var resolvedSeen time.Time
	harness.Eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
		if s.collectorSeries(t, withState("resolved")) {
			resolvedSeen = time.Now()
			return true, ""
		}
		return false, "the collector has not resolved the alert"
	})
	// The collector's own view: the firing series is gone within the tick that resolved it (the
	// end point follows the resolved point in the same batch).
	harness.Eventually(t, tick, 20*time.Millisecond, func() (bool, string) {
		return !s.collectorSeries(t, withState("firing")), "/metrics still serves the firing series"
	})
	collectorGone := time.Since(resolvedSeen)
	// Prometheus: one scrape later the firing series is stale, so an instant query has nothing.
	bound := tick + scrape + 500*time.Millisecond // + the time one query and one scrape take here
	var promGone time.Duration
	harness.Eventually(t, bound, 50*time.Millisecond, func() (bool, string) {
		res, err := s.prom.TryQuery(firingQuery)
		if err != nil {
			return false, err.Error()
		}
		if len(res) == 0 {
			promGone = time.Since(resolvedSeen)
			return true, ""
		}
		return false, fmt.Sprintf("Prometheus still has %v", res[0].Metric)
	})
	t.Logf("PROMVIEW: resolve seen on /metrics %v after the good runs were sent; firing series gone from /metrics %v and from Prometheus %v after that (bound: tick %v + scrape %v + 0.5s)",
		resolvedSeen.Sub(sent).Round(time.Millisecond), collectorGone.Round(time.Millisecond), promGone.Round(time.Millisecond), tick, scrape)

	// Nothing brings it back, and Prometheus shows the alert's state as the collector does.
	res := s.prom.Query(t, `amas_alerts{alertname="SLOErrorBudgetBurn",slo="`+slo+`"}`)
	require.Len(t, res, 1, "only the resolved series is left")
	assert.Equal(t, "resolved", res[0].Metric["alertstate"])
	assert.Zero(t, res[0].Value)

	// The alert exporter, which reads the same batches (end points included), announces the resolve.
	harness.Eventually(t, 90*time.Second, 200*time.Millisecond, func() (bool, string) {
		st := s.hook.statuses("SLOErrorBudgetBurn", slo)
		return len(st) > 0 && st[len(st)-1] == "resolved", fmt.Sprintf("notifications: %v", st)
	})
	st := s.hook.statuses("SLOErrorBudgetBurn", slo)
	assert.Equal(t, []string{"firing", "resolved"}, st, "paged once, resolved once")
	// Still absent after several more scrapes.
	assert.Empty(t, s.prom.Query(t, firingQuery))
}

// rangeQuery runs a PromQL range query and returns, per series (by its labels), value by unix second.
func rangeQuery(t *testing.T, p *harness.Prometheus, q string, start, end time.Time, step time.Duration) map[string]map[int64]float64 {
	t.Helper()
	u := fmt.Sprintf("%s/api/v1/query_range?query=%s&start=%d&end=%d&step=%s",
		p.URL, url.QueryEscape(q), start.Unix(), end.Unix(), step)
	code, body, err := harness.HTTPGet(u)
	require.NoError(t, err)
	require.Equal(t, 200, code, body)
	var resp struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &resp))
	out := map[string]map[int64]float64{}
	for _, r := range resp.Data.Result {
		vals := map[int64]float64{}
		for _, v := range r.Values {
			ts, _ := v[0].(float64)
			s, _ := v[1].(string)
			f, err := strconv.ParseFloat(s, 64)
			require.NoError(t, err)
			vals[int64(ts)] = f
		}
		out[fmt.Sprint(r.Metric)] = vals
	}
	return out
}

func onlySeries(t *testing.T, m map[string]map[int64]float64, what string) map[int64]float64 {
	t.Helper()
	require.Len(t, m, 1, "%s: one series", what)
	for _, v := range m {
		return v
	}
	return nil
}

func TestTheGeneratedRulesBudgetAgreesWithTheProcessorsFromTheFirstErrors(t *testing.T) {
	t.Parallel()
	rules := filepath.Join(harness.RepoRoot(t), "config", "observability", slorender.FileRules)
	s := startStack(t, []string{rules})
	a := newAgents(t, harness.Addr(s.ports.OTLPGRPC))

	// Bursts of 500 runs, 125 for each of four agents, one failure per burst: 0.2% errors, 60%
	// of agent_availability's budget (0.5%) left at the end of every burst. The failure moves to
	// the next agent each burst, so agent-k's first error comes k bursts after its first run:
	// before the connector created status="error" series at 0, the rules never counted them.
	const (
		bursts     = 30
		perAgent   = 125
		numAgents  = 4
		burstEvery = 2 * time.Second
	)
	start := time.Now()
	for b := 0; b < bursts; b++ {
		var runs []run
		for k := 0; k < numAgents; k++ {
			agent := "agent-" + strconv.Itoa(k)
			n := perAgent
			if k == b%numAgents {
				// The failed run sits mid-burst among the agent's good ones.
				runs = append(runs, repeatRuns(perAgent/2, agent, false)...)
				runs = append(runs, run{agent: agent, fail: true})
				n = perAgent - perAgent/2 - 1
			}
			runs = append(runs, repeatRuns(n, agent, false)...)
		}
		a.burst(t, runs)
		if b < bursts-1 {
			time.Sleep(time.Until(start.Add(time.Duration(b+1) * burstEvery))) // pacing the load, not synchronisation
		}
	}
	// The samples compared run until the last burst has reached Prometheus.
	harness.Eventually(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		res, err := s.prom.TryQuery(`sum(amas_agent_requests_total{operation="invoke_agent"})`)
		if err != nil || len(res) != 1 {
			return false, fmt.Sprint(res, err)
		}
		return res[0].Value == bursts*numAgents*perAgent, fmt.Sprintf("%v runs counted", res[0].Value)
	})
	end := time.Now()

	const (
		processorQ = `amas_slo_error_budget_remaining_percent{slo="agent_availability"}`
		rulesQ     = `100 * amas_slo:error_budget_remaining:ratio{slo="agent_availability"}`
	)
	proc := onlySeries(t, rangeQuery(t, s.prom, processorQ, start, end, time.Second), "processor budget")
	rule := onlySeries(t, rangeQuery(t, s.prom, rulesQ, start, end, time.Second), "rules budget")

	// Compared from settle on. Before, Prometheus' own extrapolation in increase() dominates: it
	// stretches a series whose first sample is above 0 by half a scrape interval towards the
	// range start and one whose first sample is 0 (an error sibling) not at all, so the rules
	// undercount the errors by about (share of errors in zero-start series) × interval / 2 / S,
	// S being the seconds since the first scrape: here 0.75 × 0.5 s / S of 40 budget points.
	const settle = 30 * time.Second
	var first int64 = math.MaxInt64
	for ts := range rule {
		if _, ok := proc[ts]; ok && ts < first {
			first = ts
		}
	}
	require.NotEqual(t, int64(math.MaxInt64), first, "the rules never produced a budget")
	var compared int
	var maxEarly, maxAfter float64
	var worstAt int64
	for ts := first; ts <= end.Unix(); ts++ {
		p, ok1 := proc[ts]
		r, ok2 := rule[ts]
		if !ok1 || !ok2 {
			continue
		}
		d := math.Abs(p - r)
		if ts < start.Add(settle).Unix() {
			maxEarly = math.Max(maxEarly, d)
			continue
		}
		compared++
		if d > maxAfter {
			maxAfter, worstAt = d, ts
		}
		assert.LessOrEqual(t, d, 0.5, "at %ds: processor %.3f%%, rules %.3f%%", ts-start.Unix(), p, r)
	}
	assert.GreaterOrEqual(t, compared, 25, "samples compared")
	var last int64
	for ts := range proc {
		last = max(last, ts)
	}
	assert.InDelta(t, 60, proc[last], 0.01, "the processor's budget: 30 errors in 15000 runs at 99.5%")
	t.Logf("PROMVIEW: rules budget first at %ds after the first burst; max |processor − rules| %.3f points over %d samples from %v on (worst at %ds), %.3f before",
		first-start.Unix(), maxAfter, compared, settle, worstAt-start.Unix(), maxEarly)
}
