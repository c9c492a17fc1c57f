package secure

import (
	"bytes"
	"crypto/rand"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/otelcol-amas/otelcol-amas/internal/harness"
)

// probe builds one OTLP request in which good spans of agent good and bad spans alternate.
type probe struct {
	td    ptrace.Traces
	spans ptrace.SpanSlice
	now   time.Time
}

func newProbe(service string) *probe {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	return &probe{td: td, spans: rs.ScopeSpans().AppendEmpty().Spans(), now: time.Now()}
}

func randomIDs() (pcommon.TraceID, pcommon.SpanID) {
	var tid [16]byte
	var sid [8]byte
	_, _ = rand.Read(tid[:])
	_, _ = rand.Read(sid[:])
	return tid, sid
}

// span appends a 200 ms span with random ids and the given GenAI operation and agent.
func (p *probe) span(op, agent string) ptrace.Span {
	sp := p.spans.AppendEmpty()
	tid, sid := randomIDs()
	sp.SetTraceID(tid)
	sp.SetSpanID(sid)
	sp.SetName(op + " " + agent)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(p.now.Add(-200 * time.Millisecond)))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(p.now))
	sp.Attributes().PutStr("gen_ai.operation.name", op)
	if agent != "" {
		sp.Attributes().PutStr("gen_ai.agent.name", agent)
	}
	return sp
}

// good appends one good agent run of agent.
func (p *probe) good(agent string) { p.span("invoke_agent", agent) }

func (p *probe) protobuf(t *testing.T) []byte {
	t.Helper()
	b, err := ptraceotlp.NewExportRequestFromTraces(p.td).MarshalProto()
	require.NoError(t, err)
	return b
}

