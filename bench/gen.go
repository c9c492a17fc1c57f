package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// spansPerRun: one agent run is an invoke_agent span with a chat (model) span and an
// execute_tool span under it, the shape the GenAI conventions give an agent step.
const spansPerRun = 3

// genConfig is one load of the SDK generator.
type genConfig struct {
	Endpoint string        // OTLP gRPC host:port
	Rate     float64       // spans per second
	Duration time.Duration // how long to generate
	Agents   int           // distinct agents: the cardinality knob (their tools are ten shared ones)
	// ErrorEvery makes one run in ErrorEvery fail (its invoke_agent span) and, offset by half, one
	// tool call in ErrorEvery; 0 disables errors. The default stays under every SLO's budget.
	ErrorEvery int
}

// genResult is what the generator prints (JSON) when it is done.
type genResult struct {
	Runs     int64   `json:"runs"`
	Created  int64   `json:"spans_created"`
	Exported int64   `json:"spans_exported"`
	Failed   int64   `json:"spans_failed"`
	Elapsed  float64 `json:"elapsed_s"`
	// Behind is how far (seconds of load) generation lagged its schedule at the end: the generator
	// (or backpressure from the collector) could not keep the rate.
	Behind float64 `json:"behind_s"`
	// Error is the first export error, if any (the run goes on: failures are counted).
	Error string `json:"error,omitempty"`
	// FailedByCode counts the failed spans of the replay generator by the gRPC status code of
	// their Export (Unavailable, ResourceExhausted: the collector refused and a client retries).
	FailedByCode map[string]int64 `json:"spans_failed_by_code,omitempty"`
}

// countingExporter counts what the OTLP exporter delivered and what it failed to.
type countingExporter struct {
	sdktrace.SpanExporter
	ok, failed atomic.Int64
}

func (c *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := c.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		c.failed.Add(int64(len(spans)))
	} else {
		c.ok.Add(int64(len(spans)))
	}
	return err
}

// agentAttrs are the precomputed names and attributes of one agent, so generating a run costs
// the SDK's work and nothing of ours.
type agentAttrs struct {
	runName, toolName string
	run, tool         []attribute.KeyValue
}

var chatAttrs = []attribute.KeyValue{
	attribute.String("gen_ai.operation.name", "chat"),
	attribute.String("gen_ai.request.model", "gpt-4o-mini"),
	attribute.Int("gen_ai.usage.input_tokens", 600),
	attribute.Int("gen_ai.usage.output_tokens", 150),
}

func makeAgents(n int) []agentAttrs {
	out := make([]agentAttrs, n)
	for i := range out {
		agent := "agent-" + strconv.Itoa(i)
		tool := "tool-" + strconv.Itoa(i%10) // ten tools shared by the agents
		out[i] = agentAttrs{
			runName:  "invoke_agent " + agent,
			toolName: "execute_tool " + tool,
			run: []attribute.KeyValue{
				attribute.String("gen_ai.operation.name", "invoke_agent"),
				attribute.String("gen_ai.agent.name", agent),
			},
			tool: []attribute.KeyValue{
				attribute.String("gen_ai.operation.name", "execute_tool"),
				attribute.String("gen_ai.agent.name", agent),
				attribute.String("gen_ai.tool.name", tool),
			},
		}
	}
	return out
}

