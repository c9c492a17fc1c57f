// Command amas-demo sends agent traffic to a running otelcol-amas so a first run shows the
// product: OpenTelemetry GenAI spans (invoke_agent runs with chat and execute_tool children,
// token usage, models) from the OpenTelemetry Go SDK over OTLP gRPC, healthy at first, then an
// incident in which one agent fails every run. With the default configuration the SLO status
// page turns red and the hard-down page is logged by the collector within about two minutes.
//
//	make run    # terminal 1: the collector with config/otelcol-amas.yaml
//	make demo   # terminal 2: this generator (go run ./cmd/amas-demo)
//
// It stops by itself after -duration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "amas-demo:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "amas-demo:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	endpoint     string
	rate         float64
	duration     time.Duration
	healthy      time.Duration
	failingAgent string
	seed         uint64
	report       time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("amas-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.endpoint, "endpoint", "127.0.0.1:4317", "the collector's OTLP gRPC endpoint (host:port, plaintext)")
	fs.Float64Var(&o.rate, "rate", 5, "agent runs per second, spread over the agents")
	fs.DurationVar(&o.duration, "duration", 4*time.Minute, "how long to send before stopping")
	fs.DurationVar(&o.healthy, "healthy", time.Minute, "how long every agent succeeds before the incident starts")
	fs.StringVar(&o.failingAgent, "failing-agent", "support", "the agent that fails every run during the incident (planner, research or support)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the simulated latencies and token counts")
	fs.DurationVar(&o.report, "report-every", 10*time.Second, "how often to print progress")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, o.validate()
}

func (o options) validate() error {
	var errs []error
	if o.endpoint == "" {
		errs = append(errs, errors.New("-endpoint: must be set"))
	}
	if !(o.rate > 0 && o.rate <= 1000) {
		errs = append(errs, fmt.Errorf("-rate: must be in (0,1000], got %v", o.rate))
	}
	if o.duration <= 0 {
		errs = append(errs, fmt.Errorf("-duration: must be > 0, got %s", o.duration))
	}
	if o.healthy < 0 {
		errs = append(errs, fmt.Errorf("-healthy: must be ≥ 0, got %s", o.healthy))
	}
	if o.report <= 0 {
		errs = append(errs, fmt.Errorf("-report-every: must be > 0, got %s", o.report))
	}
	if agentByName(o.failingAgent) == nil {
		errs = append(errs, fmt.Errorf("-failing-agent: must be one of planner, research, support, got %q", o.failingAgent))
	}
	return errors.Join(errs...)
}

// agent is one simulated agent: the model it chats with and the tool it calls.
type agent struct {
	name, provider, model, tool string
}

// agents take turns, so during the incident exactly a third of the runs fail: above the
// default hard-down page's 25 % error ratio over 1 minute.
var agents = []agent{
	{name: "planner", provider: "openai", model: "gpt-4o-mini", tool: "web_search"},
	{name: "research", provider: "anthropic", model: "claude-3-5-haiku", tool: "fetch_url"},
	{name: "support", provider: "openai", model: "gpt-4.1-mini", tool: "lookup_ticket"},
}

func agentByName(name string) *agent {
	for i := range agents {
		if agents[i].name == name {
			return &agents[i]
		}
	}
	return nil
}

// scenario emits agent runs as spans.
type scenario struct {
	tracer  trace.Tracer
	rnd     *rand.Rand
	failing string
}

// between is a simulated duration in [lo, hi).
func (s *scenario) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(s.rnd.Int64N(int64(hi-lo)))
}

// emitRun records one agent run ending at end: an invoke_agent span with a chat, a tool call
// and a second chat under it. Timestamps are set explicitly, so a run costs no waiting; the
// whole run stays under 1.3 s, inside the default latency SLO (p95 ≤ 1.5 s). During the
// incident the failing agent's tool times out and the run fails. It reports whether it failed.
func (s *scenario) emitRun(ctx context.Context, a *agent, end time.Time, incident bool) bool {
	fail := incident && a.name == s.failing
	chat1, tool, chat2 := s.between(150*time.Millisecond, 450*time.Millisecond), s.between(40*time.Millisecond, 250*time.Millisecond), s.between(100*time.Millisecond, 400*time.Millisecond)
	if fail {
		tool = 150 * time.Millisecond
		chat2 = 0
	}
	start := end.Add(-(chat1 + tool + chat2 + 20*time.Millisecond))

	ctx, run := s.tracer.Start(ctx, "invoke_agent "+a.name, trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "invoke_agent"),
			attribute.String("gen_ai.agent.name", a.name),
			attribute.String("gen_ai.provider.name", a.provider),
			attribute.String("gen_ai.request.model", a.model)))
	t := start.Add(10 * time.Millisecond)
	t = s.chat(ctx, a, t, chat1)

	_, ts := s.tracer.Start(ctx, "execute_tool "+a.tool, trace.WithTimestamp(t), trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "execute_tool"),
			attribute.String("gen_ai.tool.name", a.tool),
			attribute.String("gen_ai.tool.type", "function")))
	t = t.Add(tool)
	if fail {
		ts.SetAttributes(attribute.String("error.type", "timeout"))
		ts.SetStatus(codes.Error, "tool "+a.tool+" timed out")
	}
	ts.End(trace.WithTimestamp(t))

	if fail {
		run.SetAttributes(attribute.String("error.type", "timeout"))
		run.SetStatus(codes.Error, "agent run failed: tool "+a.tool+" timed out")
	} else {
		s.chat(ctx, a, t, chat2)
	}
	run.End(trace.WithTimestamp(end))
	return fail
}

