package slomath

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// BucketsPerWindow is the least number of buckets a window is read from: the bucket width of a
// window is at most 1/BucketsPerWindow of it, which bounds the bucketing error (see package doc).
const BucketsPerWindow = 60

// maxTierLen is how many buckets one tier may hold before a longer window gets a coarser tier of
// its own; it trades memory for fewer tiers to update per event.
const maxTierLen = 360

// niceWidths are the bucket widths a layout picks from: they divide the usual window lengths.
var niceWidths = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// Counts is a pair of event counters: all events and the bad ones.
type Counts struct {
	Total uint64
	Bad   uint64
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Total += o.Total
	c.Bad += o.Bad
}

// Good is the number of good events.
func (c Counts) Good() uint64 { return c.Total - c.Bad }

// Tier is one ring of equal-width buckets.
type Tier struct {
	Width time.Duration
	Len   int
}

// Layout says which tiers a ring keeps and which tier each window is read from. It is built once
// per SLO and shared by all of its series.
type Layout struct {
	Tiers   []Tier
	Windows []time.Duration // sorted ascending, unique
	tierOf  []int           // per window, the index of its tier
}

// MinWindow is the shortest window a layout accepts.
const MinWindow = time.Minute

// NewLayout picks tiers for the given windows: for each window the widest nice width that divides
// it and is at most 1/BucketsPerWindow of it; a window reuses the previous tier when that tier
// divides it and stays within maxTierLen buckets.
func NewLayout(windows []time.Duration) (*Layout, error) {
	if len(windows) == 0 {
		return nil, errors.New("no windows")
	}
	ws := slices.Clone(windows)
	slices.Sort(ws)
	ws = slices.Compact(ws)
	l := &Layout{Windows: ws, tierOf: make([]int, len(ws))}
	for i, w := range ws {
		if w < MinWindow || w%time.Second != 0 {
			return nil, fmt.Errorf("window %s: must be a whole number of seconds and at least %s", FormatWindow(w), MinWindow)
		}
		if n := len(l.Tiers); n > 0 {
			t := &l.Tiers[n-1]
			if w%t.Width == 0 && int(w/t.Width) <= maxTierLen {
				t.Len = max(t.Len, int(w/t.Width))
				l.tierOf[i] = n - 1
				continue
			}
		}
		var width time.Duration
		for _, b := range niceWidths {
			if b*BucketsPerWindow <= w && w%b == 0 {
				width = b
			}
		}
		if width == 0 {
			width = time.Second // every window is a multiple of 1s and ≥ 60s
		}
		l.Tiers = append(l.Tiers, Tier{Width: width, Len: int(w / width)})
		l.tierOf[i] = len(l.Tiers) - 1
	}
	return l, nil
}

// WindowIndex returns the index of w in l.Windows, or -1.
func (l *Layout) WindowIndex(w time.Duration) int {
	i, ok := slices.BinarySearch(l.Windows, w)
	if !ok {
		return -1
	}
	return i
}

// BucketWidth is the bucket width window i is read from.
func (l *Layout) BucketWidth(i int) time.Duration { return l.Tiers[l.tierOf[i]].Width }

// Buckets is the number of buckets a ring of this layout holds.
func (l *Layout) Buckets() int {
	n := 0
	for _, t := range l.Tiers {
		n += t.Len
	}
	return n
}

// Ring is the rolling state of one SLO series: one ring of buckets per tier of its layout.
// Not safe for concurrent use.
type Ring struct {
	layout *Layout
	tiers  []tierRing
}

type tierRing struct {
	width   int64
	head    int64 // bucket index (time/width) of the newest bucket written; minInt when empty
	headPos int   // head mod len
	headEnd int64 // end time (exclusive) of the head bucket
	buckets []Counts
}

const emptyHead = -1 << 62

