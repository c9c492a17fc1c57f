// Package sketch is a small DDSketch-style quantile sketch: values are mapped to logarithmic bins
// of fixed relative width, so every quantile it returns is within RelativeAccuracy of a value of
// the true distribution, and two sketches merge exactly by adding bin counts.
//
// Unlike the DDSketch library it has a fixed number of bins held inline (no allocation, no
// growth). With NumBins = 128 and 4% accuracy the bins span a factor of about 28,000; while the
// values fit in that span nothing is lost. When they do not, the window of bins is placed as high
// as it can go without its lowest bin rising above the lower quartile (KeepFrom): the values
// below the window are counted in its lowest bin (the lower tail degrades, as in DDSketch's
// "collapsing lowest" store), and values more than 28,000× the lower quartile are counted in its
// highest bin. So the median and every quantile above it stay exact to the relative accuracy —
// the part regression detection reads (p95, p99) — unless it is itself more than 28,000× the
// lower quartile (a log-normal would need σ > 3 for its p99 to be), and one absurd
// value (a span that "lasted" two hours next to a 100 ms bulk) cannot wipe out the resolution of
// the bulk, which a pure collapsing-lowest store would do: it would read every 100 ms value as
// 260 ms. 4% is far finer than the 30% shifts the detector looks for; 2% would shrink the span to
// a factor of 167, which one timeout exceeds.
package sketch // import "github.com/otelcol-amas/otelcol-amas/processor/regressionprocessor/internal/sketch"

import (
	"encoding/binary"
	"errors"
	"math"
)

const (
	// NumBins is the fixed number of logarithmic bins in a sketch.
	NumBins = 128
	// RelativeAccuracy is the guaranteed relative error of a returned quantile.
	RelativeAccuracy = 0.04
	// MinIndexable is the smallest value that gets a bin; smaller non-negative values are counted
	// in the zero bucket (1 ns when values are seconds).
	MinIndexable = 1e-9
	// KeepFrom is the quantile above which values keep their resolution when the values span
	// more than the bins do (see the package documentation).
	KeepFrom = 0.25
)

var (
	gamma      = (1 + RelativeAccuracy) / (1 - RelativeAccuracy)
	multiplier = 1 / math.Log(gamma)
)

// Sketch is a fixed-size (~536 bytes) mergeable quantile sketch. The zero value is empty and
// ready to use. It is not safe for concurrent use.
type Sketch struct {
	// The scalars come first: adding a value touches their cache line and one bin's.
	count   uint64
	offset  int32 // key of bins[0]
	hi      int32 // index of the highest occupied bin
	zero    uint32
	hasBins bool
	bins    [NumBins]uint32
}

// Add records v. It returns false, recording nothing, for NaN, ±Inf and negative values.
func (s *Sketch) Add(v float64) bool {
	if !(v >= 0) || v > math.MaxFloat64 {
		return false
	}
	s.count++
	if v < MinIndexable {
		s.zero++
		return true
	}
	s.addKey(key(v), 1)
	return true
}

func key(v float64) int32 {
	return int32(math.Ceil(math.Log(v) * multiplier))
}

// value is the representative of bin k: the point of equal relative distance to both bounds.
func value(k int32) float64 {
	return 2 * math.Pow(gamma, float64(k)) / (gamma + 1)
}

func (s *Sketch) addKey(k int32, n uint32) {
	if !s.hasBins {
		// Centre the first value; the window then slides either way as values arrive, so even a
		// first value far from the bulk leaves room for the bulk.
		s.offset = k - NumBins/2
		s.hi = NumBins / 2
		s.hasBins = true
	}
	if k > s.offset+NumBins-1 || k < s.offset {
		var one Sketch // only on a range conflict: rare
		one.offset, one.hasBins = k, true
		one.bins[0] = n
		s.fit(&one, 0, 0)
	}
	i := min(max(k-s.offset, 0), NumBins-1)
	s.bins[i] += n
	if i > s.hi {
		s.hi = i
	}
}

// lowest returns the index of the lowest occupied bin (hi when none is).
func (s *Sketch) lowest() int32 {
	lo := int32(0)
	for lo < s.hi && s.bins[lo] == 0 {
		lo++
	}
	return lo
}

// fit moves the window of bins so that the values of o (its bins lo..hi) can be added: if the
// values of both fit in NumBins keys the move loses nothing; otherwise the window goes as high as
// it can without its lowest key rising above the KeepFrom quantile of both, and rebase clamps
// what falls outside into the end bins.
func (s *Sketch) fit(o *Sketch, oLo, oHi int32) {
	sLo := s.lowest()
	minKey := min(s.offset+sLo, o.offset+oLo)
	maxKey := max(s.offset+s.hi, o.offset+oHi)
	var off int32
	switch {
	case maxKey-minKey < NumBins && maxKey > s.offset+NumBins-1:
		off = maxKey - (NumBins - 1) // slide up, nothing falls out
	case maxKey-minKey < NumBins:
		off = minKey // slide down, nothing falls out
	default:
		off = min(maxKey-(NumBins-1), s.keepFromKey(sLo, o, oLo, oHi))
	}
	s.rebase(off)
}

