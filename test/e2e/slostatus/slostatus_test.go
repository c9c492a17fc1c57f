// Package slostatus is the end-to-end test of the slo_status extension: the built otelcol-amas
// binary with the repository's default configuration, config/overlays/jaeger.yaml and
// the default configuration (which enables slo_status), agent spans from the OpenTelemetry Go SDK, a real Jaeger, the
// JSON API, and the status page in a real headless Chromium (Debian's /usr/bin/chromium, driven
// by chromedp). The page's screenshot is kept in artifacts/slo-status.png (and copied to
// docs/images/slo-status.png with UPDATE_SCREENSHOT=1).
package slostatus

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

// The regression processor's windows, shortened so that a latency regression is learnt,
// detected and marked on spans within a minute (the defaults need an hour of warm-up); the
// budget history sampled every second so that the short test draws a burn-down.
const testOverlay = `
extensions:
  slo_status:
    history:
      sample_interval: 1s
processors:
  # Budget alerts are tickets by default; this run pages on the critical threshold, so the
  # exhausted tool-call budget is a critical violation.
  slo:
    alerting:
      budget_thresholds: {critical: 0.05, high: 0.15, warning: 0.25, severity: {critical: page}}
  regression:
    evaluation_interval: 1s
    current_window: 10s
    baseline_window: 30s
    warm_up: 15s
    min_samples: 20
    min_tail_samples: 2
    fire_after: 2
    resolve_after: 600
`

var seedSLOs = []string{"agent_availability", "agent_latency_p95", "tool_call_success_rate", "memory_usage", "cost_efficiency", "queue_depth"}

// status is the part of the status document the test reads.
type status struct {
	SchemaVersion string   `json:"schema_version"`
	Health        string   `json:"health"`
	SLOs          []sloDoc `json:"slos"`
	Regressions   []struct {
		Operation string `json:"operation"`
		Type      string `json:"type"`
		State     string `json:"state"`
		JaegerURL string `json:"jaeger_url"`
	} `json:"regressions"`
}

type sloDoc struct {
	Name                   string   `json:"name"`
	Objective              float64  `json:"objective"`
	BudgetRemainingPercent *float64 `json:"budget_remaining_percent"`
	BudgetStatus           string   `json:"budget_status"`
	Groups                 []struct {
		Events    uint64 `json:"events"`
		BadEvents uint64 `json:"bad_events"`
	} `json:"groups"`
}

func getStatus(base string) (status, string, error) {
	var st status
	code, body, err := harness.HTTPGet(base + "/observability/slo/status")
	if err != nil {
		return st, "", err
	}
	if code != http.StatusOK {
		return st, body, fmt.Errorf("status API: HTTP %d: %s", code, body)
	}
	return st, body, json.Unmarshal([]byte(body), &st)
}

// traffic sends agent runs (invoke_agent → execute_tool + chat) at a steady pace until stopped,
// as agents would: every 250th run fails, every 80th tool call fails; planner's runs take 1.3 s
// once slow is set (a latency regression, still under the 1.5 s of the latency SLO).
type traffic struct {
	tracer  trace.Tracer
	otlp    string // OTLP/HTTP host:port for the memory gauge
	slow    atomic.Bool
	runs    atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup
	errOnce sync.Once
	err     error
}

func (tr *traffic) run(ctx context.Context, agent string, n int64) {
	end := time.Now()
	d := 150*time.Millisecond + time.Duration(n%5)*25*time.Millisecond
	if agent == "planner" && tr.slow.Load() {
		d = 1300 * time.Millisecond // its model calls take 1.2 s
	}
	start := end.Add(-d)
	ctx, run := tr.tracer.Start(ctx, "invoke_agent "+agent, trace.WithTimestamp(start), trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.name", agent),
		attribute.Int("amas.queue.depth", 12)))
	_, tool := tr.tracer.Start(ctx, "execute_tool search", trace.WithTimestamp(start.Add(10*time.Millisecond)), trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "execute_tool"), attribute.String("gen_ai.tool.name", "search"),
		attribute.String("gen_ai.agent.name", agent)))
	if n%80 == 0 {
		tool.SetStatus(codes.Error, "search backend timed out")
	}
	tool.End(trace.WithTimestamp(start.Add(60 * time.Millisecond)))
	_, chat := tr.tracer.Start(ctx, "chat gpt-4o-mini", trace.WithTimestamp(start.Add(70*time.Millisecond)), trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.request.model", "gpt-4o-mini"),
		attribute.String("gen_ai.agent.name", agent),
		attribute.Int("gen_ai.usage.input_tokens", 900), attribute.Int("gen_ai.usage.output_tokens", 200),
		attribute.Float64("amas.cost.usd", 0.02)))
	chat.End(trace.WithTimestamp(end.Add(-5 * time.Millisecond)))
	if n%250 == 0 {
		run.SetStatus(codes.Error, "model provider unavailable")
	}
	run.End(trace.WithTimestamp(end))
}

