package regressionprocessor

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-amas/otelcol-amas/internal/checkpoint"
	"github.com/otelcol-amas/otelcol-amas/internal/storagetest"
)

var storageID = component.MustNewID("file_storage")

func storageConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	id := storageID
	cfg.Storage = &id
	return cfg
}

// start starts the sim's processor against store (its clock's tickers never fire: ticks are
// driven by s.interval), and returns the observed logs.
func (s *sim) start(store *storagetest.Storage) *observer.ObservedLogs {
	core, logs := observer.New(zapcore.DebugLevel)
	s.p.logger = zap.New(core)
	host := hostWithExtensions{ext: map[component.ID]component.Component{storageID: store}}
	require.NoError(s.t, s.p.Start(context.Background(), host))
	return logs
}

func TestRestartWithStorageKeepsTheBaseline(t *testing.T) {
	store := storagetest.New()
	cfg := storageConfig()

	first := newSim(t, cfg)
	first.start(store)
	st := newStream(60, "planner")
	warmUp(first, st)
	before := *first.op(st.label())
	require.True(t, before.judged)
	require.NoError(t, first.p.Shutdown(context.Background()))

	// A new process: same config and storage, the clock goes on from where it stopped.
	second := newSim(t, cfg)
	second.clock.set(first.clock.Now())
	logs := second.start(store)
	assert.Equal(t, 1, logs.FilterMessage("Restored regression baselines from the checkpoint").Len())
	after := second.op(st.label())
	require.NotNil(t, after, "the operation is restored")
	assert.Equal(t, before.base, after.base, "baseline slots are restored exactly")
	assert.Equal(t, before.cur, after.cur, "current slots are restored exactly")
	assert.Equal(t, before.firstSeen, after.firstSeen, "the warm-up is not restarted")

	// Judged on the first evaluation after the restart, and a shift is caught as before.
	second.interval(st)
	require.True(t, second.op(st.label()).judged)
	assert.InEpsilon(t, before.fig[kindLatency].baseline[0], second.op(st.label()).fig[kindLatency].baseline[0], 0.05)
	st.scale = 1.5
	fired := false
	for range cfg.FireAfter + int(cfg.CurrentWindow/cfg.EvaluationInterval) {
		second.interval(st)
		fired = fired || second.phase(st.label(), kindLatency) == phaseFiring
	}
	assert.True(t, fired, "a regression right after the restart is detected against the restored baseline")
	require.NoError(t, second.p.Shutdown(context.Background()))
}

func TestAFiringAlertSurvivesARestart(t *testing.T) {
	store := storagetest.New()
	cfg := storageConfig()
	first := newSim(t, cfg)
	first.start(store)
	st := newStream(61, "planner")
	warmUp(first, st)
	st.scale = 2
	for range 15 {
		first.interval(st)
	}
	require.Equal(t, phaseFiring, first.phase(st.label(), kindLatency))
	require.NoError(t, first.p.Shutdown(context.Background()))

	second := newSim(t, cfg)
	second.clock.set(first.clock.Now())
	second.start(store)
	assert.Equal(t, phaseFiring, second.phase(st.label(), kindLatency))
	assert.True(t, second.op(st.label()).firing, "spans are marked again right away")
	require.NoError(t, second.p.Shutdown(context.Background()))
}

