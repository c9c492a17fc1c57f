package regressionprocessor // import "github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor"

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/bits"

	"github.com/otelcol-amas/otelcol-amas/internal/checkpoint"
)

// Version 1 of the checkpoint, written before internal/checkpoint: magic, version, the tracker
// as one body, and a CRC-32 (IEEE, big endian) of all of it. It is still read (a checkpoint
// written by an older release restores) and never written. Its fields are the shared codec's
// varints and length-prefixed strings, so the shared Decoder reads them; only a slot's cost sum
// was written big endian.

func legacySlot(d *checkpoint.Decoder, s *slot) {
	s.epoch = d.Varint()
	s.errors = d.Uvarint()
	s.costN = d.Uvarint()
	s.costSum = math.Float64frombits(bits.ReverseBytes64(d.U64()))
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
	// Version 1 bounded no string: any length the checkpoint can hold is accepted.
	d := checkpoint.NewDecoder(body[len(checkpointMagic)+1:], len(body))
	tr := newTracker(cfg)
	_ = d.Varint() // written at
	curDur, baseDur := d.Uvarint(), d.Uvarint()
	if d.Err() == nil && (int64(curDur) != tr.curDur || int64(baseDur) != tr.baseDur) {
		return nil, errors.New("checkpoint was written with other current_window/baseline_window settings")
	}
	n := d.Uvarint()
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		hash := d.Uvarint()
		label := d.String()
		op := new(operation)
		op.init(hash, label, d.Varint())
		op.lastEpoch = d.Varint()
		for j := range op.cur {
			legacySlot(d, &op.cur[j])
		}
		for j := range op.base {
			legacySlot(d, &op.base[j])
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
		if d.Err() != nil {
			break
		}
		if _, dup := tr.ops[op.hash]; dup {
			d.Fail()
			break
		}
		if len(tr.ops) >= cfg.MaxOperations {
			continue // max_operations shrank: keep the most recently seen
		}
		tr.refreshFlags(op)
		tr.ops[op.hash] = op
		tr.pushBack(op)
	}
	na := d.Uvarint()
	for i := uint64(0); i < na && d.Err() == nil; i++ {
		op := d.String()
		tr.applied[op] = d.Varint()
	}
	if d.Finish() != nil {
		return nil, errCheckpointCorrupt
	}
	return tr, nil
}