// runGenerator drives cfg's load through the OpenTelemetry Go SDK: a batch span processor that
// blocks instead of dropping when its queue is full, so every created span is either exported or
// counted as failed, and backpressure from the collector slows the generator (visible as Behind).
func runGenerator(ctx context.Context, cfg genConfig) (genResult, error) {
	if cfg.Rate <= 0 || cfg.Duration <= 0 || cfg.Agents <= 0 {
		return genResult{}, errors.New("gen: rate, duration and agents must be positive")
	}
	grpcExp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(cfg.Endpoint), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
	if err != nil {
		return genResult{}, err
	}
	exp := &countingExporter{SpanExporter: grpcExp}
	bsp := sdktrace.NewBatchSpanProcessor(exp,
		sdktrace.WithBlocking(),
		sdktrace.WithMaxQueueSize(16384),
		sdktrace.WithMaxExportBatchSize(1024),
		sdktrace.WithBatchTimeout(50*time.Millisecond))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(bsp),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("bench-agents"))))
	tracer := tp.Tracer("otelcol-amas/bench")
	agents := makeAgents(cfg.Agents)

	runsPerSec := cfg.Rate / spansPerRun
	var res genResult
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	for {
		now := time.Now()
		if !now.Before(deadline) {
			break
		}
		due := int64(runsPerSec * now.Sub(start).Seconds())
		if res.Runs >= due {
			time.Sleep(time.Millisecond)
			continue
		}
		for n := 0; res.Runs < due && n < 64; n++ {
			emitRun(ctx, tracer, &agents[res.Runs%int64(len(agents))], res.Runs, cfg.ErrorEvery, now)
			res.Runs++
		}
	}
	end := time.Now()
	res.Behind = (runsPerSec*cfg.Duration.Seconds() - float64(res.Runs)) / runsPerSec
	if res.Behind < 0 {
		res.Behind = 0
	}
	res.Created = res.Runs * spansPerRun
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = tp.Shutdown(sctx) // flushes the queue
	res.Elapsed = end.Sub(start).Seconds()
	res.Exported, res.Failed = exp.ok.Load(), exp.failed.Load()
	return res, err
}

// emitRun creates one agent run: durations vary deterministically from 50 ms to ~1.3 s, so the
// latency SLO sees a spread below its 1.5 s threshold.
func emitRun(ctx context.Context, tracer trace.Tracer, a *agentAttrs, i int64, errorEvery int, now time.Time) {
	dur := time.Duration(50+(i*7919)%1250) * time.Millisecond
	start := now.Add(-dur)
	rctx, run := tracer.Start(ctx, a.runName, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(start), trace.WithAttributes(a.run...))
	_, chat := tracer.Start(rctx, "chat gpt-4o-mini", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(start.Add(dur/10)), trace.WithAttributes(chatAttrs...))
	chat.End(trace.WithTimestamp(start.Add(dur * 6 / 10)))
	_, tool := tracer.Start(rctx, a.toolName, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithTimestamp(start.Add(dur*6/10)), trace.WithAttributes(a.tool...))
	if errorEvery > 0 && i%int64(errorEvery) == int64(errorEvery/2) {
		tool.SetStatus(codes.Error, "")
		tool.SetAttributes(attribute.String("error.type", "timeout"))
	}
	tool.End(trace.WithTimestamp(start.Add(dur * 9 / 10)))
	if errorEvery > 0 && i%int64(errorEvery) == 0 {
		run.SetStatus(codes.Error, "")
		run.SetAttributes(attribute.String("error.type", "tool_error"))
	}
	run.End(trace.WithTimestamp(now))
}

// genMain is the `gen` subcommand: the benchmark runs it as a process of its own, pinned to
// another CPU than the collector, and reads its JSON result from stdout.
func genMain(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	var cfg genConfig
	fs.StringVar(&cfg.Endpoint, "endpoint", "127.0.0.1:4317", "OTLP gRPC endpoint")
	fs.Float64Var(&cfg.Rate, "rate", 1000, "spans per second")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to generate")
	fs.IntVar(&cfg.Agents, "agents", 10, "distinct agents (the cardinality knob)")
	fs.IntVar(&cfg.ErrorEvery, "error-every", 500, "one failed run and one failed tool call in this many runs (0: none)")
	mode := fs.String("mode", "replay", "replay: send SDK-built OTLP requests again and again; sdk: create every span live with the SDK")
	batch := fs.Int("batch", 510, "replay: spans per request (whole runs of 3 spans)")
	workers := fs.Int("workers", 4, "replay: concurrent senders")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var (
		res genResult
		err error
	)
	switch *mode {
	case "replay":
		if *batch < spansPerRun {
			return errors.New("gen: -batch must be at least 3 (one run)")
		}
		res, err = runReplay(context.Background(), cfg, *batch, *workers)
	case "sdk":
		res, err = runGenerator(context.Background(), cfg)
	default:
		return errors.New("gen: -mode must be replay or sdk")
	}
	if err != nil {
		if res.Created == 0 {
			return err
		}
		res.Error = err.Error()
	}
	return json.NewEncoder(stdout).Encode(res)
}
