package sloprocessor

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-amas/otelcol-amas/internal/storagetest"
)

func TestAnAMASSLO2CheckpointStillRestores(t *testing.T) {
	// testdata/checkpoint_amasslo2_agent_availability.bin was written by the encoder before
	// internal/checkpoint: default configuration, 990 good and 3 bad agent runs, one 10 s tick.
	legacy, err := os.ReadFile("testdata/checkpoint_amasslo2_agent_availability.bin")
	require.NoError(t, err)
	store := storagetest.New()
	store.Put(checkpointKey("agent_availability"), legacy)
	storageID := component.MustNewID("file_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID
	core, logs := observer.New(zapcore.WarnLevel)
	h := newHarness(t, cfg, zap.New(core), map[component.ID]component.Component{storageID: store})
	h.tick(10 * time.Second)
	g := sloStatus(t, h.p.Status(), "agent_availability").Groups[0]
	assert.Equal(t, uint64(993), g.Events)
	assert.Equal(t, uint64(3), g.BadEvents)
	assert.Zero(t, logs.Len(), "logs: %v", logs.All())
	h.shutdown()
	assert.True(t, bytes.HasPrefix(store.Value(checkpointKey("agent_availability")), []byte(checkpointMagic)),
		"the next checkpoint is written in the current format")
}

func TestADamagedGroupEntryCostsOnlyThatGroup(t *testing.T) {
	store := storagetest.New()
	storageID := component.MustNewID("file_storage")
	exts := map[component.ID]component.Component{storageID: store}
	cfg := availabilityOnly()
	cfg.SLOs[0].GroupBy = []string{"gen_ai.agent.name"}
	cfg.Storage = &storageID
	h := newHarness(t, cfg, nil, exts)
	h.spans(makeSpans(append(repeat(20, spanSpec{agent: "planner", op: "invoke_agent"}), repeat(30, spanSpec{agent: "coder", op: "invoke_agent", err: true})...)...))
	h.tick(10 * time.Second)
	h.shutdown()

	b := append([]byte(nil), store.Value(checkpointKey("agent_availability"))...)
	i := bytes.Index(b, []byte("coder"))
	require.Positive(t, i)
	b[i] ^= 0x01
	store.Put(checkpointKey("agent_availability"), b)

	core, logs := observer.New(zapcore.WarnLevel)
	h2 := newHarnessAt(t, cfg, zap.New(core), exts, h.clock)
	defer h2.shutdown()
	h2.tick(10 * time.Second)
	groups := sloStatus(t, h2.p.Status(), "agent_availability").Groups
	require.Len(t, groups, 1, "the damaged group is gone, its neighbour is restored")
	assert.Equal(t, "planner", groups[0].Labels["gen_ai.agent.name"])
	assert.Equal(t, uint64(20), groups[0].Events)
	assert.Zero(t, logs.FilterMessageSnippet("unreadable").Len())
	warn := logs.FilterMessageSnippet("Skipped damaged entries")
	require.Equal(t, 1, warn.Len())
	assert.Equal(t, int64(1), warn.All()[0].ContextMap()["skipped_entries"])
}

func TestADamagedDefinitionEntryStartsTheSLOFresh(t *testing.T) {
	store := storagetest.New()
	storageID := component.MustNewID("file_storage")
	exts := map[component.ID]component.Component{storageID: store}
	cfg := availabilityOnly()
	cfg.Storage = &storageID
	h := newHarness(t, cfg, nil, exts)
	h.spans(makeSpans(repeat(20, spanSpec{agent: "planner", op: "invoke_agent"})...))
	h.tick(10 * time.Second)
	h.shutdown()
	b := append([]byte(nil), store.Value(checkpointKey("agent_availability"))...)
	b[len(checkpointMagic)+1+8+3] ^= 0x01 // inside the definition entry's payload
	store.Put(checkpointKey("agent_availability"), b)

	core, logs := observer.New(zapcore.WarnLevel)
	h2 := newHarnessAt(t, cfg, zap.New(core), exts, h.clock)
	defer h2.shutdown()
	h2.tick(10 * time.Second)
	assert.Equal(t, 1, logs.FilterMessageSnippet("unreadable").Len(), "without its definition the counts cannot be interpreted")
	assert.Equal(t, uint64(0), sloStatus(t, h2.p.Status(), "agent_availability").Groups[0].Events)
}
