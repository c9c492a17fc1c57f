package slostatusextension

import (
	"encoding/json"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/otelcol-amas/otelcol-amas/internal/spanclass"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares body with testdata/golden/name (rewritten with -update).
func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, body, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create it")
	assert.JSONEq(t, string(want), string(body))
}

func TestStatusDocumentMatchesTheGoldenFile(t *testing.T) {
	e, _, clock, srv := newTestExtension(t, func(c *Config) { c.History.SampleInterval = time.Second })
	for range 3 {
		e.sample()
		clock.Advance(time.Second)
	}
	resp, body := get(t, srv.URL+pathStatus+"?history=true")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	golden(t, "status.json", body)

	var doc StatusDocument
	require.NoError(t, json.Unmarshal(body, &doc))
	require.Len(t, doc.SLOs, 3)
	avail := doc.SLOs[0]
	require.NotNil(t, avail.BudgetRemainingPercent)
	assert.Equal(t, Float(-60), *avail.BudgetRemainingPercent)
	assert.Equal(t, "exhausted", avail.BudgetStatus)
	assert.Equal(t, 2, avail.FiringAlerts)
	assert.True(t, avail.Groups[0].BurnRates[0].Exceeded, "5m∧1m at 100× exceeds 43.2")
	assert.True(t, avail.Groups[0].BurnRates[4].Exceeded, "3d∧6h at 1.6× exceeds 1")
	assert.Len(t, avail.Groups[0].BudgetHistory, 4, "three sampler ticks and the reading of the request itself")

	lat := doc.SLOs[1]
	require.NotNil(t, lat.BudgetRemainingPercent)
	assert.Equal(t, Float(12.5), *lat.BudgetRemainingPercent, "the SLO shows its worst group")
	assert.Equal(t, "high", lat.BudgetStatus)
	assert.Equal(t, "high", lat.Groups[1].BudgetStatus)
	assert.Equal(t, "ok", lat.Groups[0].BudgetStatus)

	mem := doc.SLOs[2]
	assert.Nil(t, mem.BudgetRemainingPercent)
	assert.Nil(t, mem.Compliant)
	assert.Equal(t, "no_data", mem.BudgetStatus)
	assert.Empty(t, mem.Groups)

	require.Len(t, doc.Regressions, 2)
	assert.Equal(t, "firing", doc.Regressions[0].State, "firing regressions come first")
	var raw struct {
		Regressions []struct {
			Figures []map[string]any `json:"figures"`
		} `json:"regressions"`
	}
	require.NoError(t, json.Unmarshal(body, &raw))
	cur, present := raw.Regressions[0].Figures[1]["current"]
	assert.True(t, present)
	assert.Nil(t, cur, "a NaN figure is null")
}

func TestWithoutHistoryTheStatusCarriesNoSamples(t *testing.T) {
	e, _, _, srv := newTestExtension(t, nil)
	e.sample()
	_, body := get(t, srv.URL+pathStatus)
	assert.NotContains(t, string(body), "budget_history")
	resp, body := get(t, srv.URL+pathStatus+"?history=maybe")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(body), `history: must be true or false, got \"maybe\"`)
	_, body = get(t, srv.URL+pathStatus+"?slo=memory_usage,agent_availability")
	var doc StatusDocument
	require.NoError(t, json.Unmarshal(body, &doc))
	var names []string
	for _, s := range doc.SLOs {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"agent_availability", "memory_usage"}, names)
}

