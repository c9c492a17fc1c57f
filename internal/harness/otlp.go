package harness

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
)

// Protocol is the OTLP transport a test client uses.
type Protocol string

// The OTLP transports.
const (
	GRPC Protocol = "grpc"
	HTTP Protocol = "http"
)

// TracerProvider is a real OpenTelemetry Go SDK tracer provider exporting to endpoint (host:port)
// over OTLP, as an agent would. Spans are exported synchronously (a syncer), so a span is on the
// wire when End returns: tests that count spans need no flush timing. It is shut down at cleanup.
func TracerProvider(tb testing.TB, proto Protocol, endpoint, serviceName string) *sdktrace.TracerProvider {
	tb.Helper()
	ctx := context.Background()
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch proto {
	case GRPC:
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure())
	case HTTP:
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(endpoint), otlptracehttp.WithInsecure())
	default:
		tb.Fatalf("harness: unknown protocol %q", proto)
	}
	if err != nil {
		tb.Fatalf("harness: OTLP %s exporter: %v", proto, err)
	}
	res := resource.NewSchemaless(semconv.ServiceName(serviceName))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tp.Shutdown(ctx)
	})
	return tp
}
