package sloprocessor

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/processor/processortest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-amas/otelcol-amas/internal/slomath"
	"github.com/otelcol-amas/otelcol-amas/processor/sloprocessor/internal/metadata"
)

// handoffHarness is a replica "r-0" with bootstrap against handler, no-data after 90 s of any
// silence (min_predicted 0), a readable meter provider, and a channel of handoff results.
type handoffHarness struct {
	*harness
	reader  *sdkmetric.ManualReader
	results chan string
}

func newHandoffHarness(t *testing.T, handler http.Handler, logger *zap.Logger, mutate func(*Config)) *handoffHarness {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.SLOs = []SLOConfig{bootstrapSLO()}
	if handler != nil {
		srv := httptest.NewServer(handler)
		t.Cleanup(srv.Close)
		cfg.Bootstrap.HTTP.Endpoint = srv.URL
	}
	cfg.InstanceLabel.Value = "r-0"
	cfg.Alerting.NoData = &NoDataConfig{Enabled: true, After: 90 * time.Second, Lookback: time.Hour, RetireAfter: 24 * time.Hour, Severity: "warning"}
	if mutate != nil {
		mutate(cfg)
	}
	require.NoError(t, cfg.Validate())
	reader := sdkmetric.NewManualReader()
	set := processortest.NewNopSettings(metadata.Type)
	set.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	if logger != nil {
		set.Logger = logger
	}
	h := &handoffHarness{harness: newHarnessWith(t, cfg, set, nil, clockwork.NewFakeClockAt(epoch)), reader: reader, results: make(chan string, 16)}
	t.Cleanup(h.shutdown)
	if h.p.boot != nil {
		h.p.boot.testHookHandoff = func(_, result string) { h.results <- result }
	}
	return h
}

// silentFor sends 5 runs of "coder" now, then ticks every 10 s until d has passed, and returns
// every SLONoData series emitted meanwhile.
func (h *handoffHarness) silentFor(d time.Duration) []string {
	h.spans(makeSpans(agentSpans("coder", 5, 0)...))
	var alerts []string
	for end := h.clock.Now().Add(d); h.clock.Now().Before(end); {
		alerts = append(alerts, noDataAlerts(h.tick(10*time.Second))...)
	}
	return alerts
}

// awaitResult waits (in real time: the query is real HTTP) for a handoff check's result.
func (h *handoffHarness) awaitResult(t *testing.T) string {
	t.Helper()
	select {
	case r := <-h.results:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no handoff result within 10 s")
		return ""
	}
}

// counter is counterValue over the harness' reader.
func (h *handoffHarness) counter(t *testing.T, name string) int64 {
	t.Helper()
	return counterValue(t, h.reader, name)
}

func (h *handoffHarness) groups() []string {
	h.p.mu.Lock()
	defer h.p.mu.Unlock()
	var out []string
	for _, ser := range h.p.slos[0].series {
		out = append(out, labelString(labelMap(ser.labels)))
	}
	return out
}

func labelMap(kvs [][2]string) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv[0]] = kv[1]
	}
	return m
}

// handoffQueries are the queries that excluded an instance: the handoff checks.
func handoffQueries(f *fakeProm) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, q := range f.queries {
		if strings.Contains(q, "!=") {
			out = append(out, q)
		}
	}
	return out
}

func TestAGroupWhoseCounterRoseOnAnotherReplicaIsRetiredWithoutNoData(t *testing.T) {
	fake := &fakeProm{}
	// Another replica counted a run of coder a minute after coder went silent here.
	fake.add(epoch.Add(time.Minute), "coder", false)
	core, logs := observer.New(zapcore.InfoLevel)
	h := newHandoffHarness(t, fake, zap.New(core), nil)
	alerts := h.silentFor(90 * time.Second)
	assert.Empty(t, alerts, "held while the check is out")
	require.Equal(t, handoffMoved, h.awaitResult(t))
	for range 3 {
		// The retired group emits nothing: a batch may be empty.
		h.clock.Advance(10 * time.Second)
		h.metrics.Reset()
		h.p.tick(context.Background())
		for _, md := range h.metrics.AllMetrics() {
			alerts = append(alerts, noDataAlerts(md)...)
		}
	}
	assert.Empty(t, alerts, "no SLONoData ever pending or firing")
	assert.Empty(t, h.groups(), "the group is retired")
	assert.Equal(t, int64(1), h.counter(t, "otelcol_processor_slo_groups_moved"))
	assert.Len(t, logs.FilterMessageSnippet("moved to another replica").All(), 1)

	want := `sum(increase(amas_slo_events_total{slo="availability",gen_ai_agent_name="coder",amas_instance!="r-0"}[` +
		slomath.FormatWindow(90*time.Second) + `]))`
	assert.Equal(t, []string{want}, handoffQueries(fake), "one check, of this group on every other replica over the silence")
}

