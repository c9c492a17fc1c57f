package regressionprocessor // import "github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor"

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"time"

	"go.uber.org/zap"
)

// The checkpoint is one value under checkpointKey: a versioned binary encoding of every
// operation (identity hash, label, warm-up start, both rings of slots with their sketches, alert states) in
// eviction-list order (restored in that order), the applied baseline-reset generations, and a CRC-32 of all of it. It is written
// every checkpoint_interval from the tick and at shutdown, and read once at start.
const (
	checkpointKey     = "regression_baselines"
	checkpointMagic   = "AMRG"
	checkpointVersion = 1
)

var errCheckpointCorrupt = errors.New("checkpoint is corrupt")

// encodeLocked serialises the tracker. Called with p.mu held.
func (p *regressionProcessor) encodeLocked(now time.Time) []byte {
	tr := p.tr
	b := p.checkpointBuf[:0]
	b = append(b, checkpointMagic...)
	b = append(b, checkpointVersion)
	b = binary.AppendVarint(b, now.UnixNano())
	b = binary.AppendUvarint(b, uint64(tr.curDur))
	b = binary.AppendUvarint(b, uint64(tr.baseDur))
	b = binary.AppendUvarint(b, uint64(len(tr.ops)))
	for op := tr.head; op != nil; op = op.next {
		b = binary.AppendUvarint(b, op.hash)
		b = binary.AppendUvarint(b, uint64(len(op.label)))
		b = append(b, op.label...)
		b = binary.AppendVarint(b, op.firstSeen)
		b = binary.AppendVarint(b, op.lastEpoch)
		for i := range op.cur {
			b = appendSlot(b, &op.cur[i])
		}
		for i := range op.base {
			b = appendSlot(b, &op.base[i])
		}
		for k := range op.alerts {
			a := &op.alerts[k]
			b = append(b, byte(a.phase))
			b = binary.AppendUvarint(b, uint64(a.breaches))
			b = binary.AppendUvarint(b, uint64(a.oks))
			b = binary.AppendVarint(b, a.activeSince)
			b = binary.AppendVarint(b, a.firingSince)
			b = binary.AppendVarint(b, a.resolvedAt)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(tr.applied)))
	for op, gen := range tr.applied {
		b = binary.AppendUvarint(b, uint64(len(op)))
		b = append(b, op...)
		b = binary.AppendVarint(b, gen)
	}
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	p.checkpointBuf = b
	// The storage client may keep the slice; hand it a copy so the buffer can be reused.
	return append([]byte(nil), b...)
}

func appendSlot(b []byte, s *slot) []byte {
	b = binary.AppendVarint(b, s.epoch)
	b = binary.AppendUvarint(b, s.errors)
	b = binary.AppendUvarint(b, s.costN)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(s.costSum))
	return s.lat.AppendBinary(b)
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCheckpointCorrupt
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if uint64(len(d.b)) < n {
		d.fail()
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) slot(s *slot) {
	s.epoch = d.varint()
	s.errors = d.uvarint()
	s.costN = d.uvarint()
	if raw := d.bytes(8); raw != nil {
		s.costSum = math.Float64frombits(binary.BigEndian.Uint64(raw))
	}
	if d.err != nil {
		return
	}
	rest, err := s.lat.Decode(d.b)
	if err != nil {
		d.fail()
		return
	}
	d.b = rest
	if s.epoch == noEpoch && (s.lat.Count() != 0 || s.costN != 0 || s.errors != 0) {
		d.fail()
	}
}

// decodeCheckpoint rebuilds a tracker from b. Any inconsistency fails the whole checkpoint.
func decodeCheckpoint(cfg *Config, b []byte) (*tracker, error) {
	if len(b) < len(checkpointMagic)+1+4 || string(b[:len(checkpointMagic)]) != checkpointMagic {
		return nil, errCheckpointCorrupt
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, errors.New("checkpoint checksum mismatch")
	}
	if v := body[len(checkpointMagic)]; v != checkpointVersion {
		return nil, errors.New("checkpoint version is not supported")
	}
	d := &decoder{b: body[len(checkpointMagic)+1:]}
	tr := newTracker(cfg)
	_ = d.varint() // written at
	curDur, baseDur := d.uvarint(), d.uvarint()
	if d.err == nil && (int64(curDur) != tr.curDur || int64(baseDur) != tr.baseDur) {
		return nil, errors.New("checkpoint was written with other current_window/baseline_window settings")
	}
	n := d.uvarint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		hash := d.uvarint()
		label := string(d.bytes(d.uvarint()))
		op := new(operation)
		op.init(hash, label, d.varint())
		op.lastEpoch = d.varint()
		for j := range op.cur {
			d.slot(&op.cur[j])
		}
		for j := range op.base {
			d.slot(&op.base[j])
		}
		for k := range op.alerts {
			a := &op.alerts[k]
			if raw := d.bytes(1); raw != nil {
				a.phase = phase(raw[0])
			}
			a.breaches = int32(min(d.uvarint(), math.MaxInt32))
			a.oks = int32(min(d.uvarint(), math.MaxInt32))
			a.activeSince = d.varint()
			a.firingSince = d.varint()
			a.resolvedAt = d.varint()
			if a.phase > phaseResolved {
				d.fail()
			}
		}
		if d.err != nil {
			break
		}
		if _, dup := tr.ops[op.hash]; dup {
			d.fail()
			break
		}
		if len(tr.ops) >= cfg.MaxOperations {
			continue // max_operations shrank: keep the most recently seen
		}
		tr.refreshFlags(op)
		tr.ops[op.hash] = op
		tr.pushBack(op)
	}
	na := d.uvarint()
	for i := uint64(0); i < na && d.err == nil; i++ {
		op := string(d.bytes(d.uvarint()))
		tr.applied[op] = d.varint()
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return nil, d.err
	}
	return tr, nil
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
	tr, err := decodeCheckpoint(p.cfg, b)
	if err != nil {
		p.tel.checkpoint.Add(ctx, 1, p.tel.checkpointDiscarded)
		p.logger.Warn("Discarding the regression checkpoint; starting with fresh baselines", zap.Error(err), zap.Int("bytes", len(b)))
		return
	}
	p.mu.Lock()
	p.tr = tr
	p.mu.Unlock()
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
