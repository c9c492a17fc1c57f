package regressionprocessor

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-amas/otelcol-amas/internal/storagetest"
)

func TestStatusListsTheActiveRegressionsWithTheirFigures(t *testing.T) {
	s := newSim(t, createDefaultConfig().(*Config))
	slow := newStream(40, "planner")
	calm := newStream(41, "critic")
	warmUp(s, slow, calm)

	st := s.p.Status()
	assert.Equal(t, epoch.Add(80*time.Minute), st.LastEvaluation)
	assert.Equal(t, time.Minute, st.EvaluationInterval)
	assert.Equal(t, []string{"service.name", "gen_ai.agent.name", "gen_ai.operation.name|span.name"}, st.OperationKey)
	assert.Equal(t, 2, st.Operations)
	assert.Empty(t, st.Regressions, "no regression before the step")

	slow.scale = 2
	for range 15 {
		s.interval(slow, calm)
	}
	require.Equal(t, phaseFiring, s.phase(slow.label(), kindLatency))

	st = s.p.Status()
	require.Len(t, st.Regressions, 1)
	r := st.Regressions[0]
	assert.Equal(t, "shop/planner/invoke_agent", r.Operation)
	assert.Equal(t, "latency_regression", r.Type)
	assert.Equal(t, "firing", r.State)
	assert.Equal(t, "warning", r.Severity)
	assert.False(t, r.ActiveSince.IsZero())
	assert.False(t, r.FiringSince.Before(r.ActiveSince))
	assert.True(t, r.ResolvedAt.IsZero())
	require.Len(t, r.Figures, 2, "p95 and p99 at 20 spans/s")
	assert.Equal(t, "0.95", r.Figures[0].Quantile)
	assert.InEpsilon(t, 400*math.Exp(1.6448536*0.5)/1e3, r.Figures[0].Baseline, 0.08)
	assert.Greater(t, r.Figures[0].Current, r.Figures[0].Baseline*1.3)
	assert.Greater(t, r.Ratio, 1.3)
}

func TestRunningAndLookupFollowStartAndShutdown(t *testing.T) {
	s := newSim(t, createDefaultConfig().(*Config))
	id := s.p.id
	require.NotContains(t, Running(), id)
	require.NoError(t, s.p.Start(context.Background(), componenttest.NewNopHost()))
	assert.Contains(t, Running(), id)
	src, ok := Lookup(id)
	require.True(t, ok)
	assert.Equal(t, id.String(), src.Status().ID)
	require.NoError(t, s.p.Shutdown(context.Background()))
	assert.NotContains(t, Running(), id)
	_, ok = Lookup(id)
	assert.False(t, ok)
}

func TestStatusCountsTheWindowsSpansAndTheStateOfTheLastSavedCheckpoint(t *testing.T) {
	store := storagetest.New()
	s := newSim(t, storageConfig())
	s.start(store)
	// The first process is "killed" (no shutdown, so no final save) when the second starts; it is
	// stopped only at the end, so that its ticker goroutine does not outlive the test.
	defer func() { _ = s.p.Shutdown(context.Background()) }()
	st := newStream(42, "planner")
	st.errRate = 0.5
	calm := newStream(43, "critic")

	assert.True(t, s.p.Status().CheckpointStateAt.IsZero(), "nothing saved yet")
	s.interval(st, calm) // 4 rounds of 15 s at 20 spans/s each
	got := s.p.Status()
	assert.Equal(t, uint64(2*4*300), got.WindowSpans)
	assert.Greater(t, got.WindowErrors, uint64(0))
	assert.Less(t, got.WindowErrors, got.WindowSpans)
	assert.Equal(t, s.clock.Now(), got.CheckpointStateAt, "the tick's checkpoint holds the state as of the tick")
	assert.False(t, got.CheckpointSaved.Before(got.CheckpointStateAt))
	assert.True(t, got.CheckpointEnabled)
	assert.False(t, got.CheckpointRestored, "the first process found no checkpoint")

	// Spans after the checkpoint are in the windows, not in the saved state; a restart on the
	// same storage restores the windows as of CheckpointStateAt.
	late := ptrace.NewTraces()
	st.fill(late, 7, s.clock.Now())
	_, err := s.p.processTraces(context.Background(), late)
	require.NoError(t, err)
	assert.Equal(t, got.WindowSpans+7, s.p.Status().WindowSpans)
	assert.Equal(t, got.CheckpointStateAt, s.p.Status().CheckpointStateAt)

	second := newSim(t, storageConfig())
	second.clock.Advance(s.clock.Now().Sub(second.clock.Now()))
	second.start(store)
	restored := second.p.Status()
	assert.Equal(t, got.WindowSpans, restored.WindowSpans, "the 7 late spans were not checkpointed")
	assert.Equal(t, got.WindowErrors, restored.WindowErrors)
	assert.True(t, restored.CheckpointStateAt.IsZero(), "the new process has saved nothing yet")
	assert.True(t, restored.CheckpointRestored)
	require.NoError(t, second.p.Shutdown(context.Background()))
}
