package spanmetrics // import "github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"
)

// Version 1 of the checkpoint, written before internal/checkpoint: magic, version, then per
// store a schema string and its series, then a CRC-32 (IEEE) of everything before it. It is
// still read (a checkpoint written by an older release restores) and never written.

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
	r := &reader{b: body[len(checkpointMagic)+1:]}
	var all []restored
	for _, s := range c.checkpointStores() {
		schema := r.string()
		n := r.uvarint()
		keep := schema != "" && schema == c.schema(s)
		if schema != "" && !keep {
			c.logger.Warn("Checkpointed series of another configuration are dropped (their counters restart)",
				zap.String("saved", schema), zap.String("current", c.schema(s)))
		}
		rs := restored{s: s}
		for i := uint64(0); i < n && r.err == nil; i++ {
			sr := &series{}
			overflow := r.byte() == 1
			if !overflow {
				nl := r.uvarint()
				if nl != uint64(len(s.labelNames)) {
					r.fail()
					break
				}
				sr.labels = make([]string, nl)
				for j := range sr.labels {
					sr.labels[j] = r.string()
				}
			}
			sr.start = pcommon.Timestamp(r.u64())
			sr.lastSeen = pcommon.Timestamp(r.u64())
			sr.count = r.uvarint()
			if s.histogram != nil {
				sr.sum = math.Float64frombits(r.u64())
				nb := r.uvarint()
				if keep && nb != uint64(len(s.histogram.bounds)+1) {
					r.fail()
					break
				}
				if nb > maxCheckpointLen {
					r.fail()
					break
				}
				sr.buckets = make([]uint64, nb)
				for j := range sr.buckets {
					sr.buckets[j] = r.uvarint()
				}
			}
			if s == c.usage {
				sr.tokenSeen = r.byte()
				for j := range sr.tokens {
					sr.tokens[j] = r.uvarint()
				}
				sr.costSeen = r.byte() == 1
				sr.cost = math.Float64frombits(r.u64())
			}
			if keep {
				rs.series = append(rs.series, sr)
			}
		}
		if r.err != nil {
			return nil, r.err
		}
		all = append(all, rs)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(r.b))
	}
	return all, nil
}

// reader decodes with a sticky error: after the first problem every read returns zero.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated or malformed", errCorrupt)
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) u64() uint64 {
	if r.err != nil || len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) < 1 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil || n > maxCheckpointLen || uint64(len(r.b)) < n {
		r.fail()
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
