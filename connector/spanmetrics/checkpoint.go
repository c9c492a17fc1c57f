package spanmetrics // import "github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"
)

// The checkpoint holds the cumulative state of the four counter stores (and the explicit duration
// histograms) so that after a restart the series continue with their original start timestamps
// instead of starting over. It is written at each flush that follows new spans, before the
// payload is sent (see flush). Gauges (active agents, queue depth) are current values and are not
// saved. Format: magic, version, then per store a schema string and its series, then a CRC-32 of
// everything before it. A checkpoint that does not decode is logged and ignored (fresh start).
const (
	checkpointKey     = "state"
	checkpointMagic   = "AMSM"
	checkpointVersion = 1
	maxCheckpointLen  = 1 << 16 // bound on a single decoded string or slice length
)

var errCorrupt = errors.New("corrupt checkpoint")

func (c *spanMetricsConnector) openStorage(ctx context.Context, host component.Host) error {
	id := *c.cfg.Storage
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return fmt.Errorf("storage: extension %q is not configured in the service's extensions", id.String())
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return fmt.Errorf("storage: extension %q is not a storage extension", id.String())
	}
	client, err := se.GetClient(ctx, component.KindConnector, c.id, "")
	if err != nil {
		return fmt.Errorf("storage: getting a client from %q: %w", id.String(), err)
	}
	c.storageClient = client
	return nil
}

// stores returns the checkpointed stores with their schema: label names and, for the requests
// store, the histogram bounds. A schema that changed between runs (new dimensions, new buckets)
// makes that store start fresh.
func (c *spanMetricsConnector) checkpointStores() []*store {
	return []*store{c.requests, c.errors, c.tools, c.usage}
}

func (c *spanMetricsConnector) schema(s *store) string {
	var b strings.Builder
	b.WriteString(strings.Join(s.labelNames, ","))
	if s.histogram != nil {
		if s.histogram.bounds == nil {
			return "" // exponential histograms are not checkpointed
		}
		b.WriteString("|")
		for _, x := range s.histogram.bounds {
			b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
			b.WriteString(",")
		}
	}
	return b.String()
}

// writeCheckpoint stores an encoded checkpoint (see flush for when) and reports success.
func (c *spanMetricsConnector) writeCheckpoint(ctx context.Context, buf []byte) bool {
	if err := c.storageClient.Set(ctx, checkpointKey, buf); err != nil {
		c.telemetry.checkpoint(ctx, false)
		c.logger.Warn("Saving the span metrics checkpoint failed", zap.Error(err))
		return false
	}
	c.telemetry.checkpoint(ctx, true)
	return true
}

func (c *spanMetricsConnector) restore(ctx context.Context) {
	buf, err := c.storageClient.Get(ctx, checkpointKey)
	if err != nil {
		c.telemetry.checkpoint(ctx, false)
		c.logger.Warn("Reading the span metrics checkpoint failed; starting fresh", zap.Error(err))
		return
	}
	if len(buf) == 0 {
		return // no checkpoint yet
	}
	c.lock.Lock()
	n, err := c.decodeCheckpoint(buf)
	c.lock.Unlock()
	if err != nil {
		c.telemetry.checkpoint(ctx, false)
		c.logger.Warn("The span metrics checkpoint is unreadable; starting fresh (Prometheus sees a counter reset)", zap.Error(err))
		return
	}
	c.telemetry.checkpoint(ctx, true)
	c.logger.Info("Restored span metrics from the checkpoint", zap.Int("series", n))
}

func (c *spanMetricsConnector) encodeCheckpoint() []byte {
	b := append([]byte(checkpointMagic), checkpointVersion)
	for _, s := range c.checkpointStores() {
		schema := c.schema(s)
		b = appendString(b, schema)
		if schema == "" {
			b = binary.AppendUvarint(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(s.len()))
		s.each(func(sr *series) {
			if sr.labels == nil {
				b = append(b, 1)
			} else {
				b = append(b, 0)
				b = binary.AppendUvarint(b, uint64(len(sr.labels)))
				for _, l := range sr.labels {
					b = appendString(b, l)
				}
			}
			b = binary.LittleEndian.AppendUint64(b, uint64(sr.start))
			b = binary.LittleEndian.AppendUint64(b, uint64(sr.lastSeen))
			b = binary.AppendUvarint(b, sr.count)
			if s.histogram != nil {
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(sr.sum))
				b = binary.AppendUvarint(b, uint64(len(sr.buckets)))
				for _, n := range sr.buckets {
					b = binary.AppendUvarint(b, n)
				}
			}
			if s == c.usage {
				b = append(b, sr.tokenSeen)
				for _, n := range sr.tokens {
					b = binary.AppendUvarint(b, n)
				}
				if sr.costSeen {
					b = append(b, 1)
				} else {
					b = append(b, 0)
				}
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(sr.cost))
			}
		})
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// decodeCheckpoint validates the whole checkpoint before it changes any state.
func (c *spanMetricsConnector) decodeCheckpoint(buf []byte) (int, error) {
	if len(buf) < len(checkpointMagic)+1+4 || string(buf[:len(checkpointMagic)]) != checkpointMagic {
		return 0, fmt.Errorf("%w: bad header", errCorrupt)
	}
	body, sum := buf[:len(buf)-4], binary.LittleEndian.Uint32(buf[len(buf)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return 0, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	if v := body[len(checkpointMagic)]; v != checkpointVersion {
		return 0, fmt.Errorf("%w: unknown version %d", errCorrupt, v)
	}
	r := &reader{b: body[len(checkpointMagic)+1:]}
	type restored struct {
		s      *store
		series []*series
	}
	var all []restored
	total := 0
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
			return 0, r.err
		}
		all = append(all, rs)
	}
	if len(r.b) != 0 {
		return 0, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(r.b))
	}
	for _, rs := range all {
		for _, sr := range rs.series {
			if rs.s.restore(&c.kb, sr) {
				total++
			}
		}
	}
	// Siblings are not checkpointed as such: a restored series is linked to its restored sibling
	// series, or gets a zero sibling again.
	for _, rs := range all {
		for _, sr := range rs.series {
			if sr.labels != nil {
				if cur := rs.s.series[c.kb.key(sr.labels)]; cur != nil {
					rs.s.addSibling(&c.kb, cur)
				}
			}
		}
	}
	return total, nil
}

// restore inserts a decoded series, rebuilding its attributes; past the limit it is dropped.
func (s *store) restore(kb *keyBuilder, in *series) bool {
	var sr *series
	if in.labels == nil {
		attrs := pcommon.NewMap()
		attrs.PutBool(overflowKey, true)
		sr = s.newSeries(nil, attrs, in.start)
		s.overflow = sr
	} else {
		if len(s.series) >= s.limit {
			return false
		}
		sr = s.newSeries(in.labels, s.attrsOf(in.labels), in.start)
		s.series[kb.key(in.labels)] = sr
	}
	sr.lastSeen = in.lastSeen
	sr.updated = false
	sr.count = in.count
	sr.sum = in.sum
	if sr.buckets != nil {
		copy(sr.buckets, in.buckets)
	}
	sr.tokens, sr.tokenSeen = in.tokens, in.tokenSeen
	sr.cost, sr.costSeen = in.cost, in.costSeen
	return true
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
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
