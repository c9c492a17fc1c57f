package sloprocessor

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
	"github.com/otelcol-amas/otelcol-amas/internal/slopromql"
	"github.com/otelcol-amas/otelcol-amas/internal/storagetest"
)

// fakeProm answers the Prometheus query API from an exact list of events, as an ideal
// Prometheus would (no scrape interval, no extrapolation): increase(x[w]) at t is the events in
// (t−w, t]. It records every query it receives.
type fakeProm struct {
	mu      sync.Mutex
	events  []fakeEvent
	queries []string
	fail    bool
}

type fakeEvent struct {
	t     int64
	group string
	bad   bool
}

var (
	reRange = regexp.MustCompile(`\[([0-9dhms]+)\]`)
	reGroup = regexp.MustCompile(`gen_ai_agent_name="([^"]*)"`)
)

func (f *fakeProm) add(t time.Time, group string, bad bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, fakeEvent{t: t.UnixNano(), group: group, bad: bad})
}

func (f *fakeProm) count(q string, at int64) (float64, bool) {
	w, err := slomath.ParseDuration(reRange.FindStringSubmatch(q)[1])
	if err != nil {
		panic(err)
	}
	group := ""
	if m := reGroup.FindStringSubmatch(q); m != nil {
		group = m[1]
	}
	bad := strings.Contains(q, slopromql.BadEventsMetric)
	n, any := 0, false
	for _, e := range f.events {
		if e.group != group || e.t <= at-int64(w) || e.t > at {
			continue
		}
		any = true
		if !bad || e.bad {
			n++
		}
	}
	return float64(n), any
}

