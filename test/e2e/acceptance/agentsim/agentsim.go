// Package agentsim is an LLM agent system as the end-to-end acceptance tests see one: it records
// agent runs with the OpenTelemetry Go SDK — an invoke_agent span with gen_ai.agent.name, a chat
// child span with gen_ai.request.model and token usage, and execute_tool child spans — and sends
// each run to a collector in one OTLP/gRPC export, as an SDK batch processor would, so a run's
// spans travel together. Span times are explicit (a run ends when it is sent and started its
// duration earlier), so a "slow" run costs no wall time. Every span that an export accepted is
// remembered, so tests can count what was sent and find it again in Jaeger and in the metrics.
package agentsim

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Tool is one execute_tool child of a run.
type Tool struct {
	Name     string
	Duration time.Duration // default 40ms
	Fails    bool          // status Error with error.type=ToolError
}

// Run is one agent run.
type Run struct {
	Agent        string        // gen_ai.agent.name (default "planner")
	Model        string        // gen_ai.request.model (default "gpt-4o-mini")
	ChatDuration time.Duration // default 30ms
	InputTokens  int           // default 800
	OutputTokens int           // default 150
	Tools        []Tool        // default one fast "search"
	Fails        bool          // the invoke_agent span ends with status Error
	// QueueDepth, when set, is reported on the invoke_agent span (amas.queue.depth of the queue
	// amas.queue.name = "tasks"), as an agent taking work from a queue would.
	QueueDepth float64
}

// Sent is what one accepted export carried.
type Sent struct {
	TraceID trace.TraceID
	Root    trace.SpanID
	Chat    trace.SpanID
	Tools   []trace.SpanID // in Run.Tools order
	// Durations by span id, as recorded.
	Durations map[trace.SpanID]time.Duration
}

// SpanIDs are every span of the run (root first).
func (s Sent) SpanIDs() []trace.SpanID {
	return append([]trace.SpanID{s.Root, s.Chat}, s.Tools...)
}

// Totals counts what a client sent (accepted exports only) and what failed to send.
type Totals struct {
	Runs, BadRuns           int // invoke_agent spans, and those with status Error
	ToolCalls, BadToolCalls int // execute_tool spans, and those with status Error
	Spans                   int // every span
	ExportErrors            int // runs whose export failed (their spans are not counted above)
}

// Client is one agent service (one service.name) sending to a collector.
type Client struct {
	Service string

	mu      sync.Mutex
	tp      *sdktrace.TracerProvider
	tracer  trace.Tracer
	rec     *collector
	exp     sdktrace.SpanExporter
	totals  Totals
	spanIDs map[trace.SpanID]struct{}
}

// collector is a span processor keeping ended spans until the run is exported.
type collector struct{ spans []sdktrace.ReadOnlySpan }

func (c *collector) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (c *collector) OnEnd(s sdktrace.ReadOnlySpan)                   { c.spans = append(c.spans, s) }
func (c *collector) Shutdown(context.Context) error                  { return nil }
func (c *collector) ForceFlush(context.Context) error                { return nil }

// New is a client of service sending OTLP/gRPC to endpoint (host:port).
func New(endpoint, service string) (*Client, error) {
	exp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure())
	if err != nil {
		return nil, fmt.Errorf("agentsim: OTLP exporter: %w", err)
	}
	rec := &collector{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))))
	return &Client{
		Service: service,
		tp:      tp,
		tracer:  tp.Tracer("agent-framework"),
		rec:     rec,
		exp:     exp,
		spanIDs: map[trace.SpanID]struct{}{},
	}, nil
}

// Close shuts the exporter down.
func (c *Client) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.tp.Shutdown(ctx)
	return c.exp.Shutdown(ctx)
}

func withDefaults(r Run) Run {
	if r.Agent == "" {
		r.Agent = "planner"
	}
	if r.Model == "" {
		r.Model = "gpt-4o-mini"
	}
	if r.ChatDuration == 0 {
		r.ChatDuration = 30 * time.Millisecond
	}
	if r.InputTokens == 0 {
		r.InputTokens = 800
	}
	if r.OutputTokens == 0 {
		r.OutputTokens = 150
	}
	if r.Tools == nil {
		r.Tools = []Tool{{Name: "search"}}
	}
	for i := range r.Tools {
		if r.Tools[i].Duration == 0 {
			r.Tools[i].Duration = 40 * time.Millisecond
		}
	}
	return r
}

