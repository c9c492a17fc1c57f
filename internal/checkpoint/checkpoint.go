// Package checkpoint is the one framing every component checkpoint is written in. It knows
// nothing of collector types: a component encodes its state as a series of entries and decodes
// them back, and the framing makes three promises.
//
//   - A bad entry skips that entry, never the whole state. Every entry carries its own length and
//     CRC-32C, so a flipped bit costs the entry it lands in; the reader counts it in Skipped and
//     goes on with the next one. Only a damaged length (the framing itself) ends the reading: the
//     entries before it are kept and the rest counts as one skipped entry.
//   - Decoders bound memory while reading. A declared length or count is checked against the
//     bytes that remain and against a configured bound before anything is allocated, so a hostile
//     or corrupt checkpoint can make the reader fail an entry, never allocate more than the
//     checkpoint's own size.
//   - Encoders never write what decoders refuse. The writer applies the same bounds as the
//     reader: a string over the bound is truncated with internal/safelabel (and counted in
//     Truncated), an entry over the bound is left out (and counted in Dropped).
//
// Layout: magic (4 bytes, one per component) | version (1 byte) | entries. An entry is its
// payload length (uint32, little endian) | CRC-32C of the payload (uint32, little endian) |
// payload. Version 1 of each component is its format from before this package (each component
// keeps a legacy decoder for it); versions from FirstVersion on use this framing. Like the
// collector's persistent queue, which versions its stored keys and migrates from the legacy
// layout on first read, a reader dispatches on the version and never reinterprets old bytes.
package checkpoint // import "github.com/otelcol-amas/otelcol-amas/internal/checkpoint"

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"

	"github.com/otelcol-amas/otelcol-amas/internal/safelabel"
)

// FirstVersion is the first version byte written in this framing.
const FirstVersion = 2

// MagicLen is the length of a component's magic.
const MagicLen = 4

const (
	headerLen = MagicLen + 1
	entryHead = 8
)

// ErrHeader: the value is not a checkpoint of this component (too short or another magic).
var ErrHeader = errors.New("checkpoint: not a checkpoint of this component (bad magic or too short)")

// ErrMalformed: an entry's payload does not decode (a length or count out of bounds, too few
// bytes, trailing bytes, or a value the component rejects).
var ErrMalformed = errors.New("checkpoint: malformed entry")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Limits bound what one entry may hold; the writer and the reader of a component use the same.
type Limits struct {
	// MaxEntry is the largest payload of one entry in bytes.
	MaxEntry int
	// MaxString is the longest string in bytes; longer strings are truncated when written.
	MaxString int
}

// Version returns the version byte of a checkpoint with the given magic.
func Version(buf []byte, magic string) (byte, error) {
	if len(magic) != MagicLen {
		panic("checkpoint: magic must be 4 bytes")
	}
	if len(buf) < headerLen || string(buf[:MagicLen]) != magic {
		return 0, ErrHeader
	}
	return buf[MagicLen], nil
}

// Writer appends entries to one buffer. It is not safe for concurrent use.
type Writer struct {
	b      []byte
	limits Limits
	start  int // offset of the open entry's header, or -1
	// Dropped counts entries left out because they were over Limits.MaxEntry.
	Dropped int
	// Truncated counts strings cut to Limits.MaxString.
	Truncated int
}

// NewWriter starts a checkpoint in buf[:0] (reused when large enough).
func NewWriter(buf []byte, magic string, version byte, limits Limits) *Writer {
	if len(magic) != MagicLen || version < FirstVersion {
		panic("checkpoint: magic must be 4 bytes and version >= FirstVersion")
	}
	b := append(buf[:0], magic...)
	b = append(b, version)
	return &Writer{b: b, limits: limits, start: -1}
}

// Reset starts again in the same buffer with the same magic, version and limits.
func (w *Writer) Reset() {
	w.b = w.b[:headerLen]
	w.start, w.Dropped, w.Truncated = -1, 0, 0
}

// Begin opens an entry; the value writers append to it until End.
func (w *Writer) Begin() {
	if w.start >= 0 {
		panic("checkpoint: Begin inside an open entry")
	}
	w.start = len(w.b)
	w.b = append(w.b, 0, 0, 0, 0, 0, 0, 0, 0)
}

