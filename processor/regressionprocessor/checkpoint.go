package regressionprocessor // import "github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-amas/otelcol-amas/internal/checkpoint"
)

// The checkpoint is one value under checkpointKey in the shared framing of internal/checkpoint
// (version 2): a header entry (written at, the two window lengths), one entry per operation
// (identity hash, label, warm-up start, both rings of slots with their sketches, alert states)
// in eviction-list order (restored in that order), and one entry per applied baseline-reset
// generation. Each entry has its own length and CRC-32C, so a damaged operation entry costs
// that operation only. It is written every checkpoint_interval from the tick and at shutdown,
// and read once at start. Version 1 (checkpoint_legacy.go) is still read.
const (
	checkpointKey     = "regression_baselines"
	checkpointMagic   = "AMRG"
	checkpointVersion = 2

	entryHeader  byte = 0
	entryOp      byte = 1
	entryApplied byte = 2
)

// checkpointLimits: an operation entry holds two rings of slots with a sketch of at most
// sketch.NumBins bins each, well under 1 MiB for any accepted window; labels and reset names
// are bounded by the string limit (a longer one is truncated when written, never refused).
var checkpointLimits = checkpoint.Limits{MaxEntry: 1 << 20, MaxString: 1 << 12}

var errCheckpointCorrupt = errors.New("checkpoint is corrupt")

// encodeLocked serialises the tracker. Called with p.mu held.
func (p *regressionProcessor) encodeLocked(now time.Time) []byte {
	tr := p.tr
	w := checkpoint.NewWriter(p.checkpointBuf, checkpointMagic, checkpointVersion, checkpointLimits)
	w.Begin()
	w.Byte(entryHeader)
	w.Varint(now.UnixNano())
	w.Uvarint(uint64(tr.curDur))
	w.Uvarint(uint64(tr.baseDur))
	w.End()
	for op := tr.head; op != nil; op = op.next {
		w.Begin()
		w.Byte(entryOp)
		w.Uvarint(op.hash)
		w.String(op.label)
		w.Varint(op.firstSeen)
		w.Varint(op.lastEpoch)
		for i := range op.cur {
			writeSlot(w, &op.cur[i])
		}
		for i := range op.base {
			writeSlot(w, &op.base[i])
		}
		for k := range op.alerts {
			a := &op.alerts[k]
			w.Byte(byte(a.phase))
			w.Uvarint(uint64(a.breaches))
			w.Uvarint(uint64(a.oks))
			w.Varint(a.activeSince)
			w.Varint(a.firingSince)
			w.Varint(a.resolvedAt)
		}
		w.End()
	}
	names := make([]string, 0, len(tr.applied))
	for op := range tr.applied {
		names = append(names, op)
	}
	sort.Strings(names) // a stable encoding: the same state writes the same bytes
	for _, op := range names {
		w.Begin()
		w.Byte(entryApplied)
		w.String(op)
		w.Varint(tr.applied[op])
		w.End()
	}
	b := w.Bytes()
	p.checkpointBuf = b
	// The storage client may keep the slice; hand it a copy so the buffer can be reused.
	return append([]byte(nil), b...)
}

func writeSlot(w *checkpoint.Writer, s *slot) {
	w.Varint(s.epoch)
	w.Uvarint(s.errors)
	w.Uvarint(s.costN)
	w.F64(s.costSum)
	w.Append(s.lat.AppendBinary)
}

func readSlot(d *checkpoint.Decoder, s *slot) {
	s.epoch = d.Varint()
	s.errors = d.Uvarint()
	s.costN = d.Uvarint()
	s.costSum = d.F64()
	if d.Err() != nil {
		return
	}
	rest, err := s.lat.Decode(d.Rest())
	if err != nil {
		d.Fail()
		return
	}
	d.Unread(rest)
	if s.epoch == noEpoch && (s.lat.Count() != 0 || s.costN != 0 || s.errors != 0) {
		d.Fail()
	}
}