func TestViolationsAreFilteredBySeveritySLOAndState(t *testing.T) {
	_, _, _, srv := newTestExtension(t, nil)
	type row struct{ SLO, Alert, State, Severity string }
	tests := []struct {
		name  string
		query string
		want  []row
	}{
		{"Without filters every pending and firing alert is listed, most severe first.", "", []row{
			{"agent_availability", "SLOErrorBudgetBurn", "firing", "critical"},
			{"agent_availability", "SLOErrorBudgetLow", "firing", "critical"},
			{"agent_latency_p95", "SLOErrorBudgetBurn", "pending", "warning"},
		}},
		{"severity=critical keeps the pages.", "?severity=critical", []row{
			{"agent_availability", "SLOErrorBudgetBurn", "firing", "critical"},
			{"agent_availability", "SLOErrorBudgetLow", "firing", "critical"},
		}},
		{"slo picks one SLO.", "?slo=agent_latency_p95", []row{{"agent_latency_p95", "SLOErrorBudgetBurn", "pending", "warning"}}},
		{"Repeated and comma-separated values are alternatives.", "?severity=high&severity=warning,info", []row{{"agent_latency_p95", "SLOErrorBudgetBurn", "pending", "warning"}}},
		{"state=resolved lists the recently resolved alerts.", "?state=resolved", []row{{"agent_availability", "SLONoData", "resolved", "warning"}}},
		{"An SLO that does not exist matches nothing.", "?slo=nope", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, srv.URL+pathViolations+tt.query)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			var doc ViolationsDocument
			require.NoError(t, json.Unmarshal(body, &doc))
			var got []row
			for _, v := range doc.Violations {
				got = append(got, row{v.SLO, v.Alert, v.State, v.Severity})
			}
			assert.Equal(t, tt.want, got)
		})
	}

	t.Run("A burn violation carries its long window's burn rate, the budget and the counter.", func(t *testing.T) {
		_, body := get(t, srv.URL+pathViolations+"?severity=critical&slo=agent_availability")
		var doc ViolationsDocument
		require.NoError(t, json.Unmarshal(body, &doc))
		require.NotEmpty(t, doc.Violations)
		v := doc.Violations[0]
		require.NotNil(t, v.BurnRate)
		assert.InDelta(t, 100, float64(*v.BurnRate), 1e-9)
		assert.Equal(t, Float(-60), v.BudgetRemainingPercent)
		assert.Equal(t, uint64(2), v.ViolationsTotal)
		require.NotNil(t, v.ActiveSeconds)
		assert.Equal(t, Float(90), *v.ActiveSeconds)
		assert.Equal(t, []string{"critical"}, doc.Filters.Severity)
		assert.Equal(t, []string{"pending", "firing"}, doc.Filters.State)
	})
	t.Run("An unknown severity is a 400 naming the parameter.", func(t *testing.T) {
		resp, body := get(t, srv.URL+pathViolations+"?severity=critcal")
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Contains(t, string(body), `severity: must be one of critical, high, warning, info, got \"critcal\"`)
		resp, _ = get(t, srv.URL+pathViolations+"?state=open")
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
}

func TestHealthFollowsTheTickAgeAndTheCheckpoint(t *testing.T) {
	tests := []struct {
		name       string
		mutate     func(f *fakeSource)
		advance    time.Duration
		wantCode   int
		wantStatus string
		wantReason string
	}{
		{"A recent tick is healthy.", nil, 0, 200, "ok", ""},
		{"A tick older than three intervals is unhealthy.", nil, 27 * time.Second, 503, "unhealthy", "slo: last evaluation 31s ago, more than 3 × the 10s interval"},
		{"A stale regression processor only degrades.", func(f *fakeSource) {
			f.reg[0].LastEvaluation = epoch.Add(-10 * time.Minute)
		}, 0, 200, "degraded", "regression: last evaluation 10m0s ago"},
		{"A checkpoint error degrades.", func(f *fakeSource) {
			f.slo[0].Checkpoint.LastError = "disk full"
		}, 0, 200, "degraded", "slo: checkpoint: disk full"},
		{"No slo processor running is unhealthy.", func(f *fakeSource) { f.slo = nil }, 0, 503, "unhealthy", "no slo processor is running"},
		{"A configured slo processor that is not running is unhealthy.", func(f *fakeSource) { f.missingSLO = []string{"slo/agents"} }, 0, 503, "unhealthy", "slo processor slo/agents is not running"},
		{"Before its first tick a processor is healthy for three intervals after the start.", func(f *fakeSource) {
			f.slo[0].LastTick = time.Time{}
		}, 0, 200, "ok", ""},
		{"Without any tick long after the start it is unhealthy.", func(f *fakeSource) {
			f.slo[0].LastTick = time.Time{}
		}, 10 * time.Minute, 503, "unhealthy", "no evaluation since the status extension started"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, src, clock, srv := newTestExtension(t, nil)
			if tt.mutate != nil {
				src.set(tt.mutate)
			}
			clock.Advance(tt.advance)
			for _, path := range []string{pathHealth, pathObsHealth} {
				resp, body := get(t, srv.URL+path)
				assert.Equal(t, tt.wantCode, resp.StatusCode, string(body))
				var doc HealthDocument
				require.NoError(t, json.Unmarshal(body, &doc))
				assert.Equal(t, tt.wantStatus, doc.Status)
				assert.Equal(t, tt.wantCode == 200, doc.Healthy)
				if tt.wantReason == "" {
					assert.Empty(t, doc.Reasons)
				} else {
					require.NotEmpty(t, doc.Reasons)
					assert.Contains(t, strings.Join(doc.Reasons, "; "), tt.wantReason)
				}
			}
		})
	}
	t.Run("checkpoint_error_unhealthy turns a checkpoint error into a 503.", func(t *testing.T) {
		_, src, _, srv := newTestExtension(t, func(c *Config) { c.Health.CheckpointErrorUnhealthy = true })
		src.set(func(f *fakeSource) { f.slo[0].Checkpoint.LastError = "disk full" })
		resp, _ := get(t, srv.URL+pathHealth)
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	})
}

