package checkpoint

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-amas/otelcol-amas/internal/safelabel"
)

const magic = "TEST"

var limits = Limits{MaxEntry: 1 << 12, MaxString: 256}

// write encodes one entry per name: the name, its index and a float.
func write(names ...string) *Writer {
	w := NewWriter(nil, magic, FirstVersion, limits)
	for i, n := range names {
		w.Begin()
		w.String(n)
		w.Uvarint(uint64(i))
		w.F64(float64(i) / 2)
		w.Bool(i%2 == 0)
		w.End()
	}
	return w
}

type entry struct {
	name string
	i    uint64
	f    float64
	even bool
}

// read decodes every intact entry, skipping the malformed ones.
func read(t *testing.T, b []byte) ([]entry, *Reader) {
	t.Helper()
	r, v, err := NewReader(b, magic, limits)
	require.NoError(t, err)
	require.Equal(t, byte(FirstVersion), v)
	var out []entry
	for d, ok := r.Next(); ok; d, ok = r.Next() {
		e := entry{name: d.String(), i: d.Uvarint(), f: d.F64(), even: d.Bool()}
		if d.Finish() != nil {
			r.Skip()
			continue
		}
		out = append(out, e)
	}
	return out, r
}

func TestEntriesRoundTrip(t *testing.T) {
	got, r := read(t, write("a", "b", "日本語").Bytes())
	assert.Equal(t, []entry{{"a", 0, 0, true}, {"b", 1, 0.5, false}, {"日本語", 2, 1, true}}, got)
	assert.Zero(t, r.Skipped)
}

func TestAFlippedBitCostsOnlyTheEntryItLandsIn(t *testing.T) {
	w := write("first", "second", "third")
	b := append([]byte(nil), w.Bytes()...)
	// The second entry's payload starts after the header, the first entry and its own head.
	first := int(binary.LittleEndian.Uint32(b[headerLen:]))
	b[headerLen+entryHead+first+entryHead+2] ^= 0x04
	got, r := read(t, b)
	assert.Equal(t, []entry{{"first", 0, 0, true}, {"third", 2, 1, true}}, got)
	assert.Equal(t, 1, r.Skipped)
}

func TestADamagedLengthKeepsTheEntriesBeforeIt(t *testing.T) {
	b := append([]byte(nil), write("first", "second", "third").Bytes()...)
	first := int(binary.LittleEndian.Uint32(b[headerLen:]))
	binary.LittleEndian.PutUint32(b[headerLen+entryHead+first:], 1<<30)
	got, r := read(t, b)
	assert.Equal(t, []entry{{"first", 0, 0, true}}, got)
	assert.Equal(t, 1, r.Skipped, "the rest counts as one skipped entry")
}

func TestATruncatedCheckpointKeepsItsWholeEntries(t *testing.T) {
	b := write("first", "second").Bytes()
	got, r := read(t, b[:len(b)-3])
	assert.Equal(t, []entry{{"first", 0, 0, true}}, got)
	assert.Equal(t, 1, r.Skipped)
}

func TestAnEntryThatDoesNotDecodeIsSkippedByTheComponent(t *testing.T) {
	w := NewWriter(nil, magic, FirstVersion, limits)
	w.Begin()
	w.Byte(7) // not an entry of the expected shape
	w.End()
	w.Begin()
	w.String("ok")
	w.Uvarint(1)
	w.F64(2)
	w.Bool(false)
	w.End()
	got, r := read(t, w.Bytes())
	assert.Equal(t, []entry{{"ok", 1, 2, false}}, got)
	assert.Equal(t, 1, r.Skipped)
}

func TestTheEncoderNeverWritesAStringTheDecoderRefuses(t *testing.T) {
	long := strings.Repeat("x", 70<<10) // the 70 KB error.type of the issue
	w := write(long)
	assert.Equal(t, 1, w.Truncated)
	got, r := read(t, w.Bytes())
	require.Len(t, got, 1)
	assert.Zero(t, r.Skipped)
	assert.LessOrEqual(t, len(got[0].name), limits.MaxString)
	assert.True(t, strings.HasSuffix(got[0].name, safelabel.Marker))
}

