package spanmetrics // import "github.com/otelcol-amas/otelcol-amas/connector/spanmetrics"

import (
	"encoding/binary"
	"hash/maphash"
	"sort"
	"strings"

	"github.com/lightstep/go-expohisto/structure"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// seriesKey is a 128-bit hash of a series' label values (two independently seeded maphashes).
type seriesKey [2]uint64

var (
	keySeed1 = maphash.MakeSeed()
	keySeed2 = maphash.MakeSeed()
)

// keyBuilder hashes label values through one reused buffer: no allocation per span.
type keyBuilder struct {
	buf []byte
	sib []string // scratch label values of a sibling series
}

func (k *keyBuilder) key(vals []string) seriesKey {
	b := k.buf[:0]
	for _, v := range vals {
		// Length-prefixed, so ("ab","c") and ("a","bc") never collide by construction.
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	k.buf = b
	return seriesKey{maphash.Bytes(keySeed1, b), maphash.Bytes(keySeed2, b)}
}

const numTokenTypes = 5

// tokenTypeNames are the token_type label values, in the order of tokenAttrs.
var tokenTypeNames = [numTokenTypes]string{"input", "output", "cache_read", "cache_creation", "reasoning"}

type exemplar struct {
	traceID pcommon.TraceID
	spanID  pcommon.SpanID
	value   float64
	ts      pcommon.Timestamp
	fresh   bool // recorded since the last flush
}

// series is one aggregated label set. One struct serves every store; a store uses only its part
// (requests: count + histogram; usage: tokens + cost; others: count).
type series struct {
	labels   []string // label values in the store's label order; nil for the overflow series
	attrs    pcommon.Map
	start    pcommon.Timestamp
	lastSeen pcommon.Timestamp
	updated  bool // since the last flush (delta temporality emits only updated series)
	sib      siblingState

	count uint64

	sum       float64
	buckets   []uint64
	expo      *structure.Histogram[float64]
	exemplars []exemplar
	// exMin is 1 + the index of the fastest exemplar while the reservoir is full and every
	// exemplar in it is fresh; 0 when that is not known (addExemplar's full scan finds out).
	exMin int32

	tokens    [numTokenTypes]uint64
	tokenSeen uint8
	tokAttrs  [numTokenTypes]pcommon.Map // attrs + token_type, built on first use
	cost      float64
	costSeen  bool
	// shown has a bit per stream of the series that has been sent: 1<<t for token type t,
	// shownCost, shownCount, shownHistogram (see zeroPoint).
	shown uint8
}

// Bits of series.shown above the token types'.
const (
	shownCost      uint8 = 1 << 5
	shownHistogram uint8 = 1 << 6
	shownCount     uint8 = 1 << 7
	// shownAll: every stream a series can have, as after a restart.
	shownAll uint8 = 0xff
)

// store holds the series of one metric family, bounded by limit plus one overflow series.
type store struct {
	labelNames []string
	fixed      int // the first fixed labels are always set; empty extra dimensions are omitted
	series     map[seriesKey]*series
	overflow   *series
	limit      int
	histogram  *histogramShape // nil for counters
	exemplars  int
	// statusIdx is the index of the status label (ok/error) in the label values, or -1. A store
	// with a status label emits every series beside its sibling of the other status (addSibling);
	// zeroSiblings counts the siblings that are emitted at 0 without a series of their own.
	statusIdx    int
	zeroSiblings int
	// recent remembers series by their label values, direct-mapped by recentSlot: the spans of a
	// batch repeat a few (agent, operation, status) combinations, and comparing the values is
	// cheaper than hashing them and probing the map. Every entry is a series of the map; expire
	// and restore, which remove or replace series, clear it. With many series in rotation it
	// would miss and cost more than it saves, so it watches its hit rate (recentUse).
	recent [64]*series
	rc     recentUse
}

// recentUse turns store.recent off for a while when fewer than half of the lookups of the last
// period hit it, and tries again after recentOff lookups.
type recentUse struct {
	lookups, hits uint32
	off           uint32 // lookups left with the cache off
}

const (
	recentPeriod = 1024
	recentOff    = 64 * 1024
)

// use reports whether this lookup goes through the cache.
func (u *recentUse) use() bool {
	if u.off > 0 {
		u.off--
		return false
	}
	u.lookups++
	if u.lookups == recentPeriod {
		if 2*u.hits < u.lookups {
			u.off = recentOff
		}
		u.lookups, u.hits = 0, 0
	}
	return true
}

type histogramShape struct {
	bounds      []float64 // explicit bounds in seconds; nil when exponential
	zeros       []uint64  // len(bounds)+1 zero bucket counts, for zero siblings
	expoMaxSize int32
}

func newStore(labelNames []string, fixed, limit int, h *histogramShape, exemplars int) *store {
	s := &store{labelNames: labelNames, fixed: fixed, series: make(map[seriesKey]*series), limit: limit, histogram: h, exemplars: exemplars, statusIdx: -1}
	for i, n := range labelNames[:fixed] {
		if n == labelStatus {
			s.statusIdx = i
		}
	}
	return s
}

// get returns the series of vals, creating it (or routing to the overflow series past the limit).
// overflowed reports that the data lands in the overflow series.
func (s *store) get(kb *keyBuilder, vals []string, now pcommon.Timestamp) (sr *series, overflowed bool) {
	slot := -1
	if s.rc.use() {
		slot = recentSlot(vals)
		if sr = s.recent[slot]; sr != nil && sameLabels(sr.labels, vals) {
			s.rc.hits++
			sr.lastSeen = now
			sr.updated = true
			return sr, false
		}
	}
	k := kb.key(vals)
	if sr = s.series[k]; sr != nil {
		sr.lastSeen = now
		sr.updated = true
		if slot >= 0 {
			s.recent[slot] = sr
		}
		return sr, false
	}
	// A series whose zero sibling is being emitted already holds its slot of the limit.
	var partner *series
	if s.zeroSiblings > 0 {
		if p := s.siblingOf(kb, vals); p != nil && p.sib == sibZero {
			partner = p
		}
	}
	if partner == nil && s.slots() >= s.limit {
		if s.overflow == nil {
			attrs := pcommon.NewMap()
			attrs.PutBool(overflowKey, true)
			s.overflow = s.newSeries(nil, attrs, now)
		}
		s.overflow.lastSeen = now
		s.overflow.updated = true
		return s.overflow, true
	}
	labels := make([]string, len(vals))
	for i, v := range vals {
		// Clone: the value points into the incoming batch, which must not be kept alive.
		labels[i] = strings.Clone(v)
	}
	sr = s.newSeries(labels, s.attrsOf(labels), now)
	s.series[k] = sr
	if slot >= 0 {
		s.recent[slot] = sr
	}
	if partner != nil {
		// The zero sibling becomes this series: the same counter, from the same start, sent
		// (at 0) whenever its partner was.
		partner.sib, sr.sib = sibSeries, sibSeries
		sr.start = partner.start
		sr.shown = partner.shown & (shownCount | shownHistogram)
		s.zeroSiblings--
		return sr, false
	}
	s.addSibling(kb, sr)
	return sr, false
}

// siblingState says how a series' sibling (the same labels with the other status) exists.
type siblingState uint8

const (
	// sibNone: the store has no status label, or the limit left no room for a sibling.
	sibNone siblingState = iota
	// sibZero: the sibling has had no span; it is emitted at 0 on this series' behalf (see
	// zeroPoint) and holds a slot of the limit, but no memory.
	sibZero
	// sibSeries: the sibling is a series of its own.
	sibSeries
)

// otherStatus is the other value of the status label.
func otherStatus(status string) (string, bool) {
	switch status {
	case statusOK:
		return statusError, true
	case statusError:
		return statusOK, true
	}
	return "", false
}

// siblingOf returns the series of vals' sibling (the same labels with the other status), or nil.
func (s *store) siblingOf(kb *keyBuilder, vals []string) *series {
	if s.statusIdx < 0 || vals == nil {
		return nil
	}
	other, ok := otherStatus(vals[s.statusIdx])
	if !ok {
		return nil
	}
	kb.sib = append(kb.sib[:0], vals...)
	kb.sib[s.statusIdx] = other
	return s.series[kb.key(kb.sib)]
}

// addSibling gives a new series its sibling: Prometheus' increase() and rate() count nothing
// before a series' first sample, so a status="error" series that appeared only with its first
// error would hide that error from every rule computed over the counters. When the sibling
// already is a series, the two are linked; otherwise, when the limit has room, it becomes a zero
// sibling, emitted at 0 beside this series until its first span makes it a series (get). A
// sibling that would pass the limit is not created and never goes to the overflow series.
func (s *store) addSibling(kb *keyBuilder, sr *series) {
	if s.statusIdx < 0 || sr.sib != sibNone {
		return
	}
	if p := s.siblingOf(kb, sr.labels); p != nil {
		if p.sib == sibZero {
			s.zeroSiblings--
		}
		p.sib, sr.sib = sibSeries, sibSeries
		return
	}
	if s.slots() < s.limit {
		sr.sib = sibZero
		s.zeroSiblings++
	}
}

// zeroSiblingAttrs writes the attributes of sr's zero sibling into dst: sr's, with the other status.
func (s *store) zeroSiblingAttrs(sr *series, dst pcommon.Map) {
	sr.attrs.CopyTo(dst)
	other, _ := otherStatus(sr.labels[s.statusIdx])
	dst.PutStr(labelStatus, other)
}

// slots is what counts against the limit: the series and the zero siblings.
func (s *store) slots() int { return len(s.series) + s.zeroSiblings }

// attrsOf builds the data point attributes of a series' labels (empty extra dimensions omitted).
func (s *store) attrsOf(labels []string) pcommon.Map {
	attrs := pcommon.NewMap()
	attrs.EnsureCapacity(len(labels))
	for i, v := range labels {
		if v != "" || i < s.fixed {
			attrs.PutStr(s.labelNames[i], v)
		}
	}
	return attrs
}

// recentSlot picks the entry of store.recent for label values: their lengths and last bytes
// (agent-1 … agent-9, chat and execute_tool, ok and error differ there), a few instructions.
func recentSlot(vals []string) int {
	h := 0
	for _, v := range vals {
		h = h*31 + len(v)
		if len(v) > 0 {
			h = h*31 + int(v[len(v)-1])
		}
	}
	return h & 63
}

func sameLabels(labels, vals []string) bool {
	if len(labels) != len(vals) {
		return false
	}
	for i, v := range vals {
		if labels[i] != v {
			return false
		}
	}
	return true
}

func (s *store) newSeries(labels []string, attrs pcommon.Map, now pcommon.Timestamp) *series {
	sr := &series{labels: labels, attrs: attrs, start: now, lastSeen: now, updated: true}
	if h := s.histogram; h != nil {
		if h.bounds != nil {
			sr.buckets = make([]uint64, len(h.bounds)+1)
		} else {
			sr.expo = new(structure.Histogram[float64])
			sr.expo.Init(structure.NewConfig(structure.WithMaxSize(h.expoMaxSize)))
		}
		if s.exemplars > 0 {
			sr.exemplars = make([]exemplar, 0, s.exemplars)
		}
	}
	return sr
}

func (s *store) len() int {
	n := len(s.series)
	if s.overflow != nil {
		n++
	}
	return n
}

// expire drops series not seen since cutoff. A series and its sibling series expire together
// (when neither was seen since cutoff), so an error series lives as long as its ok series does;
// a zero sibling goes with its series.
func (s *store) expire(kb *keyBuilder, cutoff pcommon.Timestamp) {
	clear(s.recent[:])
	for k, sr := range s.series {
		if sr.lastSeen >= cutoff {
			continue
		}
		if sr.sib == sibSeries {
			if p := s.siblingOf(kb, sr.labels); p != nil && p.lastSeen >= cutoff {
				continue
			}
		}
		if sr.sib == sibZero {
			s.zeroSiblings--
		}
		delete(s.series, k)
	}
	if s.overflow != nil && s.overflow.lastSeen < cutoff {
		s.overflow = nil
	}
}

// each calls f for every series in a deterministic order (sorted by label values), so emitted
// payloads and checkpoints are stable.
func (s *store) each(f func(*series)) {
	all := make([]*series, 0, len(s.series))
	for _, sr := range s.series {
		all = append(all, sr)
	}
	sort.Slice(all, func(i, j int) bool { return lessLabels(all[i].labels, all[j].labels) })
	for _, sr := range all {
		f(sr)
	}
	if s.overflow != nil {
		f(s.overflow)
	}
}

// all calls f for every series in no particular order.
func (s *store) all(f func(*series)) {
	for _, sr := range s.series {
		f(sr)
	}
	if s.overflow != nil {
		f(s.overflow)
	}
}

func lessLabels(a, b []string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

// observe records one duration (seconds) in the series' histogram.
func (sr *series) observe(h *histogramShape, seconds float64) {
	sr.count++
	if sr.expo != nil {
		sr.expo.Update(seconds)
		return
	}
	sr.sum += seconds
	sr.buckets[sort.SearchFloat64s(h.bounds, seconds)]++
}

// addExemplar keeps up to cap(exemplars) exemplars. Exemplars of earlier flushes (stale) stay
// until newer spans replace them, because the prometheus exporter shows only the latest data
// point of a cumulative series: an exemplar must outlive one flush to be scraped. Among the spans
// of the current flush interval the slowest win, so the slow buckets link to their traces.
func (sr *series) addExemplar(traceID pcommon.TraceID, spanID pcommon.SpanID, value float64, ts pcommon.Timestamp) {
	if cap(sr.exemplars) == 0 {
		return
	}
	e := exemplar{traceID: traceID, spanID: spanID, value: value, ts: ts, fresh: true}
	if len(sr.exemplars) < cap(sr.exemplars) {
		sr.exemplars = append(sr.exemplars, e)
		sr.exMin = 0
		return
	}
	// The common case: a full reservoir of fresh exemplars and a span no slower than the
	// fastest of them, decided in one comparison instead of a scan per span.
	if sr.exMin > 0 {
		if i := sr.exMin - 1; value > sr.exemplars[i].value {
			sr.exemplars[i] = e
			sr.exMin = 1 + fastestFresh(sr.exemplars)
		}
		return
	}
	// Replace the fastest stale exemplar, else the fastest fresh one if this span is slower.
	staleI, freshI, stale := -1, -1, 0
	for i := range sr.exemplars {
		x := &sr.exemplars[i]
		if !x.fresh {
			stale++
			if staleI < 0 || x.value < sr.exemplars[staleI].value {
				staleI = i
			}
		}
		if x.fresh && (freshI < 0 || x.value < sr.exemplars[freshI].value) {
			freshI = i
		}
	}
	switch {
	case staleI >= 0:
		sr.exemplars[staleI] = e
		stale--
	case value > sr.exemplars[freshI].value:
		sr.exemplars[freshI] = e
	}
	if stale == 0 {
		sr.exMin = 1 + fastestFresh(sr.exemplars)
	}
}

// fastestFresh is the index of the first fresh exemplar of the smallest value, as the full scan
// of addExemplar picks it (every exemplar of ex is fresh).
func fastestFresh(ex []exemplar) int32 {
	m := 0
	for i := 1; i < len(ex); i++ {
		if ex[i].value < ex[m].value {
			m = i
		}
	}
	return int32(m)
}

// ageExemplars marks the exemplars as sent: new spans replace them first.
func (sr *series) ageExemplars() {
	for i := range sr.exemplars {
		sr.exemplars[i].fresh = false
	}
	sr.exMin = 0
}

// reset clears the values after a delta flush; the series itself (labels, attrs) is kept.
func (sr *series) reset(now pcommon.Timestamp) {
	sr.start = now
	sr.updated = false
	sr.count = 0
	sr.sum = 0
	clear(sr.buckets)
	if sr.expo != nil {
		sr.expo.Clear()
	}
	sr.tokens = [numTokenTypes]uint64{}
	sr.tokenSeen = 0
	sr.cost = 0
	sr.costSeen = false
}

func (sr *series) tokenAttrs(t int) pcommon.Map {
	if sr.tokAttrs[t] == (pcommon.Map{}) {
		m := pcommon.NewMap()
		sr.attrs.CopyTo(m)
		m.PutStr(labelTokenType, tokenTypeNames[t])
		sr.tokAttrs[t] = m
	}
	return sr.tokAttrs[t]
}

func (sr *series) writeHistogram(dp pmetric.HistogramDataPoint, h *histogramShape) {
	dp.SetCount(sr.count)
	dp.SetSum(sr.sum)
	dp.ExplicitBounds().FromRaw(h.bounds)
	dp.BucketCounts().FromRaw(sr.buckets)
	writeExemplars(dp.Exemplars(), sr.exemplars)
}

func (sr *series) writeExpoHistogram(dp pmetric.ExponentialHistogramDataPoint) {
	agg := sr.expo
	dp.SetCount(agg.Count())
	dp.SetSum(agg.Sum())
	if agg.Count() != 0 {
		dp.SetMin(agg.Min())
		dp.SetMax(agg.Max())
	}
	dp.SetZeroCount(agg.ZeroCount())
	dp.SetScale(agg.Scale())
	in := agg.Positive()
	out := dp.Positive()
	out.SetOffset(in.Offset())
	out.BucketCounts().EnsureCapacity(int(in.Len()))
	for i := uint32(0); i < in.Len(); i++ {
		out.BucketCounts().Append(in.At(i))
	}
	writeExemplars(dp.Exemplars(), sr.exemplars)
}

// writeZeroHistogram writes an empty histogram (a zero sibling's duration).
func writeZeroHistogram(dp pmetric.HistogramDataPoint, h *histogramShape) {
	dp.SetSum(0)
	dp.ExplicitBounds().FromRaw(h.bounds)
	dp.BucketCounts().FromRaw(h.zeros)
}

func writeExemplars(dst pmetric.ExemplarSlice, src []exemplar) {
	dst.EnsureCapacity(len(src))
	for _, e := range src {
		ex := dst.AppendEmpty()
		ex.SetTraceID(e.traceID)
		ex.SetSpanID(e.spanID)
		ex.SetDoubleValue(e.value)
		ex.SetTimestamp(e.ts)
	}
}