func TestRegressionsLinkToTheirMarkedSpansInJaeger(t *testing.T) {
	_, _, _, srv := newTestExtension(t, func(c *Config) { c.JaegerURL = "http://jaeger.example:16686/" })
	_, body := get(t, srv.URL+pathStatus)
	var doc StatusDocument
	require.NoError(t, json.Unmarshal(body, &doc))
	r := doc.Regressions[0]
	require.Equal(t, "shop/planner/invoke_agent", r.Operation)
	assert.Equal(t, map[string]string{"service.name": "shop", "gen_ai.agent.name": "planner", "gen_ai.operation.name": "invoke_agent"}, r.OperationParts)
	assert.Equal(t, "seconds", r.Unit)
	u, err := url.Parse(r.JaegerURL)
	require.NoError(t, err)
	assert.Equal(t, "jaeger.example:16686", u.Host)
	assert.Equal(t, "/search", u.Path)
	q := u.Query()
	assert.Equal(t, "shop", q.Get("service"))
	assert.JSONEq(t, `{"regression.detected":"true","gen_ai.agent.name":"planner","gen_ai.operation.name":"invoke_agent"}`, q.Get("tags"))
	assert.Equal(t, "custom", q.Get("lookback"))
	assert.Equal(t, epoch.Add(-6*time.Minute).UnixMicro(), mustInt(t, q.Get("start")), "from a minute before the alert became active")
	assert.Equal(t, epoch.Add(time.Minute).UnixMicro(), mustInt(t, q.Get("end")))

	t.Run("Without jaeger_url there are no links.", func(t *testing.T) {
		_, _, _, srv := newTestExtension(t, func(c *Config) { c.JaegerURL = "" })
		_, body := get(t, srv.URL+pathStatus)
		assert.NotContains(t, string(body), `"jaeger_url": "http`)
	})
	t.Run("A label with fewer parts than the key is not split.", func(t *testing.T) {
		assert.Nil(t, operationParts([]string{"service.name", "gen_ai.agent.name", "span.name"}, "shop/run"))
		assert.Equal(t, map[string]string{"service.name": "shop", "span.name": "run"}, operationParts([]string{"service.name|host.name", "span.name"}, "shop/run"))
	})
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var v int64
	require.NoError(t, json.Unmarshal([]byte(s), &v))
	return v
}