// chat records one model call of d starting at t and returns its end.
func (s *scenario) chat(ctx context.Context, a *agent, t time.Time, d time.Duration) time.Time {
	in, out := 300+s.rnd.Int64N(1200), 50+s.rnd.Int64N(400)
	_, c := s.tracer.Start(ctx, "chat "+a.model, trace.WithTimestamp(t), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "chat"),
			attribute.String("gen_ai.provider.name", a.provider),
			attribute.String("gen_ai.request.model", a.model),
			attribute.String("gen_ai.response.model", a.model),
			attribute.Int64("gen_ai.usage.input_tokens", in),
			attribute.Int64("gen_ai.usage.output_tokens", out)))
	end := t.Add(d)
	c.End(trace.WithTimestamp(end))
	return end
}

// exportErrors counts export failures the SDK reports (collector not running, say).
type exportErrors struct {
	n     atomic.Int64
	first atomic.Pointer[string]
}

func (e *exportErrors) Handle(err error) {
	if e.n.Add(1) == 1 {
		msg := err.Error()
		e.first.Store(&msg)
	}
}

// serve sends runs at o.rate until o.duration has passed or ctx ends, then flushes.
func serve(ctx context.Context, o options, out io.Writer) error {
	// Not fatal: the collector may still be starting. Export errors are reported as they come.
	if c, err := net.DialTimeout("tcp", o.endpoint, 2*time.Second); err != nil {
		fmt.Fprintf(out, "amas-demo: nothing answers on %s yet (%v): start the collector with `make run` in another terminal\n", o.endpoint, err)
	} else {
		_ = c.Close()
	}
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(o.endpoint), otlptracegrpc.WithInsecure(),
		// Give up on a batch after 10 s, so a missing collector shows up in the progress lines.
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: true, InitialInterval: time.Second, MaxInterval: 5 * time.Second, MaxElapsedTime: 10 * time.Second}))
	if err != nil {
		return fmt.Errorf("OTLP exporter: %w", err)
	}
	errs := &exportErrors{}
	otel.SetErrorHandler(errs)
	res := resource.NewSchemaless(semconv.ServiceName("amas-demo"), semconv.ServiceVersion("1"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res),
		// A short batch timeout: spans reach the collector about a second after a run ends.
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)))
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tp.Shutdown(sctx)
	}()
	s := &scenario{tracer: tp.Tracer("github.com/otelcol-amas/otelcol-amas/cmd/amas-demo"), rnd: rand.New(rand.NewPCG(o.seed, 0x616d6173)), failing: o.failingAgent}

	begin := time.Now()
	fmt.Fprintf(out, "amas-demo: sending %.3g agent runs/s to %s for %s; agent %q fails every run after %s\n",
		o.rate, o.endpoint, o.duration, o.failingAgent, o.healthy)
	fmt.Fprintln(out, "amas-demo: watch http://127.0.0.1:13134/ (SLO status), http://127.0.0.1:8889/metrics and the collector's log")
	every := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
	defer every.Stop()
	report := time.NewTicker(o.report)
	defer report.Stop()
	stopAt := time.NewTimer(o.duration)
	defer stopAt.Stop()

	var runs, failed int64
	incident := false
	for i := 0; ; {
		select {
		case <-ctx.Done():
			fmt.Fprintf(out, "amas-demo: interrupted after %d runs (%d failed)\n", runs, failed)
			return nil
		case <-stopAt.C:
			fmt.Fprintf(out, "amas-demo: done after %s: %d runs, %d failed%s\n", time.Since(begin).Round(time.Second), runs, failed, errs.summary())
			return nil
		case <-report.C:
			phase := "healthy"
			if incident {
				phase = "incident"
			}
			fmt.Fprintf(out, "amas-demo: %s %s: %d runs, %d failed%s\n", time.Since(begin).Round(time.Second), phase, runs, failed, errs.summary())
		case now := <-every.C:
			if !incident && now.Sub(begin) >= o.healthy {
				incident = true
				fmt.Fprintf(out, "amas-demo: %s incident: agent %q now fails every run (tool %s times out)\n",
					time.Since(begin).Round(time.Second), o.failingAgent, agentByName(o.failingAgent).tool)
			}
			if s.emitRun(ctx, &agents[i%len(agents)], now, incident) {
				failed++
			}
			runs++
			i++
		}
	}
}

func (e *exportErrors) summary() string {
	n := e.n.Load()
	if n == 0 {
		return ""
	}
	first := ""
	if p := e.first.Load(); p != nil {
		first = *p
	}
	return fmt.Sprintf("; %d export errors (is the collector running? `make run`), first: %s", n, first)
}
