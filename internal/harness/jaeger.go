package harness

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"
)

// Jaeger is a real Jaeger v2 (built from the module proxy into .tools/bin) with in-memory
// storage, an OTLP gRPC and HTTP receiver and its HTTP query API, all on free loopback ports
// (its defaults collide with the collector's 4317/4318/8888/13133).
type Jaeger struct {
	*Process
	OTLPGRPCEndpoint string // host:port
	OTLPHTTPEndpoint string // host:port
	QueryURL         string // http://host:port
}

// StartJaeger starts Jaeger and waits until its query API answers.
func StartJaeger(tb testing.TB) *Jaeger {
	tb.Helper()
	bin := ToolBinary(tb, "jaeger")
	dir := tb.TempDir()
	grpcPort, httpPort, queryPort, queryGRPCPort := FreePort(tb), FreePort(tb), FreePort(tb), FreePort(tb)
	cfg := fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    enable_tracing: false
    http:
      endpoint: %s
    grpc:
      endpoint: %s
    storage:
      traces: mem
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 200000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`, Addr(queryPort), Addr(queryGRPCPort), Addr(grpcPort), Addr(httpPort))
	j := &Jaeger{
		OTLPGRPCEndpoint: Addr(grpcPort),
		OTLPHTTPEndpoint: Addr(httpPort),
		QueryURL:         "http://" + Addr(queryPort),
	}
	j.Process = startProcess(tb, "jaeger", dir, bin, "--config", writeFile(tb, dir, "jaeger.yaml", cfg))
	j.stopOnCleanup(tb)
	waitHTTP200(tb, j.Process, j.QueryURL+"/api/services", 90*time.Second)
	return j
}

// JaegerSpan is a span as Jaeger's HTTP API returns it.
type JaegerSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	StartTime int64 `json:"startTime"` // microseconds
	Duration  int64 `json:"duration"`  // microseconds
	Tags      []struct {
		Key   string `json:"key"`
		Type  string `json:"type"`
		Value any    `json:"value"`
	} `json:"tags"`
	ProcessID string `json:"processID"`
}

// Tag returns the value of the span's tag key, if present.
func (s JaegerSpan) Tag(key string) (any, bool) {
	for _, t := range s.Tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return nil, false
}

// ParentSpanID is the span's CHILD_OF reference, or "" for a root.
func (s JaegerSpan) ParentSpanID() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

// JaegerTrace is a trace as Jaeger's HTTP API returns it.
type JaegerTrace struct {
	TraceID   string       `json:"traceID"`
	Spans     []JaegerSpan `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

func (j *Jaeger) getTraces(path string) ([]JaegerTrace, error) {
	code, body, err := HTTPGet(j.QueryURL + path)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Data   []JaegerTrace `json:"data"`
		Errors []struct {
			Msg string `json:"msg"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		return nil, fmt.Errorf("GET %s: HTTP %d, decoding: %w", path, code, err)
	}
	if code != 200 {
		return nil, fmt.Errorf("GET %s: HTTP %d: %v", path, code, resp.Errors)
	}
	return resp.Data, nil
}

// Traces returns up to limit traces of service (Jaeger's /api/traces search).
func (j *Jaeger) Traces(service string, limit int) ([]JaegerTrace, error) {
	q := url.Values{"service": {service}, "limit": {fmt.Sprint(limit)}, "lookback": {"1h"}}
	return j.getTraces("/api/traces?" + q.Encode())
}

// Trace fetches one trace by its hex id; an unknown id is an error.
func (j *Jaeger) Trace(traceID string) (JaegerTrace, error) {
	traces, err := j.getTraces("/api/traces/" + traceID)
	if err != nil {
		return JaegerTrace{}, err
	}
	if len(traces) != 1 {
		return JaegerTrace{}, fmt.Errorf("trace %s: got %d traces", traceID, len(traces))
	}
	return traces[0], nil
}
