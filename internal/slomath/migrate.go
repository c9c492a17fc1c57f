package slomath

import (
	"errors"
	"fmt"
	"slices"
)

// MigrateSeries reads a series that AppendBinary wrote for another model of the same SLO — other
// windows or rules, so another ring layout or another number of alert slots — into a series of m.
// It is for a definition change that keeps the meaning of the counts (an objective, a window or
// the rules changed; the events and what makes one bad did not): the caller decides that.
//
// The counts are re-bucketed: each stretch of time is taken from the finest old tier that still
// covers it (for a coarse bucket partly covered by a finer tier, the finer tier's events are
// taken out of it) and added to every new tier at the start of its old bucket. So no event is
// counted twice, and an event moves by less than the width of the old bucket it was read from:
// exact for the windows the old layout kept at the same or a finer width, otherwise within one
// old bucket at the window's old edge (the bucketing error of the package doc, at the old width).
// The open slice, the last event time and the data flag are kept; the alert states and
// violation counters are kept when the number of alert slots is unchanged, else they start over
// (keepAlerts reports which).
func (m *Model) MigrateSeries(data []byte) (s *Series, keepAlerts bool, err error) {
	r := &reader{b: data}
	version := r.byte()
	if r.err == nil && (version < checkpointVersionV1 || version > checkpointVersion) {
		return nil, false, fmt.Errorf("%w: version %d, want %d to %d", ErrCheckpointFormat, version, checkpointVersionV1, checkpointVersion)
	}
	type oldTier struct {
		width, head int64
		buckets     []Counts
	}
	nt := r.uvarint()
	if r.err == nil && nt > 16 {
		return nil, false, errors.New("corrupt checkpoint: too many tiers")
	}
	var tiers []oldTier
	for range nt {
		w, l := r.varint(), r.uvarint()
		if r.err != nil {
			return nil, false, r.err
		}
		if w <= 0 || l == 0 || l > 1<<14 {
			return nil, false, errors.New("corrupt checkpoint: bad tier shape")
		}
		t := oldTier{width: w, head: r.varint(), buckets: make([]Counts, l)}
		for j := 0; j < len(t.buckets) && r.err == nil; {
			if version >= checkpointVersionV2 {
				z := r.uvarint()
				if z > uint64(len(t.buckets)-j) {
					return nil, false, errors.New("corrupt checkpoint: run of empty buckets past the tier")
				}
				j += int(z)
				if j == len(t.buckets) {
					break
				}
			}
			t.buckets[j].Total = r.uvarint()
			t.buckets[j].Bad = r.uvarint()
			if t.buckets[j].Bad > t.buckets[j].Total {
				return nil, false, errors.New("corrupt checkpoint: bad count above total")
			}
			j++
		}
		if t.head != emptyHead && t.head < 0 {
			return nil, false, errors.New("corrupt checkpoint: negative bucket index")
		}
		tiers = append(tiers, t)
	}
	s = m.NewSeries()
	s.slice.start = r.varint()
	s.slice.open = r.byte() == 1
	s.slice.total = r.uvarint()
	s.slice.bad = r.uvarint()
	s.slice.num = r.float()
	s.slice.den = r.float()
	s.LastEvent = r.varint()
	s.HadData = r.byte() == 1
	na := r.uvarint()
	if r.err == nil && na > uint64(len(r.b)) {
		return nil, false, errors.New("corrupt checkpoint: too many alerts")
	}
	alerts := make([]Alert, na)
	violations := make([]uint64, na)
	for i := range alerts {
		p := AlertPhase(r.byte())
		if p > Resolved {
			return nil, false, errors.New("corrupt checkpoint: unknown alert phase")
		}
		alerts[i] = Alert{Phase: p, ActiveSince: r.varint(), ResolvedAt: r.varint()}
		violations[i] = r.uvarint()
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
		return nil, false, r.err
	}
	if len(r.b) != 0 {
		return nil, false, errors.New("corrupt checkpoint: trailing bytes")
	}
	if m.Timeslices == nil || (s.slice.open && s.slice.start%int64(m.Timeslices.Slice) != 0) {
		s.slice = sliceAcc{} // no slices, or slices of another length: the open one cannot carry over
	}
	if keepAlerts = len(alerts) == len(s.Alerts); keepAlerts {
		copy(s.Alerts, alerts)
		copy(s.Violations, violations)
	}

	// Re-bucket, finest tier first (a layout's tiers widen with the windows).
	type chunk struct {
		start int64
		c     Counts
	}
	var chunks []chunk
	covered := int64(1<<63 - 1) // the finer tiers hold everything from here on
	slices.SortStableFunc(tiers, func(a, b oldTier) int { return int(min(max(a.width-b.width, -1), 1)) })
	for _, t := range tiers {
		if t.head == emptyHead {
			continue
		}
		n := int64(len(t.buckets))
		lowest := max(t.head-n+1, 0)
		for idx := t.head; idx >= lowest; idx-- {
			b := t.buckets[idx%n]
			start, end := idx*t.width, (idx+1)*t.width
			if b.Total == 0 || start >= covered {
				continue
			}
			if end > covered { // partly covered: take the finer tiers' events out
				for _, ch := range chunks {
					if ch.start >= start && ch.start < end {
						b.Total -= min(b.Total, ch.c.Total)
						b.Bad -= min(b.Bad, ch.c.Bad)
					}
				}
				b.Bad = min(b.Bad, b.Total)
				if b.Total == 0 {
					continue
				}
			}
			chunks = append(chunks, chunk{start, b})
		}
		covered = min(covered, lowest*t.width)
	}
	slices.SortFunc(chunks, func(a, b chunk) int { return int(min(max(a.start-b.start, -1), 1)) })
	for _, ch := range chunks {
		s.Ring.Add(ch.start, ch.c)
	}
	return s, keepAlerts, nil
}
