package regressionprocessor // import "github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor"

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
)

// Version 1 of the checkpoint, written before internal/checkpoint: magic, version, the tracker
// as one body, and a CRC-32 (IEEE, big endian) of all of it. It is still read (a checkpoint
// written by an older release restores) and never written.

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

// decodeLegacy rebuilds a tracker from a version 1 checkpoint. Any inconsistency fails the
// whole checkpoint (its one CRC covers all of it).
func decodeLegacy(cfg *Config, b []byte) (*tracker, error) {
	if len(b) < len(checkpointMagic)+1+4 || string(b[:len(checkpointMagic)]) != checkpointMagic {
		return nil, errCheckpointCorrupt
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, errors.New("checkpoint checksum mismatch")
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