// memory posts process.memory.utilization (OTLP/HTTP JSON), the memory_usage SLO's gauge.
func (tr *traffic) memory() error {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "shop-agents")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("process.memory.utilization")
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	dp.SetDoubleValue(0.42)
	body, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
	if err != nil {
		return err
	}
	resp, err := http.Post("http://"+tr.otlp+"/v1/metrics", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("OTLP/HTTP metrics: HTTP %d", resp.StatusCode)
	}
	return nil
}

// start paces the traffic: a planner run every 50 ms, a researcher run every 200 ms, the memory
// gauge every 2 s.
func (tr *traffic) start() {
	tr.stop = make(chan struct{})
	tr.wg.Add(1)
	go func() {
		defer tr.wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := int64(0); ; i++ {
			select {
			case <-tr.stop:
				return
			case <-tick.C:
			}
			tr.run(context.Background(), "planner", tr.runs.Add(1))
			if i%4 == 0 {
				tr.run(context.Background(), "researcher", tr.runs.Add(1))
			}
			if i%40 == 0 {
				if err := tr.memory(); err != nil {
					tr.errOnce.Do(func() { tr.err = err })
				}
			}
		}
	}()
}

func (tr *traffic) halt() {
	close(tr.stop)
	tr.wg.Wait()
}