// keepFromKey is the key at which the KeepFrom share of the values of s and o (bins from sLo and
// oLo up) is reached, the zero buckets counting as below every key.
func (s *Sketch) keepFromKey(sLo int32, o *Sketch, oLo, oHi int32) int32 {
	var total uint64 = uint64(s.zero) + uint64(o.zero)
	for i := sLo; i <= s.hi; i++ {
		total += uint64(s.bins[i])
	}
	for j := oLo; j <= oHi; j++ {
		total += uint64(o.bins[j])
	}
	need := max(uint64(math.Ceil(KeepFrom*float64(total))), 1)
	cum := uint64(s.zero) + uint64(o.zero)
	i, j := sLo, oLo
	for i <= s.hi || j <= oHi {
		var k int32
		if j > oHi || (i <= s.hi && s.offset+i <= o.offset+j) {
			k = s.offset + i
			cum += uint64(s.bins[i])
			i++
		} else {
			k = o.offset + j
			cum += uint64(o.bins[j])
			j++
		}
		if cum >= need {
			return k
		}
	}
	return max(s.offset+s.hi, o.offset+oHi)
}

// rebase moves the window so that bins[0] is key off: values now below the window are counted in
// the lowest bin, values above it in the highest.
func (s *Sketch) rebase(off int32) {
	if off == s.offset {
		return
	}
	var nb [NumBins]uint32
	hi := int32(0)
	for i := int32(0); i <= s.hi; i++ {
		if n := s.bins[i]; n != 0 {
			j := int32(min(max(int64(s.offset)+int64(i)-int64(off), 0), NumBins-1))
			nb[j] += n
			hi = max(hi, j)
		}
	}
	s.bins = nb
	s.offset = off
	s.hi = hi
}

// Merge adds every value of o to s.
func (s *Sketch) Merge(o *Sketch) {
	s.count += o.count
	s.zero += o.zero
	if !o.hasBins {
		return
	}
	if !s.hasBins {
		s.bins = o.bins
		s.offset = o.offset
		s.hi = o.hi
		s.hasBins = true
		return
	}
	lo := o.lowest()
	if o.offset+o.hi > s.offset+NumBins-1 || o.offset+lo < s.offset {
		s.fit(o, lo, o.hi)
	}
	for j := lo; j <= o.hi; j++ {
		if n := o.bins[j]; n != 0 {
			i := int32(min(max(int64(o.offset)+int64(j)-int64(s.offset), 0), NumBins-1))
			s.bins[i] += n
			s.hi = max(s.hi, i)
		}
	}
}

// Count is the number of values recorded.
func (s *Sketch) Count() uint64 { return s.count }

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of the recorded values, or NaN when the sketch is
// empty or q is out of range.
func (s *Sketch) Quantile(q float64) float64 {
	if s.count == 0 || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	rank := q * float64(s.count-1)
	cum := float64(s.zero)
	if cum > rank {
		return 0
	}
	last := int32(-1)
	for i := range s.bins {
		if n := s.bins[i]; n != 0 {
			cum += float64(n)
			last = int32(i)
			if cum > rank {
				return value(s.offset + int32(i))
			}
		}
	}
	if last < 0 {
		return 0
	}
	return value(s.offset + last)
}

// Reset empties the sketch.
func (s *Sketch) Reset() { *s = Sketch{} }

// AppendBinary appends a compact encoding of s (only the occupied bin range) to b.
func (s *Sketch) AppendBinary(b []byte) []byte {
	b = binary.AppendUvarint(b, s.count)
	b = binary.AppendUvarint(b, uint64(s.zero))
	if !s.hasBins {
		return append(b, 0)
	}
	lo, hi := 0, NumBins-1
	for lo < hi && s.bins[lo] == 0 {
		lo++
	}
	for hi > lo && s.bins[hi] == 0 {
		hi--
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, int64(s.offset))
	b = binary.AppendUvarint(b, uint64(lo))
	b = binary.AppendUvarint(b, uint64(hi))
	for i := lo; i <= hi; i++ {
		b = binary.AppendUvarint(b, uint64(s.bins[i]))
	}
	return b
}

// ErrCorrupt is returned by Decode for an encoding that is truncated or inconsistent.
var ErrCorrupt = errors.New("sketch: corrupt encoding")

// Decode reads an encoding written by AppendBinary into s and returns the rest of b.
func (s *Sketch) Decode(b []byte) ([]byte, error) {
	s.Reset()
	var ok bool
	uv := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			ok = false
			return 0
		}
		b = b[n:]
		return v
	}
	ok = true
	s.count = uv()
	zero := uv()
	if !ok || zero > math.MaxUint32 || len(b) == 0 {
		return nil, ErrCorrupt
	}
	s.zero = uint32(zero)
	flag := b[0]
	b = b[1:]
	sum := zero
	switch flag {
	case 0:
	case 1:
		off, n := binary.Varint(b)
		if n <= 0 || off < math.MinInt32 || off > math.MaxInt32 {
			return nil, ErrCorrupt
		}
		b = b[n:]
		lo, hi := uv(), uv()
		if !ok || lo > hi || hi >= NumBins {
			return nil, ErrCorrupt
		}
		s.offset = int32(off)
		s.hasBins = true
		for i := lo; i <= hi; i++ {
			v := uv()
			if !ok || v > math.MaxUint32 {
				return nil, ErrCorrupt
			}
			s.bins[i] = uint32(v)
			sum += v
		}
		s.hi = int32(hi)
	default:
		return nil, ErrCorrupt
	}
	if sum != s.count {
		return nil, ErrCorrupt
	}
	return b, nil
}