func TestAnUnusableCheckpointMeansAFreshStartWithALogLine(t *testing.T) {
	valid := func(t *testing.T) []byte {
		s := newSim(t, storageConfig())
		st := newStream(62, "planner")
		for range 3 {
			s.interval(st)
		}
		s.p.mu.Lock()
		defer s.p.mu.Unlock()
		return s.p.encodeLocked(s.clock.Now())
	}
	tests := []struct {
		name    string
		prepare func(t *testing.T, m *storagetest.Storage)
		cfg     func(*Config)
		wantLog string
		restore int
	}{
		{"no checkpoint yet", func(*testing.T, *storagetest.Storage) {}, nil, "No regression checkpoint found; starting with fresh baselines", 0},
		{"garbage bytes", func(_ *testing.T, m *storagetest.Storage) { m.Put(checkpointKey, []byte("not a checkpoint at all")) }, nil, "Discarding the regression checkpoint; starting with fresh baselines", 0},
		{"a flipped bit in the only operation skips that operation", func(t *testing.T, m *storagetest.Storage) {
			b := valid(t)
			b[len(b)/2] ^= 0x10
			m.Put(checkpointKey, b)
		}, nil, "Skipped damaged entries of the regression checkpoint; their operations learn a fresh baseline (the rest is restored)", 0},
		{"a truncated checkpoint skips the cut operation", func(t *testing.T, m *storagetest.Storage) {
			b := valid(t)
			m.Put(checkpointKey, b[:len(b)-9])
		}, nil, "Skipped damaged entries of the regression checkpoint; their operations learn a fresh baseline (the rest is restored)", 0},
		{"a flipped bit in the header discards it all", func(t *testing.T, m *storagetest.Storage) {
			b := valid(t)
			b[len(checkpointMagic)+1+8+1] ^= 0x10 // inside the header entry's payload
			m.Put(checkpointKey, b)
		}, nil, "Discarding the regression checkpoint; starting with fresh baselines", 0},
		{"a version 1 checkpoint with a flipped bit is discarded (one CRC covers all of it)", func(t *testing.T, m *storagetest.Storage) {
			b, err := os.ReadFile("testdata/checkpoint_v1.bin")
			require.NoError(t, err)
			b[len(b)/2] ^= 0x10
			m.Put(checkpointKey, b)
		}, nil, "Discarding the regression checkpoint; starting with fresh baselines", 0},
		{"windows changed since it was written", func(t *testing.T, m *storagetest.Storage) { m.Put(checkpointKey, valid(t)) },
			func(c *Config) { c.CurrentWindow *= 2 }, "Discarding the regression checkpoint; starting with fresh baselines", 0},
		{"the storage cannot be read", func(_ *testing.T, m *storagetest.Storage) { m.FailGets(errors.New("disk on fire")) }, nil, "Cannot read the regression checkpoint; starting with fresh baselines", 0},
		{"a valid checkpoint is restored", func(t *testing.T, m *storagetest.Storage) { m.Put(checkpointKey, valid(t)) }, nil, "Restored regression baselines from the checkpoint", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := storagetest.New()
			tt.prepare(t, store)
			cfg := storageConfig()
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			s := newSim(t, cfg)
			logs := s.start(store)
			assert.Equal(t, 1, logs.FilterMessage(tt.wantLog).Len(), "logs: %v", logs.All())
			assert.Len(t, s.p.tr.ops, tt.restore)
			require.NoError(t, s.p.Shutdown(context.Background()))
			assert.NotEmpty(t, store.Value(checkpointKey), "shutdown writes a fresh checkpoint")
		})
	}
}

func TestBaselineResetsApplyOncePerGeneration(t *testing.T) {
	store := storagetest.New()
	cfg := storageConfig()
	first := newSim(t, cfg)
	first.start(store)
	planner, critic := newStream(63, "planner"), newStream(64, "critic")
	warmUp(first, planner, critic)
	require.NoError(t, first.p.Shutdown(context.Background()))

	reset := storageConfig()
	reset.BaselineResets = []BaselineReset{{Operation: planner.label(), Generation: 1}}
	restart := func(at time.Time) *sim {
		s := newSim(t, reset)
		s.clock.set(at)
		s.start(store)
		return s
	}

	second := restart(first.clock.Now())
	p, c := second.op(planner.label()), second.op(critic.label())
	require.NotNil(t, p)
	require.NotNil(t, c)
	assert.Equal(t, second.clock.Now().UnixNano(), p.firstSeen, "the reset operation warms up again")
	for i := range p.base {
		assert.Zero(t, p.base[i].lat.Count(), "its baseline is empty")
	}
	assert.NotEqual(t, second.clock.Now().UnixNano(), c.firstSeen, "other operations keep their baseline")
	assert.Equal(t, int64(1), second.counter("otelcol_processor_regression_rebaselines", "cause", "manual"))
	second.interval(planner, critic)
	require.NoError(t, second.p.Shutdown(context.Background()))

	third := restart(second.clock.Now()) // same generation: not applied again
	assert.Equal(t, first.clock.Now().UnixNano(), third.op(planner.label()).firstSeen, "the warm-up started by the reset goes on")
	assert.Equal(t, int64(0), third.counter("otelcol_processor_regression_rebaselines", "cause", "manual"))
	require.NoError(t, third.p.Shutdown(context.Background()))
}