// End closes the entry. An entry over Limits.MaxEntry is removed and counted; End reports
// whether the entry was kept.
func (w *Writer) End() bool {
	if w.start < 0 {
		panic("checkpoint: End without Begin")
	}
	start := w.start
	w.start = -1
	payload := w.b[start+entryHead:]
	if len(payload) > w.limits.MaxEntry {
		w.b = w.b[:start]
		w.Dropped++
		return false
	}
	binary.LittleEndian.PutUint32(w.b[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(w.b[start+4:], crc32.Checksum(payload, castagnoli))
	return true
}

// Bytes returns the checkpoint. The slice aliases the writer's buffer.
func (w *Writer) Bytes() []byte {
	if w.start >= 0 {
		panic("checkpoint: Bytes inside an open entry")
	}
	return w.b
}

// Uvarint appends v.
func (w *Writer) Uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }

// Varint appends v.
func (w *Writer) Varint(v int64) { w.b = binary.AppendVarint(w.b, v) }

// U64 appends v in 8 bytes.
func (w *Writer) U64(v uint64) { w.b = binary.LittleEndian.AppendUint64(w.b, v) }

// F64 appends v in 8 bytes.
func (w *Writer) F64(v float64) { w.U64(math.Float64bits(v)) }

// Byte appends v.
func (w *Writer) Byte(v byte) { w.b = append(w.b, v) }

// Bool appends v as one byte.
func (w *Writer) Bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

// String appends s, truncated with safelabel when over Limits.MaxString.
func (w *Writer) String(s string) {
	if len(s) > w.limits.MaxString {
		s, _ = safelabel.Sanitize(s, w.limits.MaxString)
		w.Truncated++
	}
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}

// Blob appends b with its length (a nested encoding such as a model's series).
func (w *Writer) Blob(b []byte) {
	w.b = binary.AppendUvarint(w.b, uint64(len(b)))
	w.b = append(w.b, b...)
}

// Raw appends b as is (a nested encoding the component bounds itself, such as a sketch).
func (w *Writer) Raw(b []byte) { w.b = append(w.b, b...) }

// Append lets an encoder that appends to a byte slice write into the open entry.
func (w *Writer) Append(f func([]byte) []byte) { w.b = f(w.b) }

// Reader reads the entries of one checkpoint.
type Reader struct {
	rest   []byte
	limits Limits
	dec    Decoder
	// Skipped counts entries that were damaged (checksum) or did not decode (Skip), plus one
	// for a damaged framing that ended the reading.
	Skipped int
}

// NewReader checks the header and returns a reader of the entries and the version.
func NewReader(buf []byte, magic string, limits Limits) (*Reader, byte, error) {
	v, err := Version(buf, magic)
	if err != nil {
		return nil, 0, err
	}
	if v < FirstVersion {
		return nil, v, errors.New("checkpoint: a legacy version is not in this framing")
	}
	return &Reader{rest: buf[headerLen:], limits: limits}, v, nil
}

// Next returns a decoder of the next intact entry, or false at the end. The decoder is reused
// by the next call. An entry that fails its checksum is skipped and counted.
func (r *Reader) Next() (*Decoder, bool) {
	for len(r.rest) > 0 {
		if len(r.rest) < entryHead {
			r.Skipped++
			r.rest = nil
			return nil, false
		}
		n := uint64(binary.LittleEndian.Uint32(r.rest))
		sum := binary.LittleEndian.Uint32(r.rest[4:])
		if n > uint64(r.limits.MaxEntry) || n > uint64(len(r.rest)-entryHead) {
			// The framing itself is damaged: nothing after this point can be trusted.
			r.Skipped++
			r.rest = nil
			return nil, false
		}
		payload := r.rest[entryHead : entryHead+n]
		r.rest = r.rest[entryHead+n:]
		if crc32.Checksum(payload, castagnoli) != sum {
			r.Skipped++
			continue
		}
		r.dec = Decoder{b: payload, maxString: r.limits.MaxString}
		return &r.dec, true
	}
	return nil, false
}

// Skip counts the current entry as skipped: the component found it malformed.
func (r *Reader) Skip() { r.Skipped++ }

// Decoder reads the values of one entry with a sticky error: after the first problem every
// read returns a zero value and Err reports ErrMalformed.
type Decoder struct {
	b         []byte
	maxString int
	err       error
}

// NewDecoder reads b (a legacy format's body, for instance) with a bound on strings.
func NewDecoder(b []byte, maxString int) *Decoder { return &Decoder{b: b, maxString: maxString} }

func (d *Decoder) fail() {
	d.err = ErrMalformed
	d.b = nil
}

// Fail marks the entry malformed (a value the component rejects).
func (d *Decoder) Fail() { d.fail() }

// Err returns ErrMalformed after any problem.
func (d *Decoder) Err() error { return d.err }

// Len is the number of bytes not yet read.
func (d *Decoder) Len() int { return len(d.b) }

// Finish reports whether the entry decoded with no problem and no trailing bytes.
func (d *Decoder) Finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	return d.err
}

// Uvarint reads a value written by Writer.Uvarint.
func (d *Decoder) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Varint reads a value written by Writer.Varint.
func (d *Decoder) Varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// U64 reads 8 bytes.
func (d *Decoder) U64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// F64 reads a value written by Writer.F64.
func (d *Decoder) F64() float64 { return math.Float64frombits(d.U64()) }

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// Bool reads a value written by Writer.Bool; any byte but 0 or 1 is malformed.
func (d *Decoder) Bool() bool {
	switch d.Byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail()
	return false
}

// String reads a string; a length over the bound or over the remaining bytes is malformed and
// allocates nothing.
func (d *Decoder) String() string {
	n := d.Uvarint()
	if d.err != nil || n > uint64(d.maxString) || n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// Blob reads a value written by Writer.Blob; the slice aliases the checkpoint. A length over the
// remaining bytes is malformed.
func (d *Decoder) Blob() []byte {
	n := d.Uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}

// Count reads a declared number of elements that each take at least minSize bytes (at least 1).
// A count above maxCount, or one the remaining bytes cannot hold, is malformed: the caller may
// allocate the count it gets.
func (d *Decoder) Count(maxCount, minSize int) int {
	n := d.Uvarint()
	minSize = max(minSize, 1)
	if d.err != nil || n > uint64(maxCount) || n > uint64(len(d.b)/minSize) {
		d.fail()
		return 0
	}
	return int(n)
}

// Rest returns the unread bytes and consumes them (for a nested decoder such as a sketch's);
// hand back what it did not read with Unread.
func (d *Decoder) Rest() []byte {
	if d.err != nil {
		return nil
	}
	b := d.b
	d.b = nil
	return b
}

// Unread gives back the tail of Rest that a nested decoder did not consume.
func (d *Decoder) Unread(tail []byte) {
	if d.err == nil {
		d.b = tail
	}
}