// decodeCheckpoint rebuilds a tracker from b and says how many entries it skipped. A damaged
// or inconsistent operation entry is skipped; a checkpoint without a readable header, or
// written with other window settings, fails as a whole.
func decodeCheckpoint(cfg *Config, b []byte) (*tracker, int, error) {
	v, err := checkpoint.Version(b, checkpointMagic)
	switch {
	case err != nil:
		return nil, 0, errCheckpointCorrupt
	case v == 1:
		tr, err := decodeLegacy(cfg, b)
		return tr, 0, err
	case v != checkpointVersion:
		return nil, 0, fmt.Errorf("checkpoint version %d is not supported", v)
	}
	r, _, err := checkpoint.NewReader(b, checkpointMagic, checkpointLimits)
	if err != nil {
		return nil, 0, err
	}
	tr := newTracker(cfg)
	header := false
	for d, ok := r.Next(); ok; d, ok = r.Next() {
		kind := d.Byte()
		if !header && kind != entryHeader {
			return nil, r.Skipped, errors.New("checkpoint header is damaged")
		}
		switch kind {
		case entryHeader:
			_ = d.Varint() // written at
			curDur, baseDur := d.Uvarint(), d.Uvarint()
			if d.Finish() != nil || header {
				return nil, r.Skipped, errCheckpointCorrupt
			}
			if int64(curDur) != tr.curDur || int64(baseDur) != tr.baseDur {
				return nil, r.Skipped, errors.New("checkpoint was written with other current_window/baseline_window settings")
			}
			header = true
		case entryOp:
			op := readOperation(d)
			if d.Finish() != nil {
				r.Skip()
				continue
			}
			if _, dup := tr.ops[op.hash]; dup {
				r.Skip()
				continue
			}
			if len(tr.ops) >= cfg.MaxOperations {
				continue // max_operations shrank: keep the most recently seen
			}
			tr.refreshFlags(op)
			tr.ops[op.hash] = op
			tr.pushBack(op)
		case entryApplied:
			name, gen := d.String(), d.Varint()
			if d.Finish() != nil {
				r.Skip()
				continue
			}
			tr.applied[name] = gen
		default:
			r.Skip()
		}
	}
	if !header {
		return nil, r.Skipped, errors.New("checkpoint header is missing")
	}
	return tr, r.Skipped, nil
}

// readOperation reads one operation entry; the caller checks d.Finish.
func readOperation(d *checkpoint.Decoder) *operation {
	hash := d.Uvarint()
	label := d.String()
	op := new(operation)
	op.init(hash, label, d.Varint())
	op.lastEpoch = d.Varint()
	for j := range op.cur {
		readSlot(d, &op.cur[j])
	}
	for j := range op.base {
		readSlot(d, &op.base[j])
	}
	for k := range op.alerts {
		a := &op.alerts[k]
		a.phase = phase(d.Byte())
		a.breaches = int32(min(d.Uvarint(), math.MaxInt32))
		a.oks = int32(min(d.Uvarint(), math.MaxInt32))
		a.activeSince = d.Varint()
		a.firingSince = d.Varint()
		a.resolvedAt = d.Varint()
		if a.phase > phaseResolved {
			d.Fail()
		}
	}
	return op
}

// restore loads the checkpoint; a missing or unusable one means a fresh start, with a log line.
func (p *regressionProcessor) restore(ctx context.Context) {
	b, err := p.client.Get(ctx, checkpointKey)
	switch {
	case err != nil:
		p.tel.checkpoint.Add(ctx, 1, p.tel.checkpointFailed)
		p.logger.Warn("Cannot read the regression checkpoint; starting with fresh baselines", zap.Error(err))
		return
	case b == nil:
		p.logger.Info("No regression checkpoint found; starting with fresh baselines", zap.String("storage", p.cfg.Storage.String()))
		return
	}
	tr, skipped, err := decodeCheckpoint(p.cfg, b)
	if err != nil {
		p.tel.checkpoint.Add(ctx, 1, p.tel.checkpointDiscarded)
		p.logger.Warn("Discarding the regression checkpoint; starting with fresh baselines", zap.Error(err), zap.Int("bytes", len(b)))
		return
	}
	p.mu.Lock()
	p.tr, p.restored = tr, true
	p.mu.Unlock()
	if skipped > 0 {
		p.tel.checkpoint.Add(ctx, int64(skipped), p.tel.checkpointEntrySkipped)
		p.logger.Warn("Skipped damaged entries of the regression checkpoint; their operations learn a fresh baseline (the rest is restored)",
			zap.Int("skipped_entries", skipped))
	}
	p.tel.checkpoint.Add(ctx, 1, p.tel.checkpointRestored)
	p.logger.Info("Restored regression baselines from the checkpoint", zap.Int("operations", len(tr.ops)), zap.Int("bytes", len(b)))
}

func (p *regressionProcessor) save(ctx context.Context, b []byte) error {
	if err := p.client.Set(ctx, checkpointKey, b); err != nil {
		p.tel.checkpoint.Add(ctx, 1, p.tel.checkpointFailed)
		p.logger.Warn("Cannot write the regression checkpoint", zap.Error(err))
		return err
	}
	p.tel.checkpoint.Add(ctx, 1, p.tel.checkpointSaved)
	return nil
}
