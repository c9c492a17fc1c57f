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

	count uint64

	sum       float64
	buckets   []uint64
	expo      *structure.Histogram[float64]
	exemplars []exemplar

	tokens    [numTokenTypes]uint64
	tokenSeen uint8
	tokAttrs  [numTokenTypes]pcommon.Map // attrs + token_type, built on first use
	cost      float64
	costSeen  bool
}

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
	// with a status label keeps every series beside its zero-valued sibling of the other status
	// (see addSibling).
	statusIdx int
}

type histogramShape struct {
	bounds      []float64 // explicit bounds in seconds; nil when exponential
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
	k := kb.key(vals)
	if sr = s.series[k]; sr != nil {
		sr.lastSeen = now
		sr.updated = true
		return sr, false
	}
	if len(s.series) >= s.limit {
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
	s.addSibling(kb, sr, now)
	return sr, false
}

// siblingStatus is the other value of the status label.
func siblingStatus(status string) (string, bool) {
	switch status {
	case statusOK:
		return statusError, true
	case statusError:
		return statusOK, true
	}
	return "", false
}

// siblingLabels returns the labels of sr's sibling (the same labels with the other status) in
// kb's scratch slice, or false when the store has no status label.
func (s *store) siblingLabels(kb *keyBuilder, sr *series) ([]string, bool) {
	if s.statusIdx < 0 || sr.labels == nil {
		return nil, false
	}
	other, ok := siblingStatus(sr.labels[s.statusIdx])
	if !ok {
		return nil, false
	}
	kb.sib = append(kb.sib[:0], sr.labels...)
	kb.sib[s.statusIdx] = other
	return kb.sib, true
}

// addSibling creates the zero-valued sibling of a new series: the series with the same labels
// and the other status. Prometheus' increase() and rate() count nothing before a series' first
// sample, so a status="error" series that appeared only with its first error would hide that
// error from every rule computed over the counters; created at 0 beside its status="ok"
// series, it is scraped at 0 first. (The status="ok" sibling of an error-first series is
// created for the same reason.) A sibling takes a slot of the cardinality limit like any series;
// one that would not fit is not created, and never goes to the overflow series. Called only
// when a series is created, so the hot path of an existing series is unchanged.
func (s *store) addSibling(kb *keyBuilder, sr *series, now pcommon.Timestamp) {
	vals, ok := s.siblingLabels(kb, sr)
	if !ok || len(s.series) >= s.limit {
		return
	}
	k := kb.key(vals)
	if s.series[k] != nil {
		return
	}
	labels := make([]string, len(vals))
	copy(labels, vals) // already owned by the store: sr.labels are clones
	s.series[k] = s.newSeries(labels, s.attrsOf(labels), now)
}

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

// expire drops series not seen since cutoff. A series and its status sibling expire together
// (when neither was seen since cutoff), so a zero-valued error series lives as long as its ok
// series does.
func (s *store) expire(kb *keyBuilder, cutoff pcommon.Timestamp) {
	for k, sr := range s.series {
		if sr.lastSeen >= cutoff {
			continue
		}
		if vals, ok := s.siblingLabels(kb, sr); ok {
			if sib := s.series[kb.key(vals)]; sib != nil && sib.lastSeen >= cutoff {
				continue
			}
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
		return
	}
	// Replace the fastest stale exemplar, else the fastest fresh one if this span is slower.
	staleI, freshI := -1, -1
	for i := range sr.exemplars {
		x := &sr.exemplars[i]
		if !x.fresh && (staleI < 0 || x.value < sr.exemplars[staleI].value) {
			staleI = i
		}
		if x.fresh && (freshI < 0 || x.value < sr.exemplars[freshI].value) {
			freshI = i
		}
	}
	switch {
	case staleI >= 0:
		sr.exemplars[staleI] = e
	case value > sr.exemplars[freshI].value:
		sr.exemplars[freshI] = e
	}
}

// ageExemplars marks the exemplars as sent: new spans replace them first.
func (sr *series) ageExemplars() {
	for i := range sr.exemplars {
		sr.exemplars[i].fresh = false
	}
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
