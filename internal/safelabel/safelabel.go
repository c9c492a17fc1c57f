// Package safelabel makes a value taken from telemetry safe to use as a metric label, a group
// key, a checkpoint entry or an alert label: at most a configured number of bytes, valid UTF-8,
// and free of control characters.
//
// The contract:
//   - Control characters (C0 U+0000–U+001F, DEL U+007F, C1 U+0080–U+009F) and bytes that are not
//     valid UTF-8 are each replaced by U+FFFD, so a CR/LF can never split a header, a log line or
//     a notification, and a NUL can never end a string early in a downstream system.
//   - A value longer than the maximum (after replacement) is cut on a rune boundary and ends with
//     Marker; the marker counts in the maximum, so the result is never longer than max bytes.
//   - A value that is already safe is returned as is: no allocation on the hot path.
//   - Sanitize is idempotent: a sanitized value is safe and is returned unchanged.
package safelabel // import "github.com/otelcol-amas/otelcol-amas/internal/safelabel"

import (
	"encoding/binary"
	"unicode/utf8"
	"unsafe"
)

// Marker ends a truncated value (14 bytes).
const Marker = "…[truncated]"

// Replacement stands in for a control character or an invalid UTF-8 byte.
const Replacement = '\uFFFD'

// MinMax is the smallest accepted maximum: the marker plus room for some of the value.
const MinMax = len(Marker) + 18

// DefaultMax is the default maximum label length in bytes.
const DefaultMax = 256

// Result says what Sanitize changed.
type Result uint8

const (
	// Replaced: at least one control character or invalid byte was replaced.
	Replaced Result = 1 << iota
	// Truncated: the value was cut and ends with Marker.
	Truncated
)

// Has reports whether r includes flag.
func (r Result) Has(flag Result) bool { return r&flag != 0 }

// Sanitize returns s made safe for a maximum of maxLen bytes (below MinMax is treated as MinMax).
// It allocates only when s must change; the check of a safe value is inlined into the caller.
func Sanitize(s string, maxLen int) (string, Result) {
	if len(s) <= maxLen && maxLen >= MinMax && isClean(s) {
		return s, 0
	}
	return sanitize(s, maxLen)
}

func sanitize(s string, maxLen int) (string, Result) {
	if maxLen < MinMax {
		maxLen = MinMax
	}
	var res Result
	// Replace first (a replacement may lengthen the value), then truncate.
	if !isClean(s) {
		s = replace(s)
		res |= Replaced
	}
	if len(s) > maxLen {
		s = truncate(s, maxLen)
		res |= Truncated
	}
	return s, res
}

// isClean reports whether s is valid UTF-8 without control characters. Printable ASCII, the
// common case, is checked eight bytes at a time (a short tail by re-checking the last eight
// bytes, a string under eight bytes through a table); anything else is decoded rune by rune.
func isClean(s string) bool {
	n := len(s)
	if n < 8 {
		for i := 0; i < n; i++ {
			if !printable[s[i]] {
				return isCleanSlow(s)
			}
		}
		return true
	}
	// A read-only byte view of s (no copy), so each word is one load.
	b := unsafe.Slice(unsafe.StringData(s), n)
	for i := 0; ; i += 8 {
		if i+8 > n {
			i = n - 8 // overlap: every byte checked is in s
		}
		if !printableASCII8(binary.LittleEndian.Uint64(b[i : i+8])) {
			return isCleanSlow(s)
		}
		if i+8 == n {
			return true
		}
	}
}

// printable marks the printable ASCII bytes.
var printable = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	return t
}()

func isCleanSlow(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || isC1(r) {
			return false
		}
		i += size
	}
	return true
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// printableASCII8 reports whether all eight bytes of x are in [0x20, 0x7e]: no high bit, none
// below 0x20 (x − 0x20… borrows into the high bit of such a byte) and none equal to 0x7f.
func printableASCII8(x uint64) bool {
	if x&highs != 0 {
		return false
	}
	below := (x - 0x20*ones) & highs // x has no high bits, so a high bit here is a borrow
	y := x ^ 0x7f*ones
	del := (y - ones) & ^y & highs
	return below|del == 0
}

func isC1(r rune) bool { return r >= 0x80 && r <= 0x9f }

func replace(s string) string {
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				b = utf8.AppendRune(b, Replacement)
			} else {
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || isC1(r) {
			b = utf8.AppendRune(b, Replacement)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return string(b)
}

// truncate cuts clean s on a rune boundary so that the kept prefix plus Marker fit in maxLen bytes.
func truncate(s string, maxLen int) string {
	cut := maxLen - len(Marker)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	b := make([]byte, 0, cut+len(Marker))
	b = append(b, s[:cut]...)
	b = append(b, Marker...)
	return string(b)
}
