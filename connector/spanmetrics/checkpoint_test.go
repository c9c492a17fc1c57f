package spanmetrics

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-amas/otelcol-amas/internal/checkpoint"
	"github.com/otelcol-amas/otelcol-amas/internal/storagetest"
)

// restartWith starts a connector on a storage that holds data under the checkpoint key, sends
// agentRuns(2, 2, 0) and returns the flushed metrics' harness and the warnings it logged.
func restartWith(t *testing.T, cfg *Config, data []byte) (*harness, *observer.ObservedLogs) {
	t.Helper()
	ctx := context.Background()
	st := storagetest.New()
	st.Put(checkpointKey, data)
	h := newTestConnector(t, cfg)
	core, logs := observer.New(zap.WarnLevel)
	h.c.logger = zap.New(core)
	require.NoError(t, h.c.Start(ctx, hostWithExtensions{*cfg.Storage: st}))
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(2, 2, 0)))
	h.c.flush(ctx)
	require.NoError(t, h.c.Shutdown(ctx))
	return h, logs
}

func storageCfg() *Config {
	id := component.MustNewID("file_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &id
	return cfg
}

// checkpointAfter returns the checkpoint a connector writes after agentRuns(10, 2, 0): five
// runs of agent-0 and five of agent-1.
func checkpointAfter(t *testing.T, cfg *Config) []byte {
	t.Helper()
	ctx := context.Background()
	st := storagetest.New()
	h := newTestConnector(t, cfg)
	require.NoError(t, h.c.Start(ctx, hostWithExtensions{*cfg.Storage: st}))
	require.NoError(t, h.c.ConsumeTraces(ctx, agentRuns(10, 2, 0)))
	require.NoError(t, h.c.Shutdown(ctx))
	b := st.Value(checkpointKey)
	require.NotEmpty(t, b)
	return b
}

func TestACheckpointWrittenByVersion1StillRestores(t *testing.T) {
	// testdata/checkpoint_v1.bin was written by the encoder before internal/checkpoint, after
	// agentRuns(10, 2, 0) with the default configuration.
	legacy, err := os.ReadFile("testdata/checkpoint_v1.bin")
	require.NoError(t, err)
	v, err := checkpoint.Version(legacy, checkpointMagic)
	require.NoError(t, err)
	require.Equal(t, byte(1), v)

	h, logs := restartWith(t, storageCfg(), legacy)
	md := lastMetrics(t, h)
	assert.Equal(t, 6.0, requestsOf(t, md, "agent-0", "invoke_agent", "ok"), "5 before the restart + 1 after")
	assert.Equal(t, 6.0, requestsOf(t, md, "agent-1", "invoke_agent", "ok"))
	assert.Zero(t, logs.Len(), "logs: %v", logs.All())
}

func TestADamagedEntryCostsOnlyItsSeries(t *testing.T) {
	cfg := storageCfg()
	b := checkpointAfter(t, cfg)
	// Damage the label of agent-1's invoke_agent request series (labels are length-prefixed),
	// and only that series restarts.
	i := bytes.Index(b, []byte("agent-1\x0cinvoke_agent"))
	require.Positive(t, i)
	b[i+3] ^= 0x20

	h, logs := restartWith(t, cfg, b)
	md := lastMetrics(t, h)
	assert.Equal(t, 6.0, requestsOf(t, md, "agent-0", "invoke_agent", "ok"), "the neighbour of the damaged entry is restored")
	assert.Equal(t, 1.0, requestsOf(t, md, "agent-1", "invoke_agent", "ok"), "the damaged series restarts")
	assert.Zero(t, logs.FilterMessageSnippet("unreadable").Len())
	warn := logs.FilterMessageSnippet("Skipped damaged entries")
	require.Equal(t, 1, warn.Len(), "one log line for the whole restore")
	assert.Equal(t, int64(1), warn.All()[0].ContextMap()["skipped_entries"])
	assert.Equal(t, int64(1), h.internalCount(t, "otelcol_connector_amas_spanmetrics_checkpoint_entries_skipped", "", ""))
}

func TestATruncatedCheckpointRestoresTheSeriesBeforeTheCut(t *testing.T) {
	cfg := storageCfg()
	b := checkpointAfter(t, cfg)
	i := bytes.Index(b, []byte("agent-1\x0cinvoke_agent"))
	require.Positive(t, i)
	h, logs := restartWith(t, cfg, b[:i]) // cut inside agent-1's request series
	md := lastMetrics(t, h)
	assert.Equal(t, 6.0, requestsOf(t, md, "agent-0", "invoke_agent", "ok"))
	assert.Equal(t, 1.0, requestsOf(t, md, "agent-1", "invoke_agent", "ok"))
	assert.Equal(t, 1, logs.FilterMessageSnippet("Skipped damaged entries").Len())
}

func TestAnUnreadableCheckpointIsLoggedAndIgnored(t *testing.T) {
	tests := []struct {
		name     string
		data     []byte
		wantWarn int
	}{
		{"random bytes are logged and ignored", []byte("not a checkpoint at all"), 1},
		{"an unknown version is logged and ignored", []byte(checkpointMagic + "\x09"), 1},
		{"a version 1 checkpoint with a flipped byte is logged and ignored (its CRC covers all of it)", func() []byte {
			b, err := os.ReadFile("testdata/checkpoint_v1.bin")
			require.NoError(t, err)
			b[len(b)/2] ^= 0xff
			return b
		}(), 1},
		{"an empty value is no checkpoint at all", []byte{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, logs := restartWith(t, storageCfg(), tt.data)
			assert.Equal(t, 1.0, requestsOf(t, lastMetrics(t, h), "agent-0", "invoke_agent", "ok"), "fresh start")
			assert.Equal(t, tt.wantWarn, logs.FilterMessageSnippet("checkpoint is unreadable").Len())
		})
	}
}

func TestOneLongErrorTypeDoesNotPoisonTheCheckpoint(t *testing.T) {
	ctx := context.Background()
	cfg := storageCfg()
	cfg.Limits.MaxLabelLength = maxLabelLengthLimit
	st := storagetest.New()
	before := newTestConnector(t, cfg)
	require.NoError(t, before.c.Start(ctx, hostWithExtensions{*cfg.Storage: st}))
	td := agentRuns(10, 2, 0)
	errSpan := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	errSpan.Status().SetCode(2) // error
	errSpan.Attributes().PutStr("error.type", strings.Repeat("E", 70<<10))
	require.NoError(t, before.c.ConsumeTraces(ctx, td))
	require.NoError(t, before.c.Shutdown(ctx))

	h, logs := restartWith(t, cfg, st.Value(checkpointKey))
	assert.Zero(t, logs.Len(), "logs: %v", logs.All())
	md := lastMetrics(t, h)
	assert.Equal(t, 5.0, requestsOf(t, md, "agent-0", "invoke_agent", "ok")+requestsOf(t, md, "agent-0", "invoke_agent", "error")-1,
		"agent-0's five runs before the restart are restored (plus one after)")
}

func FuzzDecodeCheckpoint(f *testing.F) {
	legacy, err := os.ReadFile("testdata/checkpoint_v1.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(legacy)
	h := newTestConnectorTB(f, storageCfg())
	_ = h.c.ConsumeTraces(context.Background(), agentRuns(10, 2, 0))
	h.c.lock.Lock()
	f.Add(h.c.encodeCheckpoint())
	h.c.lock.Unlock()
	f.Fuzz(func(t *testing.T, b []byte) {
		c := newTestConnectorTB(t, storageCfg()).c
		if v, err := checkpoint.Version(b, checkpointMagic); err == nil && v == 1 {
			_, _ = c.decodeLegacy(b)
			return
		}
		all, _, err := c.decodeCheckpoint(b)
		if err != nil {
			return
		}
		n := 0
		for _, rs := range all {
			n += len(rs.series)
		}
		if n > len(b)/8 {
			t.Fatalf("%d series from %d bytes", n, len(b))
		}
		c.applyRestored(all)
	})
}
