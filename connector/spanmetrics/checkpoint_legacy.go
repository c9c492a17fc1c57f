package spanmetrics // import "github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/internal/checkpoint"
)

// Version 1 of the checkpoint, written before internal/checkpoint: magic, version, then per
// store a schema string and its series, then a CRC-32 (IEEE) of everything before it. It is
// still read (a checkpoint written by an older release restores) and never written. Its fields
// are the shared codec's (varints, little-endian words, strings of at most maxCheckpointLen
// bytes), so internal/checkpoint's Decoder reads them.

// decodeLegacy reads a version 1 checkpoint (the format before internal/checkpoint), validating
// the whole checkpoint before it changes any state.
func (c *spanMetricsConnector) decodeLegacy(buf []byte) ([]restored, error) {
	if len(buf) < len(checkpointMagic)+1+4 || string(buf[:len(checkpointMagic)]) != checkpointMagic {
		return nil, fmt.Errorf("%w: bad header", errCorrupt)
	}
	body, sum := buf[:len(buf)-4], binary.LittleEndian.Uint32(buf[len(buf)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	r := checkpoint.NewDecoder(body[len(checkpointMagic)+1:], maxCheckpointLen)
	var all []restored
	for _, s := range c.checkpointStores() {
		schema := r.String()
		n := r.Uvarint()
		keep := schema != "" && schema == c.schema(s)
		if schema != "" && !keep {
			c.logger.Warn("Checkpointed series of another configuration are dropped (their counters restart)",
				zap.String("saved", schema), zap.String("current", c.schema(s)))
		}
		rs := restored{s: s}
		for i := uint64(0); i < n && r.Err() == nil; i++ {
			sr := &series{}
			overflow := r.Byte() == 1
			if !overflow {
				nl := r.Uvarint()
				if nl != uint64(len(s.labelNames)) {
					r.Fail()
					break
				}
				sr.labels = make([]string, nl)
				for j := range sr.labels {
					sr.labels[j] = r.String()
				}
			}
			sr.start = pcommon.Timestamp(r.U64())
			sr.lastSeen = pcommon.Timestamp(r.U64())
			sr.count = r.Uvarint()
			if s.histogram != nil {
				sr.sum = math.Float64frombits(r.U64())
				nb := r.Uvarint()
				if keep && nb != uint64(len(s.histogram.bounds)+1) {
					r.Fail()
					break
				}
				if nb > maxCheckpointLen {
					r.Fail()
					break
				}
				sr.buckets = make([]uint64, nb)
				for j := range sr.buckets {
					sr.buckets[j] = r.Uvarint()
				}
			}
			if s == c.usage {
				sr.tokenSeen = r.Byte()
				for j := range sr.tokens {
					sr.tokens[j] = r.Uvarint()
				}
				sr.costSeen = r.Byte() == 1
				sr.cost = math.Float64frombits(r.U64())
			}
			if keep {
				rs.series = append(rs.series, sr)
			}
		}
		if r.Err() != nil {
			return nil, fmt.Errorf("%w: truncated or malformed", errCorrupt)
		}
		all = append(all, rs)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorrupt, r.Len())
	}
	return all, nil
}