func TestThePageAndItsAssetsAreServedFromTheBinary(t *testing.T) {
	_, _, _, srv := newTestExtension(t, nil)
	for _, path := range []string{"/", pathPage} {
		resp, body := get(t, srv.URL+path)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
		assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
		assert.Contains(t, string(body), `src="/assets/app.js"`)
		assert.NotContains(t, string(body), "http://", "no external asset")
		assert.NotContains(t, string(body), "https://")
	}
	for path, ctype := range map[string]string{"/assets/app.js": "text/javascript; charset=utf-8", "/assets/style.css": "text/css; charset=utf-8", pathSchema: "application/schema+json"} {
		resp, body := get(t, srv.URL+path)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.Equal(t, ctype, resp.Header.Get("Content-Type"))
		assert.NotEmpty(t, body)
		if path != pathSchema {
			assert.NotContains(t, string(body), "https://", "%s fetches nothing from the internet", path)
		}
	}
	resp, _ := get(t, srv.URL+"/assets/other.js")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = get(t, srv.URL+"/nothing")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	post, err := http.Post(srv.URL+pathStatus, "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	post.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, post.StatusCode)
	assert.Equal(t, "GET, HEAD", post.Header.Get("Allow"))
}

// TestEveryFieldIsInTheSchema walks every document the API serves and checks each key is a
// property of the JSON Schema at that place, so the schema (and the README built from it) cannot
// fall behind the code.
func TestEveryFieldIsInTheSchema(t *testing.T) {
	raw, err := assets.ReadFile("schema/v1.json")
	require.NoError(t, err)
	var schema map[string]any
	require.NoError(t, json.Unmarshal(raw, &schema))
	defs := schema["$defs"].(map[string]any)

	e, _, _, srv := newTestExtension(t, nil)
	e.sample()
	docs := map[string]string{
		"StatusDocument":     pathStatus + "?history=true",
		"ViolationsDocument": pathViolations + "?state=pending,firing,resolved",
		"HealthDocument":     pathHealth,
		"ErrorDocument":      pathViolations + "?severity=x",
	}
	for def, path := range docs {
		_, body := get(t, srv.URL+path)
		var v any
		require.NoError(t, json.Unmarshal(body, &v))
		checkAgainst(t, defs, defs[def].(map[string]any), v, def)
	}
}

func resolve(defs map[string]any, s map[string]any) map[string]any {
	for {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		s = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
	}
}

func checkAgainst(t *testing.T, defs, s map[string]any, v any, path string) {
	s = resolve(defs, s)
	switch val := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		addl, _ := s["additionalProperties"].(map[string]any)
		for _, req := range asStrings(s["required"]) {
			_, ok := val[req]
			assert.True(t, ok, "%s: required %q missing", path, req)
		}
		for k, child := range val {
			if ps, ok := props[k].(map[string]any); ok {
				checkAgainst(t, defs, ps, child, path+"."+k)
				continue
			}
			if addl != nil {
				checkAgainst(t, defs, addl, child, path+"."+k)
				continue
			}
			t.Errorf("%s: field %q is not in schema/v1.json", path, k)
		}
	case []any:
		items, _ := s["items"].(map[string]any)
		for i, child := range val {
			if items != nil {
				checkAgainst(t, defs, items, child, path+"[]")
			}
			_ = i
		}
	}
}

func asStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		out = append(out, x.(string))
	}
	return out
}

func TestSamplingOnTheTickerFillsTheHistory(t *testing.T) {
	e, _, clock, _ := newTestExtension(t, nil)
	e.cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	require.NoError(t, e.Start(t.Context(), componenttest.NewNopHost()))
	require.NoError(t, clock.BlockUntilContext(t.Context(), 1), "the sampler's ticker is on the fake clock")
	assert.Equal(t, 0, e.hist.info().Series, "nothing sampled before the first tick")
	clock.Advance(e.cfg.History.SampleInterval)
	require.Eventually(t, func() bool { return e.hist.info().Series == 3 }, 10*time.Second, time.Millisecond,
		"one series per SLO group with data")
	require.NoError(t, e.Shutdown(t.Context()))
}

