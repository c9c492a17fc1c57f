package regressionprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-amas/otelcol-amas/internal/storagetest"
)

// BenchmarkCheckpoint is one regression checkpoint of 10k tracked operations (encode under the
// lock, then the storage write, here in memory): the cost that checkpoint_interval multiplies.
// CPU share of a cadence = ns/op ÷ interval (10 s = 1e10 ns).
func BenchmarkCheckpoint(b *testing.B) {
	p, clock := benchProcessor(b, 10_000)
	ctx := context.Background()
	for _, td := range benchBatches(10_000, clock.Now()) {
		_, _ = p.processTraces(ctx, td)
	}
	cl, err := storagetest.New().GetClient(ctx, component.KindProcessor, component.MustNewID("regression"), "")
	require.NoError(b, err)
	p.client = cl
	var size int
	b.ReportAllocs()
	for b.Loop() {
		clock.Advance(10 * time.Second)
		p.mu.Lock()
		buf := p.encodeLocked(clock.Now())
		p.mu.Unlock()
		size = len(buf)
		_ = p.save(ctx, buf)
	}
	b.ReportMetric(float64(size), "bytes/checkpoint")
}