func TestStatusAPIAndPageOnTheDefaultConfiguration(t *testing.T) {
	jaeger := harness.StartJaeger(t)
	ports := harness.NewDefaultConfigPorts(t)
	statusAddr := harness.Addr(ports.SLOStatus)
	ports.Env = []string{
		"AMAS_JAEGER_ENDPOINT=" + jaeger.OTLPGRPCEndpoint,
		"AMAS_JAEGER_UI_URL=" + jaeger.QueryURL,
	}
	harness.StartDefaultCollector(t, ports,
		harness.OverlayPath(t, "jaeger.yaml"),
		harness.WriteConfig(t, "fast.yaml", testOverlay))
	base := "http://" + statusAddr

	tp := harness.TracerProvider(t, harness.GRPC, harness.Addr(ports.OTLPGRPC), "shop-agents")
	tr := &traffic{tracer: tp.Tracer("slostatus-e2e"), otlp: harness.Addr(ports.OTLPHTTP)}
	tr.start()
	stopped := false
	defer func() {
		if !stopped {
			tr.halt()
		}
	}()

	// Normal traffic until the regression processor has a baseline and every default SLO has data.
	harness.Eventually(t, 3*time.Minute, time.Second, func() (bool, string) {
		st, _, err := getStatus(base)
		if err != nil {
			return false, err.Error()
		}
		var missing []string
		for _, name := range seedSLOs {
			i := slices.IndexFunc(st.SLOs, func(s sloDoc) bool { return s.Name == name })
			if i < 0 || len(st.SLOs[i].Groups) == 0 {
				missing = append(missing, name)
			}
		}
		return len(missing) == 0 && tr.runs.Load() > 400, fmt.Sprintf("SLOs without data: %v; %d runs sent", missing, tr.runs.Load())
	})

	// planner slows down: a latency regression fires and its spans are marked in Jaeger.
	tr.slow.Store(true)
	var link string
	harness.Eventually(t, 2*time.Minute, time.Second, func() (bool, string) {
		st, _, err := getStatus(base)
		if err != nil {
			return false, err.Error()
		}
		for _, r := range st.Regressions {
			if r.Operation == "shop-agents/planner/invoke_agent" && r.Type == "latency_regression" && r.State == "firing" {
				link = r.JaegerURL
				return true, ""
			}
		}
		return false, fmt.Sprintf("no firing latency regression of planner yet: %+v", st.Regressions)
	})
	require.True(t, strings.HasPrefix(link, jaeger.QueryURL+"/search?"), link)

	// The link is a Jaeger search; its query, sent to Jaeger's API, finds the marked spans.
	api := strings.Replace(link, "/search?", "/api/traces?", 1)
	harness.Eventually(t, time.Minute, time.Second, func() (bool, string) {
		u, _ := url.Parse(api)
		q := u.Query()
		q.Set("end", strconv.FormatInt(time.Now().Add(time.Minute).UnixMicro(), 10))
		u.RawQuery = q.Encode()
		code, body, err := harness.HTTPGet(u.String())
		if err != nil || code != http.StatusOK {
			return false, fmt.Sprintf("%s: %d %v", u, code, err)
		}
		var resp struct {
			Data []harness.JaegerTrace `json:"data"`
		}
		if err := json.Unmarshal([]byte(body), &resp); err != nil {
			return false, err.Error()
		}
		for _, tr := range resp.Data {
			for _, sp := range tr.Spans {
				if v, ok := sp.Tag("regression.detected"); ok && v == true && sp.OperationName == "invoke_agent planner" {
					return true, ""
				}
			}
		}
		return false, fmt.Sprintf("Jaeger found %d traces for the link, none with a marked planner span", len(resp.Data))
	})
	// The JSON API: schema, health, the six SLOs, budgets that follow from the traffic (which
	// goes on, so that the regression keeps its current figures for the page).
	harness.Eventually(t, time.Minute, time.Second, func() (bool, string) {
		st, _, err := getStatus(base)
		if err != nil {
			return false, err.Error()
		}
		var reasons []string
		check := func(ok bool, format string, args ...any) {
			if !ok {
				reasons = append(reasons, fmt.Sprintf(format, args...))
			}
		}
		check(st.SchemaVersion == "1", "schema_version %q", st.SchemaVersion)
		var names []string
		for _, s := range st.SLOs {
			names = append(names, s.Name)
		}
		check(slices.Equal(names, seedSLOs), "SLOs %v", names)
		for _, s := range st.SLOs {
			if s.BudgetRemainingPercent == nil || len(s.Groups) == 0 {
				reasons = append(reasons, s.Name+": no data")
				continue
			}
			budget, g := *s.BudgetRemainingPercent, s.Groups[0]
			switch s.Name {
			case "agent_availability":
				// every 250th run fails: budget = 1 − bad/((1 − objective) × total)
				want := 100 * (1 - float64(g.BadEvents)/(0.005*float64(g.Events)))
				check(g.BadEvents > 0 && math.Abs(budget-want) < 1e-9, "availability: %d bad of %d, budget %v, want %v", g.BadEvents, g.Events, budget, want)
			case "tool_call_success_rate":
				// every 80th tool call fails: 1.25% against a 1% budget
				want := 100 * (1 - float64(g.BadEvents)/(0.01*float64(g.Events)))
				check(budget < 0 && s.BudgetStatus == "exhausted" && math.Abs(budget-want) < 1e-9, "tool calls: %d bad of %d, budget %v (%s)", g.BadEvents, g.Events, budget, s.BudgetStatus)
			default:
				check(budget == 100, "%s: nothing bad was sent, budget %v", s.Name, budget)
			}
		}
		if len(reasons) > 0 {
			return false, strings.Join(reasons, "; ")
		}
		return true, ""
	})

	code, body, err := harness.HTTPGet(base + "/health")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code, body)
	var health struct {
		Healthy    bool `json:"healthy"`
		Processors []struct {
			ID      string `json:"id"`
			Healthy bool   `json:"healthy"`
		} `json:"processors"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &health))
	assert.True(t, health.Healthy, body)
	// (the regression processor ticks every second here: on a loaded machine it may be late and
	// only degrade the health, so only the slo processor's state is asserted)
	require.NotEmpty(t, health.Processors)
	assert.Equal(t, "slo", health.Processors[0].ID)
	assert.True(t, health.Processors[0].Healthy, body)

	// The budget alert waits for 10/(1 − 0.99) = 1000 tool calls in the window: 40 s of traffic.
	harness.Eventually(t, 2*time.Minute, time.Second, func() (bool, string) {
		code, body, err := harness.HTTPGet(base + "/observability/slo/violations?severity=critical")
		if err != nil || code != http.StatusOK {
			return false, fmt.Sprintf("%d %v", code, err)
		}
		var v struct {
			Violations []struct{ SLO, Alert, State, Severity string } `json:"violations"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			return false, err.Error()
		}
		for _, x := range v.Violations {
			if x.Severity != "critical" {
				return false, "a non-critical violation passed the filter: " + body
			}
		}
		ok := slices.ContainsFunc(v.Violations, func(x struct{ SLO, Alert, State, Severity string }) bool {
			return x.SLO == "tool_call_success_rate" && x.Alert == "SLOErrorBudgetLow" && x.State == "firing"
		})
		return ok, "the exhausted tool-call budget is a critical violation: " + body
	})

	checkPage(t, base, link)
	tr.halt()
	stopped = true
	require.NoError(t, tr.err)
}