func post(t *testing.T, port int, contentType string, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+harness.Addr(port)+"/v1/traces", contentType, bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// telemetry sums the series of the collector's own metrics whose family name starts with prefix
// and whose labels include want.
func telemetry(port int, prefix string, want map[string]string) float64 {
	fams, err := harness.ScrapeFamilies(harness.MetricsURL(port))
	if err != nil {
		return -1
	}
	var sum float64
	for name, fam := range fams {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		for _, m := range fam.GetMetric() {
			if hasLabels(m, want) {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			n++
		}
	}
	return n == len(want)
}

// TestBadOTLPInputNeverCostsAGoodSpan runs the default configuration and sends, over OTLP/HTTP,
// batches in which every kind of bad input sits between good spans. Every good span is counted
// exactly, the bad values are counted in the connector's internal telemetry, label values from
// telemetry are capped, and the collector stays up. Its status page answers only to loopback names.
func TestBadOTLPInputNeverCostsAGoodSpan(t *testing.T) {
	ports := harness.NewDefaultConfigPorts(t)
	c := harness.StartDefaultCollector(t, ports)
	const good = 5               // good runs per batch
	want := map[string]float64{} // agent -> amas_agent_requests_total
	absent := []string{}         // agents that must have no request series
	huge := strings.Repeat("A", 1<<20)

	batches := map[string]func(p *probe){
		// End before start, a zero start, and a day-long span: skipped as invalid_timestamps (2)
		// and duration_too_long (1).
		"timestamps": func(p *probe) {
			sp := p.span("invoke_agent", "bad-time")
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(p.now.Add(-time.Second)))
			p.good("good-timestamps")
			sp = p.span("invoke_agent", "bad-time")
			sp.SetStartTimestamp(0)
			p.good("good-timestamps")
			sp = p.span("invoke_agent", "bad-time")
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(p.now.Add(-48 * time.Hour)))
			absent = append(absent, "bad-time")
		},
		// All-zero trace and span ids decode (they are the right length): the spans are
		// counted like any other, and their neighbours too.
		"zero ids": func(p *probe) {
			for range 2 {
				sp := p.span("invoke_agent", "zero-ids")
				sp.SetTraceID(pcommon.NewTraceIDEmpty())
				sp.SetSpanID(pcommon.NewSpanIDEmpty())
				sp.SetParentSpanID(pcommon.NewSpanIDEmpty())
				p.good("good-zero ids")
			}
			want["zero-ids"] = 2
		},
		// Token counts that are NaN, infinite, negative, fractional, astronomically large or not a
		// number: each value is skipped alone (invalid_tokens, 7), the span and its valid output
		// tokens still count.
		"tokens": func(p *probe) {
			run := p.span("invoke_agent", "tok")
			bad := []func(pcommon.Map){
				func(m pcommon.Map) { m.PutDouble("gen_ai.usage.input_tokens", math.NaN()) },
				func(m pcommon.Map) { m.PutDouble("gen_ai.usage.input_tokens", math.Inf(1)) },
				func(m pcommon.Map) { m.PutInt("gen_ai.usage.input_tokens", -5) },
				func(m pcommon.Map) { m.PutDouble("gen_ai.usage.input_tokens", 1.5) },
				func(m pcommon.Map) { m.PutDouble("gen_ai.usage.input_tokens", 1e30) },
				func(m pcommon.Map) { m.PutInt("gen_ai.usage.input_tokens", math.MaxInt64) },
				func(m pcommon.Map) { m.PutStr("gen_ai.usage.input_tokens", "12abc") },
			}
			chat := func(setInput func(pcommon.Map)) {
				sp := p.span("chat", "tok")
				sp.SetTraceID(run.TraceID())
				sp.SetParentSpanID(run.SpanID())
				sp.Attributes().PutStr("gen_ai.request.model", "gpt-4o-mini")
				setInput(sp.Attributes())
				sp.Attributes().PutInt("gen_ai.usage.output_tokens", 3)
			}
			for _, b := range bad {
				chat(b)
				p.good("good-tokens")
				chat(func(m pcommon.Map) { m.PutInt("gen_ai.usage.input_tokens", 10) })
			}
			want["tok"] = 1
		},
		// A 1 MiB agent name, a 1 MiB error.type and a 1 MiB attribute nobody reads.
		"1 MiB values": func(p *probe) {
			p.span("invoke_agent", huge)
			p.good("good-1 MiB values")
			sp := p.span("invoke_agent", "huge-error")
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Attributes().PutStr("error.type", huge)
			p.good("good-1 MiB values")
			sp = p.span("invoke_agent", "huge-attr")
			sp.Attributes().PutStr("prompt", huge)
			want["huge-error"], want["huge-attr"] = 1, 1
		},
		// A span with 2000 attributes.
		"2000 attributes": func(p *probe) {
			sp := p.span("invoke_agent", "many-attrs")
			for i := range 2000 {
				sp.Attributes().PutStr("junk."+strconv.Itoa(i), "v")
			}
			p.good("good-2000 attributes")
			want["many-attrs"] = 1
		},
		// Three spans re-using one span id (and trace id), one of them a parent of a tool span;
		// OTLP does not deduplicate, so each is a request.
		"duplicate span ids": func(p *probe) {
			first := p.span("invoke_agent", "dup")
			for range 2 {
				p.good("good-duplicate span ids")
				sp := p.span("invoke_agent", "dup")
				sp.SetTraceID(first.TraceID())
				sp.SetSpanID(first.SpanID())
			}
			tool := p.span("execute_tool", "")
			tool.SetTraceID(first.TraceID())
			tool.SetParentSpanID(first.SpanID())
			tool.Attributes().PutStr("gen_ai.tool.name", "search")
			want["dup"] = 3
		},
		// A span that is its own parent, and control characters in an agent name.
		"cycles and control characters": func(p *probe) {
			sp := p.span("execute_tool", "")
			sp.SetParentSpanID(sp.SpanID())
			sp.Attributes().PutStr("gen_ai.tool.name", "loop")
			p.good("good-cycles and control characters")
			p.span("invoke_agent", "evil\r\nBcc: x@example.com")
		},
	}
	for name, build := range batches {
		p := newProbe("probe-" + strings.ReplaceAll(name, " ", "-"))
		build(p)
		for range good - strings.Count(goodNames(p), "good-"+name+"|") {
			p.good("good-" + name)
		}
		want["good-"+name] = float64(strings.Count(goodNames(p), "good-"+name+"|"))
		code, body := post(t, ports.OTLPHTTP, "application/x-protobuf", p.protobuf(t))
		require.Equal(t, http.StatusOK, code, "%s: the batch is accepted: %s", name, body)
	}

	// Bodies that do not decode are refused, never a crash, and a wrong-length id refuses its whole
	// request: OTLP cannot decode the batch, so the client learns it rather than losing spans
	// silently. All are 400 (not retried) but one: random bytes sent as JSON get 500 from the
	// collector's OTLP receiver, whose error message quotes the invalid UTF-8 and then cannot be
	// marshalled ("failed to marshal error message"); a client retries that request in vain.
	valid := newProbe("probe-garbage")
	valid.good("never-decoded")
	validJSON, err := ptraceotlp.NewExportRequestFromTraces(valid.td).MarshalJSON()
	require.NoError(t, err)
	shortID := bytes.Replace(validJSON, []byte(`"traceId":"`), []byte(`"traceId":"abc`), 1)
	require.NotEqual(t, validJSON, shortID)
	random := make([]byte, 4096)
	_, _ = rand.Read(random)
	validProto := valid.protobuf(t)
	for name, req := range map[string]struct {
		contentType string
		body        []byte
	}{
		"random bytes as protobuf":  {"application/x-protobuf", random},
		"truncated protobuf":        {"application/x-protobuf", validProto[:len(validProto)/2]},
		"broken JSON":               {"application/json", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":`)},
		"a JSON number":             {"application/json", []byte(`1e999`)},
		"a wrong-length trace id":   {"application/json", shortID},
		"random bytes as JSON":      {"application/json", random},
		"deeply nested JSON arrays": {"application/json", []byte(strings.Repeat("[", 100000))},
	} {
		code, body := post(t, ports.OTLPHTTP, req.contentType, req.body)
		if name == "random bytes as JSON" {
			assert.Equal(t, http.StatusInternalServerError, code, "%s (the receiver's behaviour described above): %s", name, body)
			continue
		}
		assert.Equal(t, http.StatusBadRequest, code, "%s: %s", name, body)
	}
	absent = append(absent, "never-decoded")
	// The collector still serves, and a good request after the garbage is counted.
	after := newProbe("probe-after")
	for range good {
		after.good("good-after-garbage")
	}
	code, body := post(t, ports.OTLPHTTP, "application/x-protobuf", after.protobuf(t))
	require.Equal(t, http.StatusOK, code, body)
	want["good-after-garbage"] = good

	var page string
	harness.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		for agent, n := range want {
			got, _ := requests(t, ports.Prometheus, agent)
			if got != n {
				return false, "amas_agent_requests_total{agent=" + strconv.Quote(agent) + "} = " + ftoa(got) + ", want " + ftoa(n)
			}
		}
		return true, ""
	})
	_, page, err = harness.HTTPGet(harness.MetricsURL(ports.Prometheus))
	require.NoError(t, err)
	fams, err := harness.ScrapeFamilies(harness.MetricsURL(ports.Prometheus))
	require.NoError(t, err)
	for _, agent := range absent {
		_, found := harness.SeriesValue(fams, "amas_agent_requests_total", map[string]string{"agent": agent, "operation": "invoke_agent"})
		assert.False(t, found, "agent %q was not counted", agent)
	}
	// Tokens: the valid input values only, and every valid output value.
	in, _ := harness.SeriesValue(fams, "amas_tokens_used_total", map[string]string{"agent": "tok", "token_type": "input"})
	out, _ := harness.SeriesValue(fams, "amas_tokens_used_total", map[string]string{"agent": "tok", "token_type": "output"})
	assert.Equal(t, float64(7*10), in, "input tokens: the seven valid values")
	assert.Equal(t, float64(14*3), out, "output tokens: all fourteen model spans")
	// Labels: capped at limits.max_label_length (256 bytes) with the marker, control characters
	// replaced; no line of /metrics carries a 1 MiB value.
	var truncatedAgents, maxLabel int
	for name, fam := range fams {
		if !strings.HasPrefix(name, "amas_") {
			continue
		}
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				maxLabel = max(maxLabel, len(l.GetValue()))
				if l.GetName() == "agent" && strings.HasSuffix(l.GetValue(), "…[truncated]") {
					truncatedAgents++
				}
				assert.NotContains(t, l.GetValue(), "\r", "%s{%s}", name, l.GetName())
				assert.NotContains(t, l.GetValue(), "\n", "%s{%s}", name, l.GetName())
			}
		}
	}
	assert.LessOrEqual(t, maxLabel, 256, "every label value is at most limits.max_label_length bytes")
	assert.Positive(t, truncatedAgents, "the 1 MiB agent name became a truncated label")
	longest := 0
	for _, line := range strings.Split(page, "\n") {
		longest = max(longest, len(line))
	}
	assert.Less(t, longest, 4096, "the longest /metrics line")
	t.Logf("longest label value %d bytes, longest /metrics line %d bytes", maxLabel, longest)

	// Internal telemetry counts the bad values exactly.
	skipped := "otelcol_connector_amas_spanmetrics_spans_skipped"
	harness.Eventually(t, 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		ts := telemetry(ports.Telemetry, skipped, map[string]string{"reason": "invalid_timestamps"})
		long := telemetry(ports.Telemetry, skipped, map[string]string{"reason": "duration_too_long"})
		tok := telemetry(ports.Telemetry, skipped, map[string]string{"reason": "invalid_tokens"})
		return ts == 2 && long == 1 && tok == 7, "skipped invalid_timestamps=" + ftoa(ts) + " duration_too_long=" + ftoa(long) + " invalid_tokens=" + ftoa(tok) + ", want 2, 1, 7"
	})
	sanitized := "otelcol_connector_amas_spanmetrics_labels_sanitized"
	assert.GreaterOrEqual(t, telemetry(ports.Telemetry, sanitized, map[string]string{"action": "truncated"}), 2.0, "the 1 MiB agent name and error type")
	assert.GreaterOrEqual(t, telemetry(ports.Telemetry, sanitized, map[string]string{"action": "replaced"}), 1.0, "the CR/LF agent name")

	// Up and healthy; exits cleanly at the end of the test (the harness checks exit code 0).
	assert.False(t, c.Exited(), "the collector is still running")
	code, _, err = harness.HTTPGet("http://" + harness.Addr(ports.Health) + "/")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	assert.NotContains(t, c.Output(), "panic")

	// The default configuration's status page (no token: loopback) checks the Host header.
	for host, want := range map[string]int{
		"127.0.0.1:" + strconv.Itoa(ports.SLOStatus):               http.StatusOK,
		"localhost:" + strconv.Itoa(ports.SLOStatus):               http.StatusOK,
		"rebind.attacker.example:" + strconv.Itoa(ports.SLOStatus): http.StatusForbidden,
		"rebind.attacker.example":                                  http.StatusForbidden,
	} {
		req, err := http.NewRequest(http.MethodGet, "http://"+harness.Addr(ports.SLOStatus)+"/observability/slo/status", nil)
		require.NoError(t, err)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, "status API with Host %q", host)
	}
}

// goodNames lists the agent names of the spans of p, each followed by "|".
func goodNames(p *probe) string {
	var b strings.Builder
	for i := range p.spans.Len() {
		if v, ok := p.spans.At(i).Attributes().Get("gen_ai.agent.name"); ok {
			b.WriteString(v.Str())
			b.WriteString("|")
		}
	}
	return b.String()
}
