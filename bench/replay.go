package main

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The replay generator exists because one core of the SDK generator cannot outpace one core of
// the collector: the SDK spends several microseconds creating, batching and encoding each span,
// about as much as the collector spends receiving and processing it. So the spans are built once
// by the OpenTelemetry Go SDK (the same agent runs as the live generator), captured as the OTLP
// requests its exporter would send, and those requests are sent again and again over gRPC, with
// their timestamps moved forward to the present before every send.

// captureRequests builds batches of spansPerBatch spans (runs of agents) with the SDK and returns
// the OTLP export requests its gRPC exporter produced, without sending them anywhere.
func captureRequests(ctx context.Context, batches, spansPerBatch, agents, errorEvery int) ([]*coltracepb.ExportTraceServiceRequest, error) {
	var (
		mu   sync.Mutex
		reqs []*coltracepb.ExportTraceServiceRequest
	)
	capture := func(_ context.Context, _ string, req, _ any, _ *grpc.ClientConn, _ grpc.UnaryInvoker, _ ...grpc.CallOption) error {
		r, ok := req.(*coltracepb.ExportTraceServiceRequest)
		if !ok {
			return errors.New("replay: unexpected request type")
		}
		mu.Lock()
		reqs = append(reqs, proto.Clone(r).(*coltracepb.ExportTraceServiceRequest))
		mu.Unlock()
		return nil // never sent
	}
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint("127.0.0.1:1"), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithDialOption(grpc.WithUnaryInterceptor(capture)))
	if err != nil {
		return nil, err
	}
	runsPerBatch := spansPerBatch / spansPerRun
	bsp := sdktrace.NewBatchSpanProcessor(exp, sdktrace.WithBlocking(),
		sdktrace.WithMaxQueueSize(4*runsPerBatch*spansPerRun),
		sdktrace.WithMaxExportBatchSize(runsPerBatch*spansPerRun),
		sdktrace.WithBatchTimeout(time.Hour))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(bsp), sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("bench-agents"))))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer("otelcol-amas/bench")
	all := makeAgents(agents)
	now := time.Now()
	var run int64
	for range batches {
		for range runsPerBatch {
			emitRun(ctx, tracer, &all[run%int64(len(all))], run, errorEvery, now)
			run++
		}
		if err := tp.ForceFlush(ctx); err != nil {
			return nil, err
		}
	}
	if len(reqs) == 0 {
		return nil, errors.New("replay: the SDK exported nothing")
	}
	return reqs, nil
}

// replayBatch is one captured request and the time shift already applied to it.
type replayBatch struct {
	req     *coltracepb.ExportTraceServiceRequest
	spans   int64
	shifted int64 // nanoseconds added to every timestamp so far
	base    time.Time
}

func (b *replayBatch) shiftTo(now time.Time) {
	want := now.Sub(b.base).Nanoseconds()
	d := uint64(want - b.shifted)
	b.shifted = want
	for _, rs := range b.req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				s.StartTimeUnixNano += d
				s.EndTimeUnixNano += d
			}
		}
	}
}

// runReplay sends cfg's load from captured SDK requests over `workers` concurrent senders; a
// sender waits for each Export to return before the next, so a slow collector slows the load
// (visible as Behind) instead of anything being dropped on the way.
func runReplay(ctx context.Context, cfg genConfig, spansPerBatch, workers int) (genResult, error) {
	if cfg.Rate <= 0 || cfg.Duration <= 0 || cfg.Agents <= 0 || workers <= 0 {
		return genResult{}, errors.New("replay: rate, duration, agents and workers must be positive")
	}
	// Enough batches that every agent appears, and at least two per worker.
	runsPerBatch := spansPerBatch / spansPerRun
	n := max(2*workers, (cfg.Agents+runsPerBatch-1)/runsPerBatch)
	reqs, err := captureRequests(ctx, n, spansPerBatch, cfg.Agents, cfg.ErrorEvery)
	if err != nil {
		return genResult{}, err
	}
	conn, err := grpc.NewClient(cfg.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return genResult{}, err
	}
	defer conn.Close()
	client := coltracepb.NewTraceServiceClient(conn)
	captured := time.Now()
	pools := make([][]*replayBatch, workers)
	for i, r := range reqs {
		var spans int64
		for _, rs := range r.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				spans += int64(len(ss.GetSpans()))
			}
		}
		pools[i%workers] = append(pools[i%workers], &replayBatch{req: r, spans: spans, base: captured})
	}
	var created, exported, failed, runs atomic.Int64
	var firstErr atomic.Value
	var codesMu sync.Mutex
	byCode := map[string]int64{}
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	perWorker := cfg.Rate / float64(workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool := pools[w]
			var sent float64
			for i := 0; ; i++ {
				now := time.Now()
				if !now.Before(deadline) {
					return
				}
				if due := perWorker * now.Sub(start).Seconds(); sent >= due {
					wait := time.Duration((sent - due) / perWorker * float64(time.Second))
					time.Sleep(min(wait, time.Until(deadline)))
					continue
				}
				b := pool[i%len(pool)]
				b.shiftTo(now)
				created.Add(b.spans)
				runs.Add(b.spans / spansPerRun)
				sent += float64(b.spans)
				ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
				resp, err := client.Export(ectx, b.req)
				cancel()
				switch {
				case err != nil:
					failed.Add(b.spans)
					firstErr.CompareAndSwap(nil, err.Error())
					codesMu.Lock()
					byCode[status.Code(err).String()] += b.spans
					codesMu.Unlock()
				case resp.GetPartialSuccess().GetRejectedSpans() > 0:
					rej := resp.GetPartialSuccess().GetRejectedSpans()
					failed.Add(rej)
					exported.Add(b.spans - rej)
				default:
					exported.Add(b.spans)
				}
			}
		}()
	}
	wg.Wait()
	end := time.Now()
	res := genResult{Runs: runs.Load(), Created: created.Load(), Exported: exported.Load(), Failed: failed.Load(),
		Elapsed: end.Sub(start).Seconds()}
	if len(byCode) > 0 {
		res.FailedByCode = byCode
	}
	res.Behind = max(0, (cfg.Rate*cfg.Duration.Seconds()-float64(res.Created))/cfg.Rate)
	if e, ok := firstErr.Load().(string); ok {
		return res, errors.New("replay: export failed: " + e)
	}
	return res, nil
}
