package regressionprocessor

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func frameCheckpoint(body []byte) []byte {
	b := append([]byte(checkpointMagic), checkpointVersion)
	b = append(b, body...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// FuzzDecodeCheckpoint: whatever the storage returns, decoding never panics, never holds more
// operations than max_operations, and a tracker it accepts evaluates and is written again in a
// form it accepts.
func FuzzDecodeCheckpoint(f *testing.F) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxOperations = 16
	s := newSim(&testing.T{}, cfg)
	st := newStream(60, "planner")
	warmUp(s, st)
	s.p.mu.Lock()
	valid := append([]byte(nil), s.p.encodeLocked(s.clock.Now())...)
	s.p.mu.Unlock()
	f.Add(valid[len(checkpointMagic)+1:len(valid)-4], false)
	f.Add(valid, true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, data []byte, raw bool) {
		buf := data
		if !raw {
			buf = frameCheckpoint(data)
		}
		tr, err := decodeCheckpoint(cfg, buf)
		if err != nil {
			return
		}
		require.LessOrEqual(t, len(tr.ops), cfg.MaxOperations)
		now := time.Unix(0, 0).Add(100 * 24 * time.Hour)
		tr.evaluate(now.UnixNano())
		p := &regressionProcessor{cfg: cfg, tr: tr}
		again := p.encodeLocked(now)
		_, err = decodeCheckpoint(cfg, again)
		require.NoError(t, err, "the decoder refuses what the encoder wrote")
	})
}