// NewRing returns an empty ring for l. All its buckets are allocated here, so memory per series
// is fixed whatever the traffic.
func NewRing(l *Layout) *Ring {
	r := &Ring{layout: l, tiers: make([]tierRing, len(l.Tiers))}
	all := make([]Counts, l.Buckets())
	off := 0
	for i, t := range l.Tiers {
		r.tiers[i] = tierRing{width: int64(t.Width), head: emptyHead, headEnd: emptyHead, buckets: all[off : off+t.Len : off+t.Len]}
		off += t.Len
	}
	return r
}

// Layout returns the ring's layout.
func (r *Ring) Layout() *Layout { return r.layout }

// Add counts total events, bad of them bad, at time t (Unix ns). Events older than a tier's span
// are left out of that tier. It reports whether any tier took the events.
func (r *Ring) Add(t int64, c Counts) bool {
	took := false
	for i := range r.tiers {
		if r.tiers[i].add(t, c) {
			took = true
		}
	}
	return took
}

// AddTier counts c at time t in tier i only: history read at that tier's resolution (a
// bootstrap) must not land, as one lump, in the finer tiers.
func (r *Ring) AddTier(i int, t int64, c Counts) bool {
	if i < 0 || i >= len(r.tiers) || c.Total == 0 {
		return false
	}
	return r.tiers[i].add(t, c)
}

func (tr *tierRing) add(t int64, c Counts) bool {
	if t < tr.headEnd && t >= tr.headEnd-tr.width {
		b := &tr.buckets[tr.headPos]
		b.Total += c.Total
		b.Bad += c.Bad
		return true
	}
	if t < 0 {
		return false
	}
	idx := t / tr.width
	n := int64(len(tr.buckets))
	if idx > tr.head {
		if tr.head == emptyHead {
			// a new ring is all zeros already
		} else if idx-tr.head >= n {
			clear(tr.buckets)
		} else {
			for i := tr.head + 1; i <= idx; i++ {
				tr.buckets[i%n] = Counts{}
			}
		}
		tr.head = idx
		tr.headPos = int(idx % n)
		tr.headEnd = (idx + 1) * tr.width
	} else if idx <= tr.head-n {
		return false
	}
	b := &tr.buckets[idx%n]
	b.Total += c.Total
	b.Bad += c.Bad
	return true
}

// Sum returns the counts of window i of the layout at time now.
func (r *Ring) Sum(now int64, i int) Counts {
	tr := &r.tiers[r.layout.tierOf[i]]
	return tr.sum(now, int64(r.layout.Windows[i])/tr.width)
}

// SumAll writes the counts of every window of the layout at time now into out (len(out) must be
// len(Layout.Windows)).
func (r *Ring) SumAll(now int64, out []Counts) {
	for i := range r.layout.Windows {
		out[i] = r.Sum(now, i)
	}
}

func (tr *tierRing) sum(now int64, nb int64) Counts {
	var c Counts
	if tr.head == emptyHead || now < 0 {
		return c
	}
	n := int64(len(tr.buckets))
	cur := now / tr.width
	lo := max(cur-nb+1, tr.head-n+1)
	hi := min(cur, tr.head)
	for i := lo; i <= hi; i++ {
		b := tr.buckets[i%n]
		c.Total += b.Total
		c.Bad += b.Bad
	}
	return c
}

// FormatWindow writes a duration the way window labels show it: 30d, 6h, 5m, 90s, 1h30m.
func FormatWindow(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b []byte
	units := []struct {
		n time.Duration
		s byte
	}{{24 * time.Hour, 'd'}, {time.Hour, 'h'}, {time.Minute, 'm'}, {time.Second, 's'}}
	for _, u := range units {
		if d >= u.n {
			b = fmt.Appendf(b, "%d%c", d/u.n, u.s)
			d %= u.n
		}
	}
	if d > 0 {
		b = fmt.Appendf(b, "%dms", d/time.Millisecond)
	}
	return string(b)
}
