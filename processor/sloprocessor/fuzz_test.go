package sloprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// FuzzDecodeCheckpoint: whatever the storage returns, decoding a checkpoint never panics, and
// what it accepts can be evaluated and written again.
func FuzzDecodeCheckpoint(f *testing.F) {
	cfg := createDefaultConfig().(*Config)
	slo := DefaultSLOs()[0]
	slo.GroupBy = []string{"gen_ai.agent.name"}
	cfg.SLOs = []SLOConfig{slo, DefaultSLOs()[1]}
	compiled, err := cfg.compile(testTelemetry(&testing.T{}))
	require.NoError(f, err)
	p := &sloProcessor{logger: zap.NewNop()}
	states := make([]*sloState, len(compiled))
	for i, c := range compiled {
		states[i] = &sloState{c: c, name: c.cfg.Name, groupBy: c.cfg.GroupBy, series: map[uint64]*series{}, identity: sloIdentity(c)}
		ser := &series{key: 7, labels: [][2]string{{"gen_ai.agent.name", "a"}}, s: c.model.NewSeries()}
		c.model.Record(ser.s, epoch.UnixNano(), true)
		c.model.Record(ser.s, epoch.Add(90*time.Second).UnixNano(), false)
		states[i].series[7] = ser
		f.Add(i, encodeCheckpoint(states[i]))
	}
	f.Add(0, []byte(checkpointMagic))
	f.Add(1, []byte("AMASSLO1\x05garbage"))
	f.Fuzz(func(t *testing.T, which int, data []byte) {
		st := states[uint(which)%uint(len(states))]
		ck, err := p.decodeCheckpoint(st, data)
		if err != nil || ck == nil {
			return
		}
		got, overflow := ck.series, ck.overflow
		now := epoch.Add(time.Hour).UnixNano()
		for _, ser := range got {
			st.c.model.Evaluate(ser.s, now, &ser.ev)
			st.c.model.Record(ser.s, now, true)
		}
		if overflow != nil {
			st.c.model.Evaluate(overflow.s, now, &overflow.ev)
		}
		_ = encodeCheckpoint(&sloState{c: st.c, series: got, overflow: overflow, identity: st.identity})
	})
}

func FuzzDecodeRatioStreams(f *testing.F) {
	f.Add(encodeRatioStreams(map[uint64]ratioPoint{1: {value: 1, start: 2}}))
	f.Add([]byte(ratioStreamsMagic + "\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeRatioStreams(data, 1, 3)
		if err == nil && len(got) > 3 {
			t.Fatalf("bound ignored: %d streams", len(got))
		}
	})
}
