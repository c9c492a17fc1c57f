package spanmetrics // import "github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/internal/checkpoint"
)

// The checkpoint holds the cumulative state of the four counter stores (and the explicit duration
// histograms) so that after a restart the series continue with their original start timestamps
// instead of starting over. It is written at each flush that follows new spans, before the
// payload is sent (see flush). Gauges (active agents, queue depth) are current values and are not
// saved. Format (version 2, internal/checkpoint framing): per store one schema entry, then one
// entry per series, each with its own length and CRC-32C, so a damaged entry costs that series
// only. Version 1 (checkpoint_legacy.go) is still read. A checkpoint whose header does not decode
// is logged and ignored (fresh start).
const (
	checkpointKey     = "state"
	checkpointMagic   = "AMSM"
	checkpointVersion = 2
	maxCheckpointLen  = 1 << 16 // bound on a single decoded string or slice length

	entrySchema byte = 0 // store index, schema string
	entrySeries byte = 1 // store index, one series
)

// checkpointLimits: a label value is at most limits.max_label_length (≤ 16 KiB) bytes, so a
// series of a few labels fits an entry with room to spare; the histogram has at most
// maxCheckpointLen buckets.
var checkpointLimits = checkpoint.Limits{MaxEntry: 1 << 20, MaxString: maxCheckpointLen}

// restored is the decoded series of one store, inserted once the checkpoint is read.
type restored struct {
	s      *store
	series []*series
}

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
	var all []restored
	skipped := 0
	version, err := checkpoint.Version(buf, checkpointMagic)
	switch {
	case err != nil:
	case version == 1:
		all, err = c.decodeLegacy(buf)
	case version == checkpointVersion:
		all, skipped, err = c.decodeCheckpoint(buf)
	default:
		err = fmt.Errorf("%w: unknown version %d", errCorrupt, version)
	}
	if err != nil {
		c.telemetry.checkpoint(ctx, false)
		c.logger.Warn("The span metrics checkpoint is unreadable; starting fresh (Prometheus sees a counter reset)", zap.Error(err))
		return
	}
	c.lock.Lock()
	n := c.applyRestored(all)
	c.lock.Unlock()
	if skipped > 0 {
		c.telemetry.ckptSkipped.Add(ctx, int64(skipped))
		c.logger.Warn("Skipped damaged entries of the span metrics checkpoint; their series restart (the rest is restored)",
			zap.Int("skipped_entries", skipped))
	}
	c.telemetry.checkpoint(ctx, true)
	c.logger.Info("Restored span metrics from the checkpoint", zap.Int("series", n), zap.Int("version", int(version)))
}

// encodeCheckpoint writes one schema entry per store and one entry per series. The writer
// applies the reader's bounds, so nothing it writes is refused at restore.
func (c *spanMetricsConnector) encodeCheckpoint() []byte {
	w := checkpoint.NewWriter(nil, checkpointMagic, checkpointVersion, checkpointLimits)
	for i, s := range c.checkpointStores() {
		schema := c.schema(s)
		w.Begin()
		w.Byte(entrySchema)
		w.Byte(byte(i))
		w.String(schema)
		w.End()
		if schema == "" {
			continue
		}
		s.each(func(sr *series) {
			w.Begin()
			w.Byte(entrySeries)
			w.Byte(byte(i))
			w.Bool(sr.labels == nil)
			if sr.labels != nil {
				w.Uvarint(uint64(len(sr.labels)))
				for _, l := range sr.labels {
					w.String(l)
				}
			}
			w.U64(uint64(sr.start))
			w.U64(uint64(sr.lastSeen))
			w.Uvarint(sr.count)
			if s.histogram != nil {
				w.F64(sr.sum)
				w.Uvarint(uint64(len(sr.buckets)))
				for _, n := range sr.buckets {
					w.Uvarint(n)
				}
			}
			if s == c.usage {
				w.Byte(sr.tokenSeen)
				for _, n := range sr.tokens {
					w.Uvarint(n)
				}
				w.Bool(sr.costSeen)
				w.F64(sr.cost)
			}
			w.End()
		})
	}
	return w.Bytes()
}

// decodeCheckpoint reads a version 2 checkpoint. A damaged entry, a series that does not decode
// or whose store's schema entry was lost is skipped and counted; the rest is restored.
func (c *spanMetricsConnector) decodeCheckpoint(buf []byte) ([]restored, int, error) {
	r, _, err := checkpoint.NewReader(buf, checkpointMagic, checkpointLimits)
	if err != nil {
		return nil, 0, err
	}
	stores := c.checkpointStores()
	all := make([]restored, len(stores))
	seen := make([]bool, len(stores))
	keep := make([]bool, len(stores))
	for i, s := range stores {
		all[i].s = s
	}
	for d, ok := r.Next(); ok; d, ok = r.Next() {
		kind, idx := d.Byte(), int(d.Byte())
		if d.Err() != nil || idx >= len(stores) {
			r.Skip()
			continue
		}
		s := stores[idx]
		switch kind {
		case entrySchema:
			schema := d.String()
			if d.Finish() != nil {
				r.Skip()
				continue
			}
			seen[idx] = true
			keep[idx] = schema != "" && schema == c.schema(s)
			if schema != "" && !keep[idx] {
				c.logger.Warn("Checkpointed series of another configuration are dropped (their counters restart)",
					zap.String("saved", schema), zap.String("current", c.schema(s)))
			}
		case entrySeries:
			if !seen[idx] {
				r.Skip() // its schema entry was damaged: the series cannot be trusted
				continue
			}
			if !keep[idx] {
				continue
			}
			sr := c.decodeSeries(d, s)
			if d.Finish() != nil {
				r.Skip()
				continue
			}
			all[idx].series = append(all[idx].series, sr)
		default:
			r.Skip()
		}
	}
	return all, r.Skipped, nil
}

// decodeSeries reads one series entry of s; the caller checks d.Finish.
func (c *spanMetricsConnector) decodeSeries(d *checkpoint.Decoder, s *store) *series {
	sr := &series{}
	if !d.Bool() {
		if d.Count(len(s.labelNames), 1) != len(s.labelNames) {
			d.Fail()
			return nil
		}
		sr.labels = make([]string, len(s.labelNames))
		for j := range sr.labels {
			sr.labels[j] = d.String()
		}
	}
	sr.start = pcommon.Timestamp(d.U64())
	sr.lastSeen = pcommon.Timestamp(d.U64())
	sr.count = d.Uvarint()
	if s.histogram != nil {
		sr.sum = d.F64()
		want := len(s.histogram.bounds) + 1
		if d.Count(want, 1) != want {
			d.Fail()
			return nil
		}
		sr.buckets = make([]uint64, want)
		for j := range sr.buckets {
			sr.buckets[j] = d.Uvarint()
		}
	}
	if s == c.usage {
		sr.tokenSeen = d.Byte()
		for j := range sr.tokens {
			sr.tokens[j] = d.Uvarint()
		}
		sr.costSeen = d.Bool()
		sr.cost = d.F64()
	}
	return sr
}

// applyRestored inserts the decoded series (past a store's limit they are dropped) and returns
// how many were restored.
func (c *spanMetricsConnector) applyRestored(all []restored) int {
	total := 0
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
	return total
}

// restore inserts a decoded series, rebuilding its attributes; past the limit it is dropped.
func (s *store) restore(kb *keyBuilder, in *series) bool {
	clear(s.recent[:]) // a restored series may replace one the cache holds
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
	// Every stream in a checkpoint was sent before it was written (a flush writes it after
	// building its payload): no 0 point goes before its next value.
	sr.shown = shownAll
	return true
}
