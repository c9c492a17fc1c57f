package slomath

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// checkpointVersion is bumped whenever the encoding changes; an unknown version is refused (and
// the series starts fresh) rather than misread. Version 2 writes each run of empty buckets as one
// count (a quiet group's 30-day ring is mostly empty: ~2 KiB in version 1, tens of bytes in 2);
// version 1 checkpoints are still read, so an upgrade loses no budget. Version 3 adds Series.Since
// (when a timeslices series began); a version 1 or 2 checkpoint reads with Since 1 ("long ago").
//
// Version 4 adds the series' last restart times (no-data) after Since; versions 1 to 3 are still
// read (with no restart remembered).
const (
	checkpointVersion   = 4
	checkpointVersionV2 = 2
	checkpointVersionV1 = 1
)

// ErrCheckpointFormat is returned for a checkpoint of another version or layout.
var ErrCheckpointFormat = errors.New("checkpoint written by another version or layout")

// AppendBinary appends the state of s to b: version, layout (to refuse a ring of another shape),
// ring, open slice, alerts and violation counters, as varints.
// Pending events are moved into the ring first.
func (m *Model) AppendBinary(b []byte, s *Series) []byte {
	return m.appendBinary(b, s, checkpointVersion)
}

func (m *Model) appendBinary(b []byte, s *Series, version byte) []byte {
	s.flushPending()
	b = append(b, version)
	b = binary.AppendUvarint(b, uint64(len(m.Layout.Tiers)))
	for i, t := range m.Layout.Tiers {
		b = binary.AppendVarint(b, int64(t.Width))
		b = binary.AppendUvarint(b, uint64(t.Len))
		tr := &s.Ring.tiers[i]
		b = binary.AppendVarint(b, tr.head)
		if version == checkpointVersionV1 {
			for _, c := range tr.buckets {
				b = binary.AppendUvarint(b, c.Total)
				b = binary.AppendUvarint(b, c.Bad)
			}
			continue
		}
		// Version 2: (run of empty buckets, then one bucket unless the run reached the end)…
		for j := 0; j < len(tr.buckets); {
			z := j
			for z < len(tr.buckets) && tr.buckets[z] == (Counts{}) {
				z++
			}
			b = binary.AppendUvarint(b, uint64(z-j))
			j = z
			if j < len(tr.buckets) {
				b = binary.AppendUvarint(b, tr.buckets[j].Total)
				b = binary.AppendUvarint(b, tr.buckets[j].Bad)
				j++
			}
		}
	}
	b = binary.AppendVarint(b, s.slice.start)
	b = appendBool(b, s.slice.open)
	b = binary.AppendUvarint(b, s.slice.total)
	b = binary.AppendUvarint(b, s.slice.bad)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.slice.num))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.slice.den))
	b = binary.AppendVarint(b, s.LastEvent)
	b = appendBool(b, s.HadData)
	b = binary.AppendUvarint(b, uint64(len(s.Alerts)))
	for i, a := range s.Alerts {
		b = append(b, byte(a.Phase))
		b = binary.AppendVarint(b, a.ActiveSince)
		b = binary.AppendVarint(b, a.ResolvedAt)
		b = binary.AppendUvarint(b, s.Violations[i])
	}
	if version >= 3 {
		b = binary.AppendVarint(b, s.Since)
	}
	if version >= 4 {
		for _, r := range s.resumes {
			b = binary.AppendVarint(b, r)
		}
	}
	return b
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated or corrupt checkpoint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated or corrupt checkpoint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errors.New("truncated checkpoint")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) float() float64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.err = errors.New("truncated checkpoint")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

// DecodeSeries reads a series written by AppendBinary for this model. It returns
// ErrCheckpointFormat (wrapped) for another version or layout, another error for corrupt data;
// it never panics.
func (m *Model) DecodeSeries(data []byte) (*Series, error) {
	r := &reader{b: data}
	version := r.byte()
	if r.err == nil && (version < checkpointVersionV1 || version > checkpointVersion) {
		return nil, fmt.Errorf("%w: version %d, want %d to %d", ErrCheckpointFormat, version, checkpointVersionV1, checkpointVersion)
	}
	s := m.NewSeries()
	if n := r.uvarint(); r.err == nil && n != uint64(len(m.Layout.Tiers)) {
		return nil, fmt.Errorf("%w: %d tiers, want %d", ErrCheckpointFormat, n, len(m.Layout.Tiers))
	}
	for i, t := range m.Layout.Tiers {
		w, l := r.varint(), r.uvarint()
		if r.err != nil {
			return nil, r.err
		}
		if w != int64(t.Width) || l != uint64(t.Len) {
			return nil, fmt.Errorf("%w: tier %d is %dns×%d, want %s×%d", ErrCheckpointFormat, i, w, l, t.Width, t.Len)
		}
		tr := &s.Ring.tiers[i]
		tr.head = r.varint()
		for j := 0; j < len(tr.buckets) && r.err == nil; {
			if version >= checkpointVersionV2 {
				z := r.uvarint()
				if z > uint64(len(tr.buckets)-j) {
					return nil, errors.New("corrupt checkpoint: run of empty buckets past the tier")
				}
				j += int(z) // NewSeries' buckets are empty already
				if j == len(tr.buckets) {
					break
				}
			}
			tr.buckets[j].Total = r.uvarint()
			tr.buckets[j].Bad = r.uvarint()
			if tr.buckets[j].Bad > tr.buckets[j].Total {
				return nil, errors.New("corrupt checkpoint: bad count above total")
			}
			j++
		}
		if tr.head != emptyHead {
			if tr.head < 0 {
				return nil, errors.New("corrupt checkpoint: negative bucket index")
			}
			n := int64(len(tr.buckets))
			tr.headPos = int(tr.head % n)
			tr.headEnd = (tr.head + 1) * tr.width
		}
	}
	s.slice.start = r.varint()
	s.slice.open = r.byte() == 1
	s.slice.total = r.uvarint()
	s.slice.bad = r.uvarint()
	s.slice.num = r.float()
	s.slice.den = r.float()
	s.LastEvent = r.varint()
	s.HadData = r.byte() == 1
	if n := r.uvarint(); r.err == nil && n != uint64(len(s.Alerts)) {
		return nil, fmt.Errorf("%w: %d alerts, want %d", ErrCheckpointFormat, n, len(s.Alerts))
	}
	for i := range s.Alerts {
		p := AlertPhase(r.byte())
		if p > Resolved {
			return nil, errors.New("corrupt checkpoint: unknown alert phase")
		}
		s.Alerts[i] = Alert{Phase: p, ActiveSince: r.varint(), ResolvedAt: r.varint()}
		s.Violations[i] = r.uvarint()
	}
	switch {
	case version >= 3:
		s.Since = r.varint()
	case s.HadData:
		s.Since = 1 // written before Since was kept: count every window as elapsed
	}
	if version >= 4 {
		for i := range s.resumes {
			s.resumes[i] = r.varint()
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, errors.New("corrupt checkpoint: trailing bytes")
	}
	return s, nil
}