// Send records run r ending now and exports its spans in one request. On an export error the
// run is counted in ExportErrors and not as sent.
func (c *Client) Send(ctx context.Context, r Run) (Sent, error) {
	r = withDefaults(r)
	c.mu.Lock()
	defer c.mu.Unlock()

	total := r.ChatDuration + 2*time.Millisecond
	for _, tl := range r.Tools {
		total += tl.Duration + time.Millisecond
	}
	end := time.Now()
	start := end.Add(-total)
	sent := Sent{Durations: map[trace.SpanID]time.Duration{}}

	rctx, root := c.tracer.Start(ctx, "invoke_agent "+r.Agent, trace.WithTimestamp(start), trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.name", r.Agent)))
	sent.TraceID, sent.Root = root.SpanContext().TraceID(), root.SpanContext().SpanID()
	sent.Durations[sent.Root] = total

	at := start.Add(time.Millisecond)
	_, chat := c.tracer.Start(rctx, "chat "+r.Model, trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at), trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.request.model", r.Model),
		attribute.Int("gen_ai.usage.input_tokens", r.InputTokens), attribute.Int("gen_ai.usage.output_tokens", r.OutputTokens)))
	chat.End(trace.WithTimestamp(at.Add(r.ChatDuration)))
	sent.Chat = chat.SpanContext().SpanID()
	sent.Durations[sent.Chat] = r.ChatDuration
	at = at.Add(r.ChatDuration + time.Millisecond)

	badTools := 0
	for _, tl := range r.Tools {
		_, tool := c.tracer.Start(rctx, "execute_tool "+tl.Name, trace.WithTimestamp(at), trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "execute_tool"), attribute.String("gen_ai.tool.name", tl.Name)))
		if tl.Fails {
			badTools++
			tool.SetAttributes(attribute.String("error.type", "ToolError"))
			tool.SetStatus(codes.Error, "tool failed")
		}
		tool.End(trace.WithTimestamp(at.Add(tl.Duration)))
		id := tool.SpanContext().SpanID()
		sent.Tools = append(sent.Tools, id)
		sent.Durations[id] = tl.Duration
		at = at.Add(tl.Duration + time.Millisecond)
	}
	if r.QueueDepth > 0 {
		root.SetAttributes(attribute.Float64("amas.queue.depth", r.QueueDepth), attribute.String("amas.queue.name", "tasks"))
	}
	if r.Fails {
		root.SetAttributes(attribute.String("error.type", "AgentError"))
		root.SetStatus(codes.Error, "agent run failed")
	}
	root.End(trace.WithTimestamp(end))

	spans := c.rec.spans
	c.rec.spans = nil
	if err := c.exp.ExportSpans(ctx, spans); err != nil {
		c.totals.ExportErrors++
		return sent, fmt.Errorf("agentsim: exporting a run of %s: %w", c.Service, err)
	}
	c.totals.Runs++
	if r.Fails {
		c.totals.BadRuns++
	}
	c.totals.ToolCalls += len(r.Tools)
	c.totals.BadToolCalls += badTools
	c.totals.Spans += len(spans)
	for _, s := range spans {
		c.spanIDs[s.SpanContext().SpanID()] = struct{}{}
	}
	return sent, nil
}

// Totals returns what was sent so far.
func (c *Client) Totals() Totals {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.totals
}

// SentSpanIDs returns a copy of the ids of every span sent.
func (c *Client) SentSpanIDs() map[string]struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]struct{}, len(c.spanIDs))
	for id := range c.spanIDs {
		out[id.String()] = struct{}{}
	}
	return out
}

// Steady sends next(i) every interval from a goroutine until the returned stop is called; stop
// waits for the goroutine and returns the time the last run was sent. Export errors are counted
// in Totals (the loop goes on).
func (c *Client) Steady(interval time.Duration, next func(i int) Run) (stop func() time.Time) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var last atomic.Int64
	go func() {
		defer close(done)
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for i := 0; ; i++ {
			// Stopping ends the loop, never an export in flight.
			if _, err := c.Send(context.Background(), next(i)); err == nil {
				last.Store(time.Now().UnixNano())
			}
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
	return func() time.Time {
		cancel()
		<-done
		return time.Unix(0, last.Load())
	}
}