func (f *fakeProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.Form.Get("query")
	f.queries = append(f.queries, q)
	if f.fail {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"error","error":"down for the test"}`))
		return
	}
	sec := func(k string) int64 {
		v, _ := strconv.ParseFloat(r.Form.Get(k), 64)
		return int64(v * 1e9)
	}
	type res struct {
		Metric map[string]string `json:"metric"`
		Value  []any             `json:"value,omitempty"`
		Values [][]any           `json:"values,omitempty"`
	}
	var out struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []res  `json:"result"`
		} `json:"data"`
	}
	out.Status = "success"
	if r.URL.Path == "/api/v1/query_range" {
		out.Data.ResultType = "matrix"
		step := sec("step")
		var rr res
		for t := sec("start"); t <= sec("end"); t += step {
			if n, ok := f.count(q, t); ok {
				rr.Values = append(rr.Values, []any{float64(t) / 1e9, strconv.FormatFloat(n, 'f', -1, 64)})
			}
		}
		if len(rr.Values) > 0 {
			out.Data.Result = append(out.Data.Result, rr)
		}
	} else {
		out.Data.ResultType = "vector"
		t := sec("time")
		if n, ok := f.count(q, t); ok {
			out.Data.Result = append(out.Data.Result, res{Value: []any{float64(t) / 1e9, strconv.FormatFloat(n, 'f', -1, 64)}})
		}
	}
	_ = json.NewEncoder(w).Encode(out)
}

func bootstrapSLO() SLOConfig {
	return SLOConfig{
		Name: "availability", Objective: 0.99, Window: 30 * 24 * time.Hour,
		Budgeting: BudgetingConfig{Method: "occurrences"},
		GroupBy:   []string{"gen_ai.agent.name"},
		SLI: SLIConfig{Spans: &SpansSLIConfig{
			Conditions:    []string{`attributes["gen_ai.operation.name"] == "invoke_agent"`},
			BadConditions: []string{`status.code == STATUS_CODE_ERROR`},
		}},
	}
}

// bootHarness is a processor with bootstrap on against fake, and a channel of outcomes.
func bootHarness(t *testing.T, fake http.Handler, logger *zap.Logger, mutate func(*Config)) (*harness, chan string) {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg := createDefaultConfig().(*Config)
	cfg.SLOs = []SLOConfig{bootstrapSLO()}
	cfg.Bootstrap.HTTP.Endpoint = srv.URL
	if mutate != nil {
		mutate(cfg)
	}
	require.NoError(t, cfg.Validate())
	h := newHarness(t, cfg, logger, nil)
	t.Cleanup(h.shutdown)
	outcomes := make(chan string, 16)
	h.p.boot.testHookDone = func(_, outcome string) { outcomes <- outcome }
	return h, outcomes
}

// awaitOutcome lets the bootstrap's delay pass on the fake clock and waits for its outcome.
func awaitOutcome(t *testing.T, h *harness, outcomes chan string, delay time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, h.clock.BlockUntilContext(ctx, 1), "the bootstrap worker waits for its delay")
	h.clock.Advance(delay)
	select {
	case o := <-outcomes:
		return o
	case <-ctx.Done():
		t.Fatal("no bootstrap outcome within 10 s")
		return ""
	}
}

func agentSpans(agent string, n, bad int) []spanSpec {
	out := repeat(n, spanSpec{agent: agent, op: "invoke_agent"})
	for i := range bad {
		out[i].err = true
	}
	return out
}

func TestBootstrapFillsANewGroupsWindowsWithItsHistoryAndNothingTwice(t *testing.T) {
	fake := &fakeProm{}
	// History of "coder" before the cut-over (epoch): a run every 10 minutes for 29 days, every
	// 7th failed, and every 20 s in the last 30 minutes, every 5th failed.
	var history []fakeEvent
	for d := 29 * 24 * time.Hour; d > 0; d -= 10 * time.Minute {
		history = append(history, fakeEvent{t: epoch.Add(-d + 3*time.Second).UnixNano(), bad: len(history)%7 == 0})
	}
	for d := 30 * time.Minute; d > 0; d -= 20 * time.Second {
		history = append(history, fakeEvent{t: epoch.Add(-d + time.Second).UnixNano(), bad: len(history)%5 == 0})
	}
	for _, e := range history {
		fake.add(time.Unix(0, e.t), "coder", e.bad)
	}
	fake.add(epoch.Add(-time.Hour), "planner", true) // another group's history is not read

	h, outcomes := bootHarness(t, fake, nil, nil)
	// The group is born here with 10 runs, 2 failed; Prometheus holds them too (this
	// replica's own counters, which rise at its second tick, an evaluation interval later at
	// the earliest), and the bootstrap must not read them back.
	h.spans(makeSpans(agentSpans("coder", 10, 2)...))
	for i := range 10 {
		fake.add(epoch.Add(h.p.cfg.EvaluationInterval), "coder", i < 2)
	}
	// Another replica's late report of runs before the cut-over, within the horizon: counted.
	fake.add(epoch.Add(time.Second), "coder", true)
	history = append(history, fakeEvent{t: epoch.Add(-time.Second).UnixNano(), bad: true})
	delay := h.p.cfg.Bootstrap.Delay
	require.Equal(t, bootRestored, awaitOutcome(t, h, outcomes, delay))
	h.clock.Advance(time.Second)
	h.p.tick(context.Background())

	// What a collector that had seen every event itself would hold.
	m := h.p.slos[0].c.model
	ref := m.NewSeries()
	for _, e := range history {
		m.RecordN(ref, e.t, slomath.Counts{Total: 1, Bad: b2u(e.bad)})
	}
	m.RecordN(ref, epoch.UnixNano(), slomath.Counts{Total: 10, Bad: 2})
	var want slomath.Evaluation
	now := h.p.now().UnixNano()
	m.Evaluate(ref, now, &want)

	h.p.mu.Lock()
	var ser *series
	for _, s := range h.p.slos[0].series {
		ser = s
	}
	got := ser.ev.Counts
	recorded := ser.s.Recorded
	h.p.mu.Unlock()
	for i, w := range m.Layout.Windows {
		width := m.Layout.BucketWidth(i)
		if width >= h.p.cfg.Bootstrap.MinStep {
			assert.Equal(t, want.Counts[i], got[i], "window %s (bucket %s) is bucket-exact", slomath.FormatWindow(w), width)
			continue
		}
		// Read at min_step (1m), placed at the end of each minute: a window edge may move by
		// up to a minute, 3 runs (20 s apart) at each end.
		assert.InDelta(t, want.Counts[i].Total, got[i].Total, 3, "window %s", slomath.FormatWindow(w))
		assert.InDelta(t, want.Counts[i].Bad, got[i].Bad, 3, "window %s", slomath.FormatWindow(w))
	}
	assert.Equal(t, slomath.Counts{Total: 10, Bad: 2}, recorded, "the exported counters hold only this collector's events")

	// Every query was the shared builder's expression for this group.
	c := slopromql.ProcessorCounts("availability", []string{"gen_ai_agent_name"}).Match([][2]string{{"gen_ai_agent_name", "coder"}})
	fake.mu.Lock()
	defer fake.mu.Unlock()
	require.NotEmpty(t, fake.queries)
	for _, q := range fake.queries {
		w, err := slomath.ParseDuration(reRange.FindStringSubmatch(q)[1])
		require.NoError(t, err)
		assert.Contains(t, []string{c.Events(w), c.BadEvents(w)}, q)
	}
	assert.LessOrEqual(t, len(fake.queries), h.p.cfg.Bootstrap.MaxQueries)
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func TestBootstrapFailureLeavesTheGroupStreamingAndWarnsOncePerInterval(t *testing.T) {
	fake := &fakeProm{fail: true}
	core, logs := observer.New(zapcore.DebugLevel)
	h, outcomes := bootHarness(t, fake, zap.New(core), nil)
	h.spans(makeSpans(agentSpans("coder", 4, 1)...))
	require.Equal(t, bootFailed, awaitOutcome(t, h, outcomes, h.p.cfg.Bootstrap.Delay))
	h.spans(makeSpans(agentSpans("planner", 3, 0)...))
	require.Equal(t, bootFailed, awaitOutcome(t, h, outcomes, h.p.cfg.Bootstrap.Delay))

	md := h.tick(time.Second)
	v, ok := point(t, md, metricEvents, map[string]string{"gen_ai.agent.name": "coder"})
	require.True(t, ok)
	assert.Equal(t, 0.0, v, "a counter's first point is 0, so increase() counts the events before it")
	md = h.tick(time.Second)
	v, ok = point(t, md, metricEvents, map[string]string{"gen_ai.agent.name": "coder"})
	require.True(t, ok)
	assert.Equal(t, 4.0, v, "the group kept streaming")
	h.p.mu.Lock()
	for _, s := range h.p.slos[0].series {
		win := s.ev.Counts[h.p.slos[0].c.model.WindowIndex()]
		assert.Equal(t, s.s.Recorded, win, "nothing but its own events")
	}
	h.p.mu.Unlock()
	assert.Len(t, logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("bootstrap").All(), 1, "the second failure within warn_interval is not a warning")
	assert.Len(t, logs.FilterLevelExact(zapcore.DebugLevel).FilterMessageSnippet("bootstrap").All(), 1)
}

func TestBootstrapWithinMaxQueriesReadsTheCoarsestTiersAndSaysPartial(t *testing.T) {
	fake := &fakeProm{}
	fake.add(epoch.Add(-48*time.Hour), "coder", true)
	h, outcomes := bootHarness(t, fake, nil, func(c *Config) { c.Bootstrap.MaxQueries = 4 })
	h.spans(makeSpans(agentSpans("coder", 1, 0)...))
	require.Equal(t, bootPartial, awaitOutcome(t, h, outcomes, h.p.cfg.Bootstrap.Delay))
	fake.mu.Lock()
	assert.Len(t, fake.queries, 4)
	fake.mu.Unlock()
	h.tick(time.Second)
	h.p.mu.Lock()
	defer h.p.mu.Unlock()
	for _, s := range h.p.slos[0].series {
		assert.Equal(t, slomath.Counts{Total: 2, Bad: 1}, s.ev.Counts[h.p.slos[0].c.model.WindowIndex()], "the SLO window's tier was read")
	}
}

func TestBootstrapFillsAnUngroupedSLOAtStartWithThisCollectorsOwnSeries(t *testing.T) {
	fake := &fakeProm{}
	fake.add(epoch.Add(-2*time.Hour), "", true)
	fake.add(epoch.Add(-90*time.Minute), "", false)
	h, outcomes := bootHarness(t, fake, nil, func(c *Config) {
		c.SLOs[0].GroupBy = nil
		c.Bootstrap.Matchers = map[string]string{"instance": "10.0.0.7:8889"}
	})
	require.Equal(t, bootRestored, awaitOutcome(t, h, outcomes, h.p.cfg.Bootstrap.Delay))
	h.tick(time.Second)
	h.p.mu.Lock()
	win := h.p.slos[0].series[0].ev.Counts[h.p.slos[0].c.model.WindowIndex()]
	h.p.mu.Unlock()
	assert.Equal(t, slomath.Counts{Total: 2, Bad: 1}, win)
	fake.mu.Lock()
	defer fake.mu.Unlock()
	for _, q := range fake.queries {
		assert.Contains(t, q, `instance="10.0.0.7:8889"`)
	}
}

func TestBootstrapSkipsWhatACheckpointRestored(t *testing.T) {
	store := storagetest.New()
	storageID := component.MustNewID("file_storage")
	exts := map[component.ID]component.Component{storageID: store}
	cfg := createDefaultConfig().(*Config)
	cfg.SLOs = []SLOConfig{bootstrapSLO(), bootstrapSLO()}
	cfg.SLOs[1].Name, cfg.SLOs[1].GroupBy = "ungrouped", nil
	cfg.Storage = &storageID
	h := newHarness(t, cfg, nil, exts)
	h.spans(makeSpans(agentSpans("coder", 5, 1)...))
	h.tick(10 * time.Second)
	h.shutdown()

	fake := &fakeProm{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	cfg.Bootstrap.HTTP.Endpoint = srv.URL
	h2 := newHarnessAt(t, cfg, nil, exts, h.clock)
	defer h2.shutdown()
	outcomes := make(chan string, 4)
	h2.p.boot.testHookDone = func(_, o string) { outcomes <- o }
	h2.spans(makeSpans(agentSpans("coder", 1, 0)...)) // a restored group: no bootstrap
	h2.spans(makeSpans(agentSpans("planner", 1, 0)...))
	assert.Equal(t, bootEmpty, awaitOutcome(t, h2, outcomes, cfg.Bootstrap.Delay), "only the new group asked")
	fake.mu.Lock()
	defer fake.mu.Unlock()
	for _, q := range fake.queries {
		assert.Contains(t, q, `gen_ai_agent_name="planner"`)
	}
	assert.NotEmpty(t, fake.queries)
}

func TestBootstrapIsOffByDefault(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.False(t, cfg.Bootstrap.enabled())
	h := newHarness(t, cfg, nil, nil)
	defer h.shutdown()
	assert.Nil(t, h.p.boot)
}

func TestPlanBootstrapAlignsStepsToTheRingsBuckets(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.SLOs = []SLOConfig{bootstrapSLO()}
	compiled, err := cfg.compile(testTelemetry(t))
	require.NoError(t, err)
	m := compiled[0].model
	cut := epoch.Add(5*time.Hour + 7*time.Minute + 13*time.Second).UnixNano()
	horizon := 10 * time.Second
	plan := planBootstrap(m, cut, horizon, 0, time.Minute)
	require.Len(t, plan, len(m.Layout.Tiers))
	for i, q := range plan {
		tier := m.Layout.Tiers[q.tier]
		assert.Equal(t, len(m.Layout.Tiers)-1-i, q.tier, "coarsest first")
		assert.Zero(t, int64(q.step)%int64(tier.Width), "step %s is a whole number of %s buckets", q.step, tier.Width)
		assert.GreaterOrEqual(t, q.step, time.Minute)
		assert.Zero(t, q.first%int64(q.step))
		assert.Zero(t, q.last%int64(q.step))
		end := cut + int64(horizon) - int64(time.Millisecond)
		assert.Equal(t, end, q.end, "history ends a horizon after the birth, exclusive")
		assert.LessOrEqual(t, q.last, end)
		assert.Greater(t, q.last+int64(q.step), end, "the last full step is the one before the end's")
		span := int64(tier.Width) * int64(tier.Len)
		assert.GreaterOrEqual(t, q.first-int64(q.step), cut-span, "no step starts before the tier's span")
		assert.True(t, q.hasPartial, "the cut-over falls inside a step")
		assert.Equal(t, 4, q.queries())
	}
	// A lookback shortens every tier's span.
	for _, q := range planBootstrap(m, cut, horizon, 2*time.Hour, time.Minute) {
		assert.GreaterOrEqual(t, q.first-int64(q.step), cut-int64(2*time.Hour))
	}
}

func TestBootstrapConfigDecodesAndValidates(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	conf := confmap.NewFromStringMap(map[string]any{"bootstrap": map[string]any{
		"endpoint": "http://127.0.0.1:9090", "timeout": "3s", "max_queries": 12, "max_concurrency": 3,
		"headers": map[string]any{"X-Scope-OrgID": "fleet"}, "lookback": "72h", "delay": "15s",
		"matchers": map[string]any{"replica": "r0"},
	}})
	require.NoError(t, conf.Unmarshal(cfg))
	b := cfg.Bootstrap
	assert.Equal(t, "http://127.0.0.1:9090", b.HTTP.Endpoint)
	assert.Equal(t, 3*time.Second, b.HTTP.Timeout)
	assert.Equal(t, 12, b.MaxQueries)
	assert.Equal(t, 3, b.MaxConcurrency)
	assert.Equal(t, 72*time.Hour, b.Lookback)
	assert.Equal(t, 15*time.Second, b.Delay)
	assert.Equal(t, time.Minute, b.MinStep, "defaults stay")
	assert.Equal(t, map[string]string{"replica": "r0"}, b.Matchers)
	v, ok := b.HTTP.Headers.Get("X-Scope-OrgID")
	assert.True(t, ok)
	assert.Equal(t, "fleet", string(v))
	require.NoError(t, cfg.Validate())

	for _, tc := range []struct {
		name   string
		mutate func(*BootstrapConfig)
		want   string
	}{
		{"endpoint", func(b *BootstrapConfig) { b.HTTP.Endpoint = "prometheus:9090" }, `bootstrap.endpoint: must be an http(s) URL, got "prometheus:9090"`},
		{"timeout", func(b *BootstrapConfig) { b.HTTP.Timeout = 0 }, "bootstrap.timeout: must be > 0, got 0s"},
		{"max_queries", func(b *BootstrapConfig) { b.MaxQueries = 0 }, "bootstrap.max_queries: must be ≥ 1, got 0"},
		{"max_concurrency", func(b *BootstrapConfig) { b.MaxConcurrency = 0 }, "bootstrap.max_concurrency: must be ≥ 1, got 0"},
		{"max_pending", func(b *BootstrapConfig) { b.MaxPending = 0 }, "bootstrap.max_pending: must be ≥ 1, got 0"},
		{"min_step", func(b *BootstrapConfig) { b.MinStep = 1500 * time.Millisecond }, "bootstrap.min_step: must be a whole number of seconds ≥ 1s, got 1.5s"},
		{"lookback", func(b *BootstrapConfig) { b.Lookback = -time.Second }, "bootstrap.lookback: must be ≥ 0, got -1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := createDefaultConfig().(*Config)
			c.Bootstrap.HTTP.Endpoint = "http://127.0.0.1:9090"
			tc.mutate(&c.Bootstrap)
			assert.ErrorContains(t, c.Validate(), tc.want)
		})
	}
	off := createDefaultConfig().(*Config)
	off.Bootstrap.MaxQueries = 0
	assert.NoError(t, off.Validate(), "nothing is checked while bootstrap is off")
}

func TestParsePointSkipsHostileValues(t *testing.T) {
	for _, p := range [][]any{
		{1.0, "NaN"}, {1.0, "+Inf"}, {1.0, "-3"}, {1.0, 5.0}, {"1", "5"}, {1.0}, {1.0, "x"},
	} {
		_, ok := parsePoint(p)
		assert.False(t, ok, "%v", p)
	}
	v, ok := parsePoint([]any{1700000000.5, "12"})
	require.True(t, ok)
	assert.Equal(t, promValue{t: 1700000000500 * int64(time.Millisecond), v: 12}, v)
}