func TestAGroupThatStayedRaisesNoDataAfterTheCheck(t *testing.T) {
	fake := &fakeProm{}
	fake.add(epoch.Add(-time.Hour), "planner", false) // another group's events do not count
	h := newHandoffHarness(t, fake, nil, nil)
	assert.Empty(t, h.silentFor(90*time.Second), "held while the check is out")
	require.Equal(t, handoffStayed, h.awaitResult(t))
	assert.Equal(t, []string{"availability/coder=firing"}, noDataAlerts(h.tick(10*time.Second)))
	assert.Len(t, h.groups(), 1)
	assert.Zero(t, h.counter(t, "otelcol_processor_slo_groups_moved"))
	assert.Len(t, handoffQueries(fake), 1, "one check per silence")
}

func TestAFailingPrometheusRaisesNoData(t *testing.T) {
	fake := &fakeProm{fail: true}
	h := newHandoffHarness(t, fake, nil, nil)
	assert.Empty(t, h.silentFor(90*time.Second))
	require.Equal(t, handoffFailed, h.awaitResult(t))
	assert.Equal(t, []string{"availability/coder=firing"}, noDataAlerts(h.tick(10*time.Second)))
	assert.Len(t, handoffQueries(fake), 1)
	assert.Zero(t, h.counter(t, "otelcol_processor_slo_groups_moved"))
}

// hangingProm never answers a handoff check (until the client gives up); other queries are
// fakeProm's.
type hangingProm struct{ fakeProm }

func (f *hangingProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	if strings.Contains(r.Form.Get("query"), "!=") {
		<-r.Context().Done()
		return
	}
	f.fakeProm.ServeHTTP(w, r)
}

func TestAPrometheusThatDoesNotAnswerWithinTheTimeoutRaisesNoData(t *testing.T) {
	h := newHandoffHarness(t, &hangingProm{}, nil, nil)
	assert.Empty(t, h.silentFor(90*time.Second))
	// The hold ends bootstrap.timeout (10 s) after the check went out, on the processor's clock.
	assert.Empty(t, noDataAlerts(h.tick(5*time.Second)), "still within the timeout")
	assert.Equal(t, []string{"availability/coder=firing"}, noDataAlerts(h.tick(5*time.Second)))
	assert.Equal(t, handoffDiscarded, h.awaitResult(t), "the late answer is dropped")
	assert.Len(t, h.groups(), 1)
}

func TestEventsDuringTheCheckEndTheSilence(t *testing.T) {
	h := newHandoffHarness(t, &hangingProm{}, nil, nil)
	assert.Empty(t, h.silentFor(90*time.Second))
	h.spans(makeSpans(agentSpans("coder", 1, 0)...))
	for range 9 {
		assert.Empty(t, noDataAlerts(h.tick(10*time.Second)), "a group that gets events again behaves as today")
	}
	assert.Equal(t, handoffDiscarded, h.awaitResult(t))
}

func TestWithoutInstanceLabelOrEndpointOrWhenOffNothingIsAskedAndNoDataIsRaisedAsToday(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prom   bool
		mutate func(*Config)
	}{
		{"no instance label", true, func(c *Config) { c.InstanceLabel.Value = "" }},
		{"no bootstrap endpoint", false, nil},
		{"handoff_check false", true, func(c *Config) { c.Alerting.NoData.HandoffCheck = new(bool) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeProm{}
			fake.add(epoch.Add(time.Minute), "coder", false)
			var handler http.Handler
			if tc.prom {
				handler = fake
			}
			h := newHandoffHarness(t, handler, nil, tc.mutate)
			h.spans(makeSpans(agentSpans("coder", 5, 0)...))
			for range 8 {
				require.Empty(t, noDataAlerts(h.tick(10*time.Second)))
			}
			assert.Equal(t, []string{"availability/coder=firing"}, noDataAlerts(h.tick(10*time.Second)), "at 90 s, as without the check")
			assert.Empty(t, handoffQueries(fake))
		})
	}
}

func TestHandoffCheckDecodesAndDefaultsToTrue(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.True(t, cfg.Alerting.NoData.handoffCheck())
	conf := confmap.NewFromStringMap(map[string]any{"alerting": map[string]any{"no_data": map[string]any{"handoff_check": false}}})
	require.NoError(t, conf.Unmarshal(cfg))
	assert.False(t, cfg.Alerting.NoData.handoffCheck())
	assert.Equal(t, 90*time.Second, cfg.Alerting.NoData.After, "the other keys keep their defaults")
	assert.True(t, (&NoDataConfig{Enabled: true}).handoffCheck(), "a per-SLO block without the key keeps it on")
}
