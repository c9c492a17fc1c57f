// Package sketch is a small DDSketch-style quantile sketch: values are mapped to logarithmic bins
// of fixed relative width, so every quantile it returns is within RelativeAccuracy of a value of
// the true distribution, and two sketches merge exactly by adding bin counts.
//
// Unlike the DDSketch library it has a fixed number of bins held inline (no allocation, no
// growth): when a value arrives above the highest bin, the lowest bins are collapsed into one
// ("collapsing lowest" store). The sketch keeps the upper tail exact to the relative accuracy,
// which is the part regression detection reads (p95, p99), and lets the lower tail degrade.
// With NumBins = 128 and 4% accuracy the bins span a factor of about 28,000 between the lowest
// kept bin and the highest value: p95 stays within 4% unless the slowest request took 28,000× the
// p95 (a 60 s timeout next to a 2 ms p95 still fits). 4% is far finer than the 30% shifts the
// detector looks for; 2% would shrink the span to a factor of 167, which one timeout exceeds.
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
)

var (
	gamma      = (1 + RelativeAccuracy) / (1 - RelativeAccuracy)
	multiplier = 1 / math.Log(gamma)
)

// Sketch is a fixed-size (~536 bytes) mergeable quantile sketch. The zero value is empty and
// ready to use. It is not safe for concurrent use.
type Sketch struct {
	bins    [NumBins]uint32
	offset  int32 // key of bins[0]
	hi      int32 // index of the highest occupied bin
	zero    uint32
	count   uint64
	hasBins bool
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
	if top := s.offset + NumBins - 1; k > top {
		s.shiftUp(k - top)
	} else if k < s.offset {
		s.shiftDown(k)
	}
	i := k - s.offset
	if i < 0 {
		i = 0
	}
	s.bins[i] += n
	if i > s.hi {
		s.hi = i
	}
}

// shiftUp moves the window of bins up by d keys, collapsing the lowest bins into the new lowest.
func (s *Sketch) shiftUp(d int32) {
	if d >= NumBins {
		var total uint32
		for i := range s.bins {
			total += s.bins[i]
			s.bins[i] = 0
		}
		s.bins[0] = total
	} else {
		var c uint32
		for i := int32(0); i <= d; i++ {
			c += s.bins[i]
		}
		copy(s.bins[:], s.bins[d:])
		clear(s.bins[NumBins-d:])
		s.bins[0] = c
	}
	s.offset += d
	s.hi = max(s.hi-d, 0)
}

// shiftDown moves the window down so that key k (below the window) gets its own bin, as far as
// the highest occupied bin allows; what still falls below is counted in the lowest bin.
func (s *Sketch) shiftDown(k int32) {
	d := min(s.offset-k, NumBins-1-s.hi)
	if d <= 0 {
		return
	}
	copy(s.bins[d:], s.bins[:NumBins-d])
	clear(s.bins[:d])
	s.offset -= d
	s.hi += d
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
	lo := int32(0)
	for lo < o.hi && o.bins[lo] == 0 {
		lo++
	}
	if top := s.offset + NumBins - 1; o.offset+o.hi > top {
		s.shiftUp(o.offset + o.hi - top)
	}
	if k := o.offset + lo; k < s.offset {
		s.shiftDown(k)
	}
	for j := lo; j <= o.hi; j++ {
		if n := o.bins[j]; n != 0 {
			i := max(o.offset+j-s.offset, 0)
			s.bins[i] += n
		}
	}
	s.hi = max(s.hi, o.offset+o.hi-s.offset)
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