func TestHistoryGroupsLimitsTheHistoryToTheWorstGroups(t *testing.T) {
	e, _, _, srv := newTestExtension(t, nil)
	e.sample()
	_, body := get(t, srv.URL+pathStatus+"?history=true&history_groups=1")
	var doc StatusDocument
	require.NoError(t, json.Unmarshal(body, &doc))
	lat := doc.SLOs[1]
	require.Len(t, lat.Groups, 2)
	assert.Nil(t, lat.Groups[0].BudgetHistory, "critic (100%) gets no history")
	assert.NotNil(t, lat.Groups[1].BudgetHistory, "planner (12.5%), the worst group, gets its history")
	assert.NotContains(t, string(body), "\n  ", "compact JSON by default")

	resp, body := get(t, srv.URL+pathStatus+"?history=true&history_groups=-1")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(body), `history_groups: must be a whole number ≥ 0, got \"-1\"`)

	_, body = get(t, srv.URL+pathStatus+"?pretty=true")
	assert.Contains(t, string(body), "\n  \"schema_version\": \"1\"", "?pretty=true indents")
}

func TestTheStatusShowsEachServicesClassifiedShare(t *testing.T) {
	_, src, _, srv := newTestExtension(t, nil)
	_, body := get(t, srv.URL+pathStatus)
	var doc StatusDocument
	require.NoError(t, json.Unmarshal(body, &doc))
	require.Len(t, doc.SpanClassification, 1)
	sc := doc.SpanClassification[0]
	assert.Equal(t, "amas_spanmetrics", sc.Component)
	assert.Equal(t, 1000, sc.MaxServices)
	require.Len(t, sc.Services, 2)
	assert.Equal(t, ServiceShare{Service: "agents-svc", Classified: 90, Unclassified: 10, ClassifiedShare: 0.9}, sc.Services[0])
	assert.Equal(t, Float(0), sc.Services[1].ClassifiedShare, "a service none of whose spans classify")

	src.set(func(f *fakeSource) {
		f.classes = []spanclass.Snapshot{{Component: "amas_spanmetrics", MaxServices: 1, Services: []spanclass.Service{{Name: "idle"}}}}
	})
	_, body = get(t, srv.URL+pathStatus)
	assert.Contains(t, string(body), `"classified_share":null`, "no spans yet: no share")

	src.set(func(f *fakeSource) { f.classes = nil })
	_, body = get(t, srv.URL+pathStatus)
	assert.Contains(t, string(body), `"span_classification":[]`, "no connector: an empty list, not null")
}

type fakeShare spanclass.Snapshot

func (f *fakeShare) ClassificationShare() spanclass.Snapshot { return spanclass.Snapshot(*f) }

func TestTheRegistrySourceReadsEveryRunningConnector(t *testing.T) {
	b := &fakeShare{Component: "amas_spanmetrics/b"}
	a := &fakeShare{Component: "amas_spanmetrics/a", Services: []spanclass.Service{{Name: "s", Classified: 1}}}
	idA, idB := component.MustNewIDWithName("amas_spanmetrics", "a"), component.MustNewIDWithName("amas_spanmetrics", "b")
	spanclass.Running.Register(idB, b)
	spanclass.Running.Register(idA, a)
	t.Cleanup(func() { spanclass.Running.Unregister(idA, a); spanclass.Running.Unregister(idB, b) })
	got := registrySource{cfg: createDefaultConfig().(*Config)}.Classification()
	assert.Equal(t, []spanclass.Snapshot{spanclass.Snapshot(*a), spanclass.Snapshot(*b)}, got, "sorted by component ID")
}