func TestAVersion1CheckpointStillRestores(t *testing.T) {
	// testdata/checkpoint_v1.bin was written by the encoder before internal/checkpoint, after
	// warmUp of newStream(60, "planner") with storageConfig() (the sim's clock then stood at
	// 2026-01-01T00:00:00Z).
	b, err := os.ReadFile("testdata/checkpoint_v1.bin")
	require.NoError(t, err)
	store := storagetest.New()
	store.Put(checkpointKey, b)

	s := newSim(t, storageConfig())
	s.clock.set(time.Unix(0, 1767230400000000000))
	logs := s.start(store)
	require.Equal(t, 1, logs.FilterMessage("Restored regression baselines from the checkpoint").Len(), "logs: %v", logs.All())
	st := newStream(60, "planner")
	op := s.op(st.label())
	require.NotNil(t, op)

	// The same history replayed today gives the same baseline as the one restored from v1.
	fresh := newSim(t, storageConfig())
	warmUp(fresh, st)
	want := fresh.op(st.label())
	assert.Equal(t, want.base, op.base)
	assert.Equal(t, want.cur, op.cur)
	assert.Equal(t, want.firstSeen, op.firstSeen)
	require.NoError(t, s.p.Shutdown(context.Background()))
	v, err := checkpoint.Version(store.Value(checkpointKey), checkpointMagic)
	require.NoError(t, err)
	assert.Equal(t, byte(checkpointVersion), v, "the next checkpoint is written in the current version")
}

func TestADamagedOperationCostsOnlyThatOperation(t *testing.T) {
	store := storagetest.New()
	cfg := storageConfig()
	first := newSim(t, cfg)
	first.start(store)
	planner, coder := newStream(63, "planner"), newStream(64, "coder")
	for range 3 {
		first.interval(planner, coder)
	}
	require.NoError(t, first.p.Shutdown(context.Background()))
	b := append([]byte(nil), store.Value(checkpointKey)...)
	i := bytes.Index(b, []byte(coder.label()))
	require.Positive(t, i)
	b[i] ^= 0x01
	store.Put(checkpointKey, b)

	second := newSim(t, cfg)
	second.clock.set(first.clock.Now())
	logs := second.start(store)
	assert.NotNil(t, second.op(planner.label()), "the neighbour of the damaged entry is restored")
	assert.Nil(t, second.op(coder.label()), "the damaged operation starts afresh")
	require.Equal(t, 1, logs.FilterMessageSnippet("Skipped damaged entries").Len())
	assert.Equal(t, int64(1), logs.FilterMessageSnippet("Skipped damaged entries").All()[0].ContextMap()["skipped_entries"])
	require.NoError(t, second.p.Shutdown(context.Background()))
}

func FuzzDecodeCheckpoint(f *testing.F) {
	legacy, err := os.ReadFile("testdata/checkpoint_v1.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(legacy)
	cfg := storageConfig()
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, _, err := decodeCheckpoint(cfg, b)
		if err == nil && len(tr.ops) > cfg.MaxOperations {
			t.Fatalf("%d operations over max_operations", len(tr.ops))
		}
	})
}