// checkPage loads the status page in headless Chromium: no console errors, the six SLOs with the
// JSON API's budgets, the regression's Jaeger link; a screenshot is saved.
func checkPage(t *testing.T, base, link string) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(harness.SystemBinary(t, "chromium")),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1440, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Title())
	require.NoError(t, err, "start Chromium")

	var mu sync.Mutex
	var problems []string
	consoleCtx, stopConsole := context.WithCancel(ctx)
	defer stopConsole()
	go func() {
		for m, err := range chromedp.Console(consoleCtx) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning {
				mu.Lock()
				problems = append(problems, string(m.Type)+": "+m.String())
				mu.Unlock()
			}
		}
	}()

	// The page and the API are read at about the same time; a tick between the two can change a
	// budget, so the comparison is retried (each time the page is loaded afresh).
	var page map[string][2]string
	harness.Eventually(t, time.Minute, 2*time.Second, func() (bool, string) {
		page = nil
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		err := chromedp.Do(lctx,
			chromedp.Navigate(base+"/"),
			chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#regressions a`)),
		)
		if err == nil {
			page, err = chromedp.Run(lctx, chromedp.Evaluate[map[string][2]string](`Object.fromEntries([...document.querySelectorAll("#summary tbody tr[data-slo]")].map(
				(tr) => [tr.dataset.slo, [tr.querySelector("td.budget").dataset.budget, tr.querySelector("td.budget").textContent]]))`))
		}
		if err != nil {
			return false, err.Error()
		}
		st, _, err := getStatus(base)
		if err != nil {
			return false, err.Error()
		}
		if len(page) != len(seedSLOs) {
			return false, fmt.Sprintf("page shows %d SLOs: %v", len(page), page)
		}
		for _, s := range st.SLOs {
			got, ok := page[s.Name]
			if !ok {
				return false, "page lacks " + s.Name
			}
			raw, err := strconv.ParseFloat(got[0], 64)
			if err != nil || s.BudgetRemainingPercent == nil || raw != *s.BudgetRemainingPercent {
				return false, fmt.Sprintf("%s: page %q, API %v", s.Name, got[0], s.BudgetRemainingPercent)
			}
			shown, err := strconv.ParseFloat(strings.TrimSuffix(got[1], "%"), 64)
			if err != nil || shown < raw-0.005001 || shown > raw+0.005001 {
				return false, fmt.Sprintf("%s: page shows %q for %v", s.Name, got[1], raw)
			}
		}
		return true, ""
	})
	t.Logf("page budgets: %v", page)

	// The order is by budget remaining, worst first.
	order, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#summary tbody tr[data-slo]")].map((tr) => tr.dataset.slo)`))
	require.NoError(t, err)
	hrefAttr, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#regressions tr[data-operation="shop-agents/planner/invoke_agent"] a`), "href"))
	require.NoError(t, err)
	href := hrefAttr.Value
	// Everything the page loaded came from the extension itself.
	resources, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[location.href, ...performance.getEntriesByType("resource").map((e) => e.name)]`))
	require.NoError(t, err)
	require.Greater(t, len(resources), 3, "the page, its script, its stylesheet and the status API")
	for _, r := range resources {
		assert.True(t, strings.HasPrefix(r, base+"/"), "loaded from elsewhere: %s", r)
	}
	svgCharts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("article.card svg.chart[aria-label^='Error budget remaining']").length`))
	require.NoError(t, err)
	require.Len(t, order, len(seedSLOs))
	assert.Equal(t, "tool_call_success_rate", order[0], "the exhausted budget comes first")
	assert.Equal(t, "agent_availability", order[1])
	assert.Equal(t, len(seedSLOs), svgCharts, "one burn-down chart per SLO")
	linkURL, err := url.Parse(link)
	require.NoError(t, err)
	hrefURL, err := url.Parse(href)
	require.NoError(t, err)
	assert.Equal(t, linkURL.Host+linkURL.Path, hrefURL.Host+hrefURL.Path, "the page links to the API's Jaeger search")
	assert.Equal(t, linkURL.Query().Get("tags"), hrefURL.Query().Get("tags"))

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NotEmpty(t, png)
	root := harness.RepoRoot(t)
	out := filepath.Join(root, "artifacts", "slo-status.png")
	require.NoError(t, os.MkdirAll(filepath.Dir(out), 0o755))
	require.NoError(t, os.WriteFile(out, png, 0o644))
	t.Logf("screenshot: %s", out)
	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		doc := filepath.Join(root, "docs", "images", "slo-status.png")
		require.NoError(t, os.MkdirAll(filepath.Dir(doc), 0o755))
		require.NoError(t, os.WriteFile(doc, png, 0o644))
		t.Logf("screenshot copied to %s", doc)
	}

	stopConsole()
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, problems, "the page logs no console errors or warnings")
}