func TestAnEntryOverTheBoundIsLeftOutAndCounted(t *testing.T) {
	w := NewWriter(nil, magic, FirstVersion, limits)
	w.Begin()
	for range limits.MaxEntry + 1 {
		w.Byte(1)
	}
	assert.False(t, w.End())
	assert.Equal(t, 1, w.Dropped)
	w.Begin()
	w.String("kept")
	w.Uvarint(0)
	w.F64(0)
	w.Bool(true)
	assert.True(t, w.End())
	got, r := read(t, w.Bytes())
	assert.Equal(t, []entry{{"kept", 0, 0, true}}, got)
	assert.Zero(t, r.Skipped)
}

func TestTheHeaderIsChecked(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":         nil,
		"short":         []byte("TES"),
		"another magic": []byte("ABCD\x02"),
	} {
		_, _, err := NewReader(b, magic, limits)
		assert.ErrorIs(t, err, ErrHeader, name)
	}
	_, v, err := NewReader([]byte("TEST\x01"), magic, limits)
	assert.Error(t, err, "a legacy version is dispatched by the component, not read as entries")
	assert.Equal(t, byte(1), v)
}

func TestDeclaredLengthsAndCountsAreBoundedBeforeAnyAllocation(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		read func(d *Decoder)
	}{
		{"a string longer than the remaining bytes", binary.AppendUvarint(nil, 100), func(d *Decoder) { _ = d.String() }},
		{"a string longer than the bound", append(binary.AppendUvarint(nil, 300), make([]byte, 300)...), func(d *Decoder) { _ = d.String() }},
		{"a count above its bound", append(binary.AppendUvarint(nil, 11), make([]byte, 20)...), func(d *Decoder) { _ = d.Count(10, 1) }},
		{"a count the remaining bytes cannot hold", append(binary.AppendUvarint(nil, 5), make([]byte, 9)...), func(d *Decoder) { _ = d.Count(1000, 2) }},
		{"a huge count", binary.AppendUvarint(nil, 1<<62), func(d *Decoder) { _ = d.Count(1<<30, 1) }},
		{"a bool that is neither 0 nor 1", []byte{2}, func(d *Decoder) { _ = d.Bool() }},
		{"a truncated varint", []byte{0x80}, func(d *Decoder) { _ = d.Varint() }},
		{"a truncated fixed-width value", []byte{1, 2, 3}, func(d *Decoder) { _ = d.U64() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(tt.body, 256)
			allocs := testing.AllocsPerRun(10, func() {
				*d = Decoder{b: tt.body, maxString: 256}
				tt.read(d)
			})
			assert.ErrorIs(t, d.Err(), ErrMalformed)
			assert.Zero(t, allocs)
		})
	}
	d := NewDecoder(append(binary.AppendUvarint(nil, 3), 1, 2, 3), 256)
	assert.Equal(t, 3, d.Count(3, 1), "a count within both bounds is accepted")
}

func TestABlobRoundTripsAndItsLengthIsBounded(t *testing.T) {
	w := NewWriter(nil, magic, FirstVersion, limits)
	w.Begin()
	w.Blob([]byte{1, 2, 3})
	w.Varint(-5)
	w.End()
	r, _, err := NewReader(w.Bytes(), magic, limits)
	require.NoError(t, err)
	d, ok := r.Next()
	require.True(t, ok)
	assert.Equal(t, []byte{1, 2, 3}, d.Blob())
	assert.Equal(t, int64(-5), d.Varint())
	require.NoError(t, d.Finish())

	bad := NewDecoder(append(binary.AppendUvarint(nil, 4), 1, 2, 3), 256)
	assert.Nil(t, bad.Blob())
	assert.ErrorIs(t, bad.Err(), ErrMalformed, "a length over the remaining bytes")
}

func TestAWriterIsReusedWithoutAllocating(t *testing.T) {
	w := write("a", "b")
	allocs := testing.AllocsPerRun(100, func() {
		w.Reset()
		w.Begin()
		w.String("agent")
		w.Uvarint(42)
		w.End()
	})
	assert.Zero(t, allocs)
}

func FuzzReader(f *testing.F) {
	f.Add(write("a", "b").Bytes())
	f.Add(write(strings.Repeat("z", 300)).Bytes())
	f.Add([]byte("TEST\x02\xff\xff\xff\xff\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, _, err := NewReader(b, magic, limits)
		if err != nil {
			return
		}
		for d, ok := r.Next(); ok; d, ok = r.Next() {
			if n := d.Count(1<<20, 1); n > len(b) {
				t.Fatalf("count %d beyond the input's %d bytes", n, len(b))
			}
			if s := d.String(); len(s) > limits.MaxString {
				t.Fatalf("string of %d bytes", len(s))
			}
			_ = d.Finish()
		}
	})
}
