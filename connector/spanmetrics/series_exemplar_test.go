package spanmetrics

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// addExemplarByScan is the reservoir rule written as a full scan per span: replace the fastest
// stale exemplar, else the fastest fresh one if the span is slower (first index on ties).
func addExemplarByScan(ex []exemplar, e exemplar) []exemplar {
	if len(ex) < cap(ex) {
		return append(ex, e)
	}
	staleI, freshI := -1, -1
	for i := range ex {
		if !ex[i].fresh && (staleI < 0 || ex[i].value < ex[staleI].value) {
			staleI = i
		}
		if ex[i].fresh && (freshI < 0 || ex[i].value < ex[freshI].value) {
			freshI = i
		}
	}
	switch {
	case staleI >= 0:
		ex[staleI] = e
	case e.value > ex[freshI].value:
		ex[freshI] = e
	}
	return ex
}

// The remembered fastest exemplar picks exactly what a full scan per span picks, through fills,
// flushes that age the reservoir, delta resets and ties.
func TestExemplarReservoirMatchesAFullScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 2, 5, 10} {
		sr := &series{exemplars: make([]exemplar, 0, size)}
		want := make([]exemplar, 0, size)
		for i := range 20000 {
			switch rng.IntN(500) {
			case 0: // a cumulative flush
				sr.ageExemplars()
				for j := range want {
					want[j].fresh = false
				}
			case 1: // a delta flush
				sr.exemplars, sr.exMin = sr.exemplars[:0], 0
				want = want[:0]
			}
			v := float64(rng.IntN(50)) / 10 // many ties
			var sid pcommon.SpanID
			sid[0], sid[1] = byte(i), byte(i>>8)
			sr.addExemplar(pcommon.TraceID{1}, sid, v, pcommon.Timestamp(i))
			want = addExemplarByScan(want, exemplar{traceID: pcommon.TraceID{1}, spanID: sid, value: v, ts: pcommon.Timestamp(i), fresh: true})
			require.Equal(t, want, sr.exemplars, "size %d, span %d", size, i)
		}
	}
}
