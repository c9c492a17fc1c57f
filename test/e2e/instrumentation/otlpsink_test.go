package instrumentation

import (
	"bytes"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// otlpSink is an OTLP/HTTP (protobuf) trace receiver on 127.0.0.1 that keeps every span it is
// sent, with the number of the export request that carried it: what a library really emits.
// With a forward URL it is a recording proxy: each request goes on to the collector unchanged
// and the collector's answer goes back to the library.
type otlpSink struct {
	URL     string // the traces endpoint, ending in /v1/traces
	forward string

	mu      sync.Mutex
	spans   []capturedSpan
	exports int
}

// capturedSpan is one span as a library sent it, in a form that reads well as JSON.
type capturedSpan struct {
	Export       int            `json:"export"` // 1-based number of the OTLP request that carried it
	Name         string         `json:"name"`
	Kind         string         `json:"kind"`
	TraceID      string         `json:"trace_id"`
	SpanID       string         `json:"span_id"`
	ParentSpanID string         `json:"parent_span_id,omitempty"`
	ParentName   string         `json:"parent_name,omitempty"`
	Status       string         `json:"status"`
	StatusMsg    string         `json:"status_message,omitempty"`
	DurationMs   float64        `json:"duration_ms"`
	Scope        string         `json:"scope"`
	Attributes   map[string]any `json:"attributes"`
	Events       []string       `json:"events,omitempty"`
	Resource     map[string]any `json:"resource"`
}

func startOTLPSink(t *testing.T) *otlpSink { return startOTLPProxy(t, "") }

// startOTLPProxy is startOTLPSink forwarding every request to forward (an OTLP/HTTP traces URL).
func startOTLPProxy(t *testing.T, forward string) *otlpSink {
	t.Helper()
	s := &otlpSink{forward: forward}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("otlp sink: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", s.serve)
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.URL = "http://" + ln.Addr().String() + "/v1/traces"
	return s
}

func (s *otlpSink) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	req := ptraceotlp.NewExportRequest()
	if err == nil {
		err = req.UnmarshalProto(body)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.exports++
	n := s.exports
	s.mu.Unlock()
	spans := flatten(req.Traces(), n)
	s.mu.Lock()
	s.spans = append(s.spans, spans...)
	s.mu.Unlock()
	if s.forward != "" {
		s.forwardTo(w, body)
		return
	}
	resp, _ := ptraceotlp.NewExportResponse().MarshalProto()
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

func (s *otlpSink) forwardTo(w http.ResponseWriter, body []byte) {
	resp, err := http.Post(s.forward, "application/x-protobuf", bytes.NewReader(body)) //nolint:gosec // a loopback URL the test chose
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(b)
}

// Spans returns every span received so far, parents named, ordered by trace then start.
func (s *otlpSink) Spans() []capturedSpan {
	s.mu.Lock()
	out := append([]capturedSpan(nil), s.spans...)
	s.mu.Unlock()
	names := map[string]string{}
	for _, sp := range out {
		names[sp.SpanID] = sp.Name
	}
	for i := range out {
		out[i].ParentName = names[out[i].ParentSpanID]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].TraceID < out[j].TraceID })
	return out
}

func flatten(td ptrace.Traces, export int) []capturedSpan {
	var out []capturedSpan
	for _, rs := range td.ResourceSpans().All() {
		res := rs.Resource().Attributes().AsRaw()
		for _, ss := range rs.ScopeSpans().All() {
			scope := ss.Scope().Name()
			if v := ss.Scope().Version(); v != "" {
				scope += "@" + v
			}
			for _, sp := range ss.Spans().All() {
				c := capturedSpan{
					Export: export, Name: sp.Name(), Kind: sp.Kind().String(),
					TraceID: hexTrace(sp.TraceID()), SpanID: hexSpan(sp.SpanID()),
					Status: sp.Status().Code().String(), StatusMsg: sp.Status().Message(),
					DurationMs: float64(sp.EndTimestamp()-sp.StartTimestamp()) / 1e6,
					Scope:      scope, Attributes: sp.Attributes().AsRaw(), Resource: res,
				}
				if !sp.ParentSpanID().IsEmpty() {
					c.ParentSpanID = hexSpan(sp.ParentSpanID())
				}
				for _, ev := range sp.Events().All() {
					e := ev.Name()
					if v, ok := ev.Attributes().Get("exception.type"); ok {
						e += " " + v.AsString()
					}
					c.Events = append(c.Events, e)
				}
				out = append(out, c)
			}
		}
	}
	return out
}

func hexTrace(id pcommon.TraceID) string { return hex.EncodeToString(id[:]) }

func hexSpan(id pcommon.SpanID) string { return hex.EncodeToString(id[:]) }
