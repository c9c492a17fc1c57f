package sloprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-amas/otelcol-amas/internal/storagetest"
)

// A kill right after a tick loses nothing counted before that tick, even when the timer fires a
// little early (9.99 s after the previous tick with checkpoint_interval = evaluation_interval =
// 10 s): a checkpoint due within half a tick is written at that tick.
func TestWithTheDefaultsAKillAfterATickLosesNothingCountedBeforeIt(t *testing.T) {
	store := storagetest.New()
	storageID := component.MustNewID("file_storage")
	exts := map[component.ID]component.Component{storageID: store}
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID
	require.Equal(t, cfg.EvaluationInterval, cfg.CheckpointInterval, "the default checkpoints every tick")

	h := newHarness(t, cfg, nil, exts)
	h.spans(makeSpans(repeat(7, spanSpec{agent: "a", op: "invoke_agent"})...))
	h.tick(10 * time.Second)
	h.spans(makeSpans(repeat(5, spanSpec{agent: "a", op: "invoke_agent"})...))
	h.tick(10*time.Second - 10*time.Millisecond) // an early timer
	want := sloStatus(t, h.p.Status(), "agent_availability").Groups[0].Events
	require.Equal(t, uint64(12), want)

	// SIGKILL: no shutdown checkpoint; a new process restores what the last tick wrote.
	h2 := newHarnessAt(t, cfg, nil, exts, h.clock)
	h2.tick(0)
	got := sloStatus(t, h2.p.Status(), "agent_availability").Groups[0].Events
	assert.Equal(t, want, got, "the early tick wrote its checkpoint")
	h2.shutdown()
	h.shutdown()
}
