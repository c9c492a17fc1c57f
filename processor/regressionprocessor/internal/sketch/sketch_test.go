package sketch

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func exactQuantile(sorted []float64, q float64) float64 {
	return sorted[int(q*float64(len(sorted)-1))]
}

func logNormal(r *rand.Rand, mu, sigma float64) float64 {
	return math.Exp(mu + sigma*r.NormFloat64())
}

func TestQuantilesAreWithinTheRelativeAccuracy(t *testing.T) {
	all := []float64{0, 0.5, 0.9, 0.95, 0.99, 1}
	tests := []struct {
		name      string
		gen       func(r *rand.Rand) float64
		count     int
		quantiles []float64
	}{
		{"a log-normal latency around 200 ms", func(r *rand.Rand) float64 { return logNormal(r, math.Log(0.2), 0.5) }, 100000, all},
		// Its maximum (~25,000× its lower quartile) reaches the clamp at the bins' top: q=1 is
		// not checked, q ≤ 0.99 are.
		{"a wide log-normal keeps its median and upper tail", func(r *rand.Rand) float64 { return logNormal(r, 0, 2) }, 100000, []float64{0.5, 0.9, 0.95, 0.99}},
		// Its values span a factor of ~1e11: the lower tail collapses and the few values more than
		// 28,000× the median are clamped into the highest bin (so q=1 is not exact), but the median
		// and the upper quantiles are.
		{"a very wide log-normal keeps its median and upper quantiles", func(r *rand.Rand) float64 { return logNormal(r, 0, 3) }, 100000, []float64{0.5, 0.95, 0.99}},
		{"a uniform distribution between 1 ms and 2 s", func(r *rand.Rand) float64 { return 0.001 + r.Float64()*2 }, 50000, all},
		{"a handful of values", func(r *rand.Rand) float64 { return 0.5 + r.Float64() }, 7, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var s Sketch
			vals := make([]float64, tt.count)
			for i := range vals {
				vals[i] = tt.gen(r)
				require.True(t, s.Add(vals[i]))
			}
			slices.Sort(vals)
			assert.Equal(t, uint64(tt.count), s.Count())
			for _, q := range tt.quantiles {
				want := exactQuantile(vals, q)
				got := s.Quantile(q)
				assert.InEpsilon(t, want, got, RelativeAccuracy*1.01, "q=%v", q)
			}
		})
	}
}

func TestMergeEqualsAddingEverythingToOneSketch(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var parts [5]Sketch
	var all Sketch
	for i := range 20000 {
		// Each part has its own scale so that their bin windows differ and the merge must slide.
		v := logNormal(r, math.Log(0.05)+float64(i%5), 0.4)
		parts[i%5].Add(v)
		all.Add(v)
	}
	var merged Sketch
	for i := range parts {
		merged.Merge(&parts[i])
	}
	assert.Equal(t, all.Count(), merged.Count())
	for _, q := range []float64{0.5, 0.95, 0.99} {
		assert.InEpsilon(t, all.Quantile(q), merged.Quantile(q), 1e-9, "q=%v", q)
	}
}

func TestASingleHugeFirstValueDoesNotHideTheTail(t *testing.T) {
	var s Sketch
	require.True(t, s.Add(100)) // a 100 s outlier arrives first
	r := rand.New(rand.NewPCG(5, 6))
	vals := []float64{100}
	for range 10000 {
		v := logNormal(r, math.Log(0.3), 0.3)
		vals = append(vals, v)
		s.Add(v)
	}
	slices.Sort(vals)
	assert.InEpsilon(t, exactQuantile(vals, 0.95), s.Quantile(0.95), RelativeAccuracy*1.01)
	assert.InEpsilon(t, exactQuantile(vals, 0.5), s.Quantile(0.5), RelativeAccuracy*1.01)
}

func TestOneAbsurdValueDoesNotMoveTheQuantilesOfTheBulk(t *testing.T) {
	bulk := func() *Sketch {
		s := new(Sketch)
		r := rand.New(rand.NewPCG(9, 10))
		for range 1000 {
			s.Add(logNormal(r, math.Log(0.1), 0.2))
		}
		return s
	}
	want := bulk()
	p50, p95, p99 := want.Quantile(0.5), want.Quantile(0.95), want.Quantile(0.99)
	const absurd = 7200.0 // a two-hour span next to a 100 ms bulk: 72,000×, beyond the bins' span

	outlier := func() *Sketch { s := new(Sketch); s.Add(absurd); return s }
	tests := []struct {
		name  string
		build func() *Sketch
	}{
		{"added after the bulk", func() *Sketch { s := bulk(); s.Add(absurd); return s }},
		{"added before the bulk", func() *Sketch {
			s := outlier()
			r := rand.New(rand.NewPCG(9, 10))
			for range 1000 {
				s.Add(logNormal(r, math.Log(0.1), 0.2))
			}
			return s
		}},
		{"merged into the bulk", func() *Sketch { s := bulk(); s.Merge(outlier()); return s }},
		{"the bulk merged into it", func() *Sketch { s := outlier(); s.Merge(bulk()); return s }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.build()
			assert.Equal(t, uint64(1001), s.Count())
			assert.InEpsilon(t, p50, s.Quantile(0.5), 2*RelativeAccuracy, "p50")
			assert.InEpsilon(t, p95, s.Quantile(0.95), 2*RelativeAccuracy, "p95")
			assert.InEpsilon(t, p99, s.Quantile(0.99), 2*RelativeAccuracy, "p99")
			assert.Greater(t, s.Quantile(1), 1000*p50, "the outlier still reads as far slower than the bulk")
		})
	}
}

func TestInvalidValuesAreRejected(t *testing.T) {
	var s Sketch
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), -1} {
		assert.False(t, s.Add(v), "value %v", v)
	}
	assert.Zero(t, s.Count())
	assert.True(t, math.IsNaN(s.Quantile(0.5)), "an empty sketch has no quantile")
	require.True(t, s.Add(0))
	assert.Equal(t, 0.0, s.Quantile(0.99), "zero lands in the zero bucket")
}

func TestEncodingRoundTripsAndDetectsCorruption(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var s Sketch
	for range 5000 {
		s.Add(logNormal(r, 0, 1))
	}
	s.Add(0)
	b := s.AppendBinary([]byte("prefix"))
	var got Sketch
	rest, err := got.Decode(append(b[len("prefix"):], 0xAB))
	require.NoError(t, err)
	assert.Equal(t, []byte{0xAB}, rest)
	assert.Equal(t, s, got)

	var empty, emptyGot Sketch
	_, err = emptyGot.Decode(empty.AppendBinary(nil))
	require.NoError(t, err)
	assert.Equal(t, empty, emptyGot)

	enc := s.AppendBinary(nil)
	for _, bad := range [][]byte{nil, enc[:len(enc)/2], append([]byte{0xFF}, enc[1:]...)} {
		_, err := got.Decode(bad)
		assert.ErrorIs(t, err, ErrCorrupt)
	}
}

func TestSketchFitsItsMemoryBudget(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(Sketch{}), uintptr(4*NumBins+32))
}

func BenchmarkAdd(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	vals := make([]float64, 4096)
	for i := range vals {
		vals[i] = logNormal(r, math.Log(0.2), 0.5)
	}
	var s Sketch
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Add(vals[i&4095])
		i++
	}
}
